"""Grammars: what a deployment may hear, compiled to one word graph for the decoder.

Two sources compile to the same :class:`CompiledGrammar`: a building config (whose parses
resolve to KNX telegrams) and a Picovoice Rhino context (intent + slots only, ``resolve`` is
None). The heavy config modules are imported inside the loaders so that importing
``edgeasr.grammar.graph`` stays cheap for code that only decodes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from edgeasr.grammar.graph import Parse, WordGraph
from edgeasr.grammar.ir import Rule, Seq, words

WAKE = "wake"

if TYPE_CHECKING:
    from edgeasr.building import Building
    from edgeasr.telegram import Telegram

__all__ = [
    "CompiledGrammar",
    "building_grammar",
    "load_building_grammar",
    "load_context_grammar",
]


@dataclass
class CompiledGrammar:
    """A word graph plus how to turn its parses into telegrams (None: intent + slots only)."""

    rules: list[Rule]
    resolve: Callable[[Parse], list[Telegram]] | None
    building: Building | None = None
    graph: WordGraph = field(init=False)

    def __post_init__(self) -> None:
        self.graph = WordGraph(self.rules)

    def with_wake_phrase(self, phrase: str) -> CompiledGrammar:
        """The wake phrase alone (intent ``WAKE``) or followed by any command in one breath."""
        wake = words(phrase)
        rules = [Rule(WAKE, wake)] + [
            Rule(r.intent, Seq((wake, r.expr)), r.fixed) for r in self.rules
        ]
        inner = self.resolve

        def resolve(parse: Parse) -> list[Telegram]:
            return [] if parse.intent == WAKE or inner is None else inner(parse)

        return CompiledGrammar(rules, resolve, self.building)

    def vocabulary(self) -> list[str]:
        """Every word the graph can say (the lexicon must cover these)."""
        return list(self.graph.words)


def building_grammar(b: Building) -> CompiledGrammar:
    from edgeasr.grammar.building_rules import building_rules, telegrams_for

    return CompiledGrammar(building_rules(b), functools.partial(telegrams_for, b), b)


def load_building_grammar(path: str | Path) -> CompiledGrammar:
    """Grammar of a building YAML file; raises ``edgeasr.building.ConfigError`` if invalid."""
    from edgeasr.building import load_building

    return building_grammar(load_building(path))


def load_context_grammar(path: str | Path) -> CompiledGrammar:
    """Grammar of a Picovoice Rhino context YAML file (no telegrams)."""
    from edgeasr.grammar.rhino import load_rhino_context

    return CompiledGrammar(load_rhino_context(path), None)
