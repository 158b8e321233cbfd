"""Import a Picovoice Rhino context (YAML) as grammar rules.

People who already wrote a Rhino context can run it on EdgeASR unchanged. The file looks like::

    context:
      expressions:
        orderBeverage:
          - "(please) [make, brew] me a $size:size $beverage:beverage"
      slots:
        size: [small, medium, large]
        beverage: [latte, flat white]
      macros:
        polite: ["please", "if you would"]

Expression syntax: plain words; ``[a, b c]`` one of the alternatives (each may be several words
and may nest); ``(words)`` optional (``(a, b)`` is an optional choice); ``$slot:var`` one value
of slot list ``slot`` whose spoken text becomes variable ``var``; ``@macro`` any expression of
that macro. Built-in slots ``$pv.SingleDigitInteger``, ``$pv.TwoDigitInteger`` and
``$pv.Percent`` give their value as digits ("7", "42", "42%"), as Rhino reports them.

Each intent becomes one :class:`Rule`; a parse gives the intent and ``{var: spoken value}``.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from edgeasr.building import (
    ConfigError,
    Loc,
    LocatedYaml,
    Problem,
    load_yaml,
    validate_yaml,
)
from edgeasr.grammar.ir import Alt, Expr, Opt, Rule, Seq, Slot, Word, seq, words
from edgeasr.grammar.numbers import number_words


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RhinoContext(_Strict):
    expressions: dict[str, list[str]]
    slots: dict[str, list[str]] = Field(default_factory=dict)
    macros: dict[str, list[str]] = Field(default_factory=dict)


class RhinoFile(_Strict):
    context: RhinoContext


def _builtin_slots() -> dict[str, list[tuple[Expr, str]]]:
    return {
        "pv.SingleDigitInteger": [(words(number_words(n)), str(n)) for n in range(10)],
        "pv.TwoDigitInteger": [(words(number_words(n)), str(n)) for n in range(100)],
        "pv.Percent": [(seq(number_words(n), "percent"), f"{n}%") for n in range(101)],
    }


_TOKEN_RE = re.compile(
    r"\s*(?:(?P<punct>[\[\](),])|\$(?P<slot>[A-Za-z_][\w.]*):(?P<var>[A-Za-z_]\w*)"
    r"|@(?P<macro>[A-Za-z_]\w*)|(?P<word>[^\s\[\](),$@]+))"
)


class ExpressionError(ValueError):
    """Raised while parsing one expression; turned into a ConfigError with its location."""


def tokenize(text: str) -> list[tuple[str, str, int]]:
    """(kind, value, column) tokens: kind is one of punct, slot, macro, word."""
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            start = len(text) - len(text[pos:].lstrip())
            raise ExpressionError(
                f"cannot read {text[start:]!r} at column {start + 1}: expected a word, [..], "
                "(..), $slot:variable or @macro"
            )
        kind = m.lastgroup if m.lastgroup != "var" else "slot"
        if kind == "slot":
            tokens.append(("slot", f"{m.group('slot')}:{m.group('var')}", m.start("slot")))
        else:
            assert kind is not None
            tokens.append((kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    return tokens


class _Parser:
    """Recursive descent over one expression's tokens."""

    def __init__(self, text: str, context: _Compiler) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.context = context

    def parse(self) -> Expr:
        expr = self._seq()
        if self.i < len(self.tokens):
            _, value, col = self.tokens[self.i]
            raise ExpressionError(f"unbalanced {value!r} at column {col}: nothing opened it")
        if expr == Seq(()):
            raise ExpressionError("the expression is empty")
        return expr

    def _seq(self) -> Expr:
        items: list[Expr] = []
        while self.i < len(self.tokens):
            kind, value, col = self.tokens[self.i]
            if kind == "punct" and value in "]),":
                break
            self.i += 1
            if kind == "word":
                items.append(Word(value.lower()))
            elif kind == "slot":
                items.append(self.context.slot_ref(value))
            elif kind == "macro":
                items.append(self.context.macro_ref(value))
            elif value == "[":
                items.append(Alt(tuple(self._choices("]", col))))
            else:  # "("
                choices = self._choices(")", col)
                items.append(Opt(choices[0] if len(choices) == 1 else Alt(tuple(choices))))
        return items[0] if len(items) == 1 else Seq(tuple(items))

    def _choices(self, close: str, open_col: int) -> list[Expr]:
        opener = "[" if close == "]" else "("
        choices = [self._seq()]
        while self.i < len(self.tokens) and self.tokens[self.i][1] == ",":
            self.i += 1
            choices.append(self._seq())
        if self.i >= len(self.tokens) or self.tokens[self.i][1] != close:
            found = (
                f"found {self.tokens[self.i][1]!r} at column {self.tokens[self.i][2]}"
                if self.i < len(self.tokens)
                else "reached the end"
            )
            raise ExpressionError(
                f"unbalanced {opener!r} at column {open_col}: expected {close!r}, {found}"
            )
        self.i += 1
        if any(c == Seq(()) for c in choices):
            raise ExpressionError(f"empty choice inside {opener}..{close} at column {open_col}")
        return choices


