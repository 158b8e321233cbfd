"""`python -m bench.threshold`: what each confidence threshold would act on, from eval runs.

    python -m bench.eval --dev-voice flite:awb --engines edgeasr --threshold 0.5 --out /tmp/awb
    python -m bench.threshold /tmp/awb/accuracy.json /tmp/rms/accuracy.json ...

Reads the per-clip results of `bench.eval` and prints, per threshold, the commands sent
right and wrong and the non-commands sent, pooled over every file and condition. Meant for
the dev voices (flite awb and rms, festival ked, which the shipped model never heard):
choose the threshold here, never on the joe voice.

A model of several member networks acts on a sentence every member decoded at its
agreement bonus less than the threshold (``edgeasr.recognizer.agree``); runs record, per
clip, whether its members agreed (``unanimous``) and the model's bonus, and the replay
applies it as the runtime does (``--bonus`` replays another). Likewise each clip's
speech-to-noise estimate (``snr_db``): under ``--noisy-below-db`` the threshold is lowered by
``--noise-allowance`` (``Recognizer.threshold_for``; default: the runs' model's); several
allowances, comma-separated, give a table each.

Runs record each member network's decode before the vote (its sentence, confidence, the
loud speech left outside it, its telegrams), and the replay votes from them as the runtime
does (``edgeasr.recognizer.agree``), so any threshold replays, and so does another limit on
the speech outside the sentence in a noisy room (``--noisy-outside-limit``, default: the
runs' model's; ``recognizer.outside_limit``). It is exact for a clip of one speech segment
(each of the three dev voices' 896 clips is one); of several, the replay keeps the segment
the run chose. Runs from before they recorded members replay from the chosen sentence's
confidence alone: only thresholds at or above the run's own (a clip that was not sent stays
not sent).

Runs made with ``--threshold 0`` show, at 0.00, how many commands the model's best grammar
sentence gets right at all (the recogniser's speech-outside-the-sentence limit still applies),
so the gap to a higher threshold is what the rejection holds back; ``--by-condition`` gives
a table per condition (clean, snr10, ...) after the pooled one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.metrics import same_telegrams
from edgeasr.recognizer import OUTSIDE_LIMIT, Vote, agree, noise_lowered, outside_limit, rivalled
from edgeasr.telegram import Telegram

THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)


def has_members(clips: list[dict]) -> bool:
    """Whether the runs recorded each member's decode (bench.eval since the noisy outside
    limit), so that the replay can vote as the runtime does."""
    return bool(clips) and all("members" in c["engines"]["edgeasr"] for c in clips)


def voted(result: dict, threshold: float, bonus: float, limit: float,
          rival_limit: float | None = None) -> list[dict[str, object]] | None:
    """The telegrams the runtime would send from a clip's recorded member decodes
    (``edgeasr.recognizer.agree``, each vote with the outside ``limit`` and, where given, the
    ``rival_limit`` on its recorded rival gap); None: nothing."""
    members = result["members"]
    votes = [Vote(None, 0.0) if m is None or m["outside"] < limit
             or rivalled(m.get("rival_gap"), rival_limit)
             else Vote(m["meaning"], m["confidence"]) for m in members]
    if not votes:
        return None
    chosen = agree(votes, threshold, bonus)
    return None if chosen is None else members[chosen]["sent"] or None


def sweep(clips: list[dict], thresholds: tuple[float, ...] = THRESHOLDS,
          bonus: float = 0.0, allowance: float = 0.0,
          noisy_below_db: float = 0.0, noisy_limit: float | None = None,
          rival_limit: float | None = None) -> list[dict]:
    """Per threshold: right / wrong / sent non-commands over ``clips`` (bench.eval's list);
    a clip whose members all decoded its sentence needs ``bonus`` less, one whose speech
    stood under ``noisy_below_db`` above the noise ``allowance`` less. Runs that recorded
    their members' decodes are replayed vote by vote, a noisy clip's with ``noisy_limit``
    on the speech outside the sentence (None: the quiet room's) and each member's rival gap
    with ``rival_limit`` (None: no rival rule); older runs from the confidence of the
    sentence they chose."""
    members = has_members(clips)
    if (noisy_limit is not None or rival_limit is not None) and not members:
        raise ValueError("these runs do not record their members' decodes: re-run bench.eval "
                         "to replay a noisy outside limit or a rival limit")
    rows = []
    for t in thresholds:
        row = {"threshold": t, "right": 0, "wrong": 0, "commands": 0, "false": 0,
               "non_commands": 0}
        for clip in clips:
            result = clip["engines"]["edgeasr"]
            snr = result.get("snr_db")
            if members:
                sent_telegrams = voted(result, noise_lowered(t, allowance, noisy_below_db, snr),
                                       bonus, outside_limit(noisy_limit, noisy_below_db, snr),
                                       rival_limit)
                sent = sent_telegrams is not None
                right = sent and same_telegrams([Telegram(**d) for d in sent_telegrams or ()],
                                                [Telegram(**d) for d in clip["reference"]])
            else:
                need = (noise_lowered(t, allowance, noisy_below_db, snr)
                        - (bonus if result.get("unanimous", False) else 0.0))
                sent = bool(result["sent"]) and result.get("confidence", 0.0) >= need
                right = result["outcome"] == "correct"
            if clip["kind"] == "command":
                row["commands"] += 1
                if sent:
                    row["right" if right else "wrong"] += 1
            else:
                row["non_commands"] += 1
                row["false"] += sent
        rows.append(row)
    return rows


def _limit_list(ap: argparse.ArgumentParser, option: str, text: str | None, low: float,
                high: float, example: str) -> tuple[float | None, ...] | None:
    """A comma-separated list of limits within low..high ('none': no such rule), or None
    where the option was not given."""
    if text is None:
        return None
    try:
        values = tuple(None if v.strip() == "none" else float(v) for v in text.split(","))
    except ValueError:
        ap.error(f"{option} {text!r}: expected numbers such as {example} (or none)")
    if not all(v is None or low <= v <= high for v in values):
        ap.error(f"{option} {text!r}: each must be within {low:g}..{high:g}")
    return values


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.threshold", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", type=Path, help="accuracy.json files of bench.eval")
    ap.add_argument("--thresholds", default=",".join(f"{t:g}" for t in THRESHOLDS),
                    help="comma-separated, each in 0..1 (default: %(default)s)")
    ap.add_argument("--bonus", type=float, default=None,
                    help="agreement bonus to replay (default: the one the runs' model has)")
    ap.add_argument("--noise-allowance", default=None, metavar="A[,A...]",
                    help="how much less a noisy clip needs, comma-separated for a table each "
                         "(default: the runs' model's)")
    ap.add_argument("--noisy-below-db", type=float, default=None,
                    help="speech-to-noise estimate under which a clip is noisy (default: the "
                         "runs' model's)")
    ap.add_argument("--noisy-outside-limit", default=None, metavar="L[,L...]",
                    help="how much loud speech around the sentence a noisy clip tolerates "
                         "(per-frame shortfall, from -10 to 0; 'none': the quiet room's "
                         f"{OUTSIDE_LIMIT:g}), comma-separated for a table each (default: the "
                         "runs' model's); needs runs that record their members' decodes")
    ap.add_argument("--rival-limit", default=None, metavar="R[,R...]",
                    help="how clearly a sentence must beat its rivals one word away (per "
                         "phone, from 0 to 10; 'none': no such rule), comma-separated for a "
                         "table each (default: the runs' model's); needs runs that measured "
                         "rival gaps (bench.eval --rival-limit 0)")
    ap.add_argument("--by-condition", action="store_true",
                    help="a table per condition as well as the pooled one")
    ap.add_argument("--snr", action="store_true",
                    help="also the clips' speech-to-noise estimates per condition (lowest, "
                         "median, highest): what a --noisy-below-db level sorts")
    args = ap.parse_args(argv)
    allowances: tuple[float, ...] | None = None
    if args.noise_allowance is not None:
        try:
            allowances = tuple(float(a) for a in args.noise_allowance.split(","))
        except ValueError:
            ap.error(f"--noise-allowance {args.noise_allowance!r}: expected numbers such as "
                     "0,0.1,0.15")
        if not all(0.0 <= a <= 1.0 for a in allowances):
            ap.error(f"--noise-allowance {args.noise_allowance!r}: each must be within 0..1")
    limits = _limit_list(ap, "--noisy-outside-limit", args.noisy_outside_limit, -10.0, 0.0,
                         "-0.2,-0.4")
    rivals = _limit_list(ap, "--rival-limit", args.rival_limit, 0.0, 10.0, "0.05,0.1")
    if args.noisy_below_db is not None and not 0.0 <= args.noisy_below_db <= 100.0:
        ap.error(f"--noisy-below-db {args.noisy_below_db}: expected decibels from 0 to 100")
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
    noise_rules = set()
    outside_rules = set()
    rival_rules = set()
    for path in args.results:
        try:
            data = json.loads(path.read_text())
            clips.extend(c for c in data["clips"] if "edgeasr" in c["engines"])
            # Runs made before runs recorded it: no bonus (what their replays assumed).
            engine = data.get("engines", {}).get("edgeasr", {})
            bonuses.add(float(engine.get("agreement_bonus", 0)))
            # Likewise the noise allowance: none before runs recorded it.
            noise_rules.add((float(engine.get("noise_allowance", 0)),
                             float(engine.get("noisy_below_db", 0))))
            outside_rules.add(engine.get("noisy_outside_limit"))
            rival_rules.add(engine.get("rival_limit"))
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
    if (allowances is None or args.noisy_below_db is None) and len(noise_rules) > 1:
        ap.error(f"the runs' models have different noise rules (allowance, dB: "
                 f"{sorted(noise_rules)}): give --noise-allowance and --noisy-below-db")
    model_allowance, model_below = noise_rules.pop() if noise_rules else (0.0, 0.0)
    allowances = allowances if allowances is not None else (model_allowance,)
    below = args.noisy_below_db if args.noisy_below_db is not None else model_below
    if any(allowances) and below:
        if not any(c["engines"]["edgeasr"].get("snr_db") is not None for c in clips):
            print("(the runs do not record the clips' speech-to-noise estimate: no noise "
                  "allowance replayed)")
        else:
            print(f"(noise allowance replayed where the speech stood under {below:g} dB "
                  "above the noise)")
    if limits is None and len(outside_rules) > 1:
        ap.error(f"the runs' models have different noisy outside limits "
                 f"({sorted(outside_rules, key=str)}): give --noisy-outside-limit")
    limits = limits if limits is not None else (outside_rules.pop() if outside_rules else None,)
    if rivals is None and len(rival_rules) > 1:
        ap.error(f"the runs' models have different rival limits "
                 f"({sorted(rival_rules, key=str)}): give --rival-limit")
    if any(v is not None for v in rivals or ()) and None in rival_rules:
        ap.error("some runs measured no rival gaps: re-run them with bench.eval "
                 "--rival-limit 0 to replay --rival-limit")
    rivals = rivals if rivals is not None else (rival_rules.pop() if rival_rules else None,)
    members = has_members(clips)
    if any(v is not None for v in limits) and not members:
        ap.error("these runs do not record their members' decodes (bench.eval before the "
                 "noisy outside limit): re-run bench.eval to replay --noisy-outside-limit")
    if members:
        print("(each clip replayed vote by vote from its members' recorded decodes)")
    if args.snr:
        print("\n| condition | clips measured | speech-to-noise dB: lowest | median | highest |")
        print("|---|---|---|---|---|")
        for cond in dict.fromkeys(c.get("condition", "?") for c in clips):
            snrs = sorted(c["engines"]["edgeasr"]["snr_db"] for c in clips
                          if c.get("condition", "?") == cond
                          and c["engines"]["edgeasr"].get("snr_db") is not None)
            if snrs:
                print(f"| {cond} | {len(snrs)} | {snrs[0]:.1f} | {snrs[len(snrs) // 2]:.1f} "
                      f"| {snrs[-1]:.1f} |")
            else:
                print(f"| {cond} | 0 | - | - | - |")
        print()
    groups = [("all conditions", clips)]
    if args.by_condition:
        for cond in dict.fromkeys(c.get("condition", "?") for c in clips):
            groups.append((cond, [c for c in clips if c.get("condition", "?") == cond]))
    for allowance, limit, rival in ((a, v, r) for a in allowances for v in limits
                                    for r in rivals):
        for name, group in groups:
            if len(allowances) > 1 or len(limits) > 1 or len(rivals) > 1 or args.by_condition:
                print(f"\n{name}" + (f", noise allowance {allowance:g}"
                                      if len(allowances) > 1 else "")
                      + (f", noisy outside limit {'none' if limit is None else f'{limit:g}'}"
                         if len(limits) > 1 else "")
                      + (f", rival limit {'none' if rival is None else f'{rival:g}'}"
                         if len(rivals) > 1 else "") + ":\n")
            print("| threshold | right | wrong | false actions (non-commands) |")
            print("|---|---|---|---|")
            for r in sweep(group, thresholds, bonus, allowance, below, limit, rival):
                share = 100 * r["false"] / max(1, r["non_commands"])
                print(f"| {r['threshold']:.2f} | {r['right']}/{r['commands']} | {r['wrong']} "
                      f"| {r['false']}/{r['non_commands']} ({share:.1f} %) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
