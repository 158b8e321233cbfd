"""Rivals: the grammar's sentences one word away that mean something else, and how clearly a
decoded sentence beats them (``edgeasr.grammar.rivals``, ``edgeasr.decoder.RivalScorer``)."""

from __future__ import annotations

import numpy as np
import pytest
from test_decoder import SpelledModel, posteriors

from edgeasr.decoder import PhoneGraph, RivalScorer, decode
from edgeasr.grammar import CompiledGrammar
from edgeasr.grammar.rivals import Rivals
from edgeasr.recognizer import Recognizer, rivalled


def rival_texts(grammar: CompiledGrammar, text: str) -> set[str]:
    words = tuple(text.split())
    return {" ".join(e.apply(words)) for e in Rivals(grammar.graph).edits(words)}


def meaning(grammar: CompiledGrammar, text: str) -> tuple:
    parse = grammar.graph.parse(text)
    assert parse is not None, text
    return parse.intent, sorted(parse.slots.items())


@pytest.mark.parametrize(("text", "expected", "not_rivals"), [
    ("turn on the kitchen light",
     {"turn off the kitchen light", "turn on the office light"},
     {"please turn on the kitchen light", "turn on kitchen light"}),  # same meaning
    ("set the living room light to forty percent",
     {"set the living room light to fourteen percent",  # a word replaced
      "set the living room light to forty five percent"},  # one added
     {"set the living room light to forty percent please"}),
    ("dim the bedroom light to twenty five percent",
     {"dim the bedroom light to twenty percent"},  # one left out
     {"dim the bedroom light to twenty five percent please"}),
])
def test_rivals_are_one_word_away_and_mean_something_else(
        grammar: CompiledGrammar, text: str, expected: set[str], not_rivals: set[str]) -> None:
    rivals = rival_texts(grammar, text)
    assert expected <= rivals
    assert not rivals & not_rivals
    assert text not in rivals
    for rival in rivals:
        assert meaning(grammar, rival) != meaning(grammar, text), rival
        assert len(rival.split()) - len(text.split()) in (-1, 0, 1)


def test_the_rival_graph_holds_the_rivals_and_nothing_else(grammar: CompiledGrammar) -> None:
    text = "set the living room light to forty percent"
    words = tuple(text.split())
    graph = Rivals(grammar.graph).graph_of(words)
    assert graph is not None
    for rival in rival_texts(grammar, text):
        assert graph.parse(rival) is not None, rival
    assert graph.parse(text) is None
    # Two edits at once are not one rival.
    assert grammar.graph.parse("set the bedroom light to fourteen percent") is not None
    assert graph.parse("set the bedroom light to fourteen percent") is None


def test_a_sentence_without_rivals_has_no_rival_graph(grammar: CompiledGrammar) -> None:
    words = ("movie", "time")
    rivals = Rivals(grammar.graph)
    edits = rivals.edits(words)
    assert all(meaning(grammar, " ".join(e.apply(words))) != meaning(grammar, "movie time")
               for e in edits)
    if not edits:
        assert rivals.graph_of(words) is None


def blend(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Log-probs that hear two spellings of the same timing half and half."""
    assert a.shape == b.shape
    return np.log(0.5 * np.exp(a) + 0.5 * np.exp(b)).astype(np.float32)


def test_the_gap_is_wide_for_a_clear_sentence_and_closes_for_a_coin_toss(
        phone_graph: PhoneGraph) -> None:
    scorer = RivalScorer(phone_graph)
    clear = posteriors("turn on the kitchen light", seed=3)
    hyp = decode(phone_graph, clear)
    assert hyp is not None and hyp.parse.text == "turn on the kitchen light"
    clear_gap = scorer.gap(hyp, clear)
    assert clear_gap is not None and clear_gap > 1.0
    # "on" and "off" have two phones each: with one seed, both spellings share their timing.
    toss = blend(clear, posteriors("turn off the kitchen light", seed=3))
    hyp = decode(phone_graph, toss)
    assert hyp is not None and hyp.parse.text in ("turn on the kitchen light",
                                                  "turn off the kitchen light")
    toss_gap = scorer.gap(hyp, toss)
    assert toss_gap is not None and toss_gap < 0.1 * clear_gap


def test_the_recogniser_sends_nothing_where_a_rival_comes_within_the_limit(
        grammar: CompiledGrammar) -> None:
    clear = posteriors("turn on the kitchen light", seed=3)
    toss = blend(clear, posteriors("turn off the kitchen light", seed=3))
    ruled = Recognizer(grammar, SpelledModel(), threshold=0.0,  # type: ignore[arg-type]
                       rival_limit=0.5)
    assert ruled.recognize_features(clear).accepted
    coin = ruled.recognize_features(toss)
    assert not coin.accepted and coin.telegrams == []
    gaps = [m.rival_gap for m in coin.members if m is not None]
    assert gaps and all(g is not None and rivalled(g, 0.5) for g in gaps)
    # Without the rule the same coin toss is acted on, and no gap is measured.
    free = Recognizer(grammar, SpelledModel(), threshold=0.0)  # type: ignore[arg-type]
    acted = free.recognize_features(toss)
    assert acted.accepted and acted.telegrams
    assert all(m is None or m.rival_gap is None for m in acted.members)


def test_rival_limit_is_checked(grammar: CompiledGrammar) -> None:
    with pytest.raises(ValueError, match="rival_limit"):
        Recognizer(grammar, SpelledModel(), threshold=0.5,  # type: ignore[arg-type]
                   rival_limit=-0.1)
