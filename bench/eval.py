"""``make eval``: the held-out evaluation of EdgeASR against pocketsphinx.

    PYTHONPATH=models .venv/bin/python -m bench.eval [--quick] [--model M] [--out DIR]

Without ``--out`` a full run writes docs/accuracy.md, docs/accuracy.png and
bench/results/accuracy.json; a ``--quick`` run without ``--out`` writes to
bench/.cache/quick-report/ so that it can never replace the reference figures.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench import conditions as cond
from bench.dataset import DEFAULT_CACHE, TV_LINES, Clip, HeldoutAudio, make_clips, spread
from bench.engines import EdgeASREngine, Engine, PocketSphinxEngine
from bench.metrics import Metrics, summarise
from bench.report import write_json, write_markdown, write_plot
from bench.runner import Record, run
from bench.synth import TrainingVoice, voice_description
from bench.targets import check, model_budget
from edgeasr.acoustic import KERNELS, AcousticModel, ModelError, find_model
from edgeasr.grammar import load_building_grammar

log = logging.getLogger("bench.eval")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "examples" / "demo-building.yaml"
QUICK_COMMANDS, QUICK_NON_COMMANDS = 40, 15


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def file_digest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"path": _rel(path), "bytes": 0, "sha256": "missing"}
    data = path.read_bytes()
    return {"path": _rel(path), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def clips_digest(audio: HeldoutAudio, clips: Sequence[Clip], conditions: Sequence[str]) -> str:
    """One sha256 over every clip's WAV, in order: only runs with equal digests heard the same
    audio (joe's synthesis is seeded per sentence, but another piper-tts or onnxruntime, or
    another CPU's float rounding, may still change a clip)."""
    h = hashlib.sha256()
    for condition in conditions:
        for clip in clips:
            h.update(audio.path(clip, condition).read_bytes())
    return h.hexdigest()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}; 1-min load average at the end {load:.1f}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"subset: {QUICK_COMMANDS} commands + {QUICK_NON_COMMANDS} non-commands")
    p.add_argument("--model", type=Path, help="TFLite model (default: the shipped one)")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="building YAML")
    p.add_argument("--threshold", type=float,
                   help="EdgeASR's threshold (default: the config's); run at a low one to "
                   "replay higher ones with bench.threshold")
    p.add_argument("--rival-limit", type=float,
                   help="EdgeASR's rival limit (default: the config's, else the model's); 0 "
                   "measures every rival gap without acting on it, for bench.threshold")
    p.add_argument("--kernels", choices=KERNELS, default="optimized",
                   help="EdgeASR's TFLite CPU kernels; 'reference' (about 8x slower) computes "
                   "what the board's CPU computes (x86's optimized int8 kernels differ)")
    p.add_argument("--out", type=Path,
                   help="write accuracy.md, accuracy.png and accuracy.json here instead")
    p.add_argument("--conditions", default=",".join(cond.CONDITIONS),
                   help="comma-separated subset of: " + ", ".join(cond.CONDITIONS))
    p.add_argument("--engines", default="edgeasr,pocketsphinx",
                   help="comma-separated subset of: edgeasr, pocketsphinx")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="WAV cache folder")
    p.add_argument("--dev-voice", metavar="ENGINE:VOICE",
                   help="speak the clips in a training voice (e.g. flite:slt) instead of joe: a "
                        "dev set for tuning and comparing models; needs --out")
    p.add_argument("--synth-only", action="store_true",
                   help="only make the missing held-out WAVs (no engines, no reports)")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    args.conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    unknown = [c for c in args.conditions if c not in cond.CONDITIONS]
    if unknown or not args.conditions:
        p.error(f"unknown condition(s) {unknown}; choose from {list(cond.CONDITIONS)}")
    if args.kernels != "optimized" and args.out is None:
        p.error("--kernels needs --out: docs/accuracy.md is the default kernels' result")
    if args.dev_voice and args.out is None:
        p.error("--dev-voice needs --out: docs/accuracy.md is the held-out (joe) result")
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not args.engines or set(args.engines) - {"edgeasr", "pocketsphinx"}:
        p.error("--engines takes edgeasr and/or pocketsphinx")
    return args


