"""Picovoice Rhino context import: examples/coffee.yaml, syntax and error reporting."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from edgeasr.building import ConfigError
from edgeasr.grammar import load_context_grammar
from edgeasr.grammar.graph import WordGraph
from edgeasr.grammar.jsgf import to_jsgf
from edgeasr.grammar.rhino import load_rhino_context

ROOT = Path(__file__).resolve().parents[1]
COFFEE = ROOT / "examples" / "coffee.yaml"


@pytest.fixture(scope="module")
def coffee() -> WordGraph:
    return WordGraph(load_rhino_context(COFFEE))


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [
        (
            "please make me a large flat white",
            "orderBeverage",
            {"size": "large", "beverage": "flat white"},
        ),
        ("i'd like a small latte please", "orderBeverage", {"size": "small", "beverage": "latte"}),
        (
            "brew me an extra strong extra large americano if you don't mind",
            "orderBeverage",
            {"size": "extra large", "beverage": "americano"},
        ),
        (
            "make me an espresso with two shots",
            "orderBeverage",
            {"beverage": "espresso", "shots": "2"},
        ),
        ("cancel my order", "cancelOrder", {}),
        ("never mind", "cancelOrder", {}),
        ("make it strong", "setStrength", {"strength": "strong"}),
        ("set the strength to mild", "setStrength", {"strength": "mild"}),
    ],
)
def test_coffee_phrases(coffee: WordGraph, text: str, intent: str, slots: dict) -> None:
    parse = coffee.parse(text)
    assert parse is not None, text
    assert (parse.intent, parse.slots) == (intent, slots)


@pytest.mark.parametrize(
    "text", ["coffee please", "make me a large", "turn on the kitchen light", "make it"]
)
def test_coffee_rejects(coffee: WordGraph, text: str) -> None:
    assert coffee.parse(text) is None


def test_samples_round_trip(coffee: WordGraph) -> None:
    rng = random.Random(5)
    for _ in range(1000):
        sample = coffee.sample(rng)
        parse = coffee.parse(sample.text)
        assert parse is not None
        assert (parse.intent, parse.slots) == (sample.intent, sample.slots), sample.text


def test_context_grammar_has_no_telegrams() -> None:
    grammar = load_context_grammar(COFFEE)
    assert grammar.resolve is None
    assert {"latte", "espresso", "shots", "please"} <= set(grammar.vocabulary())
    assert "<r0_orderBeverage>" in to_jsgf(load_rhino_context(COFFEE))


def context(tmp_path: Path, expressions: str, extra: str = "") -> Path:
    path = tmp_path / "ctx.yaml"
    path.write_text(
        "context:\n  expressions:\n    go:\n"
        + expressions
        + "  slots:\n    colour: [red, dark blue]\n"
        '  macros:\n    polite: [please, "(would you) kindly"]\n' + extra
    )
    return path


def test_syntax(tmp_path: Path) -> None:
    path = context(
        tmp_path,
        '      - "@polite [paint, colour] it ([very, really]) $colour:c (now, today)"\n'
        '      - "count to $pv.TwoDigitInteger:n"\n'
        '      - "set volume to $pv.Percent:p"\n',
    )
    graph = WordGraph(load_rhino_context(path))
    for text, slots in [
        ("please paint it red", {"c": "red"}),
        ("would you kindly colour it really dark blue today", {"c": "dark blue"}),
        ("kindly paint it red now", {"c": "red"}),
        ("count to forty two", {"n": "42"}),
        ("set volume to seven percent", {"p": "7%"}),
    ]:
        parse = graph.parse(text)
        assert parse is not None and parse.intent == "go" and parse.slots == slots, text
    assert graph.parse("paint it red") is None  # @polite is not optional


@pytest.mark.parametrize(
    ("expression", "needle"),
    [
        ("paint it $size:s", "unknown slot $size"),
        ("@rude paint it", "unknown macro @rude"),
        ("paint [it, them", "unbalanced '[' at column 7: expected ']', reached the end"),
        ("paint (it", "unbalanced '(' at column 7"),
        ("paint it]", "unbalanced ']' at column 9"),
        ("paint [it, ] now", "empty choice"),
        ("paint $colour", "cannot read '$colour'"),
    ],
)
def test_expression_errors(tmp_path: Path, expression: str, needle: str) -> None:
    path = context(tmp_path, f'      - "red"\n      - "{expression}"\n')
    with pytest.raises(ConfigError) as info:
        load_rhino_context(path)
    msg = str(info.value)
    assert "ctx.yaml:5: context.expressions.go[1]:" in msg  # file, line, key
    assert needle in msg


def test_macro_cycle(tmp_path: Path) -> None:
    path = context(tmp_path, '      - "@a"\n', '    a: ["x @b"]\n    b: ["y @a"]\n')
    with pytest.raises(ConfigError, match="macro cycle @a -> @b -> @a"):
        load_rhino_context(path)


def test_structure_errors(tmp_path: Path) -> None:
    path = tmp_path / "ctx.yaml"
    path.write_text("context:\n  expresions:\n    go: [hi]\n")
    with pytest.raises(ConfigError) as info:
        load_rhino_context(path)
    msg = str(info.value)
    assert "ctx.yaml:2: context.expresions: unknown key" in msg
    assert "did you mean 'expressions'" in msg
