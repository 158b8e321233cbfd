"""Compile grammar rules into one word graph (a DAG) with intent and slot outputs on its arcs.

Node 0 is the start and node 1 the single final node. Arcs carry a word (or -1 for an
epsilon) and an output (or -1). Compilation is linear in the size of the rules, so a building
of 50 rooms compiles in milliseconds; the sentences are never enumerated.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeasr.grammar.ir import Alt, Expr, Opt, Rule, Seq, Slot, Word

INTENT = "__intent__"
START, FINAL = 0, 1


@dataclass(frozen=True)
class Parse:
    """What a path through the graph means."""

    words: tuple[str, ...]
    intent: str
    slots: dict[str, Any]

    @property
    def text(self) -> str:
        return " ".join(self.words)


class WordGraph:
    def __init__(self, rules: Sequence[Rule]) -> None:
        if not rules:
            raise ValueError("a grammar needs at least one rule")
        self.words: list[str] = []
        self._word_ids: dict[str, int] = {}
        self.outputs: list[tuple[str, Any]] = []
        self.n_nodes = 2
        src: list[int] = []
        dst: list[int] = []
        wrd: list[int] = []
        out: list[int] = []
        self._arcs = (src, dst, wrd, out)
        for rule in rules:
            node = self._new_node()
            self._arc(START, node, -1, self._output((INTENT, rule.intent)))
            for name, value in rule.fixed:
                nxt = self._new_node()
                self._arc(node, nxt, -1, self._output((name, value)))
                node = nxt
            self._build(rule.expr, node, FINAL)
        self.src = np.asarray(src, dtype=np.int32)
        self.dst = np.asarray(dst, dtype=np.int32)
        self.word = np.asarray(wrd, dtype=np.int32)
        self.out = np.asarray(out, dtype=np.int32)
        self._out_arcs: list[list[int]] = [[] for _ in range(self.n_nodes)]
        for i, s in enumerate(src):
            self._out_arcs[s].append(i)

    # -- construction -------------------------------------------------------------------
    def _new_node(self) -> int:
        self.n_nodes += 1
        return self.n_nodes - 1

    def _arc(self, s: int, d: int, word: int, output: int) -> None:
        src, dst, wrd, out = self._arcs
        src.append(s)
        dst.append(d)
        wrd.append(word)
        out.append(output)

    def _output(self, item: tuple[str, Any]) -> int:
        self.outputs.append(item)
        return len(self.outputs) - 1

    def _word(self, text: str) -> int:
        if text not in self._word_ids:
            self._word_ids[text] = len(self.words)
            self.words.append(text)
        return self._word_ids[text]

    def _build(self, expr: Expr, s: int, d: int) -> None:
        if isinstance(expr, Word):
            self._arc(s, d, self._word(expr.text), -1)
        elif isinstance(expr, Seq):
            if not expr.items:
                self._arc(s, d, -1, -1)
                return
            node = s
            for i, item in enumerate(expr.items):
                nxt = d if i == len(expr.items) - 1 else self._new_node()
                self._build(item, node, nxt)
                node = nxt
        elif isinstance(expr, Alt):
            for option in expr.options:
                self._build(option, s, d)
        elif isinstance(expr, Opt):
            self._arc(s, d, -1, -1)
            self._build(expr.expr, s, d)
        elif isinstance(expr, Slot):
            for phrase, value in expr.values:
                mid = self._new_node()
                self._arc(s, mid, -1, self._output((expr.name, value)))
                self._build(phrase, mid, d)
        else:  # pragma: no cover - the Expr union is closed
            raise TypeError(f"unknown grammar expression {expr!r}")

    # -- queries ------------------------------------------------------------------------
    def out_arcs(self, node: int) -> list[int]:
        return self._out_arcs[node]

    def interpret(self, word_ids: Iterable[int], output_ids: Iterable[int]) -> Parse:
        intent = ""
        slots: dict[str, Any] = {}
        for o in output_ids:
            name, value = self.outputs[o]
            if name == INTENT:
                intent = value
            else:
                slots[name] = value
        return Parse(tuple(self.words[w] for w in word_ids), intent, slots)

    def parse(self, text: str) -> Parse | None:
        """The meaning of a sentence if the grammar accepts it, else None."""
        tokens = text.lower().split()
        # Each hypothesis: node -> (words, outputs) of the first path that reached it.
        hyps: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = self._closure(
            {START: ((), ())}
        )
        for tok in tokens:
            wid = self._word_ids.get(tok)
            if wid is None:
                return None
            nxt: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
            for node, (ws, outs) in hyps.items():
                for a in self._out_arcs[node]:
                    if self.word[a] == wid and int(self.dst[a]) not in nxt:
                        o = outs + ((int(self.out[a]),) if self.out[a] >= 0 else ())
                        nxt[int(self.dst[a])] = (ws + (wid,), o)
            if not nxt:
                return None
            hyps = self._closure(nxt)
        if FINAL not in hyps:
            return None
        ws, outs = hyps[FINAL]
        return self.interpret(ws, outs)

    def _closure(
        self, hyps: dict[int, tuple[tuple[int, ...], tuple[int, ...]]]
    ) -> dict[int, tuple[tuple[int, ...], tuple[int, ...]]]:
        result = dict(hyps)
        stack = list(hyps)
        while stack:
            node = stack.pop()
            ws, outs = result[node]
            for a in self._out_arcs[node]:
                d = int(self.dst[a])
                if self.word[a] < 0 and d not in result:
                    result[d] = (ws, outs + ((int(self.out[a]),) if self.out[a] >= 0 else ()))
                    stack.append(d)
        return result

    def sample(self, rng: random.Random) -> Parse:
        """A random sentence: a uniformly chosen rule, then a uniform choice at each node."""
        node, ws, outs = START, [], []
        while node != FINAL:
            a = rng.choice(self._out_arcs[node])
            if self.word[a] >= 0:
                ws.append(int(self.word[a]))
            if self.out[a] >= 0:
                outs.append(int(self.out[a]))
            node = int(self.dst[a])
        return self.interpret(ws, outs)
