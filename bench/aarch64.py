"""The edgeasr runtime on aarch64 under qemu user-mode emulation, compared with this host.

    PYTHONPATH=models .venv/bin/python -m bench.aarch64 [--clips N]

Builds (once, cached outside the repo) the arm64 Debian root of scripts/aarch64-root.sh,
then runs ``bench.aarch64_probe`` — the runtime, the shipped model and the demo building —
on held-out clips: with ``qemu-aarch64-static`` on Debian's arm64 Python with the manylinux
aarch64 wheels (numpy, tflite-runtime's aarch64 kernels), and natively here with TFLite's
reference kernels. The two must agree exactly: every transcript, intent, telegram and int8
output code. This is the code path the board runs, short of the NPU delegate.

It also runs the host's default (optimized) kernels and reports how far they are from the
board: on x86 the optimized int8 CONV_2D rounds a few outputs one code off the reference,
which v8-hybrid's deep frozen network amplifies (up to 9 codes at the output), so the host's
own numbers are of a slightly different computation than the board's CPU path.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "aarch64-root.sh"
DEFAULT_CONFIG = ROOT / "examples" / "demo-building.yaml"
DEFAULT_CLIPS = 24
# aarch64's optimized kernels and the reference kernels are the same integer arithmetic:
# not a code of difference is allowed.
MAX_LSB = 0
CONDITIONS = ("clean", "snr10")


@dataclass
class Comparison:
    n_clips: int
    same_text: int
    same_intent: int
    same_telegrams: int
    max_logit_lsb: int
    frames_compared: int
    host_s: float
    emulated_s: float
    root_s: float
    root: str
    root_build_s: float  # how long the cached root took to build (recorded by the script)
    host: dict[str, str]
    target: dict[str, str]
    mismatches: list[dict[str, Any]]
    # the host's optimized kernels against aarch64: same_text, same_telegrams, max_logit_lsb
    host_optimized: dict[str, int]

    @property
    def equal(self) -> bool:
        n = self.n_clips
        return (self.same_text == n and self.same_intent == n and self.same_telegrams == n
                and self.max_logit_lsb <= MAX_LSB)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "equal": self.equal, "max_lsb_allowed": MAX_LSB}


def build_root() -> tuple[Path, float]:
    """The arm64 root (built on first use); seconds spent building it (0 when cached)."""
    t0 = time.perf_counter()
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, check=False,
                          env={**os.environ, "PIP": str(Path(sys.executable).parent / "pip")})
    if proc.returncode != 0:
        raise RuntimeError(f"{SCRIPT.name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return Path(proc.stdout.strip().splitlines()[-1]), time.perf_counter() - t0


def held_out_wavs(n: int) -> list[Path]:
    """``n`` held-out clips (commands and non-commands, clean and 10 dB TV noise)."""
    if str(ROOT / "models") not in sys.path:
        sys.path.insert(0, str(ROOT / "models"))
    from bench.dataset import HeldoutAudio, make_clips, spread
    from edgeasr.grammar import load_building_grammar
    from factory.heldout import command_texts, non_command_texts

    grammar = load_building_grammar(DEFAULT_CONFIG)
    clips = make_clips(grammar, command_texts(grammar.graph), non_command_texts())
    per = n // len(CONDITIONS)
    n_non = max(1, per // 4)
    chosen = (spread([c for c in clips if c.kind == "command"], per - n_non)
              + spread([c for c in clips if c.kind == "non_command"], n_non))
    audio = HeldoutAudio()
    audio.build(chosen, list(CONDITIONS))
    return [audio.path(c, k) for k in CONDITIONS for c in chosen]


def _build_seconds(root: Path) -> float:
    try:
        return float((root / ".edgeasr-build-seconds").read_text())
    except (OSError, ValueError):
        return float("nan")


def _agreement(host: dict[str, Any], target: dict[str, Any]
               ) -> tuple[dict[str, int], int, int, list[dict[str, Any]]]:
    """Per-field counts of equal results, max int8 code difference, frames, mismatches."""
    same = {"text": 0, "intent": 0, "telegrams": 0}
    max_lsb, frames, mismatches = 0, 0, []
    for h, t in zip(host["results"], target["results"], strict=True):
        ok = {k: h[k] == t[k] for k in same}
        for k, v in ok.items():
            same[k] += v
        a, b = np.asarray(h["logit_codes"]), np.asarray(t["logit_codes"])
        if a.shape != b.shape:
            lsb = 10**6
        else:
            lsb = int(np.abs(a - b).max()) if a.size else 0
            frames += len(a)
        max_lsb = max(max_lsb, lsb)
        if not all(ok.values()) or lsb > MAX_LSB:
            mismatches.append({"wav": Path(h["wav"]).name, "host": h["text"],
                               "aarch64": t["text"], "max_lsb": lsb})
    return same, max_lsb, frames, mismatches


def _probe(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed ({proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def find_qemu() -> str | None:
    return shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")


def host_python() -> tuple[list[str], dict[str, str]]:
    """Command and environment that run this host's Python on this checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return [sys.executable], {**env, "PYTHONPATH": f"{ROOT / 'python'}:{ROOT}"}


