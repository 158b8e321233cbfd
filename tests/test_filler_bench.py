"""bench.filler scores decoding variants on the same posteriors, with the runtime's rule."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import pytest
from conftest import DEMO_CONFIG

from bench.filler import Variant, parse_variant, score
from edgeasr.decoder import PhoneGraph
from edgeasr.features import ONSET_FRAMES
from edgeasr.recognizer import Recognizer


def test_variant_names() -> None:
    assert parse_variant("off") == Variant("off", None, None, False)
    assert parse_variant("-0.5@10+edge") == Variant("-0.5@10+edge", -0.5, 10.0, True)
    assert parse_variant("off@10+edge") == Variant("off@10+edge", None, 10.0, True)
    assert parse_variant("off@10+edge:-0.1").limit == -0.1
    assert parse_variant("off@10+edge").onset == ONSET_FRAMES
    assert parse_variant("off@10/0+edge") == Variant("off@10/0+edge", None, 10.0, True,
                                                     onset=0)
    assert parse_variant("off@10/4x1").nucleus == 1
    for bad in ("loud", "off@10+edgy", "off@10+edge:x", "off@10/x", "off@10/4x"):
        with pytest.raises(argparse.ArgumentTypeError, match="PENALTY@GATE_DB"):
            parse_variant(bad)


def test_a_command_counts_right_and_a_negated_one_as_a_near_command_acted_on_or_not(
        speak_audio: Callable[..., np.ndarray]) -> None:
    rec = Recognizer.from_config(DEMO_CONFIG)
    assert rec.grammar.resolve is not None
    command = "close the bedroom blinds"
    parse = rec.grammar.graph.parse(command)
    assert parse is not None
    ref = tuple(rec.grammar.resolve(parse))
    items = []
    for kind, text in (("command", command), ("near", "never " + command),
                       ("non_command", "what a lovely evening it is")):
        audio = speak_audio(text)
        items.append((kind, ref if kind == "command" else (), audio,
                      rec.model.log_probs(rec.model.features(audio), lead=True)))
    variant = parse_variant("off@10+edge")
    tally = score(rec, variant, PhoneGraph(rec.grammar.graph), items)
    assert (tally["commands"], tally["near"], tally["non_commands"]) == (1, 1, 1)
    assert tally["right"] == 1 and tally["wrong"] == 0 and tally["false"] == 0
    # The near-command's count agrees with what the recogniser itself does with that audio.
    heard = rec.recognize(items[1][2])
    acted = bool(heard.telegrams)
    assert tally["near_false"] == int(acted)
    assert tally["near_acted"] == ([heard.text] if acted else [])
