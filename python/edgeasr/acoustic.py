"""Run the int8 TFLite acoustic model: audio -> features -> phone log-probabilities.

The model has a static input (the NPU wants static shapes): ``window`` frames whose phones
it predicts, plus, for models with a pretrained front network, ``context`` frames before
and after that the network needs to see. Longer input is cut into overlapping windows whose
edges, which lack context, are discarded. The model's ``edgeasr.json`` says which feature
front end it was trained on, its context and its confidence calibration.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeasr.features import frontend, pad_floor

log = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).resolve().parent / "data" / "edgeasr.tflite"
SUBSAMPLING = 2  # output frames are 20 ms
CONTEXT = 80  # input frames of context each side kept out of the output
# Quiet frames put before and after the features: every training clip had 50-500 ms of
# silence around its speech, and a clip cut tight (speech from its first frame on, as
# espeak-ng and flite write them) otherwise loses its first phone. Even, for SUBSAMPLING.
EDGE = 30


class ModelError(RuntimeError):
    """The model file is missing, unreadable or not the shape EdgeASR expects."""


def _interpreter_class() -> Any:
    try:
        from tflite_runtime.interpreter import Interpreter
    except ImportError:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            try:
                from tensorflow.lite import Interpreter
            except ImportError as exc:
                raise ModelError(
                    "no TFLite runtime: pip install tflite-runtime (or ai-edge-litert)"
                ) from exc
    return Interpreter


@dataclass(frozen=True)
class Calibration:
    """Logistic map from the decoder's fit scores to a confidence in [0, 1].

    Inputs: the per-frame margin against free phone recognition and the worst word's
    per-frame shortfall (both <= 0; 0 = as good as unconstrained recognition).
    """

    scale: float = 4.0
    offset: float = 2.0
    word_scale: float = 0.0

    def confidence(self, margin: float, worst_word: float = 0.0) -> float:
        z = self.scale * margin + self.word_scale * worst_word + self.offset
        return float(1.0 / (1.0 + np.exp(-z)))


def find_model(path: str | Path | None) -> Path:
    """The model to load: the given path, or the one shipped with the package/repo."""
    if path is not None:
        return Path(path)
    if DEFAULT_MODEL.exists():
        return DEFAULT_MODEL
    repo_model = Path(__file__).resolve().parents[2] / "models" / "edgeasr.tflite"
    return repo_model


class AcousticModel:
    def __init__(self, path: str | Path | None = None, num_threads: int = 1,
                 delegate: str | None = None) -> None:
        self.path = find_model(path)
        if not self.path.is_file():
            raise ModelError(f"model file {self.path} not found (run `make model` or pass --model)")
        Interpreter = _interpreter_class()
        kwargs: dict[str, Any] = {"model_path": str(self.path), "num_threads": num_threads}
        if delegate:
            # On the board: the VX delegate of ST's X-LINUX-AI runs the graph on the NPU.
            from tflite_runtime.interpreter import load_delegate

            kwargs["experimental_delegates"] = [load_delegate(delegate)]
        try:
            self._interp = Interpreter(**kwargs)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{self.path} is not a valid TFLite model: {exc}") from exc
        inp = self._interp.get_input_details()[0]
        out = self._interp.get_output_details()[0]
        self._in_index, self._out_index = inp["index"], out["index"]
        self._in_q = inp["quantization"]
        self._out_q = out["quantization"]
        self._in_dtype = inp["dtype"]
        self._lock = threading.Lock()  # a TFLite interpreter runs one inference at a time
        meta = self._load_meta()
        self.calibration = Calibration(**meta.get("calibration", {}))
        self.frontend = str(meta.get("frontend", "logmel40"))
        try:
            self.features = frontend(self.frontend)
        except ValueError as exc:
            raise ModelError(f"{self.path.with_suffix('.json')}: {exc}") from None
        self.left, self.right = (int(v) for v in meta.get("context", (0, 0)))
        self.window = int(out["shape"][1]) * SUBSAMPLING
        if int(inp["shape"][1]) != self.window + self.left + self.right:
            raise ModelError(f"{self.path}: input of {inp['shape'][1]} frames does not match "
                             f"{self.window} output frames + context {self.left}+{self.right}")

    def _load_meta(self) -> dict[str, Any]:
        meta = self.path.with_suffix(".json")
        if not meta.is_file():
            return {}
        try:
            return dict(json.loads(meta.read_text()))
        except (ValueError, TypeError) as exc:
            raise ModelError(f"{meta} is not valid JSON: {exc}") from None

    def _run(self, window: np.ndarray) -> np.ndarray:
        scale, zero = self._in_q
        if self._in_dtype == np.int8:
            x = np.clip(np.round(window / scale + zero), -128, 127).astype(np.int8)
        else:
            x = window.astype(np.float32)
        with self._lock:
            self._interp.set_tensor(self._in_index, x[None])
            self._interp.invoke()
            y = self._interp.get_tensor(self._out_index)[0].copy()
        oscale, ozero = self._out_q
        return (y.astype(np.float32) - ozero) * oscale if oscale else y.astype(np.float32)

    def logits(self, feats: np.ndarray) -> np.ndarray:
        """Phone logits, one row per 20 ms."""
        n_out = (len(feats) + SUBSAMPLING - 1) // SUBSAMPLING
        floor = pad_floor(feats)
        edge = np.repeat(floor[None], EDGE, 0)
        feats = np.concatenate([edge, feats, edge])
        skip = EDGE // SUBSAMPLING
        n = len(feats)
        w = self.window
        # The front network's own context: quiet floor beyond the ends, like the padding.
        feats = np.concatenate([np.repeat(floor[None], self.left, 0), feats,
                                np.repeat(floor[None], self.right, 0)])
        full = w + self.left + self.right
        if n < w:
            padded = np.concatenate([feats, np.repeat(floor[None], full - len(feats), 0)])
            return self._run(padded)[skip : skip + n_out]
        step = w - 2 * CONTEXT
        pieces = []
        start = 0
        while True:
            chunk = feats[start : start + full]
            if len(chunk) < full:
                chunk = np.concatenate([chunk, np.repeat(floor[None], full - len(chunk), 0)])
            out = self._run(chunk)
            lo = 0 if start == 0 else CONTEXT // SUBSAMPLING
            last = start + w >= n
            hi = len(out) if last else (w - CONTEXT) // SUBSAMPLING
            pieces.append(out[lo:hi])
            if last:
                break
            start += step
        return np.concatenate(pieces)[skip : skip + n_out]

    def log_probs(self, feats: np.ndarray) -> np.ndarray:
        z = self.logits(feats)
        z = z - z.max(axis=1, keepdims=True)
        return (z - np.log(np.exp(z).sum(axis=1, keepdims=True))).astype(np.float32)
