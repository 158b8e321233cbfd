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
        # node -> output sequences to FINAL (None: too many), filled by _endings on demand
        self._endings_memo: dict[int, frozenset[tuple[int, ...]] | None] = {}

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

    def settled(self, word_ids: Sequence[int]) -> bool:
        """Whether every sentence that starts with these words means the same thing.

        Then nothing more the speaker could add ("please", "now") changes the intent or a
        slot, so a service may act without waiting to hear whether they go on. "count to
        forty" is not settled ("forty two" may follow); "count to forty two" is.
        """
        paths: dict[int, set[tuple[int, ...]]] = self._closure_all({START: {()}})
        for wid in word_ids:
            nxt: dict[int, set[tuple[int, ...]]] = {}
            for node, outs in paths.items():
                for a in self._out_arcs[node]:
                    if self.word[a] == wid:
                        o = int(self.out[a])
                        nxt.setdefault(int(self.dst[a]), set()).update(
                            (*x, o) if o >= 0 else x for x in outs)
            paths = self._closure_all(nxt)
        meanings = set()
        for node, outs in paths.items():
            ends = self._endings(node)
            if ends is None:
                return False
            for x in outs:
                for e in ends:
                    parse = self.interpret((), x + e)
                    meanings.add((parse.intent, tuple(sorted(map(repr, parse.slots.items())))))
            if len(meanings) > 1:
                return False
        return len(meanings) == 1

    def _closure_all(self, paths: dict[int, set[tuple[int, ...]]]
                     ) -> dict[int, set[tuple[int, ...]]]:
        """``paths`` plus every node reachable over word-less arcs, with all their outputs."""
        result = {n: set(o) for n, o in paths.items()}
        stack = list(result)
        while stack:
            node = stack.pop()
            for a in self._out_arcs[node]:
                if self.word[a] >= 0:
                    continue
                d, o = int(self.dst[a]), int(self.out[a])
                new = {(*x, o) if o >= 0 else x for x in result[node]}
                if not new <= result.setdefault(d, set()):
                    result[d] |= new
                    stack.append(d)
        return result

    def _endings(self, node: int, limit: int = 8) -> frozenset[tuple[int, ...]] | None:
        """The output sequences from ``node`` to FINAL; None if more than ``limit``."""
        memo = self._endings_memo
        if node in memo:
            return memo[node]
        if node == FINAL:
            memo[node] = frozenset({()})
            return memo[node]
        memo[node] = None  # a cycle back to here counts as "could go on differently"
        found: set[tuple[int, ...]] = set()
        for a in self._out_arcs[node]:
            rest = self._endings(int(self.dst[a]), limit)
            if rest is None:
                return None
            o = int(self.out[a])
            found |= {(o, *r) if o >= 0 else r for r in rest}
            if len(found) > limit:
                return None
        memo[node] = frozenset(found)
        return memo[node]

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
        state = self.begin()
        for tok in text.lower().split():
            state = self.advance(state, tok)
            if not state:
                return None
        return self.finish(state)

    # A parse state: node -> (words, outputs) of the first path that reached it, for every
    # node the words so far can lead to (empty: they left the grammar). ``parse`` walks it a
    # word at a time; edgeasr.grammar.rivals walks on from a shared prefix.
    def begin(self) -> dict[int, tuple[tuple[int, ...], tuple[int, ...]]]:
        """The parse state before any word."""
        return self._closure({START: ((), ())})

    def advance(self, state: dict[int, tuple[tuple[int, ...], tuple[int, ...]]], word: str
                ) -> dict[int, tuple[tuple[int, ...], tuple[int, ...]]]:
        """The parse state after one more word."""
        wid = self._word_ids.get(word)
        if wid is None:
            return {}
        nxt: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        for node, (ws, outs) in state.items():
            for a in self._out_arcs[node]:
                if self.word[a] == wid and int(self.dst[a]) not in nxt:
                    o = outs + ((int(self.out[a]),) if self.out[a] >= 0 else ())
                    nxt[int(self.dst[a])] = (ws + (wid,), o)
        return self._closure(nxt) if nxt else {}

    def finish(self, state: dict[int, tuple[tuple[int, ...], tuple[int, ...]]]
               ) -> Parse | None:
        """What the words of a parse state mean if they make a whole sentence, else None."""
        if FINAL not in state:
            return None
        ws, outs = state[FINAL]
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
