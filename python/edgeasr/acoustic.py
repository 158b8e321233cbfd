"""Run the int8 TFLite acoustic model: audio -> features -> phone log-probabilities.

The model has a static input (the NPU wants static shapes): ``window`` frames whose phones
it predicts, plus, for models with a pretrained front network, ``context`` frames before
and after that the network needs to see. Longer input is cut into overlapping windows whose
edges, which lack context, are discarded. The model's ``edgeasr.json`` says which feature
front end it was trained on, its context and its confidence calibration.

A model may have one input per front end (``logmel40+speech-mel32``: both feature kinds side
by side in one array); each input takes its front end's columns. A model split in two (its
``edgeasr.json`` says ``"embedder": true``) has the frozen front network as a second graph
beside it, ``<model>.embedder.tflite``, turning speech-mel32 frames into embeddings: the
model's second input. The embeddings of an utterance are computed once and each window gets
its slice, instead of every window recomputing the ones it shares with the next.

A model may hold several member networks trained apart on the same inputs (``"members": 2``
in its ``edgeasr.json``): its output is their phone logits side by side, each member has its
own confidence calibration, and the recogniser decodes each member alone and acts where they
agree (``edgeasr.recognizer.agree``).
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


# The confidence a model's results need before anything is sent, where its edgeasr.json
# does not say (files made before models carried their own): the calibration's even odds.
FALLBACK_THRESHOLD = 0.5


def _share(key: str, value: Any, meta_path: Path) -> float:
    """A confidence setting of a model's edgeasr.json (``threshold``, ``agreement_bonus``,
    ``noise_allowance``), checked."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ModelError(f"{meta_path}: {key} {value!r}: expected a number from 0 to 1")
    return float(value)


def _decibels(key: str, value: Any, meta_path: Path) -> float:
    """A level difference of a model's edgeasr.json (``noisy_below_db``), checked."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise ModelError(f"{meta_path}: {key} {value!r}: expected decibels from 0 to 100")
    return float(value)


def _optional(key: str, value: Any, meta_path: Path, low: float, high: float
              ) -> float | None:
    """An optional limit of a model's edgeasr.json (``noisy_outside_limit``: a per-frame
    shortfall, -10..0; ``rival_limit``: a per-phone margin, 0..10), checked; None where it
    is absent."""
    if value is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not low <= value <= high):
        raise ModelError(f"{meta_path}: {key} {value!r}: expected a number from {low:g} to "
                         f"{high:g}")
    return float(value)


def _members(value: Any, outputs: int, meta_path: Path) -> int:
    """The ``members`` of a model's edgeasr.json, checked against its output width."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or outputs % value:
        raise ModelError(f"{meta_path}: members {value!r}: expected a whole number of member "
                         f"networks that divides the model's {outputs} outputs")
    return value


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
    """One input tensor of the model and the part of a feature chunk it takes (or, for
    ``embeddings``, the rows of the embedder's output)."""

    index: int
    dtype: Any
    quantization: tuple[float, int]
    columns: tuple[int, int]
    first: int  # first row of the chunk
    rows: int
    embeddings: bool = False


def _quantize(x: np.ndarray, dtype: Any, quantization: tuple[float, int]) -> np.ndarray:
    scale, zero = quantization
    if dtype == np.int8:
        return np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
    return x.astype(np.float32)


def _dequantize(y: np.ndarray, quantization: tuple[float, int]) -> np.ndarray:
    scale, zero = quantization
    return (y.astype(np.float32) - zero) * scale if scale else y.astype(np.float32)


