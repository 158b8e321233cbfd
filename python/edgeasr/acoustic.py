"""Run the int8 TFLite acoustic model: audio -> features -> phone log-probabilities.

The model has a static input (the NPU wants static shapes): ``window`` frames whose phones
it predicts, plus, for models with a pretrained front network, ``context`` frames before
and after that the network needs to see. Longer input is cut into overlapping windows whose
edges, which lack context, are discarded. The model's ``edgeasr.json`` says which feature
front end it was trained on, its context and its confidence calibration.

A model may have one input per front end (``logmel40+speech-mel32``: both feature kinds side
by side in one array); each input takes its front end's columns.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeasr.features import FRONTEND_BINS, frontend, pad_floor

log = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).resolve().parent / "data" / "edgeasr.tflite"
SUBSAMPLING = 2  # output frames are 20 ms
CONTEXT = 80  # input frames of context each side kept out of the output
# Quiet frames put before and after the features: every training clip had 50-500 ms of
# silence around its speech, and a clip cut tight (speech from its first frame on, as
# espeak-ng and flite write them) otherwise loses its first phone. Even, for SUBSAMPLING.
EDGE = 30
# Output rows of that leading padding. A model with a wide view (v8-hybrid: each embedding
# hears 0.76 s) may put the first word's phones there, at the very start of its input, as
# CTC allows: v8-hybrid emitted a leading "please" in its first four rows wherever the word
# was spoken (v9 was trained with quiet of random length in front, so that the start of its
# input says nothing about where speech starts). A decoder that drops these rows never hears
# that word.
LEAD_FRAMES = EDGE // SUBSAMPLING


class ModelError(RuntimeError):
    """The model file is missing, unreadable or not the shape EdgeASR expects."""


# Which TFLite kernels run the graph on the CPU. "optimized" (TFLite's default) is fast, but
# on x86 its int8 CONV_2D rounds a few outputs one code off TFLite's reference kernels, and
# v8-hybrid's deep frozen network amplifies that (up to 9 codes at the output), while
# aarch64's optimized kernels give the reference results exactly (tests/test_aarch64.py).
# "reference" is ~8x slower and computes here what the board's CPU computes.
KERNELS = ("optimized", "reference")


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


@dataclass(frozen=True)
class _Input:
    """One input tensor of the model and the part of a feature chunk it takes."""

    index: int
    dtype: Any
    quantization: tuple[float, int]
    columns: tuple[int, int]
    first: int  # first row of the chunk
    rows: int


class AcousticModel:
    def __init__(self, path: str | Path | None = None, num_threads: int = 1,
                 delegate: str | None = None, kernels: str = "optimized") -> None:
        self.path = find_model(path)
        if not self.path.is_file():
            raise ModelError(f"model file {self.path} not found (run `make model` or pass --model)")
        if kernels not in KERNELS:
            raise ModelError(f"kernels {kernels!r}: expected one of {', '.join(KERNELS)}")
        if kernels == "reference" and delegate:
            raise ModelError("reference kernels run on the CPU; they cannot go with a delegate")
        Interpreter = _interpreter_class()
        kwargs: dict[str, Any] = {"model_path": str(self.path), "num_threads": num_threads}
        if kernels == "reference":
            # Each runtime defines OpResolverType beside its Interpreter.
            resolvers = sys.modules[Interpreter.__module__].OpResolverType
            kwargs["experimental_op_resolver_type"] = resolvers.BUILTIN_REF
        self.kernels = kernels
        if delegate:
            # On the board: the VX delegate of ST's X-LINUX-AI runs the graph on the NPU.
            from tflite_runtime.interpreter import load_delegate

            kwargs["experimental_delegates"] = [load_delegate(delegate)]
        try:
            self._interp = Interpreter(**kwargs)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{self.path} is not a valid TFLite model: {exc}") from exc
        out = self._interp.get_output_details()[0]
        self._out_index = out["index"]
        self._out_q = out["quantization"]
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
        self._inputs = self._map_inputs()

    def _map_inputs(self) -> list[_Input]:
        """Which feature columns and rows each model input takes.

        Features are the front ends' columns side by side; an input takes the columns of the
        front end whose width it has. An input of ``window`` rows sees no context (it starts
        ``left`` rows into a chunk); one of ``window + left + right`` rows sees all of it.
        """
        names = self.frontend.split("+")
        cols, start = {}, 0
        for n in names:
            cols.setdefault(FRONTEND_BINS[n], []).append((start, start + FRONTEND_BINS[n]))
            start += FRONTEND_BINS[n]
        details = self._interp.get_input_details()
        if len(details) != len(names):
            raise ModelError(f"{self.path}: {len(details)} inputs, but its front end "
                             f"{self.frontend!r} has {len(names)} parts")
        full = self.window + self.left + self.right
        inputs = []
        for d in details:
            rows, width = int(d["shape"][1]), int(d["shape"][2])
            spans = cols.get(width, [])
            if len(spans) != 1:
                raise ModelError(f"{self.path}: an input of {width} values per frame does not "
                                 f"match one part of the front end {self.frontend!r}")
            if rows not in (self.window, full):
                raise ModelError(f"{self.path}: input of {rows} frames does not match "
                                 f"{self.window} output frames + context "
                                 f"{self.left}+{self.right}")
            first = self.left if rows == self.window else 0
            inputs.append(_Input(d["index"], d["dtype"], d["quantization"], spans[0],
                                 first, rows))
        return inputs

    def _load_meta(self) -> dict[str, Any]:
        meta = self.path.with_suffix(".json")
        if not meta.is_file():
            return {}
        try:
            return dict(json.loads(meta.read_text()))
        except (ValueError, TypeError) as exc:
            raise ModelError(f"{meta} is not valid JSON: {exc}") from None

    def quantized_inputs(self, chunk: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """(tensor index, value) of every model input for one chunk of features."""
        out = []
        for i in self._inputs:
            x = chunk[i.first : i.first + i.rows, i.columns[0] : i.columns[1]]
            scale, zero = i.quantization
            if i.dtype == np.int8:
                x = np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
            else:
                x = x.astype(np.float32)
            out.append((i.index, x[None]))
        return out

    def _run(self, chunk: np.ndarray) -> np.ndarray:
        with self._lock:
            for index, x in self.quantized_inputs(chunk):
                self._interp.set_tensor(index, x)
            self._interp.invoke()
            y = self._interp.get_tensor(self._out_index)[0].copy()
        oscale, ozero = self._out_q
        return (y.astype(np.float32) - ozero) * oscale if oscale else y.astype(np.float32)

    def chunks(self, feats: np.ndarray) -> Iterator[tuple[np.ndarray, int, int]]:
        """The model's input chunks for ``feats``, each with the rows of its output to keep."""
        floor = pad_floor(feats)
        edge = np.repeat(floor[None], EDGE, 0)
        feats = np.concatenate([edge, feats, edge])
        n = len(feats)
        w = self.window
        # The front network's own context: quiet floor beyond the ends, like the padding.
        feats = np.concatenate([np.repeat(floor[None], self.left, 0), feats,
                                np.repeat(floor[None], self.right, 0)])
        full = w + self.left + self.right
        if n < w:
            padded = np.concatenate([feats, np.repeat(floor[None], full - len(feats), 0)])
            yield padded, 0, w // SUBSAMPLING
            return
        step = w - 2 * CONTEXT
        start = 0
        while True:
            chunk = feats[start : start + full]
            if len(chunk) < full:
                chunk = np.concatenate([chunk, np.repeat(floor[None], full - len(chunk), 0)])
            lo = 0 if start == 0 else CONTEXT // SUBSAMPLING
            last = start + w >= n
            hi = w // SUBSAMPLING if last else (w - CONTEXT) // SUBSAMPLING
            yield chunk, lo, hi
            if last:
                return
            start += step

    def logits(self, feats: np.ndarray, lead: bool = False) -> np.ndarray:
        """Phone logits, one row per 20 ms of ``feats``; with ``lead``, after the
        ``LEAD_FRAMES`` rows of the quiet padding before them."""
        n_out = (len(feats) + SUBSAMPLING - 1) // SUBSAMPLING
        start = 0 if lead else LEAD_FRAMES
        pieces = [self._run(chunk)[lo:hi] for chunk, lo, hi in self.chunks(feats)]
        return np.concatenate(pieces)[start : LEAD_FRAMES + n_out]

    def log_probs(self, feats: np.ndarray, lead: bool = False) -> np.ndarray:
        return log_softmax(self.logits(feats, lead))


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return (z - np.log(np.exp(z).sum(axis=1, keepdims=True))).astype(np.float32)
