"""Check the exported int8 model on the synthetic dev set and calibrate its confidence.

The dev set holds sentences and voice draws the training set never saw (training voices
only: the held-out Piper voice is for ``make eval``). The logistic calibration maps the
decoder's score margin to the probability that the result is the right command; it is
written next to the model (``edgeasr.json``) and read by the runtime.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from edgeasr.acoustic import AcousticModel
from edgeasr.decoder import decode
from edgeasr.grammar import load_building_grammar
from edgeasr.recognizer import Recognizer
from factory.dataset import Example

log = logging.getLogger(__name__)


def fit_logistic(x: np.ndarray, y: np.ndarray, steps: int = 2000) -> tuple[float, float]:
    """1-D logistic regression by Newton's method, lightly regularised."""
    w = np.zeros(2)
    xs = np.stack([x, np.ones_like(x)], 1)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xs @ w)))
        g = xs.T @ (p - y) + 1e-3 * w
        h = (xs * (p * (1 - p))[:, None]).T @ xs + 1e-3 * np.eye(2)
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return float(w[0]), float(w[1])


def run(model_path: Path, dev: list[Example], config: Path) -> dict:
    grammar = load_building_grammar(config)
    rec = Recognizer(grammar, AcousticModel(model_path), threshold=0.0)
    margins, correct, kinds = [], [], []
    for ex in tqdm(dev, desc="dev check", unit="utt"):
        hyp = decode(rec.phone_graph, rec.model.log_probs(ex.feats.astype(np.float32)))
        ref = grammar.graph.parse(ex.text) if ex.kind == "command" else None
        ok = False
        if hyp is not None and ref is not None and grammar.resolve is not None:
            ok = sorted(map(repr, grammar.resolve(hyp.parse))) == sorted(
                map(repr, grammar.resolve(ref)))
        margins.append(hyp.margin if hyp is not None else -10.0)
        correct.append(ok)
        kinds.append(ex.kind)
    m = np.asarray(margins)
    y = np.asarray(correct, float)
    scale, offset = fit_logistic(m, y)
    meta_path = model_path.with_suffix(".json")
    meta_path.write_text(json.dumps({"calibration": {"scale": scale, "offset": offset}},
                                    indent=1) + "\n")
    conf = 1 / (1 + np.exp(-(scale * m + offset)))
    cmd = np.array([k == "command" for k in kinds])
    accepted = conf >= 0.5
    return {
        "commands": int(cmd.sum()),
        "non_commands": int((~cmd).sum()),
        "command_accuracy": float(np.mean(y[cmd] * accepted[cmd])) if cmd.any() else None,
        "top1_before_rejection": float(np.mean(y[cmd])) if cmd.any() else None,
        "false_accepts": float(np.mean(accepted[~cmd])) if (~cmd).any() else None,
        "calibration": {"scale": scale, "offset": offset},
    }

