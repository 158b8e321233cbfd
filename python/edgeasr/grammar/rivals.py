"""A sentence's rivals: the grammar's sentences one word away from it that mean something else.

"turn off the kitchen light" for "turn on the kitchen light", "eighteen" for "eighty",
"fifty" for "fifty two": where a rival fits the audio nearly as well as the decoded sentence,
acting on it is a coin toss between two telegrams. The decoder scores all of a sentence's
rivals in one search over a small graph of them (``Rivals.graph_of``, scored by
``edgeasr.decoder.RivalScorer``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from edgeasr.grammar.graph import FINAL, WordGraph
from edgeasr.grammar.ir import Alt, Expr, Rule, Seq, Word

RIVAL = "__rival__"  # the intent of the rival graph's one rule: its meaning is not used


@dataclass(frozen=True)
class Edit:
    """One word changed at ``position``: replaced by ``word``, ``word`` put before it
    (``insert``), or the word left out (``word`` None)."""

    position: int
    word: str | None
    insert: bool = False

    def apply(self, words: Sequence[str]) -> tuple[str, ...]:
        """The sentence ``words`` becomes."""
        i = self.position
        if self.word is None:
            return (*words[:i], *words[i + 1 :])
        return (*words[:i], self.word, *words[i + (0 if self.insert else 1) :])


class Rivals:
    """The rivals of sentences of one grammar; the last ``cache_size`` sentences' are kept
    (a household says the same few commands again and again)."""

    def __init__(self, graph: WordGraph, cache_size: int = 32) -> None:
        self.graph = graph
        self._moves = functools.lru_cache(maxsize=1024)(self._moves_uncached)
        self.edits = functools.lru_cache(maxsize=cache_size)(self._edits)

    # The grammar walked as sets of nodes (after each word, every node a path could be at).
    def _closure(self, nodes: set[int]) -> frozenset[int]:
        g, seen, stack = self.graph, set(nodes), list(nodes)
        while stack:
            for a in g.out_arcs(stack.pop()):
                d = int(g.dst[a])
                if g.word[a] < 0 and d not in seen:
                    seen.add(d)
                    stack.append(d)
        return frozenset(seen)

    def _moves_uncached(self, nodes: frozenset[int]) -> dict[str, frozenset[int]]:
        """Where each word the grammar allows next leads."""
        g = self.graph
        dst: dict[int, set[int]] = {}
        for n in nodes:
            for a in g.out_arcs(n):
                if g.word[a] >= 0:
                    dst.setdefault(int(g.word[a]), set()).add(int(g.dst[a]))
        return {g.words[w]: self._closure(d) for w, d in dst.items()}

    def _step(self, nodes: frozenset[int], word: str) -> frozenset[int]:
        return self._moves(nodes).get(word, frozenset())

    def _accepts(self, nodes: frozenset[int], words: Sequence[str]) -> bool:
        for w in words:
            if not nodes:
                return False
            nodes = self._step(nodes, w)
        return FINAL in nodes

    def _edits(self, words: tuple[str, ...]) -> tuple[Edit, ...]:
        """The edits that make a rival of ``words`` (``edits``, cached)."""
        g = self.graph
        states = [g.begin()]  # parse states after words[:i]
        for w in words:
            states.append(g.advance(states[-1], w))
        base = g.finish(states[-1])
        meaning = None if base is None else (base.intent, sorted(base.slots.items()))
        after = [frozenset(s) for s in states]  # the nodes of each
        found: list[Edit] = []  # edits that leave a sentence of the grammar
        for i in range(len(words) + 1):
            rest = words[i + 1 :]
            if i < len(words):
                if self._accepts(after[i], rest):
                    found.append(Edit(i, None))
                found += [Edit(i, v) for v, nxt in self._moves(after[i]).items()
                          if v != words[i] and self._accepts(nxt, rest)]
            found += [Edit(i, v, insert=True) for v, nxt in self._moves(after[i]).items()
                      if self._accepts(nxt, words[i:])]
        edits = []
        for edit in found:
            state = states[edit.position]  # the new sentence's words from the edit on
            for w in edit.apply(words)[edit.position :]:
                state = g.advance(state, w)
            parse = g.finish(state)
            if parse is not None and (parse.intent, sorted(parse.slots.items())) != meaning:
                edits.append(edit)
        return tuple(edits)

    def graph_of(self, words: tuple[str, ...]) -> WordGraph | None:
        """A graph of exactly the rivals of ``words`` (None: it has none): each path makes
        one edit, the words before and after it shared as far as the edits allow."""
        edits = self.edits(words)
        if not edits:
            return None
        expr = _one_edit(words, edits, 0)
        assert expr is not None
        return WordGraph([Rule(RIVAL, expr)])


def _one_edit(words: tuple[str, ...], edits: tuple[Edit, ...], i: int) -> Expr | None:
    """The sentences that keep ``words[:i]`` and make one of ``edits`` at ``i`` or later."""
    def plain(ws: Sequence[str]) -> list[Expr]:
        return [Word(w) for w in ws]

    options: list[Expr] = []
    for e in edits:
        if e.position != i:
            continue
        if e.insert:
            assert e.word is not None
            options.append(Seq((Word(e.word), *plain(words[i:]))))
        elif e.word is None:
            options.append(Seq(tuple(plain(words[i + 1 :]))))
        else:
            options.append(Seq((Word(e.word), *plain(words[i + 1 :]))))
    later = _one_edit(words, edits, i + 1) if i < len(words) else None
    if later is not None:
        options.append(Seq((Word(words[i]), later)))
    if not options:
        return None
    return options[0] if len(options) == 1 else Alt(tuple(options))