def outputs(args: argparse.Namespace) -> tuple[Path, Path, Path]:
    """(markdown, png, json) paths."""
    out = args.out
    if out is None and args.quick:
        out = args.cache / "quick-report"
    if out is not None:
        return out / "accuracy.md", out / "accuracy.png", out / "accuracy.json"
    return ROOT / "docs/accuracy.md", ROOT / "docs/accuracy.png", \
        ROOT / "bench/results/accuracy.json"


def aggregate(records: list[Record], engines: list[str], conditions: list[str]
              ) -> tuple[dict[str, dict[str, Metrics]], dict[str, Metrics]]:
    per: dict[str, dict[str, Metrics]] = defaultdict(dict)
    overall: dict[str, Metrics] = {}
    for e in engines:
        for c in conditions:
            per[e][c] = summarise([r.scored(e) for r in records if r.condition == c])
        overall[e] = summarise([r.scored(e) for r in records])
    return dict(per), overall


def stage_means(records: list[Record]) -> dict[str, float]:
    sums: dict[str, list[float]] = defaultdict(list)
    for r in records:
        out = r.outputs.get("edgeasr")
        if out is not None:
            for k, v in out.detail.get("timings", {}).items():
                sums[k].append(v)
    return {k: float(np.mean(v)) for k, v in sums.items()}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    md_path, png_path, json_path = outputs(args)

    if str(ROOT / "models") not in sys.path:  # factory.heldout; `make eval` sets PYTHONPATH
        sys.path.insert(0, str(ROOT / "models"))
    from factory.heldout import command_texts, non_command_texts

    grammar = load_building_grammar(args.config)
    clips = make_clips(grammar, command_texts(grammar.graph), non_command_texts())
    commands = [c for c in clips if c.kind == "command"]
    non = [c for c in clips if c.kind == "non_command"]
    if args.quick:
        commands, non = spread(commands, QUICK_COMMANDS), spread(non, QUICK_NON_COMMANDS)
    clips = commands + non

    engines: list[Engine] = []
    if not args.synth_only:
        try:
            if "edgeasr" in args.engines:
                engines.append(EdgeASREngine(args.config, args.model, args.threshold,
                                             args.kernels, args.rival_limit))
        except ModelError as err:
            print(f"bench.eval: {err}", file=sys.stderr)
            return 2
        if "pocketsphinx" in args.engines:
            engines.append(PocketSphinxEngine(grammar))

    t0 = time.perf_counter()
    try:
        voice = TrainingVoice(args.dev_voice) if args.dev_voice else None
    except ValueError as err:
        print(f"bench.eval: {err}", file=sys.stderr)
        return 2
    audio = HeldoutAudio(args.cache, voice)
    made = audio.build(clips, args.conditions)
    synth_s = time.perf_counter() - t0
    log.info("held-out audio: %d clips made, %d cached (%.0f s)",
             made, len(clips) * len(args.conditions) - made, synth_s)
    if args.synth_only:
        print(f"held-out audio ready under {_rel(audio.root)}: {made} clips made in "
              f"{synth_s:.0f} s, {len(clips) * len(args.conditions)} in all")
        return 0

    t1 = time.perf_counter()
    records = run(engines, clips, args.conditions, audio)
    eval_s = time.perf_counter() - t1
    names = [e.name for e in engines]
    per, overall = aggregate(records, names, args.conditions)
    targets = check(per, overall)
    model_path = find_model(args.model)
    graphs = [file_digest(f) for f in AcousticModel.graph_files(model_path)]
    if "edgeasr" in names:
        targets += model_budget(model_path)

    given = list(argv) if argv is not None else sys.argv[1:]
    argv_str = " ".join(["python -m bench.eval", *given])
    ir = cond.room_impulse(cond.clip_rng("documentation"))
    summary: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "make eval" if not given else argv_str,
        "argv": argv_str,
        "quick": args.quick,
        "json_path": _rel(json_path),
        "model": graphs[0],
        **({"embedder": graphs[1]} if len(graphs) > 1 else {}),
        "building": _rel(args.config),
        "machine": machine(),
        "engines": {e.name: e.describe() for e in engines},
        "dataset": {
            "voice": voice.description() if voice is not None else voice_description(),
            "held_out": voice is None,
            "n_commands": len(commands), "n_non_commands": len(non),
            "command_source": "factory.heldout.command_texts: the 28 demo phrases + 140 "
                              "sampled grammar sentences, excluded from training",
            "non_command_source": "factory.heldout.non_command_texts: chatter, questions, rooms "
                                  "the building lacks, and commands inside longer sentences",
            "n_clips_per_engine": len(records),
            "clips_sha256": clips_digest(audio, clips, args.conditions),
            "mean_clip_s": float(np.mean([r.audio_s for r in records])) if records else 0.0,
            "conditions": {c: cond.CONDITIONS[c] for c in args.conditions},
            "noise_recipe": (
                "TV-like mix: 60 % of the power babble (3 talkers: the joe voice reading "
                f"{len(TV_LINES)} news/chat lines that are neither commands nor evaluation "
                "sentences, resampled to 0.88x / 1.0x / 1.15x speed for different pitch, at "
                "0 / -2 / -4.4 dB), 25 % a synthetic chord soundtrack, 15 % speech-shaped noise "
                "(white noise with the lines' long-term spectrum); band-pass 150 Hz–6 kHz like a "
                "TV loudspeaker. SNR = active speech level (10 ms frames within 40 dB of the "
                "loudest) over the noise's mean power across the whole clip, padding included. "
                "Not the model factory's generator (white/pink/brown noise, training-voice "
                "babble)."),
            "reverb_recipe": (
                "synthetic room impulse per clip: direct path, 10 early reflections at 4–50 ms, "
                "late tail with RT60 0.7 s below 500 Hz, 0.6 s at 500 Hz–4 kHz, 0.4 s above "
                f"(broadband T20 of a sample impulse: {cond.rt60_schroeder(ir):.2f} s), "
                f"direct-to-reverberant ratio {cond.DRR_DB:g} dB; 0.3 s of tail kept."),
            "levels": (f"speech peak {cond.PEAK} (about -6 dBFS), {cond.PAD_BEFORE_S} s silence "
                       f"before and {cond.PAD_AFTER_S} s after, {cond.FLOOR_DBFS:g} dBFS white "
                       "microphone floor on every clip; 16 kHz 16-bit WAV."),
        },
        "run_seconds": {"synthesis": round(synth_s, 1), "recognition": round(eval_s, 1)},
        "edgeasr_stage_means_s": stage_means(records),
        "results": {e: {c: m.as_dict() for c, m in by.items()} for e, by in per.items()},
        "overall": {e: m.as_dict() for e, m in overall.items()},
        "targets": [t.as_dict() for t in targets],
        "clips": [r.as_dict() for r in records],
    }
    write_json(json_path, summary)
    write_plot(png_path, per, args.conditions,
               (f"Dev voice {args.dev_voice}" if voice else "Held-out joe voice")
               + f", {len(commands)} commands + {len(non)} non-commands per "
               f"condition — model {summary['model']['sha256'][:12]}"
               + (" (quick subset)" if args.quick else ""))
    write_markdown(md_path, summary, per, overall, targets, summary["clips"], png_path.name)

    print(f"\nheld-out evaluation ({len(records)} clips per engine; synthesis {synth_s:.0f} s, "
          f"recognition {eval_s:.0f} s)")
    for e in names:
        cells = "  ".join(f"{c}: {100 * per[e][c].command_accuracy:5.1f}% "
                          f"(fa {per[e][c].false_actions}/{per[e][c].n_non_commands})"
                          for c in args.conditions)
        print(f"  {e:13s} {cells}  | {1000 * overall[e].mean_wall_s:.1f} ms/clip, "
              f"RTF {overall[e].rtf:.3f}")
    for t in targets:
        state = {True: "met", False: "NOT MET", None: "not evaluated"}[t.met]
        print(f"  [{state}] {t.name}: {t.measured}")
    print(f"  wrote {_rel(md_path)}, {_rel(png_path)}, {_rel(json_path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