def arm_python(qemu: str, root: Path) -> tuple[list[str], dict[str, str]]:
    """Command and environment that run the arm64 root's Python under qemu on this checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    # -L: the guest's absolute paths resolve inside the root first (its loader, libc, Python,
    # /opt/edgeasr-site), then on the host (this checkout and the WAVs).
    return ([qemu, "-L", str(root), str(root / "usr/bin/python3")],
            {**env, "PYTHONPATH": f"/opt/edgeasr-site:{ROOT / 'python'}:{ROOT}",
             "PYTHONNOUSERSITE": "1"})


def check(n_clips: int = DEFAULT_CLIPS) -> Comparison:
    qemu = find_qemu()
    if qemu is None:
        raise RuntimeError("qemu-aarch64-static is missing (Debian qemu-user-static; "
                           "scripts/setup.sh installs it)")
    root, root_s = build_root()
    wavs = [str(w) for w in held_out_wavs(n_clips)]
    probe = ["-m", "bench.aarch64_probe"]
    args = [str(DEFAULT_CONFIG), *wavs]
    python, env = host_python()
    host = _probe([*python, *probe, "--kernels", "reference", *args], env)
    optimized = _probe([*python, *probe, *args], env)
    arm, arm_env = arm_python(qemu, root)
    target = _probe([*arm, *probe, *args], arm_env)
    if target["machine"] != "aarch64":
        raise RuntimeError(f"the emulated probe reports machine {target['machine']!r}")
    same, max_lsb, frames, mismatches = _agreement(host, target)
    o_same, o_lsb, _, _ = _agreement(optimized, target)
    return Comparison(
        len(wavs), same["text"], same["intent"], same["telegrams"], max_lsb, frames,
        host["seconds"], target["seconds"], root_s, str(root), _build_seconds(root),
        {k: host[k] for k in ("machine", "python", "numpy")},
        {k: target[k] for k in ("machine", "python", "numpy")}, mismatches,
        {"same_text": o_same["text"], "same_telegrams": o_same["telegrams"],
         "max_logit_lsb": o_lsb})


def markdown(c: Comparison | dict[str, Any]) -> list[str]:
    d = c.as_dict() if isinstance(c, Comparison) else c
    verdict = "**same results**" if d["equal"] else "**DIFFERENT results**"
    lines = [
        (f"`python -m bench.aarch64` ran the runtime, the shipped model and the demo building on "
         f"{d['n_clips']} held-out clips (commands and non-commands; clean and 10 dB TV noise) "
         f"natively with TFLite's reference kernels ({d['host']['machine']}, Python "
         f"{d['host']['python']}, numpy {d['host']['numpy']}) and under "
         f"`qemu-aarch64-static` in the arm64 Debian root of "
         f"`scripts/aarch64-root.sh` ({d['target']['machine']}, Python {d['target']['python']}, "
         f"numpy {d['target']['numpy']}, the manylinux aarch64 wheel of tflite-runtime): "
         f"{verdict}."), "",
        "| compared | equal on |", "|---|---|",
        f"| transcript | {d['same_text']}/{d['n_clips']} |",
        f"| intent | {d['same_intent']}/{d['n_clips']} |",
        f"| telegrams | {d['same_telegrams']}/{d['n_clips']} |",
        (f"| model output (int8 codes, {d['frames_compared']:,} frames x 40) | max difference "
         f"{d['max_logit_lsb']} code(s); allowed {d['max_lsb_allowed']} |"), "",
        *((f"The host's default (optimized) kernels against aarch64: transcripts equal on "
           f"{d['host_optimized']['same_text']}/{d['n_clips']}, telegrams on "
           f"{d['host_optimized']['same_telegrams']}/{d['n_clips']}, int8 outputs up to "
           f"{d['host_optimized']['max_logit_lsb']} codes apart: x86's optimized int8 "
           "CONV_2D does not compute the reference results, aarch64's does.", "")
          # results saved before the optimized kernels were compared lack the entry
          if "host_optimized" in d else ()),
        (f"Time: {d['host_s']:.1f} s natively (reference kernels), "
         f"{d['emulated_s']:.1f} s emulated "
         f"(x{d['emulated_s'] / max(d['host_s'], 1e-9):.0f}); building the root "
         + (f"took {d['root_s']:.0f} s (debootstrap first stage + wheels; cached in "
            f"`{d['root']}` afterwards)." if d["root_s"] > 5 else
            f"was skipped (cached in `{d['root']}`, where it was built in "
            f"{d['root_build_s']:.0f} s).")),
        ("The test `tests/test_aarch64.py` runs the same check in `make test`."),
    ]
    for m in d["mismatches"][:10]:
        lines.append(f"- mismatch {m['wav']}: host “{m['host']}”, aarch64 “{m['aarch64']}”, "
                     f"max {m['max_lsb']} codes")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.aarch64", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=DEFAULT_CLIPS)
    args = ap.parse_args(argv)
    try:
        c = check(args.clips)
    except RuntimeError as err:
        print(f"bench.aarch64: {err}", file=sys.stderr)
        return 2
    print("\n".join(markdown(c)))
    return 0 if c.equal else 1


if __name__ == "__main__":
    sys.exit(main())
