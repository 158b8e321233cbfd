"""`make alternatives`: the factory's model alternatives, side by side on the held-out voice.

    python -m bench.alternatives LABEL=MODEL.tflite[:NOTE] ... [--quick]

Each model is scored by the same held-out evaluation as `make eval` (EdgeASR only, every
condition); the table goes to docs/model-alternatives.md, which the model card points to.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench import eval as heldout_eval
from bench.eval import file_digest

ROOT = Path(__file__).resolve().parents[1]
CONDITIONS = ["clean", "snr10", "snr0", "reverb"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.alternatives", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="LABEL=PATH[:NOTE]")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "model-alternatives.md")
    args = ap.parse_args(argv)
    rows = []
    for spec in args.models:
        label, _, rest = spec.partition("=")
        path, _, note = rest.partition(":")
        with tempfile.TemporaryDirectory() as tmp:
            extra = ["--quick"] if args.quick else []
            code = heldout_eval.main(["--engines", "edgeasr", "--model", path, "--out", tmp,
                                      *extra])
            if code != 0:
                return code
            data = json.loads((Path(tmp) / "accuracy.json").read_text())
        res = data["results"]["edgeasr"]
        digest = file_digest(Path(path))
        rows.append((label, note, digest, res))
    lines = [
        "# Model alternatives on the held-out voice",
        "",
        f"Made by `python -m bench.alternatives {' '.join(args.models)}"
        f"{' --quick' if args.quick else ''}` with the clips of `make eval` (Piper joe voice, "
        "never trained on; EdgeASR only). Command accuracy = right telegrams sent; "
        "false = non-commands that sent something.",
        "",
        "| model | what differs | size | " + " | ".join(CONDITIONS) + " | false actions |",
        "|---|---|---|" + "---|" * len(CONDITIONS) + "---|",
    ]
    for label, note, digest, res in rows:
        acc = " | ".join(f"{100 * res[c]['command_accuracy']:.1f} %" for c in CONDITIONS)
        fa = sum(res[c]["false_actions"] for c in CONDITIONS)
        n = sum(res[c]["n_non_commands"] for c in CONDITIONS)
        lines.append(f"| {label} (`{digest['sha256'][:10]}`) | {note} | "
                     f"{digest['bytes'] / 1024:.0f} KiB | {acc} | {fa}/{n} |")
    lines.append("")
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
