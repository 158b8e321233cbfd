"""`make alternatives`: the factory's model alternatives, side by side on the held-out voice.

    python -m bench.alternatives LABEL=MODEL.tflite[:NOTE] ... [--quick]

Each model is scored by the same held-out evaluation as `make eval` (EdgeASR only, every
condition); the table goes to docs/model-alternatives.md, which the model card points to.
Rows are also kept in bench/results/alternatives.json, merged by label, so a new variant is
added by running this with just that variant; `make bench` plots size against accuracy from it.
A model with an embedder beside it (``<model>.embedder.tflite``) counts both files' bytes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench import eval as heldout_eval
from bench import npu
from bench.eval import file_digest
from edgeasr.acoustic import AcousticModel

ROOT = Path(__file__).resolve().parents[1]
CONDITIONS = ["clean", "snr10", "snr0", "reverb"]
RESULTS = ROOT / "bench" / "results" / "alternatives.json"
NOTES_MARKER = "<!-- notes below are kept by bench.alternatives -->"


def model_files(path: Path) -> dict:
    """The row's path, bytes and sha256 of a model; a split model's bytes are both files'
    (as bench.targets.model_budget counts them), and its embedder's digest is kept too."""
    model, *embedder = (file_digest(f) for f in AcousticModel.graph_files(path))
    row = {"path": model["path"], "bytes": model["bytes"], "sha256": model["sha256"]}
    if embedder:
        row["embedder"] = embedder[0]
        row["bytes"] += embedder[0]["bytes"]
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.alternatives", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="LABEL=PATH[:NOTE]")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threshold", type=float,
                    help="EdgeASR's threshold (default: the model's own, from its edgeasr.json)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "model-alternatives.md")
    ap.add_argument("--json", type=Path, default=RESULTS, help="rows, merged by label")
    args = ap.parse_args(argv)
    merged: dict[str, dict] = {}
    if args.json.is_file():
        merged = {r["label"]: r for r in json.loads(args.json.read_text())["rows"]}
    for spec in args.models:
        label, _, rest = spec.partition("=")
        path, _, note = rest.partition(":")
        with tempfile.TemporaryDirectory() as tmp:
            extra = ["--quick"] if args.quick else []
            if args.threshold is not None:
                extra += ["--threshold", str(args.threshold)]
            code = heldout_eval.main(["--engines", "edgeasr", "--model", path, "--out", tmp,
                                      *extra])
            if code != 0:
                return code
            data = json.loads((Path(tmp) / "accuracy.json").read_text())
        report = npu.analyse(path)
        merged[label] = {
            "label": label, "note": note, **model_files(Path(path)),
            "quick": args.quick, "date": data["date"],
            "threshold": data["engines"]["edgeasr"]["threshold"],
            "command": f"python -m bench.alternatives {label}={path}:{note!r}"
                       + (" --quick" if args.quick else "")
                       + (f" --threshold {args.threshold}" if args.threshold is not None else ""),
            "npu": {"params": report.params, "macs_per_window": report.macs,
                    "macs_per_audio_s": report.macs_per_audio_s,
                    "all_npu_ready": report.all_npu_ready},
            "results": data["results"]["edgeasr"],
        }
    rows = list(merged.values())
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(
        {"clips": "the clips of `make eval` (Piper joe voice, never trained on; EdgeASR only)",
         "rows": rows}, indent=1) + "\n")
    lines = [
        "# Model alternatives on the held-out voice",
        "",
        "Made by `python -m bench.alternatives LABEL=MODEL.tflite:NOTE ...` with the clips of "
        "`make eval` (Piper joe voice, never trained on; EdgeASR only); each row's exact command "
        f"is in `{RESULTS.relative_to(ROOT)}`. Command accuracy = right telegrams sent; "
        "false = non-commands that sent something, at the row's confidence threshold (rows "
        "made before the threshold was recorded used 0.5, the default then).",
        "",
        "| model | what differs | size | threshold | " + " | ".join(CONDITIONS)
        + " | false actions |",
        "|---|---|---|---|" + "---|" * len(CONDITIONS) + "---|",
    ]
    for r in rows:
        res = r["results"]
        acc = " | ".join(f"{100 * res[c]['command_accuracy']:.1f} %" for c in CONDITIONS)
        fa = sum(res[c]["false_actions"] for c in CONDITIONS)
        n = sum(res[c]["n_non_commands"] for c in CONDITIONS)
        lines.append(f"| {r['label']} (`{r['sha256'][:10]}`) | {r['note']} | "
                     f"{r['bytes'] / 1024:.0f} KiB | {r.get('threshold', 0.5):g} | {acc} | "
                     f"{fa}/{n} |")
    lines.append("")
    # Hand-written notes below the marker survive regeneration.
    if args.out.is_file() and NOTES_MARKER in (old := args.out.read_text()):
        lines += [NOTES_MARKER + old.split(NOTES_MARKER, 1)[1].rstrip("\n"), ""]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
