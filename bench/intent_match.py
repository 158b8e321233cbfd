"""Free text -> the building grammar's meaning: how a general-purpose ASR is turned into actions.

A transcript from an open-vocabulary engine (Whisper) is normalised to the grammar's spelling
(lower case, no punctuation, numbers as words: "21.5°" -> "twenty one and a half degrees",
"40%" -> "forty percent"), then looked up in the building's word graph — the same graph
EdgeASR decodes with, so there is no second copy of the grammar. When the exact lookup fails,
the fuzzy fallback finds the grammar sentence with the fewest word edits (insertions,
deletions, substitutions) by dynamic programming over the graph, without enumerating its
sentences, and accepts it when the edits are at most ``MAX_EDIT_SHARE`` of its words.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

import numpy as np

from edgeasr.grammar import CompiledGrammar
from edgeasr.grammar.graph import FINAL, START, Parse, WordGraph
from edgeasr.grammar.numbers import MAX_NUMBER, number_words
from edgeasr.telegram import Telegram

MAX_EDIT_SHARE = 0.25  # fixed before any evaluation; one edit in a four-word command
_NUMBER = re.compile(r"(\d+(?:[.,]\d+)?)")


def _spell_number(m: re.Match[str]) -> str:
    text = m.group(1).replace(",", ".")
    whole, _, frac = text.partition(".")
    n = int(whole)
    if n > MAX_NUMBER:
        return text
    words = number_words(n)
    if frac and frac.rstrip("0"):
        if frac.rstrip("0") == "5":
            return f" {words} and a half "
        return f" {words} point {' '.join(number_words(int(d)) for d in frac)} "
    return f" {words} "


def normalise(text: str) -> list[str]:
    """Whisper-style text -> lower-case grammar tokens."""
    t = text.lower().replace("%", " percent ").replace("°c", " degrees ").replace("°", " degrees ")
    t = _NUMBER.sub(_spell_number, t)
    t = re.sub(r"[^a-z' ]+", " ", t.replace("-", " "))
    return [w.strip("'") for w in t.split() if w.strip("'")]


@dataclass(frozen=True)
class Match:
    parse: Parse
    edits: int
    exact: bool


class GraphMatcher:
    """Nearest grammar sentence to a token sequence, by word edit distance over the graph."""

    def __init__(self, graph: WordGraph) -> None:
        self.graph = graph
        self.order = self._topological_order()

    def _topological_order(self) -> list[int]:
        g = self.graph
        indeg = np.bincount(g.dst, minlength=g.n_nodes)
        queue = deque(n for n in range(g.n_nodes) if indeg[n] == 0)
        order: list[int] = []
        while queue:
            n = queue.popleft()
            order.append(n)
            for a in g.out_arcs(n):
                d = int(g.dst[a])
                indeg[d] -= 1
                if indeg[d] == 0:
                    queue.append(d)
        if len(order) != g.n_nodes:
            raise ValueError("the word graph has a cycle; the matcher needs a DAG")
        return order

    def nearest(self, tokens: list[str]) -> tuple[Parse, int] | None:
        g = self.graph
        n = len(tokens)
        word_ids = {w: i for i, w in enumerate(g.words)}
        tok = np.array([word_ids.get(t, -2) for t in tokens], dtype=np.int64)
        inf = 10**6
        cost = np.full((g.n_nodes, n + 1), inf, dtype=np.int64)
        # back[node, i] = (previous node, previous i, arc or -1 for an inserted token)
        back = np.full((g.n_nodes, n + 1, 3), -1, dtype=np.int64)
        cost[START, 0] = 0
        idx = np.arange(n + 1)
        for u in self.order:
            row = cost[u]
            for i in range(1, n + 1):  # tokens in the text that the grammar lacks
                if row[i - 1] + 1 < row[i]:
                    row[i] = row[i - 1] + 1
                    back[u, i] = (u, i - 1, -1)
            if row.min() >= inf:
                continue
            for a in g.out_arcs(u):
                v, w = int(g.dst[a]), int(g.word[a])
                if w < 0:  # epsilon: same position
                    cand, src = row.copy(), idx
                else:  # grammar word deleted from the text (stay), or matched/substituted
                    dele = row + 1
                    sub = np.full(n + 1, inf, dtype=np.int64)
                    sub[1:] = row[:-1] + (tok != w)
                    cand = np.minimum(dele, sub)
                    src = np.where(sub < dele, idx - 1, idx)
                better = cand < cost[v]
                if better.any():
                    cost[v][better] = cand[better]
                    back[v][better] = np.stack(
                        [np.full(n + 1, u), src, np.full(n + 1, a)], axis=1)[better]
        if cost[FINAL, n] >= inf:
            return None
        words_, outs = [], []
        node, i = FINAL, n
        while not (node == START and i == 0):
            u, j, a = (int(x) for x in back[node, i])
            if a >= 0:  # an arc of the grammar (its word matched, substituted or left out)
                if g.word[a] >= 0:
                    words_.append(int(g.word[a]))
                if g.out[a] >= 0:
                    outs.append(int(g.out[a]))
            node, i = u, j
        return g.interpret(reversed(words_), reversed(outs)), int(cost[FINAL, n])


class TextToIntent:
    """Transcript -> (telegrams, match) over a building grammar."""

    def __init__(self, grammar: CompiledGrammar, max_edit_share: float = MAX_EDIT_SHARE) -> None:
        if grammar.resolve is None:
            raise ValueError("the text-to-intent matcher needs a building grammar (telegrams)")
        self.grammar = grammar
        self.matcher = GraphMatcher(grammar.graph)
        self.max_edit_share = max_edit_share

    def match(self, text: str) -> Match | None:
        tokens = normalise(text)
        if not tokens:
            return None
        parse = self.grammar.graph.parse(" ".join(tokens))
        if parse is not None:
            return Match(parse, 0, True)
        near = self.matcher.nearest(tokens)
        if near is None:
            return None
        parse, edits = near
        if edits > self.max_edit_share * max(len(parse.words), 1):
            return None
        return Match(parse, edits, False)

    def telegrams(self, text: str) -> tuple[list[Telegram], Match | None]:
        m = self.match(text)
        if m is None or self.grammar.resolve is None:
            return [], m
        return list(self.grammar.resolve(m.parse)), m