class _Compiler:
    def __init__(self, doc: LocatedYaml, ctx: RhinoContext) -> None:
        self.doc = doc
        self.ctx = ctx
        self.builtins = _builtin_slots()
        self.macro_cache: dict[str, Expr] = {}
        self.macro_stack: list[str] = []

    def slot_ref(self, ref: str) -> Slot:
        name, var = ref.split(":", 1)
        if name in self.ctx.slots:
            values = self.ctx.slots[name]
            if not values:
                raise ExpressionError(f"slot {name!r} has no values")
            return Slot(var, tuple((words(v), v) for v in values))
        if name in self.builtins:
            return Slot(var, tuple(self.builtins[name]))
        known = sorted(self.ctx.slots) + sorted(self.builtins)
        raise ExpressionError(f"unknown slot ${name}; known slots: {', '.join(known)}")

    def macro_ref(self, name: str) -> Expr:
        if name not in self.ctx.macros:
            known = ", ".join(sorted(self.ctx.macros)) or "none"
            raise ExpressionError(f"unknown macro @{name}; known macros: {known}")
        if name in self.macro_stack:
            cycle = " -> ".join(f"@{m}" for m in [*self.macro_stack, name])
            raise ExpressionError(f"macro cycle {cycle}")
        if name not in self.macro_cache:
            self.macro_stack.append(name)
            try:
                options = [
                    self.expression(("context", "macros", name, i), text)
                    for i, text in enumerate(self.ctx.macros[name])
                ]
            finally:
                self.macro_stack.pop()
            if not options:
                raise ExpressionError(f"macro @{name} has no expressions")
            self.macro_cache[name] = options[0] if len(options) == 1 else Alt(tuple(options))
        return self.macro_cache[name]

    def expression(self, loc: Loc, text: str) -> Expr:
        try:
            return _Parser(text, self).parse()
        except ExpressionError as err:
            if isinstance(err, _Located):
                raise
            raise _Located(self.doc.problem(loc, f"{err} in {text!r}")) from err

    def rules(self) -> list[Rule]:
        rules = []
        for intent, texts in self.ctx.expressions.items():
            if not texts:
                raise _Located(
                    self.doc.problem(
                        ("context", "expressions", intent), "intent has no expressions"
                    )
                )
            options = [
                self.expression(("context", "expressions", intent, i), text)
                for i, text in enumerate(texts)
            ]
            rules.append(Rule(intent, options[0] if len(options) == 1 else Alt(tuple(options))))
        if not rules:
            raise _Located(self.doc.problem(("context", "expressions"), "no intents defined"))
        return rules


class _Located(ExpressionError):
    """An expression error that already knows its file location."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def load_rhino_context(path: str | Path) -> list[Rule]:
    """Rules for a Rhino context YAML file; :class:`ConfigError` (file:line: what) if invalid."""
    doc = load_yaml(path)
    parsed: RhinoFile = validate_yaml(doc, RhinoFile)
    try:
        return _Compiler(doc, parsed.context).rules()
    except _Located as err:
        raise ConfigError(doc.file, [err.problem]) from None
