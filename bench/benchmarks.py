"""``make bench``: EdgeASR against the engines a customer would otherwise pick, and its cost.

    PYTHONPATH=models .venv/bin/python -m bench.benchmarks [--quick] [--out DIR]

Writes docs/benchmarks.md, PNG plots under docs/img/ and bench/results/benchmarks.json:

1. accuracy vs SNR (0..24 dB, two noise types) of EdgeASR, pocketsphinx (JSGF from the same
   building) and Whisper tiny.en + a text-to-intent matcher, on the held-out Piper joe clips;
2. cost on this machine in the same run: time per clip, real-time factor, peak RSS (each
   engine runs in its own process, ``bench.worker``), model size on disk, EdgeASR by stage;
3. NPU readiness of the shipped model (``bench.npu``);
4. the aarch64 equivalence check (``bench.aarch64``, qemu user-mode) when its root exists or
   can be built;
5. the model size/accuracy trade-off from bench/results/alternatives.json
   (``python -m bench.alternatives``; rerun it to add a model variant).

``--reuse pocketsphinx,whisper`` takes those engines' results and cost from the last run's
JSON (where it heard the same clips, conditions and audio with the same engines) and runs
EdgeASR alone: what a new model needs.

``--quick`` (20 commands + 8 non-commands per condition, 10 conditions) took 8 minutes on 2
busy cores; without it, every held-out clip plus the clean condition: 42 minutes (the report
says how long its own run took).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench import aarch64
from bench import conditions as cond
from bench.dataset import DEFAULT_CACHE, HeldoutAudio, make_clips, spread
from bench.eval import clips_digest, file_digest, machine
from bench.metrics import Metrics, Scored, summarise
from edgeasr.acoustic import AcousticModel, find_model
from edgeasr.grammar import load_building_grammar

log = logging.getLogger("bench.benchmarks")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "examples" / "demo-building.yaml"
ENGINES = ("edgeasr", "pocketsphinx", "whisper")
LABEL = {"edgeasr": "EdgeASR", "pocketsphinx": "pocketsphinx", "whisper": "Whisper tiny.en"}
COLOR = {"edgeasr": "#1f77b4", "pocketsphinx": "#ff7f0e", "whisper": "#2ca02c"}
QUICK = (20, 8)
ALTERNATIVES_JSON = ROOT / "bench" / "results" / "alternatives.json"


def _rel(p: Path | str) -> str:
    try:
        return str(Path(p).resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def dir_bytes(*paths: Path) -> int:
    total = 0
    for p in paths:
        files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file()]
        total += sum(f.stat().st_size for f in files)
    return total


def model_sizes(model: Path, engines: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What each engine that ran loads from disk to recognise (bytes, what was counted)."""
    # A split model's frozen embedder is a file of its own that the runtime loads too.
    meta = model.with_suffix(".json")
    files = AcousticModel.graph_files(model) + ([meta] if meta.is_file() else [])
    sizes: dict[str, dict[str, Any]] = {
        "edgeasr": {"bytes": dir_bytes(*files), "what": " + ".join(f.name for f in files)},
    }
    if "pocketsphinx" in engines:
        import pocketsphinx

        ps = Path(pocketsphinx.get_model_path()) / "en-us"
        sizes["pocketsphinx"] = {
            "bytes": dir_bytes(ps / "en-us", ps / "cmudict-en-us.dict"),
            "what": "en-us acoustic model + cmudict-en-us.dict (the JSGF grammar replaces the "
                    "language model)"}
    if "whisper" in engines:
        from bench.engines import whisper_model_dir

        wh = whisper_model_dir()
        sizes["whisper"] = {"bytes": dir_bytes(wh), "what": f"CTranslate2 tiny.en ({_rel(wh)})"}
    return sizes


def scored(rec: Mapping[str, Any], engine: str) -> Scored:
    e = rec["engines"][engine]
    return Scored(rec["kind"], e["outcome"], e["wall_s"], e["cpu_s"], rec["audio_s"],
                  "error" in e)


