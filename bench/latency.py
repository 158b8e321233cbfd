"""`make latency`: end of speech -> telegram seen on a real knxd bus, CPU and memory.

The service runs as `edgeasr serve` in its own process, tunnelling to knxd on loopback, and
hears the held-out joe commands in real time on its stdin (as from `arecord`).
A multicast monitor (not the service) timestamps each telegram as it appears on the bus.
End of speech is the last frame of a clip whose level is within 30 dB of the clip's peak,
timed when that frame is written to the service — when a microphone would deliver it.
Writes docs/latency.md and bench/results/latency.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import yaml

from bench import memory
from bench.dataset import HeldoutAudio, make_clips, spread
from bench.knxbus import Knxd, MulticastMonitor, environment_problem, free_port
from bench.service_env import precompile, service_env, unit_environment
from edgeasr.capture import FRAME
from edgeasr.grammar import load_building_grammar
from edgeasr.pipeline import PipelineConfig
from edgeasr.vad import VadConfig
from factory import heldout

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "examples" / "demo-building.yaml"
RESULTS = REPO / "bench" / "results" / "latency.json"
log = logging.getLogger("bench.latency")


def speech_end_frame(audio: np.ndarray) -> int:
    """Index of the last 20 ms frame within 30 dB of the loudest frame."""
    n = len(audio) // FRAME
    db = 10 * np.log10(np.mean(audio[: n * FRAME].reshape(n, FRAME) ** 2, axis=1) + 1e-12)
    return int(np.flatnonzero(db > db.max() - 30)[-1])


def feed(proc: subprocess.Popen[bytes], clips: list[np.ndarray], gap_s: float) -> list[float]:
    """Write the clips to the service's stdin at the speed of speech; when each speech ended."""
    assert proc.stdin is not None
    gap = np.zeros(int(gap_s * 16000), np.float32)
    ends = []
    t_next = time.monotonic()
    for audio in [np.zeros(16000, np.float32), *clips]:  # 1 s of lead-in silence
        end = speech_end_frame(audio) if len(ends) < len(clips) and audio.any() else -1
        stream = np.concatenate([audio, gap])
        pcm = (np.clip(stream, -1, 1) * 32767).astype("<i2").tobytes()
        for i in range(len(stream) // FRAME):
            t_next += FRAME / 16000
            delay = t_next - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            proc.stdin.write(pcm[i * FRAME * 2 : (i + 1) * FRAME * 2])
            proc.stdin.flush()
            if i == end:
                ends.append(time.monotonic())
    return ends


def proc_stats(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak RSS in MB) of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return cpu, memory.proc_mb("VmHWM", pid)


def memory_now(pid: int) -> dict[str, float]:
    """What a live process's resident memory is made of, in MB: its own (anonymous) pages,
    file pages (libraries' code and data, the model), and PSS, which shares each page among
    the processes that map it. RSS counts a library page whenever it is mapped, and how many
    get mapped depends on what the page cache holds (other processes using the same
    libraries), so RSS alone swings by several MB between machines and venvs."""
    return {"anonymous": memory.proc_mb("RssAnon", pid), "file": memory.proc_mb("RssFile", pid),
            "pss": memory.proc_mb("Pss", pid, "smaps_rollup")}


def _shown(path: Path) -> str:
    """A path as a report names it: relative to the repository when inside it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def write_report(result: dict, out: Path, raw: Path = RESULTS) -> None:
    """docs/latency.md from a run's results (``--render`` redoes it from latency.json);
    ``raw``: where those results lie, as the report names them."""
    lat = result["latency_ms"]
    vad = result["vad"]
    each = lat["each"]
    early = sum(x < 0 for x in each)
    slow = sum(x > 1000 * vad["end_silence_s"] for x in each)
    early_conf = result.get("early_confidence", 0.0)
    pause_conf = result.get("pause_confidence", early_conf)
    settled, early_s, end_s = (round(1000 * vad[k]) for k in
                               ("settled_silence_s", "early_silence_s", "end_silence_s"))
    delivered = result["delivered"]
    early_text = (f"{early} of the {delivered} telegrams came before the measured end of "
                  "speech: the command was complete and settled in a pause before a trailing "
                  'word such as "please", which cannot change it.' if early else
                  f"None of the {delivered} telegrams came before the measured end of speech.")
    slow_text = (f"{slow} took longer than {end_s} ms: not "
                 "confident enough in the pause, they waited for the end of the utterance and "
                 "a second decode." if slow else
                 f"None waited for the end of the utterance ({end_s} ms of quiet) and a "
                 "second decode.")
    drop, zcr = vad.get("peak_drop_db"), vad.get("fricative_zcr")
    peak_text = (f"; frames {drop:g} dB under the utterance's loudest count as quiet"
                 + (f" unless they hiss (zero-crossing rate {zcr:g} or more)" if zcr else "")
                 if drop is not None else "")
    out.mkdir(parents=True, exist_ok=True)
    (out / "latency.md").write_text(f"""# Latency: end of speech to telegram on the bus

Made by `make latency` (`python -m bench.latency --count {result['commands']}`) on \
{result['date']}, {result['machine']}, {result.get('cores', 2)} cores. Raw numbers: `{_shown(raw)}`.

The service (`edgeasr serve --source stdin`, mode `always`, its own process) hears in real
time {result['commands']} held-out commands in the Piper joe voice (clean) on its stdin,
tunnelling to knxd on loopback; a multicast monitor that is not the service timestamps each
telegram on the bus.

| measure | value | target |
|---|---|---|
| commands that reached the bus | {result['delivered']} / {result['commands']} | \
(accuracy: docs/accuracy.md) |
| median end of speech -> telegram | {lat['median']:.0f} ms | <= 100 ms |
| p95 | {lat['p95']:.0f} ms | |
| CPU of the service, % of one core over the run | {result['cpu_percent_of_one_core']:.1f} % | |
| peak RSS of the service process | {result['peak_rss_mb']:.1f} MB | <= 80 MB |
{resident_row(result)}
How the time is spent: the utterance so far is decoded (features, int8 model, grammar
search) at the first quiet frame of every pause, while the endpointer keeps listening. A
command decoded with confidence {early_conf:g} or more is sent once the pause reaches
{settled} ms if no word the grammar allows after it could change it; one of {pause_conf:g} or
more at {early_s} ms; otherwise the whole utterance is decoded again at {end_s} ms of quiet
(docs/architecture.md, "Live pipeline"){peak_text}. {early_text} {slow_text} The decode at every
pause is also why the service's CPU is higher than one decode per utterance would need.
{memory_section(result)}""")


def resident_row(result: dict) -> str:
    """The table row that splits the service's resident memory at the end of the run."""
    mem = result.get("resident_at_end_mb")
    if mem is None:  # runs made before it was measured
        return ""
    return (f"| of it at the end: its own (anonymous) / library and model file pages / PSS | "
            f"{mem['anonymous']:.1f} / {mem['file']:.1f} / {mem['pss']:.1f} MB | |\n")


def memory_section(result: dict) -> str:
    if "memory" not in result:
        return ""
    return f"""
## Where the memory goes

{memory.render(result["memory"])}

The service adds its KNX connection, audio buffers and the pipeline's threads to this.
Most of it is the Python libraries: numpy, xknx (whose IP Secure support loads
cryptography) and pydantic (configuration). The service runs, here as on the board, with the
systemd unit's environment: `PYTHONOPTIMIZE=2` keeps no docstrings in memory (about 3.6 MB
less resident with the same code), and the image ships the `.opt-2.pyc` files it reads
(`edgeasr-image.bb`; this benchmark writes them first, `bench.service_env.precompile`).
RSS also counts the pages of shared libraries (numpy's and OpenBLAS's code, TFLite, Python)
that are mapped, and how many are depends on what else keeps them in memory (other processes
using the same venv's libraries raise it) while the anonymous memory stays the same: the
anonymous figure is the service's own.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__)
    ap.add_argument("--count", type=int, default=100, help="commands to speak (default 100)")
    ap.add_argument("--out", type=Path,
                    help="write latency.md and latency.json here instead of docs/ and "
                         "bench/results/ (a trial run that leaves the committed report alone)")
    ap.add_argument("--render", action="store_true",
                    help="only rewrite latency.md from bench/results/latency.json")
    args = ap.parse_args(argv)
    report_dir = args.out or REPO / "docs"
    if args.render:
        write_report(json.loads(RESULTS.read_text()), report_dir)
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    problem = environment_problem()
    if problem:
        raise SystemExit(f"latency: {problem}")
    grammar = load_building_grammar(CONFIG)
    clips = [c for c in make_clips(grammar, heldout.command_texts(grammar.graph), [])]
    clips = spread(clips, args.count)
    audio = HeldoutAudio()
    pcm = [audio.load(c, "clean") for c in clips]
    work = Path(tempfile.mkdtemp(prefix="edgeasr-latency-"))
    port = free_port()
    cfg = work / "service.yaml"
    cfg.write_text(yaml.safe_dump({
        "building": str(CONFIG), "audio": {"source": "stdin"}, "listen": {"mode": "always"},
        "knx": {"type": "tunnelling", "host": "127.0.0.1", "port": port}}))
    precompile()  # the image ships the optimised bytecode the unit's environment reads
    with Knxd(port, work), MulticastMonitor(port) as monitor:
        # As systemd starts it on the board: the unit's environment (PYTHONOPTIMIZE=2).
        proc = subprocess.Popen(
            [sys.executable, "-m", "edgeasr.cli", "serve", "--service", str(cfg)],
            stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, env=service_env())
        time.sleep(3.0)  # model load and KNX connection, before the clock starts
        cpu0, _ = proc_stats(proc.pid)
        t0 = time.monotonic()
        ends = feed(proc, pcm, gap_s=1.0)
        time.sleep(1.0)
        cpu1, peak_rss = proc_stats(proc.pid)
        resident = memory_now(proc.pid)
        wall = time.monotonic() - t0
        assert proc.stdin is not None
        proc.stdin.close()  # end of stream: the service stops
        proc.wait(timeout=30)
        bus = monitor.telegrams()
    latencies: list[float] = []
    missed = 0
    for i, clip in enumerate(clips):
        start = ends[i]
        stop = ends[i + 1] if i + 1 < len(clips) else float("inf")
        first = clip.reference[0]
        hits = [t.at for t in bus if t.ga == first.ga and start - 0.5 <= t.at < stop]
        if hits:
            latencies.append(1000 * (min(hits) - start))
        else:
            missed += 1
    cpu = cpu1 - cpu0
    result = {
        "command": "make latency",
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "cores": os.cpu_count(),
        "commands": len(clips), "delivered": len(latencies), "missed": missed,
        "latency_ms": {
            "median": statistics.median(latencies) if latencies else None,
            "p95": float(np.percentile(latencies, 95)) if latencies else None,
            "min": min(latencies, default=None), "max": max(latencies, default=None),
            "each": [round(x, 1) for x in latencies]},
        "cpu_percent_of_one_core": 100 * cpu / wall,
        "peak_rss_mb": peak_rss,
        "resident_at_end_mb": resident,
        "wall_s": wall,
        "service_environment": unit_environment(),
        "vad": asdict(VadConfig()),  # the service's defaults, which the run used
        "early_confidence": PipelineConfig().early_confidence,
        "pause_confidence": PipelineConfig().pause_confidence,
        # Which layer the peak comes from, measured apart (a dev voice; bench.memory).
        "memory": memory.measure(CONFIG),
    }
    results = args.out / "latency.json" if args.out else RESULTS
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(result, indent=1) + "\n")
    write_report(result, report_dir, results)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
