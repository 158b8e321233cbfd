"""Grammar-constrained CTC search over the acoustic model's phone posteriors.

The word graph is made epsilon-free, every word arc is expanded into its pronunciations'
CTC state chains (phone, blank, phone, blank, ...), and one frame-synchronous Viterbi pass
finds the best sentence. The same posteriors' unconstrained best path gives the reference
score: a sentence that fits the audio nearly as well as free phone recognition is a command;
one that fits much worse is speech the grammar does not contain, and sends nothing.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np

from edgeasr.grammar.graph import FINAL, START, Parse, WordGraph
from edgeasr.grammar.rivals import Rivals
from edgeasr.lexicon import BLANK, lexicon, phone_ids

log = logging.getLogger(__name__)
NEG = np.float32(-1e30)


@dataclass(frozen=True)
class Hypothesis:
    parse: Parse
    score: float  # log-probability of the best grammar path
    free_score: float  # log-probability of the best unconstrained path
    worst_word: float  # the largest per-frame shortfall of any one word (0 = all fit)
    phones: int  # phones emitted on the best path
    settled: bool = False  # nothing the speaker could add would change the meaning
    outside: float = 0.0  # the worst 200 ms before or after the sentence (0 = silence)

    @property
    def margin(self) -> float:
        """How much worse than free recognition, per phone of the sentence (0 = as good).

        Per phone rather than per frame of speech: a short phrase has few speech frames, and
        dividing by them made its score swing (chosen on the synthetic dev set's log-loss).
        """
        return (self.score - self.free_score) / max(self.phones, 1)

    @property
    def features(self) -> tuple[float, float]:
        """What the confidence calibration looks at: the margin, and the worst stretch of
        speech, in a word of the sentence or left outside it."""
        return self.margin, min(self.worst_word, self.outside)


class PhoneGraph:
    """CTC state graph of a word graph; built once per grammar.

    Each pronunciation becomes a chain phone, blank, phone, blank, ... A phone may also be
    skipped at a fixed log-probability cost (``skip_penalty``): a small model sometimes misses
    a phone of a voice it never heard, and the grammar, not every phone, decides the sentence.

    Opt-in (``filler_penalty``, None: off): a quiet frame before or after the sentence may be
    *filler* at that log-probability per frame against free recognition, so trailing TV
    babble is not forced into the last word. Measured with ``python -m bench.filler``: more
    commands understood in TV noise, but more near-commands acted on; off by default.
    """

    N_INTRA = 5  # self, blank before, phone before, and the two skip predecessors

    def __init__(self, graph: WordGraph, skip_penalty: float = -5.0,
                 filler_penalty: float | None = None,
                 prons: dict[str, list[tuple[str, ...]]] | None = None) -> None:
        self.graph = graph
        self.skip_penalty = skip_penalty
        self.filler_penalty = filler_penalty
        arcs = self._epsilon_free(graph)
        lab: list[int] = []
        preds: list[list[int]] = [[] for _ in range(self.N_INTRA)]
        entry: list[int] = []  # source node when a state starts a word
        entry_skip: list[int] = []  # source node when a state starts a word minus its 1st phone
        arc_of: list[int] = []
        end_state: list[int] = []
        end_node: list[int] = []
        end_pen: list[float] = []
        self.arc_words: list[int] = []
        self.arc_outputs: list[tuple[int, ...]] = []
        # The words' pronunciations (``prons``: a graph of some of another's words takes
        # them from it rather than from another pass over the dictionary).
        self.prons = prons if prons is not None else lexicon(graph.words)
        word_phones = {i: [phone_ids(p) for p in self.prons[w]]
                       for i, w in enumerate(graph.words)}

        def add(label: int, pr: list[int], a: int, e: int = -1, es: int = -1) -> int:
            lab.append(label)
            for k in range(self.N_INTRA):
                preds[k].append(pr[k] if k < len(pr) else -1)
            entry.append(e)
            entry_skip.append(es)
            arc_of.append(a)
            return len(lab) - 1

        for a, (src, dst, w, outs) in enumerate(arcs):
            self.arc_words.append(w)
            self.arc_outputs.append(outs)
            for pron in word_phones[w]:
                p_idx: list[int] = []
                b_idx: list[int] = []
                for i, ph in enumerate(pron):
                    me = len(lab)
                    pr = [me]
                    if i >= 1:
                        pr += [b_idx[i - 1], p_idx[i - 1] if pron[i - 1] != ph else -1]
                    if i >= 2:
                        pr += [b_idx[i - 2], p_idx[i - 2] if pron[i - 2] != ph else -1]
                    p_idx.append(add(ph, pr, a, src if i == 0 else -1,
                                     src if i == 1 else -1))
                    b_idx.append(add(BLANK, [len(lab), p_idx[-1]], a))
                k = len(pron)
                end_state += [p_idx[-1], b_idx[-1]]
                end_node += [dst, dst]
                end_pen += [0.0, 0.0]
                if k >= 2:  # the last phone skipped
                    end_state += [p_idx[-2], b_idx[-2]]
                    end_node += [dst, dst]
                    end_pen += [skip_penalty, skip_penalty]
        n_states = len(lab)
        self.lead = n_states  # leading-silence blank state, an "end state" of START
        self.sentinel = n_states + 1  # always -inf
        end_state.append(self.lead)
        end_node.append(START)
        end_pen.append(0.0)
        lab += [BLANK, BLANK]
        self.n_states = n_states + 2
        self.lab = np.asarray(lab, np.int32)
        sent = self.sentinel
        # Only checked here: the search uses the shifts below, the backtrace state - k.
        pred = np.asarray(
            [[p if p >= 0 else sent for p in col] + [sent, sent] for col in preds], np.int32)
        self.n_nodes = graph.n_nodes + 1
        no_node = graph.n_nodes  # its junction score is always -inf
        self.entry = np.asarray([n if n >= 0 else no_node for n in entry] + [no_node] * 2,
                                np.int32)
        self.entry_skip = np.asarray(
            [n if n >= 0 else no_node for n in entry_skip] + [no_node] * 2, np.int32)
        self.arc_of = np.asarray(arc_of + [-1, -1], np.int32)
        order = np.argsort(np.asarray(end_node), kind="stable")
        self.end_state = np.asarray(end_state, np.int32)[order]
        self.end_node = np.asarray(end_node, np.int32)[order]
        self.end_pen = np.asarray(end_pen, np.float32)[order]
        self.seg_nodes, self.seg_starts, self.seg_of_end = np.unique(
            self.end_node, return_index=True, return_inverse=True)
        # Along a pronunciation phone and blank states alternate, so intra-word predecessor k
        # (1-4) is always the state k places before, or none: each candidate is the score
        # vector shifted by k plus this gap (0, or the skip penalty for k = 3, 4; -inf where
        # there is no such predecessor). Slices instead of gathers halve the search time.
        has_pred = pred[1:] != sent
        shift = np.arange(self.n_states) - np.arange(1, self.N_INTRA)[:, None]
        if not np.array_equal(np.where(has_pred, pred[1:], shift), shift):
            raise RuntimeError("phone graph: an intra-word predecessor is not k states back")
        pen = np.array([0.0, 0.0, skip_penalty, skip_penalty], np.float32)[:, None]
        self.gap = np.where(has_pred, pen, -np.inf).astype(np.float32)
        # Word starts: only some states take a score from a node's junction.
        self.entries = []
        for row, nodes in ((0, self.entry), (1, self.entry_skip)):
            idx = np.flatnonzero(nodes != no_node)
            self.entries.append((row, idx, nodes[idx]))
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


def decode(pg: PhoneGraph, log_probs: np.ndarray,
           quiet: np.ndarray | None = None) -> Hypothesis | None:
    """Best grammar sentence for ``log_probs`` [frames, phones+blank], or None if none fits.

    ``quiet``: per frame, whether it is well under the speech level (``quiet_frames``); such
    frames before and after the sentence may be filler. None: no filler (blank only).
    """
    t_len = len(log_probs)
    if t_len == 0:
        return None
    k_intra = pg.N_INTRA
    frame_max = log_probs.max(axis=1)
    filler = pg.filler_penalty is not None and quiet is not None
    edge = log_probs[:, BLANK]  # what a frame before or after the sentence scores
    if filler:
        # A quiet frame (well under the speaker's level: the TV, a fan) may be filler,
        # scored as free recognition plus the penalty, not forced to blank or to a word.
        # Loud frames never are: "don't turn on the light" must not shed its "don't".
        edge = np.where(quiet[:t_len], np.maximum(edge, frame_max + np.float32(
            pg.filler_penalty)), edge)
    final_idx = np.flatnonzero(pg.final_mask)
    fin_best = np.full(t_len, NEG, np.float32)
    fin_k = np.zeros(t_len, np.int64)
    score = np.full(pg.n_states, NEG, np.float32)
    score[pg.lead] = edge[0]
    firsts = pg.entry == START
    score[firsts] = log_probs[0, pg.lab[firsts]]
    skips = pg.entry_skip == START
    score[skips] = log_probs[0, pg.lab[skips]] + pg.skip_penalty
    # Which predecessor each state took at each frame (0-6), two states per byte: the
    # largest array of the search (3 MB for 5 s of speech if unpacked), and it sets the
    # service's peak memory.
    half = (pg.n_states + 1) // 2
    back = np.zeros((t_len, half), np.uint8)
    pairs = np.zeros(2 * half, np.int8)
    choice = pairs[: pg.n_states]
    ends = score[pg.end_state] + pg.end_pen  # word-end scores, grouped by the node they reach
    if filler:
        j = int(ends[final_idx].argmax())
        fin_best[0], fin_k[0] = ends[final_idx[j]], final_idx[j]
    # Per frame and node, which word end fed the node (the first best, like argmax): what the
    # backtrace needs, in a tenth of the memory of every word end's score.
    from_end = np.empty((t_len, len(pg.seg_nodes)),
                        np.int16 if len(pg.end_state) < 2**15 else np.int32)
    junction = np.full(pg.n_nodes, NEG, np.float32)
    entry_pen = (0.0, pg.skip_penalty)
    for t in range(1, t_len):
        top = np.maximum.reduceat(ends, pg.seg_starts)
        junction[pg.seg_nodes] = top
        at_top = np.flatnonzero(ends == top[pg.seg_of_end])
        from_end[t - 1] = at_top[np.searchsorted(at_top, pg.seg_starts)]
        # Best predecessor per state, first one on ties (like argmax over the candidates):
        # the four intra-word ones as shifted vectors, then the word entries where they exist.
        # k rises, so "k if strictly better, else the choice so far" is a maximum.
        choice[:] = 0
        best = score.copy()
        for k in range(1, k_intra):
            cand = score[:-k] + pg.gap[k - 1, k:]
            better = (cand > best[k:]).view(np.int8)
            np.maximum(best[k:], cand, out=best[k:])
            np.maximum(choice[k:], better * np.int8(k), out=choice[k:])
        for row, idx, nodes in pg.entries:
            cand = junction[nodes] + entry_pen[row]
            better = cand > best[idx]
            hit = idx[better]
            best[hit] = cand[better]
            choice[hit] = k_intra + row
        u = pairs.view(np.uint8)
        np.bitwise_or(u[0::2], u[1::2] << 4, out=back[t])
        score = best + log_probs[t, pg.lab]
        score[pg.lead] = best[pg.lead] + edge[t]
        score[pg.sentinel] = NEG
        ends = score[pg.end_state] + pg.end_pen
        if filler:
            j = int(ends[final_idx].argmax())
            fin_best[t], fin_k[t] = ends[final_idx[j]], final_idx[j]
    last = t_len - 1
    if filler:
        # The sentence may end before the audio does; the rest is blank or quiet filler.
        after = np.concatenate([np.cumsum(edge[::-1])[::-1][1:], [0.0]]).astype(np.float32)
        totals = fin_best + after
        last = int(totals.argmax())
        k = int(fin_k[last])
        total = float(totals[last])
    else:
        finals = np.where(pg.final_mask, ends, NEG)
        k = int(finals.argmax())
        total = float(finals[k])
    if total <= NEG / 2:
        return None
    state = int(pg.end_state[k])
    arcs_rev: list[int] = []
    path = np.full(t_len, pg.lead, np.int32)  # the state of every frame on the best path
    for t in range(last, 0, -1):
        path[t] = state
        c = int(back[t, state >> 1]) >> (4 * (state & 1)) & 15
        if c < k_intra:
            state -= c  # intra-word predecessor k is k states back (0: itself)
            continue
        arcs_rev.append(int(pg.arc_of[state]))
        node = int(pg.entry[state] if c == k_intra else pg.entry_skip[state])
        seg = int(np.searchsorted(pg.seg_nodes, node))
        state = int(pg.end_state[from_end[t - 1, seg]])
    path[0] = state
    if state != pg.lead:
        arcs_rev.append(int(pg.arc_of[state]))
    arcs = arcs_rev[::-1]
    words = [pg.arc_words[a] for a in arcs]
    outputs = [o for a in arcs for o in pg.arc_outputs[a]]
    end_node = int(pg.end_node[k])
    outputs += list(pg.final_outputs.get(end_node, ()))
    parse = pg.graph.interpret(words, outputs)
    labels = pg.lab[path]
    starts = (labels != BLANK) & np.concatenate([[True], path[1:] != path[:-1]])
    return Hypothesis(parse, total, float(frame_max.sum()),
                      _worst_word(pg, log_probs, frame_max, path), int(starts.sum()),
                      pg.graph.settled(words),
                      _outside(frame_max - log_probs[:, BLANK], labels, quiet))


OUTSIDE_FRAMES = 10  # 200 ms, about a short word


def _outside(short: np.ndarray, labels: np.ndarray, quiet: np.ndarray | None) -> float:
    """How much speech the sentence leaves out: the worst 200 ms before its first phone or
    after its last, as mean per-frame shortfall of blank against free recognition (``short``,
    per frame) (<= 0).

    "don't turn on the kitchen light" fits the command well word by word; what gives it
    away is the "don't" before it. Quiet frames (the TV, a fan) do not count.
    """
    phones = np.flatnonzero(labels != BLANK)
    if len(phones) == 0:
        return 0.0
    if quiet is not None:
        short = np.where(quiet[: len(short)], 0.0, short)
    worst = 0.0
    for span in (short[: phones[0]], short[phones[-1] + 1 :]):
        if len(span) == 0:
            continue
        w = min(OUTSIDE_FRAMES, len(span))
        means = np.convolve(span, np.full(w, 1.0 / w), mode="valid")
        worst = max(worst, float(means.max()))
    return -worst


def _worst_word(pg: PhoneGraph, log_probs: np.ndarray, frame_max: np.ndarray,
                path: np.ndarray) -> float:
    """Mean per-frame shortfall against free recognition of the worst-fitting word.

    A command for a room the building lacks fits everywhere but in the room's name; averaged
    over the whole utterance that shortfall is diluted, per word it stands out.
    """
    frames = np.arange(len(path))
    shortfall = frame_max - log_probs[frames, pg.lab[path]]
    arc = pg.arc_of[path]
    worst = 0.0
    start = 0
    for t in range(1, len(path) + 1):
        if t == len(path) or arc[t] != arc[start]:
            if arc[start] >= 0:
                worst = max(worst, float(shortfall[start:t].mean()))
            start = t
    return -worst


class RivalScorer:
    """How clearly a decoded sentence beats its rivals (``edgeasr.grammar.rivals``): the
    grammar's sentences one word away that mean something else, searched in one pass over a
    small graph of them with the main search's settings. The graphs of the last
    ``cache_size`` sentences are kept (about 30 kB each for the demo building)."""

    def __init__(self, pg: PhoneGraph, cache_size: int = 32) -> None:
        self.pg = pg
        self.rivals = Rivals(pg.graph, cache_size)
        self._graph = functools.lru_cache(maxsize=cache_size)(self._phone_graph)

    def _phone_graph(self, words: tuple[str, ...]) -> PhoneGraph | None:
        graph = self.rivals.graph_of(words)
        return None if graph is None else PhoneGraph(graph, self.pg.skip_penalty,
                                                     self.pg.filler_penalty, self.pg.prons)

    def gap(self, hyp: Hypothesis, log_probs: np.ndarray,
            quiet: np.ndarray | None = None) -> float | None:
        """How much better ``hyp`` (decoded from ``log_probs`` and ``quiet`` with the main
        graph) fits than its best rival, per phone of the sentence as ``Hypothesis.margin``
        counts (0: a rival fits as well); None where it has no rival that fits at all."""
        pg = self._graph(hyp.parse.words)
        best = None if pg is None else decode(pg, log_probs, quiet)
        if best is None:
            return None
        return max(0.0, (hyp.score - best.score) / max(hyp.phones, 1))