def aggregate(records: Sequence[Mapping[str, Any]], engine: str
              ) -> tuple[dict[str, Metrics], Metrics]:
    by: dict[str, list[Scored]] = defaultdict(list)
    for r in records:
        by[r["condition"]].append(scored(r, engine))
    return ({c: summarise(v) for c, v in by.items()},
            summarise([s for v in by.values() for s in v]))


def stage_means(records: Sequence[Mapping[str, Any]], engine: str) -> dict[str, float]:
    sums: dict[str, list[float]] = defaultdict(list)
    for r in records:
        for k, v in r["engines"][engine].get("timings", {}).items():
            sums[k].append(v)
    return {k: float(np.mean(v)) for k, v in sums.items()}


def run_worker(engine: str, spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    spec_path, out_path = tmp / f"{engine}-spec.json", tmp / f"{engine}-out.json"
    spec_path.write_text(json.dumps({**spec, "engine": engine}))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench.worker", str(spec_path), str(out_path)],
                          cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bench.worker {engine} exited with {proc.returncode}")
    out = json.loads(out_path.read_text())
    out["process_s"] = time.perf_counter() - t0
    return out


# --- plots ----------------------------------------------------------------------------------

def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_sweep(path: Path, per: Mapping[str, Mapping[str, Metrics]], noises: Sequence[str],
               snrs: Sequence[int], title: str) -> None:
    plt = _plt()
    fig, axes = plt.subplots(2, len(noises), figsize=(5.2 * len(noises), 7), squeeze=False)
    for j, noise in enumerate(noises):
        conds = [cond.sweep_condition(noise, s) for s in snrs]
        for engine, by in per.items():
            acc = [100 * by[c].command_accuracy for c in conds]
            bad = [100 * (by[c].wrong + by[c].false_actions)
                   / max(by[c].n_commands + by[c].n_non_commands, 1) for c in conds]
            kw = {"marker": "o", "color": COLOR.get(engine), "label": LABEL.get(engine, engine)}
            axes[0][j].plot(snrs, acc, **kw)
            axes[1][j].plot(snrs, bad, **kw)
        axes[0][j].set(title=f"{noise.upper() if noise == 'tv' else noise} noise: command "
                       "accuracy", xlabel="SNR (dB)", ylabel="% of commands right", ylim=(0, 102),
                       xticks=list(snrs))
        axes[1][j].set(title=f"{noise.upper() if noise == 'tv' else noise} noise: bad actions",
                       xlabel="SNR (dB)", ylabel="% of clips (wrong + false actions)",
                       xticks=list(snrs))
        axes[1][j].set_ylim(bottom=0)
        for ax in (axes[0][j], axes[1][j]):
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_cost(path: Path, cost: Mapping[str, Mapping[str, float]]) -> None:
    plt = _plt()
    engines = list(cost)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    items = (("ms_per_clip", "time per clip (ms)"), ("peak_rss_mb", "peak RSS (MB)"),
             ("model_mb", "model on disk (MB)"))
    for ax, (key, title) in zip(axes, items, strict=True):
        vals = [cost[e][key] for e in engines]
        bars = ax.bar([LABEL.get(e, e) for e in engines], vals,
                      color=[COLOR.get(e) for e in engines])
        ax.bar_label(bars, fmt="%.3g", fontsize=8)
        ax.set(title=title, yscale="log")
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle("Cost on the same machine, same run (log scale)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_tradeoff(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Accuracy per condition for each model variant; size and MACs under each name."""
    plt = _plt()
    conds = [c for c in ("clean", "snr10", "snr0", "reverb")
             if all(c in r["results"] for r in rows)]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(rows) + 2), 4.2))
    x = np.arange(len(rows))
    width = 0.8 / max(len(conds), 1)
    for i, c in enumerate(conds):
        vals = [100 * r["results"][c]["command_accuracy"] for r in rows]
        bars = ax.bar(x + (i - (len(conds) - 1) / 2) * width, vals, width, label=c)
        ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=1)
    names = [f"{r['label']}\n{r['bytes'] / 1024:.0f} KiB, "
             f"{r.get('npu', {}).get('macs_per_audio_s', 0) / 1e6:.0f} MMAC/s" for r in rows]
    ax.set(xticks=x, ylabel="held-out command accuracy (%)", ylim=(0, 105),
           title="Model variants (EdgeASR, joe voice): accuracy, size, compute")
    ax.set_xticklabels(names, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=len(conds))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- report ---------------------------------------------------------------------------------

