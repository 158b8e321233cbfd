"""Write grammar rules as JSGF, so the pocketsphinx baseline decodes the very same language.

JSGF has no slot outputs, so slots become plain alternatives; the baseline's transcript is then
parsed with :meth:`WordGraph.parse` to recover intent and slots, exactly like EdgeASR's own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from edgeasr.grammar.ir import Alt, Expr, Opt, Rule, Seq, Slot, Word

_PLAIN_TOKEN = re.compile(r"^[^\s;=|*+<>()\[\]{}/\"\\]+$")


def _token(word: str) -> str:
    if _PLAIN_TOKEN.match(word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _alternatives(options: Sequence[Expr]) -> str:
    rendered = list(dict.fromkeys(_render(o) for o in options))  # slot values may repeat phrases
    if len(rendered) == 1:
        return rendered[0]
    return "( " + " | ".join(rendered) + " )"


def _render(expr: Expr) -> str:
    if isinstance(expr, Word):
        return _token(expr.text)
    if isinstance(expr, Seq):
        if not expr.items:
            return "<NULL>"
        parts = [_render(i) for i in expr.items]
        parts = [p for p in parts if p != "<NULL>"] or ["<NULL>"]
        return " ".join(parts)
    if isinstance(expr, Alt):
        return _alternatives(expr.options)
    if isinstance(expr, Opt):
        inner = _render(expr.expr)
        return "<NULL>" if inner == "<NULL>" else f"[ {inner} ]"
    if isinstance(expr, Slot):
        return _alternatives([phrase for phrase, _ in expr.values])
    raise TypeError(f"unknown grammar expression {expr!r}")  # pragma: no cover


def _rule_name(i: int, intent: str) -> str:
    return f"r{i}_" + re.sub(r"[^A-Za-z0-9_]", "_", intent)


def to_jsgf(rules: Sequence[Rule], name: str = "edgeasr") -> str:
    """A JSGF V1.0 grammar whose public rule ``<command>`` accepts what the rules accept."""
    if not rules:
        raise ValueError("a grammar needs at least one rule")
    names = [_rule_name(i, r.intent) for i, r in enumerate(rules)]
    lines = [
        "#JSGF V1.0;",
        f"grammar {re.sub(r'[^A-Za-z0-9_.]', '_', name)};",
        "",
        "public <command> = " + " | ".join(f"<{n}>" for n in names) + ";",
        "",
    ]
    lines += [f"<{n}> = {_render(r.expr)};" for n, r in zip(names, rules, strict=True)]
    return "\n".join(lines) + "\n"
