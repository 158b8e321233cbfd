"""Check the exported int8 model on the synthetic dev set and calibrate its confidence.

The dev set holds sentences and voice draws the training set never saw (training voices
only: the held-out Piper voice is for ``make eval``). A logistic regression maps the
decoder's fit scores (margin, worst word) to the probability that the result is the right
command; it is written next to the model (``edgeasr.json``) and read by the runtime.
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
from edgeasr.recognizer import judge
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


def _check(ex: Example) -> tuple[Hypothesis | None, bool, str]:
    """The decoder's result for one dev utterance, whether it is the right command, and the
    utterance's kind ("command" for whatever parses)."""
    assert _WORKER is not None
    grammar, graph, model = _WORKER
    # The preset's features; with the rows of the model's leading padding, as the runtime.
    hyp = decode(graph, model.log_probs(ex.feats.astype(np.float32), lead=True))
    # Whatever parses is a command, whatever its label: caches made before corpus.py
    # kept room-less commands as commands call "good night" an other-room sentence.
    ref = grammar.graph.parse(ex.text)
    ok = False
    if hyp is not None and ref is not None and grammar.resolve is not None:
        ok = sorted(map(repr, grammar.resolve(hyp.parse))) == sorted(
            map(repr, grammar.resolve(ref)))
    return hyp, ok, "command" if ref is not None else ex.kind


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
    hyps = [h for h, _, _ in results]
    correct = [ok for _, ok, _ in results]
    kinds = [k for _, _, k in results]
    feats = [h.features if h is not None else (-10.0, -10.0) for h in hyps]
    x = np.asarray(feats)
    y = np.asarray(correct, float)
    w = fit_logistic(x, y)
    cal = Calibration(scale=float(w[0]), word_scale=float(w[1]), offset=float(w[2]))
    meta_path = model_path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    meta["calibration"] = cal.__dict__
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    kind = np.array(kinds)
    cmd = kind == "command"
    # The runtime's acting rule at the model's threshold. Without the audio every frame
    # counts as loud for the outside rule, so this is a little stricter than the service.
    accepted = np.array([h is not None and judge(h, cal, threshold)[1] for h in hyps])
    return {
        "commands": int(cmd.sum()),
        "non_commands": int((~cmd).sum()),
        "command_accuracy": float(np.mean(y[cmd] * accepted[cmd])) if cmd.any() else None,
        "top1_before_rejection": float(np.mean(y[cmd])) if cmd.any() else None,
        "false_accepts": float(np.mean(accepted[~cmd])) if (~cmd).any() else None,
        "false_accepts_by_kind": {
            k: float(np.mean(accepted[kind == k])) for k in sorted(set(kinds)) if k != "command"},
        "calibration": cal.__dict__,
        "threshold": threshold,
    }
