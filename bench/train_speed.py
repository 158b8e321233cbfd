"""How fast this machine trains a preset's network: utterances per second of training.

    PYTHONPATH=models:. .venv/bin/python -m bench.train_speed [--preset P] [--steps N] [--json]

Most of `make model` is training (docs/history.md, "Session 35"), and a training step is
compute-bound in TensorFlow's kernels, so how fast a machine runs the steps says how long
`make model` takes on it. This runs the factory's own training step (``factory.train``:
the preset's network, optimizer and batcher) as the factory runs it (a preset's members
at once, one process each, where there is a core for each: ``factory.members``) on made-up
utterances, 1.5 to 4.5 s of random features with phone labels, the same every run; after a
warm-up it times ``--steps`` steps and reports the median step and the utterances trained
per second. For the preset that made the shipped model it also gives the training time
that rate means for `make model` (models/model-meta.json: its training utterances, epochs
and members); synthesis, embedding, export and checks come on top (README, `make model`).
Nothing else should run on the cores meanwhile.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
META = ROOT / "models" / "model-meta.json"
SHORTEST, LONGEST = 150, 450  # utterance frames (10 ms)
PHONES_PER_FRAME = 0.1  # a phone every 100 ms, as in the synthesised commands


def examples(count: int, hybrid: bool, lead: int, hop: int, seed: int = 0) -> list:
    """``count`` made-up training examples: log-mel rows, and for a hybrid network the
    embeddings beside them (from ``lead`` frames of quiet before the utterance on)."""
    from edgeasr.features import N_MELS
    from edgeasr.lexicon import N_OUTPUTS
    from factory.dataset import Example

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        n = int(rng.integers(SHORTEST, LONGEST + 1))
        label = rng.integers(1, N_OUTPUTS, int(n * PHONES_PER_FRAME)).astype(np.int16)
        extra = (rng.standard_normal((-(-(n + lead) // hop), 96)).astype(np.float16)
                 if hybrid else None)
        out.append(Example(rng.standard_normal((n, N_MELS)).astype(np.float16), label,
                           "command", "made-up", "", extra=extra))
    return out


def measure(preset_name: str, steps: int, warmup: int = 5, workers: int | None = None
            ) -> dict:
    """Time ``steps`` training steps of the preset's network after ``warmup`` untimed ones,
    trained as `make model` trains it on ``workers`` cores (default: all): a preset of
    several members with a core for each trains them at once, one process each
    (factory.members), so as many processes run the steps here, and their rates add up."""
    from factory.__main__ import PRESETS
    from factory.members import use_threads

    if preset_name not in PRESETS:
        raise ValueError(f"preset {preset_name!r}: expected one of {', '.join(PRESETS)}")
    if steps < 1:
        raise ValueError(f"--steps {steps}: expected at least 1")
    preset = PRESETS[preset_name]
    if preset.frontend == "speech-mel32":
        raise ValueError(f"preset {preset_name!r} trains a head on embeddings only; this "
                         "benchmark times the log-mel and hybrid networks")
    workers = workers or os.cpu_count() or 1
    at_once = preset.members if 1 < preset.members <= workers else 1
    if at_once == 1:
        runs = [_time_steps(preset_name, steps, warmup, 0)]
    else:
        with mp.get_context("spawn").Pool(at_once, use_threads, (workers // at_once,)) as pool:
            runs = pool.starmap(_time_steps, [(preset_name, steps, warmup, m)
                                              for m in range(at_once)])
    return {"preset": preset_name, "steps": steps, "at_once": at_once,
            "median_step_s": statistics.median(r["median_step_s"] for r in runs),
            "utterances_per_s": sum(r["utterances_per_s"] for r in runs),
            "frames_per_step": statistics.mean(r["frames_per_step"] for r in runs)}


def _time_steps(preset_name: str, steps: int, warmup: int, seed: int) -> dict:
    """One training's timed steps (in this process, with its TensorFlow threads)."""
    import tensorflow as tf

    from factory import train
    from factory.__main__ import PRESETS
    from factory.embedding import hop_frames

    preset = PRESETS[preset_name]
    hybrid = "+" in preset.frontend
    hop = hop_frames(preset.phases)
    lead = preset.lead_pad if hybrid else 0
    # Enough utterances for the steps wanted, each made once.
    per_step = max(1, preset.batch_frames // ((SHORTEST + LONGEST) // 2))
    data = train.usable(examples(per_step * (steps + warmup) * 2, hybrid, lead, hop, seed))
    tf.keras.utils.set_random_seed(1 + seed)
    model = train.network(data, preset.shape, hop=hop)
    step = train.ctc_step(model, train.optimizer(2e-3, steps + warmup))
    batches = train.ahead(train._batches(data, preset.batch_frames, np.random.default_rng(0),
                                         augment=True, lead=lead, hop=hop))
    times: list[float] = []
    utterances, frames = 0, 0
    for i, (x, y, xl, yl) in enumerate(batches):
        t = time.perf_counter()
        float(step(x, y, xl, yl))
        if i >= warmup:
            times.append(time.perf_counter() - t)
            utterances += len(y)
            frames += int(np.prod((x[0] if hybrid else x).shape[:2]))
        if len(times) == steps:
            break
    # The median step, not the mean: a step whose batch has a new shape may trace again.
    median = statistics.median(times)
    return {"median_step_s": median, "utterances_per_s": utterances / len(times) / median,
            "frames_per_step": frames / len(times)}


def predicted_training_s(result: dict, meta_path: Path = META) -> float | None:
    """The training time of `make model` at this rate, where ``meta_path`` (the shipped
    model's record) was made by the measured preset; None otherwise."""
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("preset") != result["preset"] or "train_examples" not in meta:
        return None
    work = meta["train_examples"] * meta["epochs"] * meta.get("members", 1)
    return work / result["utterances_per_s"]


def render(result: dict) -> str:
    lines = [f"preset {result['preset']}: {result['steps']} steps of "
             f"{result['frames_per_step']:.0f} frames"
             + (f", {result['at_once']} members trained at once" if result["at_once"] > 1
                else ""),
             f"median step: {result['median_step_s'] * 1000:.0f} ms",
             f"utterances trained per second: {result['utterances_per_s']:.0f}"]
    if result.get("predicted_training_s") is not None:
        lines.append(f"make model's training at this rate: "
                     f"{result['predicted_training_s'] / 60:.0f} min "
                     f"({META.relative_to(ROOT)}: training utterances x epochs x members)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.train_speed", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default=None,
                    help="factory preset (default: the one that made models/model-meta.json)")
    ap.add_argument("--steps", type=int, default=60, help="timed steps (default 60)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="cores, as the factory's --workers (default: all)")
    ap.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = ap.parse_args(argv)
    preset = args.preset or (json.loads(META.read_text())["preset"] if META.is_file()
                             else "hybrid-noisy-pair-apart")
    try:
        result = measure(preset, args.steps, workers=args.workers)
    except ValueError as exc:
        print(f"bench.train_speed: {exc}", file=sys.stderr)
        return 2
    result["predicted_training_s"] = predicted_training_s(result)
    print(json.dumps(result, indent=1) if args.json else render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
