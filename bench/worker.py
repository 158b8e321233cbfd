"""One engine in its own process, so that its peak memory is its own (used by bench.benchmarks).

    python -m bench.worker SPEC.json OUT.json

SPEC names the engine, the building, the clips (by id, out of the full held-out list, so the
WAV cache keys match ``make eval``'s) and the conditions. OUT gets every clip's record (the
runner's format), the process's peak RSS before and after loading the engine, and load time.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
from pathlib import Path
from typing import Any

from bench.dataset import HeldoutAudio, make_clips
from bench.engines import EdgeASREngine, Engine, PocketSphinxEngine, WhisperEngine
from bench.runner import run
from edgeasr.grammar import load_building_grammar

ENGINES = ("edgeasr", "pocketsphinx", "whisper")


def peak_rss_kib() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def current_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return peak_rss_kib()


def make_engine(name: str, spec: dict[str, Any]) -> Engine:
    grammar = load_building_grammar(spec["config"])
    if name == "edgeasr":
        return EdgeASREngine(spec["config"], spec.get("model"))
    if name == "pocketsphinx":
        return PocketSphinxEngine(grammar)
    if name == "whisper":
        return WhisperEngine(grammar)
    raise ValueError(f"unknown engine {name!r}; choose from {ENGINES}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m bench.worker SPEC.json OUT.json", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    spec = json.loads(Path(args[0]).read_text())
    grammar = load_building_grammar(spec["config"])
    clips = make_clips(grammar, spec["commands"], spec["non_commands"])
    wanted = set(spec["clip_ids"])
    clips = [c for c in clips if c.id in wanted]
    audio = HeldoutAudio(Path(spec["cache"]))
    rss0 = current_rss_kib()  # the harness's own footprint, before the engine
    t0 = time.perf_counter()
    engine = make_engine(spec["engine"], spec)
    load_s = time.perf_counter() - t0
    rss_loaded = peak_rss_kib()
    records = run([engine], clips, spec["conditions"], audio)
    out = {"engine": spec["engine"], "describe": engine.describe(), "load_s": load_s,
           "rss_before_engine_kib": rss0, "rss_after_load_kib": rss_loaded,
           "rss_peak_kib": peak_rss_kib(), "records": [r.as_dict() for r in records]}
    Path(args[1]).write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
