"""Grammar-constrained CTC search over the acoustic model's phone posteriors.

The word graph is made epsilon-free, every word arc is expanded into its pronunciations'
CTC state chains (phone, blank, phone, blank, ...), and one frame-synchronous Viterbi pass
finds the best sentence. The same posteriors' unconstrained best path gives the reference
score: a sentence that fits the audio nearly as well as free phone recognition is a command;
one that fits much worse is speech the grammar does not contain, and sends nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from edgeasr.grammar.graph import FINAL, START, Parse, WordGraph
from edgeasr.lexicon import BLANK, phone_ids, pronunciations

log = logging.getLogger(__name__)
NEG = np.float32(-1e30)


@dataclass(frozen=True)
class Hypothesis:
    parse: Parse
    score: float  # log-probability of the best grammar path
    free_score: float  # log-probability of the best unconstrained path
    speech_frames: int

    @property
    def margin(self) -> float:
        """How much worse than free recognition, per frame of speech (0 = as good)."""
        return (self.score - self.free_score) / max(self.speech_frames, 1)


class PhoneGraph:
    """CTC state graph of a word graph; built once per grammar."""

    def __init__(self, graph: WordGraph) -> None:
        self.graph = graph
        arcs = self._epsilon_free(graph)
        # Per state: label, two intra-chain predecessors, source node if chain-initial.
        lab: list[int] = []
        pred1: list[int] = []
        pred2: list[int] = []
        src_node: list[int] = []
        arc_of: list[int] = []
        end_state: list[int] = []
        end_node: list[int] = []
        self.arc_words: list[int] = []
        self.arc_outputs: list[tuple[int, ...]] = []
        prons: dict[int, list[list[int]]] = {}
        for a, (s, d, w, outs) in enumerate(arcs):
            self.arc_words.append(w)
            self.arc_outputs.append(outs)
            if w not in prons:
                prons[w] = [phone_ids(p) for p in pronunciations(graph.words[w])]
            for pron in prons[w]:
                prev_p = prev_b = -1
                for i, ph in enumerate(pron):
                    p_idx = len(lab)
                    lab.append(ph)
                    pred1.append(prev_b)
                    pred2.append(prev_p if i > 0 and pron[i - 1] != ph else -1)
                    src_node.append(s if i == 0 else -1)
                    arc_of.append(a)
                    lab.append(BLANK)
                    pred1.append(p_idx)
                    pred2.append(-1)
                    src_node.append(-1)
                    arc_of.append(a)
                    prev_p, prev_b = p_idx, p_idx + 1
                end_state += [prev_p, prev_b]
                end_node += [d, d]
        n_states = len(lab)
        self.lead = n_states  # leading-silence blank state, an "end state" of START
        self.sentinel = n_states + 1  # always -inf
        end_state.append(self.lead)
        end_node.append(START)
        lab += [BLANK, BLANK]
        self.n_states = n_states + 2
        self.lab = np.asarray(lab, np.int32)
        sent = self.sentinel
        self.pred1 = np.asarray([p if p >= 0 else sent for p in pred1] + [sent, sent], np.int32)
        self.pred2 = np.asarray([p if p >= 0 else sent for p in pred2] + [sent, sent], np.int32)
        self.n_nodes = graph.n_nodes + 1
        no_node = graph.n_nodes  # J of this node is always -inf
        self.src_node = np.asarray([n if n >= 0 else no_node for n in src_node]
                                   + [no_node, no_node], np.int32)
        self.arc_of = np.asarray(arc_of + [-1, -1], np.int32)
        order = np.argsort(np.asarray(end_node), kind="stable")
        self.end_state = np.asarray(end_state, np.int32)[order]
        self.end_node = np.asarray(end_node, np.int32)[order]
        self.seg_nodes, self.seg_starts = np.unique(self.end_node, return_index=True)
        self.final_mask = np.isin(self.end_node, list(self.final_nodes))
        log.debug("phone graph: %d arcs, %d states", len(arcs), self.n_states)

    def _epsilon_free(self, g: WordGraph) -> list[tuple[int, int, int, tuple[int, ...]]]:
        """Word arcs only: each node links straight to the word arcs of its eps-closure."""
        closure_cache: dict[int, dict[int, tuple[int, ...]]] = {}

        def closure(n: int) -> dict[int, tuple[int, ...]]:
            if n not in closure_cache:
                found = {n: ()}
                stack = [n]
                while stack:
                    m = stack.pop()
                    for a in g.out_arcs(m):
                        d = int(g.dst[a])
                        if g.word[a] < 0 and d not in found:
                            o = int(g.out[a])
                            found[d] = found[m] + ((o,) if o >= 0 else ())
                            stack.append(d)
                closure_cache[n] = found
            return closure_cache[n]

        arcs: list[tuple[int, int, int, tuple[int, ...]]] = []
        self.final_nodes: set[int] = set()
        self.final_outputs: dict[int, tuple[int, ...]] = {}
        todo, seen = [START], {START}
        while todo:
            n = todo.pop()
            for m, outs in closure(n).items():
                if m == FINAL and n not in self.final_nodes:
                    self.final_nodes.add(n)
                    self.final_outputs[n] = outs
                for a in g.out_arcs(m):
                    if g.word[a] < 0:
                        continue
                    d = int(g.dst[a])
                    o = int(g.out[a])
                    arcs.append((n, d, int(g.word[a]), outs + ((o,) if o >= 0 else ())))
                    if d not in seen:
                        seen.add(d)
                        todo.append(d)
        return arcs


def free_path_score(log_probs: np.ndarray) -> float:
    return float(log_probs.max(axis=1).sum())


def speech_frames(log_probs: np.ndarray) -> int:
    return int((log_probs.argmax(axis=1) != BLANK).sum())


def decode(pg: PhoneGraph, log_probs: np.ndarray) -> Hypothesis | None:
    """Best grammar sentence for ``log_probs`` [frames, phones+blank], or None if none fits."""
    t_len = len(log_probs)
    if t_len == 0:
        return None
    score = np.full(pg.n_states, NEG, np.float32)
    score[pg.lead] = log_probs[0, BLANK]
    firsts = pg.src_node == START
    score[firsts] = log_probs[0, pg.lab[firsts]]
    back = np.zeros((t_len, pg.n_states), np.int8)
    end_scores = np.empty((t_len, len(pg.end_state)), np.float32)
    end_scores[0] = score[pg.end_state]
    junction = np.full(pg.n_nodes, NEG, np.float32)
    cands = np.empty((4, pg.n_states), np.float32)
    for t in range(1, t_len):
        junction[pg.seg_nodes] = np.maximum.reduceat(end_scores[t - 1], pg.seg_starts)
        cands[0] = score
        cands[1] = score[pg.pred1]
        cands[2] = score[pg.pred2]
        cands[3] = junction[pg.src_node]
        choice = cands.argmax(axis=0)
        best = np.take_along_axis(cands, choice[None], 0)[0]
        score = best + log_probs[t, pg.lab]
        score[pg.sentinel] = NEG
        back[t] = choice
        end_scores[t] = score[pg.end_state]
    finals = np.where(pg.final_mask, end_scores[-1], NEG)
    k = int(finals.argmax())
    if finals[k] <= NEG / 2:
        return None
    total = float(finals[k])
    state = int(pg.end_state[k])
    arcs_rev: list[int] = []
    for t in range(t_len - 1, 0, -1):
        c = back[t, state]
        if c == 1:
            state = int(pg.pred1[state])
        elif c == 2:
            state = int(pg.pred2[state])
        elif c == 3:
            arcs_rev.append(int(pg.arc_of[state]))
            node = int(pg.src_node[state])
            lo = int(np.searchsorted(pg.end_node, node, "left"))
            hi = int(np.searchsorted(pg.end_node, node, "right"))
            state = int(pg.end_state[lo + int(end_scores[t - 1, lo:hi].argmax())])
    if state != pg.lead:
        arcs_rev.append(int(pg.arc_of[state]))
    arcs = arcs_rev[::-1]
    words = [pg.arc_words[a] for a in arcs]
    outputs = [o for a in arcs for o in pg.arc_outputs[a]]
    end_node = int(pg.end_node[k])
    outputs += list(pg.final_outputs.get(end_node, ()))
    parse = pg.graph.interpret(words, outputs)
    return Hypothesis(parse, total, free_path_score(log_probs), speech_frames(log_probs))
