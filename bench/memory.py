"""`python -m bench.memory`: where the service's resident memory goes, layer by layer.

    PYTHONPATH=models:. .venv/bin/python -m bench.memory [--voice flite:awb] [--count 20]

A fresh process imports what `edgeasr serve` imports, one layer at a time (numpy, pydantic,
xknx, the service), builds the recogniser for the building, then decodes spoken commands
(a dev voice, never the held-out one), and reports its resident size (VmRSS) after each step,
its high-water mark (VmHWM) and the largest transient allocation of one decode (tracemalloc,
in a second pass so that its own bookkeeping is not counted above). `make latency` measures
the whole service's peak; this tells which layer it comes from.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def proc_mb(key: str, pid: int | str = "self", table: str = "status") -> float:
    """A size line of /proc/PID/TABLE in MB: status (VmRSS, VmHWM, RssAnon...) or
    smaps_rollup (Pss...)."""
    path = Path(f"/proc/{pid}/{table}")
    for line in path.read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{path} has no {key} (Linux only)")


def worker(clips: Path, config: Path) -> dict:
    """Runs in its own fresh process: the layered measurement."""
    def now() -> tuple[float, float]:
        return proc_mb("VmRSS"), proc_mb("VmHWM")

    steps: list[tuple[str, tuple[float, float]]] = [("python", now())]
    import numpy as np

    steps.append(("+ numpy", now()))
    import pydantic  # noqa: F401

    steps.append(("+ pydantic", now()))
    import xknx  # noqa: F401

    steps.append(("+ xknx (and cryptography for IP Secure)", now()))
    from edgeasr import service
    from edgeasr.recognizer import Recognizer

    steps.append(("+ the service's own modules (edgeasr.service)", now()))
    service.keep_heap_small()
    rec = Recognizer.from_config(config)
    service.return_free_heap()
    steps.append(("+ recogniser (grammar, phone graph, TFLite model)", now()))
    paths = sorted(clips.glob("*.npy"))  # loaded one at a time: only the decoder's memory
    for path in paths:
        rec.recognize(np.load(path))
        service.return_free_heap()
    steps.append((f"after decoding {len(paths)} commands", now()))
    import tracemalloc

    tracemalloc.start()
    transient, longest = 0, 0.0
    for path in paths:
        pcm = np.load(path)
        longest = max(longest, len(pcm) / 16000)
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        rec.recognize(pcm)
        transient = max(transient, tracemalloc.get_traced_memory()[1] - base)
    return {"steps": steps, "decode_transient_mb": transient / 2**20,
            "longest_clip_s": longest}


def measure(config: Path, voice_spec: str = "flite:awb", count: int = 20) -> dict:
    """Speak ``count`` commands in a dev voice, then measure a fresh worker process."""
    import numpy as np

    from bench.service_env import precompile, service_env, unit_environment
    from bench.synth import TrainingVoice
    from edgeasr.grammar import load_building_grammar
    from factory import heldout

    voice = TrainingVoice(voice_spec)  # ValueError names the voice and what was expected
    texts = heldout.command_texts(load_building_grammar(config).graph)[:count]
    with tempfile.TemporaryDirectory(prefix="edgeasr-memory-") as tmp:
        for i, text in enumerate(texts):
            pcm = np.pad(voice.speak(text), (5600, 7200))  # 0.35 s before, 0.45 s after
            np.save(Path(tmp) / f"{i:03d}.npy", pcm.astype(np.float32))
        precompile()
        # The service's interpreter settings (PYTHONOPTIMIZE=2 from the systemd unit).
        proc = subprocess.run([sys.executable, "-m", "bench.memory", "--worker", tmp,
                               "--config", str(config)],
                              capture_output=True, text=True, cwd=REPO, env=service_env())
    if proc.returncode != 0:
        raise RuntimeError(f"memory worker failed:\n{proc.stderr}")
    return {**json.loads(proc.stdout), "voice": voice_spec, "count": len(texts),
            "environment": unit_environment()}


def render(result: dict) -> str:
    rows = ["| step | resident (VmRSS) | added | high-water mark (VmHWM) |", "|---|---|---|---|"]
    prev = 0.0
    for name, (mb, hwm) in result["steps"]:
        rows.append(f"| {name} | {mb:.1f} MB | {mb - prev:+.1f} MB | {hwm:.1f} MB |")
        prev = mb
    return "\n".join([
        f"Resident memory of one process importing and running what the service does, "
        f"`python -m bench.memory --voice {result['voice']} --count {result['count']}`, "
        f"with the systemd unit's environment as on the board "
        f"({' '.join(f'{k}={v}' for k, v in result.get('environment', {}).items()) or 'none'}):",
        "",
        *rows, "",
        f"Largest transient allocation of one decode: {result['decode_transient_mb']:.1f} MB "
        f"(longest clip {result['longest_clip_s']:.1f} s).",
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=REPO / "examples/demo-building.yaml")
    ap.add_argument("--voice", default="flite:awb",
                    help="dev voice that speaks the commands (engine:name, default flite:awb)")
    ap.add_argument("--count", type=int, default=20, help="commands to decode (default 20)")
    ap.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.config)))
        return 0

    try:
        result = measure(args.config, args.voice, args.count)
    except (ValueError, RuntimeError) as exc:
        print(f"bench.memory: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1) if args.json else render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
