"""Full-integer int8 TFLite export, and the graph checks that keep it NPU-friendly."""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

from edgeasr.features import N_MELS, SPEECH_MELS, pad_floor
from factory.train import ModelShape, build_head, build_hybrid, build_model

log = logging.getLogger(__name__)

# Ops the NPU path of ST's X-LINUX-AI runs: the TFLite VX delegate maps these builtins to
# the VeriSilicon NPU (its op table: github.com/VeriSilicon/tflite-vx-delegate, op_map.cc,
# REGISTER_OP_MAPPER list). Only the ones our graphs can contain are listed.
NPU_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "RESHAPE",
           "SOFTMAX", "LOGISTIC", "AVERAGE_POOL_2D", "MAX_POOL_2D", "CONCATENATION",
           "LEAKY_RELU", "MAXIMUM", "PAD", "STRIDED_SLICE"}
WINDOW = 400  # feature frames per inference window (4 s); static shape


def embedding_model(head: tf.keras.Model, shape: ModelShape, cache,
                    phases: int = 4) -> tf.keras.Model:
    """Frozen speech_embedding (``phases`` offsets) + trained head, one static graph."""
    from factory import embedding

    frames = WINDOW + embedding.EXTRA
    backbone = embedding.build_backbone(cache)
    inp = tf.keras.Input((frames, SPEECH_MELS), batch_size=1, name="features")
    emb = embedding.phased(backbone, inp, frames, phases)
    up = embedding.PHASES // phases
    fixed = build_head(shape, WINDOW // 2 // up, up=up)
    fixed.set_weights(head.get_weights())
    return tf.keras.Model(inp, fixed(emb))


def hybrid_model(trained: tf.keras.Model, shape: ModelShape, cache,
                 phases: int = 2) -> tf.keras.Model:
    """Log-mel input + speech-mel32 input (with the frozen network at ``phases`` offsets in
    front of the trained part), one static graph with two inputs."""
    from factory import embedding

    frames = WINDOW + embedding.EXTRA
    backbone = embedding.build_backbone(cache)
    # The representative data names its inputs: the converted graph orders them its own way.
    mels = tf.keras.Input((WINDOW, N_MELS), batch_size=1, name="features")
    speech = tf.keras.Input((frames, SPEECH_MELS), batch_size=1, name="speech_features")
    emb = embedding.phased(backbone, speech, frames, phases)
    fixed = build_hybrid(shape, WINDOW, emb_hop=embedding.hop_frames(phases))
    fixed.set_weights(trained.get_weights())
    return tf.keras.Model([mels, speech], fixed([mels, emb]))


def to_tflite(model: tf.keras.Model, shape: ModelShape, calibration: list[np.ndarray],
              cache=None, phases: int = 4) -> bytes:
    """Quantise with per-tensor int8 weights and activations, int8 input and output.

    With ``cache`` (where the pretrained network lives), ``model`` is a head trained on
    speech_embedding outputs (or a hybrid with a log-mel input beside them) and the export
    puts the frozen network in front of it.
    """
    hybrid = len(model.inputs) == 2
    if hybrid:
        fixed = hybrid_model(model, shape, cache, phases)
    elif cache is not None:
        fixed = embedding_model(model, shape, cache, phases)
    else:
        fixed = build_model(shape, WINDOW)
        fixed.set_weights(model.get_weights())
    frames = max(int(i.shape[1]) for i in fixed.inputs)

    def representative():
        from factory.embedding import LEFT

        for f in calibration:
            f = f.astype(np.float32)
            if len(f) < frames:
                f = np.concatenate([f, np.repeat(pad_floor(f)[None], frames - len(f), 0)])
            if hybrid:  # log-mel columns without the context; speech-mel32 with it
                yield {"features": f[None, LEFT : LEFT + WINDOW, :N_MELS],
                       "speech_features": f[None, :frames, N_MELS:]}
            else:
                yield [f[None, :frames]]

    conv = tf.lite.TFLiteConverter.from_keras_model(fixed)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    # Per-tensor quantisation: the NPU's int8 kernels want one scale per tensor.
    conv._experimental_disable_per_channel = True
    return conv.convert()


def input_shape(tflite: bytes) -> list[list[int]]:
    """Every input's shape (a hybrid model has one per front end)."""
    interp = tf.lite.Interpreter(model_content=tflite)
    return [[int(d) for d in i["shape"]] for i in interp.get_input_details()]


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
