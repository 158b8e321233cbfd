"""bench.intent_match: free text (Whisper style) -> the building grammar's telegrams."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.intent_match import GraphMatcher, TextToIntent, normalise
from edgeasr.grammar import load_building_grammar

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def t2i() -> TextToIntent:
    return TextToIntent(load_building_grammar(ROOT / "examples" / "demo-building.yaml"))


def test_normalise_spells_numbers_units_and_drops_punctuation() -> None:
    assert normalise("Set the bedroom blinds to 37%.") == \
        ["set", "the", "bedroom", "blinds", "to", "thirty", "seven", "percent"]
    assert normalise("Heating to 21.5°C, please!") == \
        ["heating", "to", "twenty", "one", "and", "a", "half", "degrees", "please"]
    assert normalise("Turn-off the lights") == ["turn", "off", "the", "lights"]
    assert normalise("...") == []


def test_exact_sentences_resolve_like_the_grammar(t2i: TextToIntent) -> None:
    g = t2i.grammar
    for text in ("Set the bedroom blinds to 37%.", "Please turn off all the lights!"):
        telegrams, m = t2i.telegrams(text)
        assert m is not None and m.exact and m.edits == 0
        parse = g.graph.parse(" ".join(normalise(text)))
        assert parse is not None and g.resolve is not None
        assert [t.to_json() for t in telegrams] == [t.to_json() for t in g.resolve(parse)]
    telegrams, _ = t2i.telegrams("Set the bedroom blinds to 37%.")
    assert [t.value for t in telegrams] == [37]


def test_fuzzy_fallback_repairs_one_word_and_rejects_unrelated_text(t2i: TextToIntent) -> None:
    m = t2i.match("switch off the lights in the bedroom now")  # one word too many
    assert m is not None and not m.exact and m.edits == 1
    sent, _ = t2i.telegrams("switch off the lights in the bedroom now")
    ref, _ = t2i.telegrams("switch off the lights in the bedroom")
    assert ref and [t.to_json() for t in sent] == [t.to_json() for t in ref]
    assert t2i.match("what time is it") is None
    assert t2i.match("I want a pizza tonight") is None
    assert t2i.match("") is None


def test_nearest_counts_insertions_deletions_and_substitutions(t2i: TextToIntent) -> None:
    matcher = GraphMatcher(t2i.grammar.graph)
    exact = ["set", "the", "bedroom", "blinds", "to", "thirty", "seven", "percent"]
    for tokens, edits in ((exact, 0), (exact[:-1], 1), (["uh", *exact], 1),
                          (exact[:4] + ["two"] + exact[5:], 1)):
        near = matcher.nearest(tokens)
        assert near is not None
        parse, n = near
        assert n == edits, (tokens, parse.text)
