"""Choose the decoder's quiet-filler rule on training voices (never the held-out one).

    PYTHONPATH=models:. .venv/bin/python -m bench.filler \\
        --dev-voice festival:cmu_us_slt_arctic_hts flite:awb espeak:en-us+f3

A frame well under the speech level (``edgeasr.features.quiet_frames``) before or after the
command may be filler (``edgeasr.decoder``, opt-in ``filler_penalty``): trailing TV babble is
then not forced into the last word. Filler also lets a sentence shed words, so next to
command accuracy in noise this counts false actions on near-commands ("don't turn on the
kitchen light"). "+edge": the runtime's rule (``recognizer.judge``: the confidence also
looks at the loud speech left outside the sentence, ``Hypothesis.outside``, and too much of
it sends nothing); without it, the confidence from the margin and worst word alone. The
runtime's default is "off@10+edge". "/ONSET" or "/ONSETxNUCLEUS" after the gate sets how
many frames before a run of at least NUCLEUS loud frames still count as loud
(``edgeasr.features.ONSET_FRAMES`` and ``NUCLEUS_FRAMES`` unless given). Every
variant decodes the same posteriors (the model runs once per clip). Writes
bench/results/filler.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from bench.dataset import DEFAULT_CACHE, HeldoutAudio, make_clips
from bench.synth import TrainingVoice
from edgeasr.acoustic import LEAD_FRAMES
from edgeasr.decoder import PhoneGraph, decode
from edgeasr.features import NUCLEUS_FRAMES, ONSET_FRAMES, quiet_frames
from edgeasr.recognizer import OUTSIDE_LIMIT, Recognizer, judge

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "filler.json"


@dataclass(frozen=True)
class Variant:
    """A decoding rule: filler penalty (None: no filler), quiet gate (None: no quiet flags)
    with its onset and nucleus frames, and, with ``edge``, the runtime's rule with this limit
    on speech outside the sentence."""

    name: str
    penalty: float | None
    gate: float | None
    edge: bool
    limit: float = OUTSIDE_LIMIT
    onset: int = ONSET_FRAMES
    nucleus: int = NUCLEUS_FRAMES


def parse_variant(text: str) -> Variant:
    """"off", or "PENALTY@GATE_DB[/ONSET[xNUCLEUS]]" ("-0.5@10", "off@10/4x1"; PENALTY may be "off":
    quiet flags only), and an optional "+edge" (the runtime's rule, ``recognizer.judge``) or
    "+edge:LIMIT" (the same with another ``OUTSIDE_LIMIT``, e.g. "+edge:-0.1")."""
    base, edge, limit = text.partition("+edge")
    try:
        lim = float(limit[1:]) if limit.startswith(":") else OUTSIDE_LIMIT
        if limit and not limit.startswith(":"):
            raise ValueError(limit)
        if base == "off":
            return Variant(text, None, None, bool(edge), lim)
        pen, gate = base.split("@")
        gate, slash, spec = gate.partition("/")
        onset, x, nucleus = spec.partition("x")
        return Variant(text, None if pen == "off" else float(pen), float(gate), bool(edge), lim,
                       int(onset) if slash else ONSET_FRAMES,
                       int(nucleus) if x else NUCLEUS_FRAMES)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"variant {text!r}: expected 'off' or PENALTY@GATE_DB[/ONSET[xNUCLEUS]], then "
            "optionally +edge or +edge:LIMIT, e.g. -0.5@10+edge") from None


def score(rec: Recognizer, variant: Variant, graph: PhoneGraph,
          items: Sequence[tuple[str, tuple[Any, ...], np.ndarray, np.ndarray]]
          ) -> dict[str, Any]:
    """Right / wrong commands, false actions on non- and near-commands."""
    assert rec.grammar.resolve is not None
    tally: dict[str, Any] = {"right": 0, "wrong": 0, "commands": 0, "false": 0,
                             "non_commands": 0, "near_false": 0, "near": 0, "near_acted": []}
    for kind, ref, audio, lp in items:
        # lp starts with the model's LEAD_FRAMES rows of padding, as the runtime's
        quiet = (quiet_frames(audio, len(lp), variant.gate, lead=LEAD_FRAMES,
                              onset=variant.onset, nucleus=variant.nucleus)
                 if variant.gate is not None else None)
        hyp = decode(graph, lp, quiet)
        sent: tuple[Any, ...] = ()
        if hyp is not None:
            if variant.edge:  # the runtime's rule
                act = judge(hyp, rec.model.calibration, rec.threshold, variant.limit)[1]
            else:
                act = rec.model.calibration.confidence(hyp.margin, hyp.worst_word) \
                    >= rec.threshold
            if act:
                sent = tuple(rec.grammar.resolve(hyp.parse))
        if kind == "command":
            tally["commands"] += 1
            if sent:
                tally["right" if sent == ref else "wrong"] += 1
        elif kind == "near":
            tally["near"] += 1
            if sent:
                tally["near_false"] += 1
                tally["near_acted"].append(hyp.parse.text if hyp else "")
        else:
            tally["non_commands"] += 1
            tally["false"] += bool(sent)
    return tally


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dev-voice", nargs="+", required=True, metavar="ENGINE:VOICE",
                    help="training voices to speak the clips (the joe voice is refused)")
    ap.add_argument("--model", help="TFLite model (default: the shipped one)")
    ap.add_argument("--config", default=str(ROOT / "examples" / "demo-building.yaml"))
    ap.add_argument("--conditions", default="clean,snr10,reverb")
    ap.add_argument("--variants", default="off,off@10+edge:-0.4,off@10+edge:-0.3,off@10+edge,"
                    "off@10+edge:-0.1,off@10+edge:-0.05,-0.5@10,-0.5@10+edge,-1@10+edge",
                    help="comma-separated; write --variants=... when the first starts "
                         "with '-'")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    try:
        variants = [parse_variant(v) for v in args.variants.split(",")]
    except argparse.ArgumentTypeError as err:
        ap.error(str(err))

    if str(ROOT / "models") not in sys.path:
        sys.path.insert(0, str(ROOT / "models"))
    from factory.heldout import NEAR_COMMANDS, command_texts, non_command_texts

    rec = Recognizer.from_config(args.config, model=args.model)
    graph = rec.grammar.graph
    clips = make_clips(rec.grammar, command_texts(graph), non_command_texts())
    near = set(NEAR_COMMANDS)
    graphs = {v.name: PhoneGraph(graph, filler_penalty=v.penalty) for v in variants}
    conditions = args.conditions.split(",")
    rows: list[dict[str, Any]] = []
    for spec in args.dev_voice:
        try:
            voice = TrainingVoice(spec)
        except ValueError as err:
            print(f"bench.filler: {err}", file=sys.stderr)
            return 2
        audio = HeldoutAudio(args.cache, voice)
        audio.build(clips, conditions)
        for condition in conditions:
            items = []
            for clip in tqdm(clips, desc=f"{spec} {condition}", unit="clip", mininterval=2):
                x = audio.load(clip, condition)
                lp = rec.model.log_probs(rec.model.features(x), lead=True)
                kind = "near" if clip.text in near else clip.kind
                items.append((kind, clip.reference, x, lp))
            for v in variants:
                tally = score(rec, v, graphs[v.name], items)
                rows.append({"voice": spec, "condition": condition, "variant": v.name, **tally})

    totals: dict[str, dict[str, int]] = {}
    for r in rows:
        t = totals.setdefault(r["variant"], {})
        for k in ("right", "wrong", "commands", "false", "non_commands", "near_false", "near"):
            t[k] = t.get(k, 0) + r[k]
        t[f"right_{r['condition']}"] = t.get(f"right_{r['condition']}", 0) + r["right"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    command = "python -m bench.filler " + " ".join(argv if argv is not None else sys.argv[1:])
    args.out.write_text(json.dumps({"command": command, "model": str(rec.model.path),
                                    "rows": rows, "totals": totals}, indent=1) + "\n")
    print(f"| variant | {' | '.join(f'right {c}' for c in conditions)} | wrong | "
          "false (non-commands) | false (near-commands) |")
    print("|---" * (len(conditions) + 4) + "|")
    for name, t in totals.items():
        n = t["commands"] // len(conditions)
        cells = " | ".join(f"{t[f'right_{c}']}/{n}" for c in conditions)
        print(f"| {name} | {cells} | {t['wrong']} | {t['false']}/{t['non_commands']} | "
              f"{t['near_false']}/{t['near']} |")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
