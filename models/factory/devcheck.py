"""Check the exported int8 model on the synthetic dev set and calibrate its confidence.

The dev set holds sentences and voice draws the training set never saw (training voices
only: the held-out Piper voice is for ``make eval``). A logistic regression maps the
decoder's fit scores (margin, worst word) to the probability that the result is the right
command; it is written next to the model (``edgeasr.json``) and read by the runtime. A model
of several member networks gets one calibration per member, each fitted on that member's
own decodes, and its dev figures follow the runtime's agreement rule.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
from pathlib import Path

import numpy as np
from tqdm import tqdm

from edgeasr.acoustic import AcousticModel, Calibration
from edgeasr.decoder import Hypothesis, PhoneGraph, decode
from edgeasr.grammar import load_building_grammar
from edgeasr.recognizer import decide, member_confidences
from factory.dataset import Example

log = logging.getLogger(__name__)


def fit_logistic(x: np.ndarray, y: np.ndarray, steps: int = 100) -> np.ndarray:
    """Logistic regression by Newton's method, lightly regularised; weights then bias."""
    xs = np.concatenate([x, np.ones((len(x), 1))], 1)
    w = np.zeros(xs.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xs @ w)))
        g = xs.T @ (p - y) + 1e-3 * w
        h = (xs * (p * (1 - p))[:, None]).T @ xs + 1e-3 * np.eye(len(w))
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


_WORKER: tuple | None = None  # (grammar, phone graph, model) in a dev-check worker


def _init(model_path: Path, config: Path) -> None:
    global _WORKER
    grammar = load_building_grammar(config)
    _WORKER = (grammar, PhoneGraph(grammar.graph), AcousticModel(model_path))


def _check(ex: Example) -> tuple[list[Hypothesis | None], list[bool], str]:
    """Each member network's decode of one dev utterance, whether each is the right
    command, and the utterance's kind ("command" for whatever parses)."""
    assert _WORKER is not None
    grammar, graph, model = _WORKER
    # The preset's features; with the rows of the model's leading padding, as the runtime.
    hyps = [decode(graph, lp)
            for lp in model.member_log_probs(ex.feats.astype(np.float32), lead=True)]
    # Whatever parses is a command, whatever its label: caches made before corpus.py
    # kept room-less commands as commands call "good night" an other-room sentence.
    ref = grammar.graph.parse(ex.text)
    want = (sorted(map(repr, grammar.resolve(ref)))
            if ref is not None and grammar.resolve is not None else None)
    oks = [want is not None and hyp is not None
           and sorted(map(repr, grammar.resolve(hyp.parse))) == want  # type: ignore[misc]
           for hyp in hyps]
    return hyps, oks, "command" if ref is not None else ex.kind


def run(model_path: Path, dev: list[Example], config: Path, threshold: float,
        workers: int = 1) -> dict:
    """Decode the dev set with the int8 model (``workers`` processes: each utterance is
    decoded alone, so the results do not depend on the count), write the calibration next
    to the model and return the dev figures at ``threshold`` (the model's own)."""
    desc = {"desc": "dev check", "unit": "utt", "total": len(dev)}
    if workers <= 1:
        _init(model_path, config)
        results = [_check(ex) for ex in tqdm(dev, **desc)]
    else:
        # Spawned, not forked: the factory has TensorFlow's threads running by now, and a
        # forked child inherits their locks.
        with mp.get_context("spawn").Pool(workers, _init, (model_path, config)) as pool:
            results = list(tqdm(pool.imap(_check, dev, chunksize=8), **desc))
    kinds = [k for _, _, k in results]
    members = len(results[0][0]) if results else 1
    cals = []
    for m in range(members):  # each member's calibration from its own decodes
        x = np.asarray([h[m].features if h[m] is not None else (-10.0, -10.0)
                        for h, _, _ in results])
        w = fit_logistic(x, np.asarray([ok[m] for _, ok, _ in results], float))
        cals.append(Calibration(scale=float(w[0]), word_scale=float(w[1]), offset=float(w[2])))
    meta_path = model_path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    accepted, shown_ok = [], []
    # The runtime's acting rule at the model's threshold (and agreement bonus). Without the
    # audio every frame counts as loud for the outside rule, so this is a little stricter
    # than the service.
    for hyps, oks, _ in results:
        decision = decide(hyps, member_confidences(hyps, cals), threshold,
                          float(meta.get("agreement_bonus", 0.0)))
        accepted.append(decision.chosen is not None)
        shown_ok.append(oks[decision.shown])  # what the runtime reports is right or not
    meta["calibration"] = (cals[0].__dict__ if members == 1
                           else [c.__dict__ for c in cals])
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    kind = np.array(kinds)
    cmd = kind == "command"
    y = np.asarray(shown_ok, float)
    accepted = np.asarray(accepted)
    return {
        "commands": int(cmd.sum()),
        "non_commands": int((~cmd).sum()),
        "command_accuracy": float(np.mean(y[cmd] * accepted[cmd])) if cmd.any() else None,
        "top1_before_rejection": float(np.mean(y[cmd])) if cmd.any() else None,
        "false_accepts": float(np.mean(accepted[~cmd])) if (~cmd).any() else None,
        "false_accepts_by_kind": {
            k: float(np.mean(accepted[kind == k])) for k in sorted(set(kinds)) if k != "command"},
        "calibration": meta["calibration"],
        "threshold": threshold,
    }
