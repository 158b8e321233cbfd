"""`python -m bench.threshold`: what each confidence threshold would act on, from eval runs.

    python -m bench.eval --dev-voice flite:awb --engines edgeasr --threshold 0.5 --out /tmp/awb
    python -m bench.threshold /tmp/awb/accuracy.json /tmp/rms/accuracy.json ...

Reads the per-clip results of `bench.eval` (made at its `--threshold`, so only
thresholds at or above it can be replayed: a clip that was not sent stays not sent) and
prints, per threshold, the commands sent right and wrong and the non-commands sent, pooled
over every file and condition. Meant for the dev voices (flite awb and rms, festival ked,
which the shipped model never heard): choose the threshold here, never on the joe voice.

A model of several member networks acts on a sentence every member decoded at its
agreement bonus less than the threshold (``edgeasr.recognizer.agree``); runs record, per
clip, whether its members agreed (``unanimous``) and the model's bonus, and the replay
applies it as the runtime does (``--bonus`` replays another).

Runs made with ``--threshold 0`` show, at 0.00, how many commands the model's best grammar
sentence gets right at all (the recogniser's speech-outside-the-sentence limit still applies),
so the gap to a higher threshold is what the rejection holds back; ``--by-condition`` gives
a table per condition (clean, snr10, ...) after the pooled one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)


def sweep(clips: list[dict], thresholds: tuple[float, ...] = THRESHOLDS,
          bonus: float = 0.0) -> list[dict]:
    """Per threshold: right / wrong / sent non-commands over ``clips`` (bench.eval's list);
    a clip whose members all decoded its sentence needs ``bonus`` less."""
    rows = []
    for t in thresholds:
        row = {"threshold": t, "right": 0, "wrong": 0, "commands": 0, "false": 0,
               "non_commands": 0}
        for clip in clips:
            result = clip["engines"]["edgeasr"]
            need = t - bonus if result.get("unanimous", False) else t
            sent = bool(result["sent"]) and result.get("confidence", 0.0) >= need
            if clip["kind"] == "command":
                row["commands"] += 1
                if sent:
                    row["right" if result["outcome"] == "correct" else "wrong"] += 1
            else:
                row["non_commands"] += 1
                row["false"] += sent
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.threshold", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", type=Path, help="accuracy.json files of bench.eval")
    ap.add_argument("--thresholds", default=",".join(f"{t:g}" for t in THRESHOLDS),
                    help="comma-separated, each in 0..1 (default: %(default)s)")
    ap.add_argument("--bonus", type=float, default=None,
                    help="agreement bonus to replay (default: the one the runs' model has)")
    ap.add_argument("--by-condition", action="store_true",
                    help="a table per condition as well as the pooled one")
    args = ap.parse_args(argv)
    try:
        thresholds = tuple(float(t) for t in args.thresholds.split(","))
    except ValueError:
        ap.error(f"--thresholds {args.thresholds!r}: expected numbers such as 0,0.5,0.65")
    if not all(0.0 <= t <= 1.0 for t in thresholds):
        ap.error(f"--thresholds {args.thresholds!r}: each must be within 0..1")
    if args.bonus is not None and not 0.0 <= args.bonus <= 1.0:
        ap.error(f"--bonus {args.bonus}: expected a number from 0 to 1")
    clips: list[dict] = []
    bonuses = set()
    for path in args.results:
        try:
            data = json.loads(path.read_text())
            clips.extend(c for c in data["clips"] if "edgeasr" in c["engines"])
            # Runs made before runs recorded it: no bonus (what their replays assumed).
            bonuses.add(float(data.get("engines", {}).get("edgeasr", {}).get("agreement_bonus", 0)))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            ap.error(f"{path}: not a bench.eval accuracy.json ({exc})")
    if args.bonus is None and len(bonuses) > 1:
        ap.error(f"the runs' models have different agreement bonuses ({sorted(bonuses)}): "
                 "give --bonus")
    bonus = args.bonus if args.bonus is not None else bonuses.pop() if bonuses else 0.0
    if bonus and not any("unanimous" in c["engines"]["edgeasr"] for c in clips):
        print(f"(the runs do not record whether members agreed: bonus {bonus:g} not replayed)")
    elif bonus:
        print(f"(agreement bonus {bonus:g} replayed where every member decoded the sentence)")
    groups = [("all conditions", clips)]
    if args.by_condition:
        for cond in dict.fromkeys(c.get("condition", "?") for c in clips):
            groups.append((cond, [c for c in clips if c.get("condition", "?") == cond]))
    for name, group in groups:
        if args.by_condition:
            print(f"\n{name}:\n")
        print("| threshold | right | wrong | false actions (non-commands) |")
        print("|---|---|---|---|")
        for r in sweep(group, thresholds, bonus):
            share = 100 * r["false"] / max(1, r["non_commands"])
            print(f"| {r['threshold']:.2f} | {r['right']}/{r['commands']} | {r['wrong']} | "
                  f"{r['false']}/{r['non_commands']} ({share:.1f} %) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
