"""`python -m bench.agreement`: would two acoustic models that must agree act on more commands?

    python -m bench.eval --dev-voice V --engines edgeasr --threshold 0 --model A --out /tmp/a-V
    python -m bench.eval --dev-voice V --engines edgeasr --threshold 0 --model B --out /tmp/b-V
    python -m bench.agreement --first /tmp/a-*/accuracy.json --second /tmp/b-*/accuracy.json

Each model's clips are decoded apart (the runs must hold the same clips: the same voices,
conditions and audio, checked by their ``clips_sha256``). The rule replayed: where both send
the same telegrams, the more confident of the two needs ``--bonus`` less than the threshold;
otherwise the more confident one's telegrams go if it passes the threshold. For each model
alone and for the pair, the threshold with the most right commands while at most
``--max-false`` of the non-commands send something, and what it does per condition.
Meant for the dev voices (never the held-out joe voice): runs at ``--threshold 0`` keep
every decoded sentence and its confidence, so any threshold can be replayed.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeasr.recognizer import Vote, agree

Rule = Callable[[dict, dict, float], dict | None]  # (first, second, threshold) -> sent or None


@dataclass
class Tally:
    threshold: float
    by_condition: dict[str, list[int]] = field(default_factory=dict)  # right, wrong, false

    @property
    def right(self) -> int:
        return sum(row[0] for row in self.by_condition.values())

    @property
    def wrong(self) -> int:
        return sum(row[1] for row in self.by_condition.values())

    @property
    def false(self) -> int:
        return sum(row[2] for row in self.by_condition.values())


def _confidence(result: dict) -> float:
    return float(result.get("confidence", 0.0)) if result["sent"] else 0.0


def _vote(result: dict) -> Vote:
    """A clip's result as the runtime's agreement rule sees a member's decode."""
    sent = result["sent"]
    return Vote(json.dumps(sent, sort_keys=True) if sent else None, _confidence(result))


def alone(result: dict, _other: dict, threshold: float) -> dict | None:
    return result if agree([_vote(result)], threshold) is not None else None


def agreement(bonus: float) -> Rule:
    """The runtime's rule for a model of two members (``edgeasr.recognizer.agree``)."""
    def rule(a: dict, b: dict, threshold: float) -> dict | None:
        chosen = agree([_vote(a), _vote(b)], threshold, bonus)
        return None if chosen is None else (a, b)[chosen]
    return rule


def load(paths: list[Path]) -> list[tuple[str, dict]]:
    """(digest, accuracy.json) per file, in order; errors name the file."""
    out = []
    for path in paths:
        try:
            data = json.loads(path.read_text())
            out.append((data.get("dataset", {}).get("clips_sha256", ""), data))
        except (OSError, ValueError) as exc:
            raise SystemExit(f"bench.agreement: {path}: not a bench.eval accuracy.json "
                             f"({exc})") from None
    return out


def pair_clips(first: list[Path], second: list[Path]) -> list[tuple[dict, dict, dict]]:
    """(clip, first result, second result) for every clip of the paired runs."""
    if len(first) != len(second):
        raise SystemExit(f"bench.agreement: {len(first)} --first files but {len(second)} "
                         "--second files; expected one of each per voice, in the same order")
    pairs = []
    for (p, (da, a)), (q, (db, b)) in zip(zip(first, load(first), strict=True),
                                          zip(second, load(second), strict=True), strict=True):
        if da != db:
            raise SystemExit(f"bench.agreement: {p} and {q} hold different clips "
                             "(clips_sha256); run both with the same voice and conditions")
        seconds = {(c["condition"], c["clip"]): c for c in b["clips"]}
        for clip in a["clips"]:
            other = seconds.get((clip["condition"], clip["clip"]))
            if other is None or "edgeasr" not in clip["engines"] or \
                    "edgeasr" not in other["engines"]:
                raise SystemExit(f"bench.agreement: clip {clip['clip']} ({clip['condition']}) "
                                 f"of {p} has no EdgeASR result in both runs")
            pairs.append((clip, clip["engines"]["edgeasr"], other["engines"]["edgeasr"]))
    return pairs


def tally(pairs: list[tuple[dict, dict, dict]], rule: Rule, threshold: float) -> Tally:
    t = Tally(threshold)
    for clip, a, b in pairs:
        sent = rule(a, b, threshold)
        row = t.by_condition.setdefault(clip["condition"], [0, 0, 0])
        if sent is None:
            continue
        if clip["kind"] != "command":
            row[2] += 1  # a false action
        else:
            row[0 if sent["outcome"] == "correct" else 1] += 1
    return t


def best(pairs: list[tuple[dict, dict, dict]], rule: Rule, max_false: float) -> Tally | None:
    """The threshold (0.30-0.95 in steps of 0.005) with the most right commands within the
    false-action limit (the lowest such threshold on ties)."""
    non = sum(clip["kind"] != "command" for clip, _, _ in pairs)
    found: Tally | None = None
    for threshold in np.round(np.arange(0.30, 0.9501, 0.005), 3):
        t = tally(pairs, rule, float(threshold))
        if t.false <= max_false * non and (found is None or t.right > found.right):
            found = t
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.agreement", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--first", nargs="+", type=Path, required=True,
                    help="accuracy.json of bench.eval runs of the first model, one per voice")
    ap.add_argument("--second", nargs="+", type=Path, required=True,
                    help="the second model's, the same voices in the same order")
    ap.add_argument("--bonus", type=float, default=0.1,
                    help="how much lower the bar is where both agree (default %(default)s)")
    ap.add_argument("--max-false", type=float, default=0.01,
                    help="largest share of non-commands that may send (default %(default)s)")
    args = ap.parse_args(argv)
    if not 0.0 <= args.bonus < 1.0 or not 0.0 <= args.max_false < 1.0:
        ap.error("--bonus and --max-false: expected shares from 0 to below 1")
    pairs = pair_clips(args.first, args.second)
    commands = sum(clip["kind"] == "command" for clip, _, _ in pairs)
    non = len(pairs) - commands
    swapped = [(clip, b, a) for clip, a, b in pairs]
    rows = [("first alone", best(pairs, alone, args.max_false)),
            ("second alone", best(swapped, alone, args.max_false)),
            (f"both, {args.bonus:g} lower where they agree",
             best(pairs, agreement(args.bonus), args.max_false))]
    print(f"{len(pairs)} clips ({commands} commands, {non} non-commands); threshold with the "
          f"most right commands while at most {100 * args.max_false:g} % of non-commands send")
    print("\n| rule | threshold | right | wrong | false actions | per condition: right/wrong |")
    print("|---|---|---|---|---|---|")
    for name, t in rows:
        if t is None:
            print(f"| {name} | none within the limit | | | | |")
            continue
        per = ", ".join(f"{c} {r}/{w}" for c, (r, w, _) in t.by_condition.items())
        print(f"| {name} | {t.threshold:.3f} | {t.right}/{commands} | {t.wrong} | "
              f"{t.false}/{non} | {per} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
