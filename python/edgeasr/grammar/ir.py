"""Grammar intermediate representation shared by every grammar source.

A building config and a Rhino context both compile to a list of :class:`Rule`. Each rule is
an expression tree over words; :mod:`edgeasr.grammar.graph` turns the rules into one word
graph that the decoder searches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Word:
    """One spoken word, lower case, as it appears in the lexicon."""

    text: str


@dataclass(frozen=True)
class Seq:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Alt:
    options: tuple[Expr, ...]


@dataclass(frozen=True)
class Opt:
    expr: Expr


@dataclass(frozen=True)
class Slot:
    """A slot filled by one of several phrases; the path taken sets ``name`` to the value."""

    name: str
    values: tuple[tuple[Expr, Any], ...]


Expr = Word | Seq | Alt | Opt | Slot


@dataclass(frozen=True)
class Rule:
    """One intent and the expression that says it; ``fixed`` slots are set by the rule itself."""

    intent: str
    expr: Expr
    fixed: tuple[tuple[str, Any], ...] = field(default=())


def words(text: str) -> Expr:
    """A phrase of plain words: ``words("the kitchen")``."""
    toks = tuple(Word(w) for w in text.lower().split())
    return toks[0] if len(toks) == 1 else Seq(toks)


def seq(*items: Expr | str) -> Seq:
    return Seq(tuple(words(i) if isinstance(i, str) else i for i in items))


def alt(*options: Expr | str) -> Alt:
    return Alt(tuple(words(o) if isinstance(o, str) else o for o in options))


def opt(item: Expr | str) -> Opt:
    return Opt(words(item) if isinstance(item, str) else item)


def slot(name: str, values: Iterable[tuple[Expr | str, Any]]) -> Slot:
    return Slot(name, tuple((words(p) if isinstance(p, str) else p, v) for p, v in values))


def vocabulary(expr: Expr) -> set[str]:
    """Every word an expression can say."""
    if isinstance(expr, Word):
        return {expr.text}
    if isinstance(expr, Seq):
        return set().union(*(vocabulary(i) for i in expr.items)) if expr.items else set()
    if isinstance(expr, Alt):
        return set().union(*(vocabulary(o) for o in expr.options))
    if isinstance(expr, Opt):
        return vocabulary(expr.expr)
    return set().union(*(vocabulary(p) for p, _ in expr.values))