class Embedder:
    """The frozen front network of a split model: ``frames`` speech-mel32 rows in, ``count``
    embeddings out, embedding i from rows ``hop * i`` on; calls advance ``count * hop``."""

    def __init__(self, path: Path, interpreter: Any, kwargs: dict[str, Any]) -> None:
        if not path.is_file():
            raise ModelError(f"{path} not found: the model's JSON says it is split in two, "
                             "and this is its front network")
        try:
            self._interp = interpreter(model_path=str(path), **kwargs)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{path} is not a valid TFLite model: {exc}") from exc
        (inp,), (out,) = self._interp.get_input_details(), self._interp.get_output_details()
        self._in, self._out = inp, out
        self.frames, self.width = int(inp["shape"][1]), int(inp["shape"][2])
        self.count, self.dim = int(out["shape"][1]), int(out["shape"][2])
        self.path = path
        self._lock = threading.Lock()  # one inference at a time, as the model's

    def run(self, rows: np.ndarray) -> np.ndarray:
        """Embeddings [count, dim] of ``frames`` rows [frames, width] (float)."""
        x = _quantize(rows, self._in["dtype"], self._in["quantization"])[None]
        with self._lock:
            self._interp.set_tensor(self._in["index"], x)
            self._interp.invoke()
            y = self._interp.get_tensor(self._out["index"])[0].copy()
        return _dequantize(y, self._out["quantization"])

    def embed(self, rows: np.ndarray, floor: np.ndarray, hop: int, count: int) -> np.ndarray:
        """``count`` embeddings of ``rows`` (quiet ``floor`` beyond its end), i from row hop*i."""
        out, start = [], 0
        while len(out) * self.count < count:
            x = rows[start : start + self.frames]
            if len(x) < self.frames:
                x = np.concatenate([x, np.repeat(floor[None], self.frames - len(x), 0)])
            out.append(self.run(x))
            start += self.count * hop
        return np.concatenate(out)[:count]


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

        def options() -> dict[str, Any]:
            if not delegate:
                return dict(kwargs)
            # On the board: the VX delegate of ST's X-LINUX-AI runs the graph on the NPU; one
            # delegate instance per interpreter (a split model has two).
            from tflite_runtime.interpreter import load_delegate

            return {**kwargs, "experimental_delegates": [load_delegate(delegate)]}

        try:
            self._interp = Interpreter(**options())
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{self.path} is not a valid TFLite model: {exc}") from exc
        out = self._interp.get_output_details()[0]
        self._out_index = out["index"]
        self._out_q = out["quantization"]
        self._lock = threading.Lock()  # a TFLite interpreter runs one inference at a time
        meta = self._load_meta()
        meta_path = self.path.with_suffix(".json")
        self.members = _members(meta.get("members", 1), int(out["shape"][-1]), meta_path)
        # One calibration per member (a list where there are several); none yet while the
        # factory checks a model it has not calibrated.
        calibrations = meta.get("calibration", [{}] * self.members)
        if not isinstance(calibrations, list):
            calibrations = [calibrations]
        if len(calibrations) != self.members:
            raise ModelError(f"{meta_path}: {len(calibrations)} calibrations for "
                             f"{self.members} member networks; expected one each")
        try:
            self.calibrations = [Calibration(**c) for c in calibrations]
        except TypeError as exc:
            raise ModelError(f"{meta_path}: calibration: {exc}") from None
        # How much less confidence a sentence needs where every member decoded it.
        self.agreement_bonus = _share("agreement_bonus", meta.get("agreement_bonus", 0.0),
                                      meta_path)
        self.threshold = _share("threshold", meta.get("threshold", FALLBACK_THRESHOLD),
                                meta_path)
        # How much less confidence a command needs in a noisy room: where the speech stands
        # less than ``noisy_below_db`` over the noise around it (features.speech_to_noise_db).
        # Absent: none, every room is judged alike.
        self.noise_allowance = _share("noise_allowance", meta.get("noise_allowance", 0.0),
                                      meta_path)
        self.noisy_below_db = _decibels("noisy_below_db", meta.get("noisy_below_db", 0.0),
                                        meta_path)
        # How much loud speech around the sentence a noisy room tolerates (the per-frame
        # shortfall of Hypothesis.outside): there the TV, not the speaker, is most of it.
        # Absent: the quiet room's limit (edgeasr.recognizer.OUTSIDE_LIMIT).
        self.noisy_outside_limit = _optional(
            "noisy_outside_limit", meta.get("noisy_outside_limit"), meta_path, -10.0, 0.0)
        # How clearly a sentence must beat its best rival one word away before anything is
        # sent (decoder.RivalScorer). Absent: no such rule.
        self.rival_limit = _optional("rival_limit", meta.get("rival_limit"), meta_path, 0.0,
                                     10.0)
        self.frontend = str(meta.get("frontend", "logmel40"))
        try:
            self.features = frontend(self.frontend)
        except ValueError as exc:
            raise ModelError(f"{self.path.with_suffix('.json')}: {exc}") from None
        self.left, self.right = (int(v) for v in meta.get("context", (0, 0)))
        self.window = int(out["shape"][1]) * SUBSAMPLING
        self.embedder = (Embedder(self.embedder_path(self.path), Interpreter,
                                  {k: v for k, v in options().items() if k != "model_path"})
                         if meta.get("embedder") else None)
        self._inputs = self._map_inputs()

    @property
    def calibration(self) -> Calibration:
        """The first (for a single network, the only) member's calibration."""
        return self.calibrations[0]

    @staticmethod
    def embedder_path(model: Path) -> Path:
        """Where a split model's front network lives: beside it, ``NAME.embedder.tflite``."""
        return model.with_suffix(".embedder.tflite")

    @staticmethod
    def graph_files(model: Path) -> list[Path]:
        """The TFLite graphs that make up ``model``: itself and, for a split model, its
        front network where it lies beside it (what a size budget counts)."""
        embedder = AcousticModel.embedder_path(model)
        return [model, embedder] if embedder.is_file() else [model]

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
            e = self.embedder
            if e is not None and width == e.dim:
                if self.window % rows or len(cols.get(e.width, [])) != 1:
                    raise ModelError(f"{self.path}: an embeddings input of {rows} rows does "
                                     f"not divide the window of {self.window} frames, or "
                                     f"{e.path} takes no part of {self.frontend!r}")
                inputs.append(_Input(d["index"], d["dtype"], d["quantization"],
                                     cols[e.width][0], 0, rows, embeddings=True))
                continue
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

    def quantized_inputs(self, chunk: np.ndarray,
                         embeddings: np.ndarray | None = None) -> list[tuple[int, np.ndarray]]:
        """(tensor index, value) of every model input for one chunk of features; a split
        model's embeddings of the chunk are computed unless given."""
        out = []
        for i in self._inputs:
            if i.embeddings:
                x = embeddings if embeddings is not None else self._embed(chunk, i.rows)
            else:
                x = chunk[i.first : i.first + i.rows, i.columns[0] : i.columns[1]]
            out.append((i.index, _quantize(x, i.dtype, i.quantization)[None]))
        return out

    def _embed(self, rows: np.ndarray, count: int,
               floor: np.ndarray | None = None) -> np.ndarray:
        """``count`` embeddings of feature rows (their speech-mel32 columns), one every
        ``window / count`` rows from the first on; ``floor`` (full width) beyond the end."""
        assert self.embedder is not None
        i = self._emb_input()
        speech = rows[:, i.columns[0] : i.columns[1]]
        quiet = pad_floor(rows if floor is None else floor[None])[i.columns[0] : i.columns[1]]
        return self.embedder.embed(speech, quiet, self.window // i.rows, count)

    def _emb_input(self) -> _Input:
        return next(i for i in self._inputs if i.embeddings)

    def _run(self, chunk: np.ndarray, embeddings: np.ndarray | None = None) -> np.ndarray:
        with self._lock:
            for index, x in self.quantized_inputs(chunk, embeddings):
                self._interp.set_tensor(index, x)
            self._interp.invoke()
            y = self._interp.get_tensor(self._out_index)[0].copy()
        return _dequantize(y, self._out_q)

    def _layout(self, feats: np.ndarray
                ) -> tuple[np.ndarray, list[tuple[int, int, int]], np.ndarray]:
        """``feats`` padded (quiet edges, the front network's context, a whole last window),
        the windows over it (first row, first and end output row to keep), the quiet floor."""
        floor = pad_floor(feats)
        n = len(feats) + 2 * EDGE
        w = self.window
        full = w + self.left + self.right
        windows = []
        if n < w:
            windows.append((0, 0, w // SUBSAMPLING))
        else:
            step, start = w - 2 * CONTEXT, 0
            while True:
                lo = 0 if start == 0 else CONTEXT // SUBSAMPLING
                last = start + w >= n
                windows.append((start, lo, w // SUBSAMPLING if last
                                else (w - CONTEXT) // SUBSAMPLING))
                if last:
                    break
                start += step
        # Quiet floor beyond the ends: the padding, the front network's context, the rest of
        # the last window.
        before = EDGE + self.left
        after = windows[-1][0] + full - before - len(feats)
        padded = np.concatenate([np.repeat(floor[None], before, 0), feats,
                                 np.repeat(floor[None], after, 0)])
        return padded, windows, floor

    def chunks(self, feats: np.ndarray) -> Iterator[tuple[np.ndarray, int, int]]:
        """The model's input chunks for ``feats``, each with the rows of its output to keep."""
        padded, windows, _ = self._layout(feats)
        full = self.window + self.left + self.right
        for start, lo, hi in windows:
            yield padded[start : start + full], lo, hi

    def logits(self, feats: np.ndarray, lead: bool = False) -> np.ndarray:
        """Phone logits, one row per 20 ms of ``feats``; with ``lead``, after the
        ``LEAD_FRAMES`` rows of the quiet padding before them."""
        n_out = (len(feats) + SUBSAMPLING - 1) // SUBSAMPLING
        start = 0 if lead else LEAD_FRAMES
        if self.embedder is None:
            pieces = [self._run(chunk)[lo:hi] for chunk, lo, hi in self.chunks(feats)]
        else:  # each embedding once; window at row r takes those from r / hop on
            padded, windows, floor = self._layout(feats)
            rows = self._emb_input().rows
            hop = self.window // rows
            emb = self._embed(padded, windows[-1][0] // hop + rows, floor)
            full = self.window + self.left + self.right
            pieces = [self._run(padded[r : r + full], emb[r // hop : r // hop + rows])[lo:hi]
                      for r, lo, hi in windows]
        return np.concatenate(pieces)[start : LEAD_FRAMES + n_out]

    def member_log_probs(self, feats: np.ndarray, lead: bool = False) -> list[np.ndarray]:
        """Each member network's phone log-probabilities (see ``logits``)."""
        return [log_softmax(z) for z in np.split(self.logits(feats, lead), self.members, axis=1)]

    def log_probs(self, feats: np.ndarray, lead: bool = False) -> np.ndarray:
        """The first (for a single network, the only) member's phone log-probabilities."""
        return self.member_log_probs(feats, lead)[0]


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return (z - np.log(np.exp(z).sum(axis=1, keepdims=True))).astype(np.float32)
