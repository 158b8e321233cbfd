"""Full-integer int8 TFLite export, and the graph checks that keep it NPU-friendly."""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

from edgeasr.features import pad_floor
from factory.train import ModelShape, build_model

log = logging.getLogger(__name__)

# Ops ST's X-LINUX-AI NPU stack runs (see models/MODEL_CARD.md for the source).
NPU_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "RESHAPE",
           "SOFTMAX", "LOGISTIC", "AVERAGE_POOL_2D", "MAX_POOL_2D", "CONCATENATION"}
WINDOW = 400  # feature frames per inference window (4 s); static shape


def to_tflite(model: tf.keras.Model, shape: ModelShape, calibration: list[np.ndarray]) -> bytes:
    """Quantise with per-tensor int8 weights and activations, int8 input and output."""
    fixed = build_model(shape, WINDOW)
    fixed.set_weights(model.get_weights())

    def representative():
        for f in calibration:
            f = f.astype(np.float32)
            if len(f) < WINDOW:
                f = np.concatenate([f, np.repeat(pad_floor(f)[None], WINDOW - len(f), 0)])
            yield [f[None, :WINDOW]]

    conv = tf.lite.TFLiteConverter.from_keras_model(fixed)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    # Per-tensor quantisation: the NPU's int8 kernels want one scale per tensor.
    conv._experimental_disable_per_channel = True
    return conv.convert()


def graph_report(tflite: bytes) -> list[dict]:
    """Every op with its tensor types, from the flatbuffer via TFLite's own analyser."""
    interp = tf.lite.Interpreter(model_content=tflite)
    details = interp._get_ops_details()
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    ops = []
    for op in details:
        types = sorted({str(np.dtype(tensors[i]["dtype"]).name)
                        for i in list(op["inputs"]) + list(op["outputs"]) if i in tensors})
        ops.append({"op": op["op_name"], "types": types, "npu": op["op_name"] in NPU_OPS})
    return ops
