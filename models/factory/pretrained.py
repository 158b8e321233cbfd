"""The pretrained speech_embedding network, taken from the openWakeWord 0.4.0 wheel on PyPI.

Google's speech_embedding (Apache-2.0; arXiv:2002.01322) was trained on large amounts of
real speech. openWakeWord 0.4.0 ships it as ``embedding_model.onnx``; later wheels ship no
models. The wheel is fetched once with pip (PyPI is reachable from the factory machines),
checked against a pinned SHA-256 and only that one file is read from it. The wake-word
heads in the same folder are CC BY-NC-SA and are never extracted.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

WHEEL = "openwakeword-0.4.0-py3-none-any.whl"
WHEEL_SHA256 = "2c353f49a35d384507403efde3db439353d8281a52d08a0e42a5b493e5145075"
MEMBER = "openwakeword/resources/models/embedding_model.onnx"


class PretrainedError(RuntimeError):
    """The pretrained network could not be fetched or is not the expected file."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def embedding_onnx(cache: Path) -> Path:
    """Path of ``embedding_model.onnx`` under ``cache``, fetching the wheel when needed."""
    out = cache / "speech_embedding.onnx"
    if not out.is_file():
        out.write_bytes(wheel_member(cache, MEMBER))
    return out


def wheel_member(cache: Path, member: str) -> bytes:
    """One file of the checked openWakeWord wheel (fetched into ``cache`` when needed)."""
    cache.mkdir(parents=True, exist_ok=True)
    wheel = cache / WHEEL
    if not wheel.is_file():
        log.info("fetching %s from PyPI (9 MB, once)", WHEEL)
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
             "-d", str(cache), "openwakeword==0.4.0"], capture_output=True, text=True)
        if proc.returncode or not wheel.is_file():
            raise PretrainedError(f"pip download openwakeword==0.4.0 failed: "
                                  f"{proc.stderr.strip()[-400:]}")
    if _sha256(wheel) != WHEEL_SHA256:
        raise PretrainedError(f"{wheel} has SHA-256 {_sha256(wheel)}, expected {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(member)


def load_weights(path: Path) -> list[tuple[str, list[np.ndarray]]]:
    """The network's layers in order, as (kind, arrays) with Keras (NHWC) weight layouts.

    Kinds: ``conv`` (kernel[, bias]), ``bn`` (gamma, beta, mean, var), ``pool_tf`` (2x2
    pooling over time and frequency) and ``pool_f`` (1x2, frequency only). Activations
    (ReLU, LeakyReLU 0.2, max with -0.4) follow a fixed pattern that ``embedding`` builds.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    layers: list[tuple[str, list[np.ndarray]]] = []
    for node in model.graph.node:
        if node.op_type == "Conv":
            arrays = [init[name] for name in node.input[1:] if name in init]
            arrays[0] = arrays[0].transpose(2, 3, 1, 0)  # [out,in,h,w] -> [h,w,in,out]
            layers.append(("conv", arrays))
        elif node.op_type == "BatchNormalization":
            layers.append(("bn", [init[name] for name in node.input[1:]]))
        elif node.op_type == "MaxPool":
            kernel = [a.ints for a in node.attribute if a.name == "kernel_shape"][0]
            layers.append(("pool_tf" if kernel[0] == 2 else "pool_f", []))
    if sum(kind == "conv" for kind, _ in layers) != 20:
        raise PretrainedError(f"{path} is not the speech_embedding network (expected 20 convs)")
    return layers