def _pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.0f} %"


def sweep_tables(per: Mapping[str, Mapping[str, Metrics]], noises: Sequence[str],
                 snrs: Sequence[int], extra: Sequence[str]) -> list[str]:
    lines: list[str] = []
    for noise in noises:
        conds = [*extra, *[cond.sweep_condition(noise, s) for s in snrs]]
        heads = [c if c in extra else f"{c.split('snr')[1]} dB" for c in conds]
        lines += [f"**{cond.NOISES[noise]}** — command accuracy / wrong actions / false "
                  "actions on non-commands:", "",
                  "| engine | " + " | ".join(heads) + " |",
                  "|---|" + "---|" * len(conds)]
        for engine, by in per.items():
            cells = []
            for c in conds:
                m = by[c]
                cells.append(f"**{_pct(m.command_accuracy)}** / {m.wrong} / "
                             f"{m.false_actions}/{m.n_non_commands}")
            lines.append(f"| {LABEL.get(engine, engine)} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def cost_table(cost: Mapping[str, Mapping[str, Any]]) -> list[str]:
    base = cost.get("pocketsphinx")
    lines = ["| engine | mean time per clip | median | RTF | CPU time per clip | peak RSS "
             "(engine's own) | model on disk | load time |",
             "|---|---|---|---|---|---|---|---|"]
    for e, c in cost.items():
        def ratio(key: str, c: Mapping[str, Any] = c, e: str = e) -> str:
            return f" (x{c[key] / base[key]:.2f})" if base and e != "pocketsphinx" else ""
        lines.append(
            f"| {LABEL.get(e, e)} | **{c['ms_per_clip']:.0f} ms**{ratio('ms_per_clip')} "
            f"| {c['median_ms']:.0f} ms | {c['rtf']:.3f}{ratio('rtf')} | {c['cpu_ms']:.0f} ms "
            f"| **{c['peak_rss_mb']:.0f} MB**{ratio('peak_rss_mb')} ({c['engine_rss_mb']:.0f} MB) "
            f"| **{c['model_mb']:.2f} MB**{ratio('model_mb')} | {c['load_s']:.2f} s |")
    return lines + ["", "Ratios in brackets are to pocketsphinx (below 1 = cheaper)."]


def write_markdown(path: Path, s: Mapping[str, Any], per: Mapping[str, Mapping[str, Metrics]],
                   npu_lines: list[str], aarch64_lines: list[str], tradeoff_lines: list[str],
                   img: Mapping[str, str]) -> None:
    ds = s["dataset"]
    lines = [
        "# Benchmarks: EdgeASR against the engines a customer would otherwise pick", "",
        (f"Generated by `{s['command']}` on {s['date']} in {s['run_s'] / 60:.1f} minutes "
         f"(machine: {s['machine']}); rerun it rather than editing this file. Raw numbers per "
         f"clip: `{s['json_path']}`."), "",
    ]
    if s["quick"]:
        lines += [f"> **Quick run** (`--quick`): {ds['n_commands']} commands + "
                  f"{ds['n_non_commands']} non-commands per condition, evenly spread over the "
                  f"held-out set. `make bench` without `--quick` runs all {ds['n_all']} clips "
                  f"and the clean condition: {s['full_clips']:,} clips per engine, estimated "
                  f"at {s['full_estimate_s'] / 60:.0f} minutes of recognition from this run's "
                  "time per clip.", ""]
    lines += ["## At a glance", "",
              "| engine | command accuracy, mean over all SNRs and noises | wrong actions | false "
              "actions on non-commands | time per clip | peak RSS | model on disk |",
              "|---|---|---|---|---|---|---|"]
    for e, by in per.items():
        sweep = [m for c, m in by.items() if c not in s["extra_conditions"]]
        n_cmd = sum(m.n_commands for m in sweep)
        n_non = sum(m.n_non_commands for m in sweep)
        c = s["cost"][e]
        lines.append(
            f"| {LABEL.get(e, e)} | **{_pct(sum(m.correct for m in sweep) / max(n_cmd, 1))}** "
            f"| {sum(m.wrong for m in sweep)}/{n_cmd} "
            f"| {sum(m.false_actions for m in sweep)}/{n_non} | {c['ms_per_clip']:.0f} ms "
            f"| {c['peak_rss_mb']:.0f} MB | {c['model_mb']:.2f} MB |")
    lines += [""]
    lines += [
        "## Accuracy against SNR", "",
        (f"Held-out clips: {ds['n_commands']} commands and {ds['n_non_commands']} non-commands "
         f"per condition, spoken by {ds['voice']} (never used for training or tuning), the "
         f"clip set of [accuracy.md](accuracy.md). Noise types: "
         + "; ".join(f"**{k}** — {v}" for k, v in ds["noises"].items())
         + ". SNR is the active speech level over the noise's mean power (as in `make eval`)."),
        "",
        f"![accuracy vs SNR, one line per engine]({img['sweep']})", "",
        ("Command accuracy: exactly the reference telegrams were sent. Wrong action: something "
         "else was sent for a command. False action: a non-command sent anything."), "",
        *sweep_tables(per, s["noises"], s["snrs"], s["extra_conditions"]),
        "Engines:", "",
        *[f"- **{LABEL.get(e, e)}**: "
          + "; ".join(f"{k}: {str(v).replace(f'{ROOT}/', '')}" for k, v in d.items())
          + (f" (results and cost reused from the run of {s['reused'][e]}, `--reuse`)"
             if e in s.get("reused", {}) else "")
          for e, d in s["engines"].items()],
        "",
        "## Cost on this machine (same run)", "",
        (f"Each engine ran alone in its own process (`bench.worker`) over the same "
         f"{s['n_clips_per_engine']} clips, one thread each; time is the recognition call only "
         "(audio already in memory), RTF = recognition time / audio time. Peak RSS is the "
         "process's `ru_maxrss` (Python + numpy + the engine + one clip); in brackets the "
         "part the engine added after the interpreter and the harness were loaded."), "",
        *([f"> The CPU was shared with other jobs during this run (1-minute load average "
           f"{s['load']:.1f} on {s['cores']} cores): absolute times are inflated; the ratios "
           "between engines, measured in the same run, are the figures to compare.", ""]
          if s.get("load", 0) > s.get("cores", 1) else []),
        *([f"> Not all from this run: {', '.join(LABEL.get(e, e) for e in s['reused'])} "
           "ran earlier on this machine, on the same clips, conditions and audio, and their "
           "results and cost were reused (`--reuse`; "
           + ", ".join(f"{LABEL.get(e, e)}: {d}" for e, d in s["reused"].items())
           + "): ratios to them compare two runs.", ""] if s.get("reused") else []),
        f"![time per clip, peak RSS and model size per engine]({img['cost']})", "",
        *cost_table(s["cost"]), "",
        "EdgeASR per stage (mean per clip): "
        + ", ".join(f"{k} {1000 * v:.1f} ms" for k, v in s["stages"]["edgeasr"].items()
                    if k != "total") + ".",
        ("Whisper per stage: " + ", ".join(f"{k} {1000 * v:.1f} ms"
                                           for k, v in s["stages"].get("whisper", {}).items())
         + ".") if s["stages"].get("whisper") else "",
        "",
        *npu_lines, "",
        *aarch64_lines, "",
        *tradeoff_lines, "",
        "## Reproduce", "",
        "```",
        f"make bench                        # full run (estimated above: "
        f"{s['full_estimate_s'] / 60:.0f} min of recognition)",
        "make bench BENCH_ARGS=--quick      # the quick run (this file, when marked quick)",
        "make bench BENCH_ARGS='--reuse pocketsphinx,whisper'  # after a model change",
        "PYTHONPATH=models .venv/bin/python -m bench.npu          # NPU readiness only",
        "PYTHONPATH=models .venv/bin/python -m bench.aarch64      # aarch64 check only",
        "PYTHONPATH=models .venv/bin/python -m bench.alternatives LABEL=MODEL.tflite:NOTE",
        "PYTHONPATH=models .venv/bin/python -m bench.benchmarks --render  # report from JSON",
        "```", "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def tradeoff_section(img_dir: Path, doc_dir: Path) -> list[str]:
    head = ["## Model size and accuracy trade-off", ""]
    if not ALTERNATIVES_JSON.is_file():
        return head + [f"No `{_rel(ALTERNATIVES_JSON)}` yet: run `python -m bench.alternatives "
                       "LABEL=MODEL.tflite:NOTE ...` to score model variants."]
    data = json.loads(ALTERNATIVES_JSON.read_text())
    rows = data["rows"]
    png = img_dir / "model-tradeoff.png"
    plot_tradeoff(png, rows)
    conds = [c for c in ("clean", "snr10", "snr0", "reverb") if all(c in r["results"]
                                                                   for r in rows)]
    lines = head + [
        (f"From `{_rel(ALTERNATIVES_JSON)}`, written by `python -m bench.alternatives` "
         f"(each row's command is in the JSON; {data.get('clips', 'held-out clips')}). "
         "To add a variant — e.g. the frozen pretrained speech-embedding frontend — run "
         "`python -m bench.alternatives NEW=path/to/edgeasr.tflite:'what differs'` (rows are "
         "merged by label), then `python -m bench.benchmarks --render` (rewrites this file "
         "from the last run's JSON in seconds) or `make bench`."), "",
        f"![model size vs accuracy]({_rel_to(png, doc_dir)})", "",
        "| model | what differs | size | parameters | MACs / s audio | NPU-ready | "
        + " | ".join(conds) + " | false actions |",
        "|---|---|---|---|---|---|" + "---|" * len(conds) + "---|",
    ]
    for r in rows:
        acc = " | ".join(f"{100 * r['results'][c]['command_accuracy']:.1f} %" for c in conds)
        fa = sum(r["results"][c]["false_actions"] for c in conds)
        n = sum(r["results"][c]["n_non_commands"] for c in conds)
        npu = r.get("npu", {})
        lines.append(
            f"| {r['label']} (`{r['sha256'][:10]}`) | {r['note']} | {r['bytes'] / 1024:.0f} KiB "
            f"| {npu.get('params', 0):,} | {npu.get('macs_per_audio_s', 0) / 1e6:.1f} M "
            f"| {'yes' if npu.get('all_npu_ready') else 'no'} | {acc} | {fa}/{n} |")
    return lines


def _rel_to(p: Path, base: Path) -> str:
    try:
        return str(p.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(p)


class ReuseError(ValueError):
    """An engine's results from an earlier run cannot stand for this one."""


def _record_keys(records: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((r["clip"], r["condition"], r["text"], json.dumps(r["reference"]))
                  for r in records)


def reused_results(path: Path, engines: Sequence[str], expected: Sequence[Mapping[str, Any]],
                   digest: str, wavs: Sequence[Path],
                   describe: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The results of ``engines`` from the run saved in ``path``, as ``run_worker`` returns
    them, where that run heard the same audio as this one: the same clips and conditions
    (``expected``: records without engines), the same WAVs (``digest``, clips_digest; a run
    saved without one: every WAV in ``wavs`` older than that run) and the same engines
    (``describe``: each engine's description now). Raises ReuseError naming what differs."""
    try:
        prev = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ReuseError(f"--reuse: cannot read the earlier run {path}: {exc}") from None
    want = _record_keys(expected)
    out: dict[str, dict[str, Any]] = {}
    for e in engines:
        records = prev.get("records", {}).get(e)
        if records is None:
            raise ReuseError(f"--reuse: {path} has no results of {e}")
        if _record_keys(records) != want:
            raise ReuseError(f"--reuse: {path} ran {e} on other clips or conditions "
                             f"({len(records)} records, this run {len(want)})")
        if prev["engines"].get(e) != describe[e]:
            raise ReuseError(f"--reuse: {e} differs from {path}'s: {prev['engines'].get(e)} "
                             f"there, {describe[e]} now")
        cost = prev["cost"][e]
        out[e] = {"records": records, "describe": prev["engines"][e], "load_s": cost["load_s"],
                  "rss_peak_kib": cost["peak_rss_mb"] * 1024,
                  "rss_before_engine_kib": (cost["peak_rss_mb"] - cost["engine_rss_mb"]) * 1024,
                  "process_s": cost["process_s"],
                  # A reuse of reused results keeps the date they were measured.
                  "measured": prev.get("reused", {}).get(e, prev["date"])}
    if prev.get("clips_sha256") is not None:
        if prev["clips_sha256"] != digest:
            raise ReuseError(f"--reuse: {path} heard other audio (WAVs' sha256 "
                             f"{prev['clips_sha256'][:16]}…, this run's {digest[:16]}…)")
    else:  # its date has minutes only
        ran = datetime.strptime(prev["date"], "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)
        newer = [w for w in wavs if w.stat().st_mtime >= ran.timestamp() - 60]
        if newer:
            raise ReuseError(f"--reuse: {path} (of {prev['date']}) has no digest of its audio "
                             f"and {len(newer)} WAVs were made since, e.g. {newer[0]}")
    return out


def run_aarch64(n_clips: int) -> dict[str, Any]:
    """The aarch64 check's result, or {"error": ...}: the report must survive its failure."""
    try:
        return aarch64.check(n_clips=n_clips).as_dict()
    except Exception as err:
        log.exception("aarch64 check failed")
        return {"error": f"{type(err).__name__}: {err}"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help=f"{QUICK[0]} commands + {QUICK[1]} non-commands, no clean condition")
    ap.add_argument("--clips", help="COMMANDS,NON_COMMANDS: a subset of this size (smoke runs)")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--noises", default=",".join(cond.NOISES))
    ap.add_argument("--snrs", default=",".join(map(str, cond.SWEEP_SNRS)))
    ap.add_argument("--model", type=Path, help="EdgeASR model (default: the shipped one)")
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--out", type=Path, default=ROOT / "docs",
                    help="folder for benchmarks.md (plots go to OUT/img)")
    ap.add_argument("--json", type=Path, default=ROOT / "bench/results/benchmarks.json")
    ap.add_argument("--skip-aarch64", action="store_true")
    ap.add_argument("--reuse", default="", metavar="ENGINES",
                    help="engines (e.g. pocketsphinx,whisper) whose per-clip results and cost "
                         "to take from --json's earlier run instead of running them again, "
                         "after a change to EdgeASR alone; refused unless that run heard the "
                         "same clips, conditions and audio with the same engines")
    ap.add_argument("--render", action="store_true",
                    help="only rewrite the report and plots from --json (e.g. after "
                         "`python -m bench.alternatives` added a model variant)")
    args = ap.parse_args(argv)
    if args.render:
        render(json.loads(args.json.read_text()), args.out)
        print(f"rewrote {_rel(args.out / 'benchmarks.md')} from {_rel(args.json)}")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    t_start = time.perf_counter()
    engines = [e for e in args.engines.split(",") if e]
    noises = [n for n in args.noises.split(",") if n]
    snrs = [int(s) for s in args.snrs.split(",") if s]
    reuse = [e for e in args.reuse.split(",") if e]
    if set(engines) - set(ENGINES) or set(noises) - set(cond.NOISES) or not snrs:
        ap.error(f"engines from {ENGINES}, noises from {sorted(cond.NOISES)}, SNRs as integers")
    if set(reuse) - set(engines):
        ap.error(f"--reuse {args.reuse}: engines from --engines ({','.join(engines)})")
    extra = [] if args.quick else ["clean"]
    conditions = extra + [cond.sweep_condition(n, s) for n in noises for s in snrs]

    if str(ROOT / "models") not in sys.path:
        sys.path.insert(0, str(ROOT / "models"))
    from factory.heldout import command_texts, non_command_texts

    grammar = load_building_grammar(args.config)
    all_cmds, all_non = command_texts(grammar.graph), non_command_texts()
    clips = make_clips(grammar, all_cmds, all_non)
    commands = [c for c in clips if c.kind == "command"]
    non = [c for c in clips if c.kind == "non_command"]
    if args.quick or args.clips:
        n_cmd, n_non = map(int, args.clips.split(",")) if args.clips else QUICK
        commands, non = spread(commands, n_cmd), spread(non, n_non)
    chosen = commands + non

    audio = HeldoutAudio(args.cache)
    made = audio.build(chosen, conditions)
    log.info("held-out audio: %d clips made", made)

    model = find_model(args.model)
    spec = {"config": str(args.config), "model": str(model) if args.model else None,
            "cache": str(args.cache), "commands": all_cmds, "non_commands": all_non,
            "clip_ids": [c.id for c in chosen], "conditions": conditions}
    digest = clips_digest(audio, chosen, conditions)
    results: dict[str, dict[str, Any]] = {}
    if reuse:
        from bench.worker import make_engine

        expected = [{"clip": c.id, "condition": k, "text": c.text,
                     "reference": [t.to_json() for t in c.reference]}
                    for k in conditions for c in chosen]
        try:
            reused = reused_results(
                args.json, reuse, expected, digest,
                [audio.path(c, k) for k in conditions for c in chosen],
                {e: make_engine(e, spec).describe() for e in reuse})
        except ReuseError as exc:
            ap.error(str(exc))
    with tempfile.TemporaryDirectory(prefix="edgeasr-bench-") as tmp_s:
        tmp = Path(tmp_s)
        for engine in engines:
            if engine in reuse:
                log.info("%s: results of %s reused", engine, reused[engine]["measured"])
                results[engine] = reused[engine]
                continue
            log.info("running %s on %d clips", engine, len(chosen) * len(conditions))
            results[engine] = run_worker(engine, spec, tmp)
        aarch64_result = (None if args.skip_aarch64
                          else run_aarch64(20 if args.quick else aarch64.DEFAULT_CLIPS))

    sizes = model_sizes(model, list(results))
    per: dict[str, dict[str, Metrics]] = {}
    cost: dict[str, dict[str, Any]] = {}
    stages: dict[str, dict[str, float]] = {}
    for engine, res in results.items():
        per[engine], overall = aggregate(res["records"], engine)
        walls = [r["engines"][engine]["wall_s"] for r in res["records"]]
        cost[engine] = {
            "ms_per_clip": 1000 * overall.mean_wall_s, "median_ms": 1000 * float(np.median(walls)),
            "rtf": overall.rtf, "cpu_ms": 1000 * overall.mean_cpu_s,
            "peak_rss_mb": res["rss_peak_kib"] / 1024,
            "engine_rss_mb": (res["rss_peak_kib"] - res["rss_before_engine_kib"]) / 1024,
            "model_mb": sizes[engine]["bytes"] / 1e6, "model_what": sizes[engine]["what"],
            "load_s": res["load_s"], "process_s": res["process_s"],
        }
        stages[engine] = stage_means(res["records"], engine)

    from bench import npu
    from bench.synth import voice_description

    report = npu.analyse(model)
    run_s = time.perf_counter() - t_start
    full_clips = len(clips) * (1 + len(noises) * len(snrs))
    full_estimate_s = sum(c["ms_per_clip"] / 1000 * full_clips for c in cost.values())
    given = list(argv) if argv is not None else sys.argv[1:]
    summary: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python -m bench.benchmarks", *given]) if given else "make bench",
        "quick": args.quick, "run_s": run_s, "machine": machine(),
        "load": os.getloadavg()[0], "cores": os.cpu_count() or 1,
        "json_path": _rel(args.json), "model": file_digest(model), "clips_sha256": digest,
        "reused": {e: r["measured"] for e, r in results.items() if "measured" in r},
        "engines": {e: r["describe"] for e, r in results.items()},
        "dataset": {"voice": voice_description(), "n_commands": len(commands),
                    "n_non_commands": len(non), "n_all": len(clips),
                    "noises": {n: cond.NOISES[n] for n in noises}},
        "noises": noises, "snrs": snrs, "extra_conditions": extra,
        "n_clips_per_engine": len(chosen) * len(conditions),
        "full_clips": full_clips, "full_estimate_s": full_estimate_s,
        "cost": cost, "stages": stages,
        "results": {e: {c: m.as_dict() for c, m in by.items()} for e, by in per.items()},
        "npu": report.as_dict(), "aarch64": aarch64_result,
        "records": {e: r["records"] for e, r in results.items()},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    render(summary, args.out)
    print(f"wrote {_rel(args.out / 'benchmarks.md')}, plots in {_rel(args.out / 'img')}, "
          f"{_rel(args.json)} ({run_s / 60:.1f} min)")
    for e in per:
        print(f"  {LABEL[e]:16s} " + "  ".join(
            f"{c}: {100 * m.command_accuracy:.0f}%" for c, m in per[e].items()))
    return 0


def render(summary: Mapping[str, Any], out: Path) -> None:
    """benchmarks.md and the plots from a run's summary (fresh, or read back by --render)."""
    from bench import npu

    per = {e: {c: Metrics(**{k: tuple(v) if isinstance(v, list) else v for k, v in m.items()})
               for c, m in by.items()} for e, by in summary["results"].items()}
    ds = summary["dataset"]
    img = {"sweep": "img/accuracy-vs-snr.png", "cost": "img/cost.png"}
    plot_sweep(out / img["sweep"], per, summary["noises"], summary["snrs"],
               f"Held-out joe voice, {ds['n_commands']} commands + {ds['n_non_commands']} "
               "non-commands per point" + (" (quick run)" if summary["quick"] else ""))
    plot_cost(out / img["cost"], summary["cost"])
    npu_lines = npu.markdown(npu.analyse(ROOT / summary["model"]["path"]))
    now = file_digest(ROOT / summary["model"]["path"])
    if now["sha256"] != summary["model"]["sha256"]:
        # --render after the model file changed: say which model each section describes.
        npu_lines[2:2] = [
            f"(The model file now at this path, sha256 `{now['sha256'][:10]}`; the accuracy "
            f"and cost above were measured with sha256 `{summary['model']['sha256'][:10]}`.)",
            ""]
    a = summary.get("aarch64")
    aarch64_lines = ["## The runtime on aarch64 (qemu user-mode)", ""] + (
        ["Skipped in this run (`--skip-aarch64`)."] if a is None else
        [f"**Failed**: {a['error']}"] if "error" in a else aarch64.markdown(a))
    write_markdown(out / "benchmarks.md", summary, per, npu_lines, aarch64_lines,
                   tradeoff_section(out / "img", out), img)

if __name__ == "__main__":
    sys.exit(main())
