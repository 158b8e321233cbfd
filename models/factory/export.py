"""Full-integer int8 TFLite export, and the graph checks that keep it NPU-friendly."""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

from edgeasr.features import N_MELS, SPEECH_MELS, pad_floor
from factory.train import (
    ModelShape,
    build_ensemble,
    build_head,
    build_hybrid,
    build_model,
    is_side_by_side,
)

log = logging.getLogger(__name__)

# Ops the NPU path of ST's X-LINUX-AI runs: the TFLite VX delegate maps these builtins to
# the VeriSilicon NPU (its op table: github.com/VeriSilicon/tflite-vx-delegate, op_map.cc,
# REGISTER_OP_MAPPER list). Only the ones our graphs can contain are listed.
NPU_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "RESHAPE",
           "SOFTMAX", "LOGISTIC", "AVERAGE_POOL_2D", "MAX_POOL_2D", "CONCATENATION",
           "LEAKY_RELU", "MAXIMUM", "PAD", "STRIDED_SLICE"}
WINDOW = 400  # feature frames per inference window (4 s); static shape
# Strides of the frozen network per call of a split model's embedder (each stride: one
# embedding per phase). 50: a call embeds one window's 4 s from its 4.8 s of frames, so a
# lone command costs one call, as in one graph; over longer audio, a call adds 4 s of
# embeddings (fewer steps per call would cost more per second: each call's 0.8 s of context
# is computed again by the next).
EMBEDDER_STEPS = 50


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


def embedder_model(cache, phases: int = 2,
                   steps: int = EMBEDDER_STEPS) -> tf.keras.Model:
    """The frozen network alone at ``phases`` offsets: [1, 8 * steps + 80, 32] speech-mel32
    frames -> [1, steps * phases, 96] embeddings, embedding i from input rows 4i..4i+75
    (two phases). Consecutive calls advance ``8 * steps`` frames."""
    from factory import embedding

    frames = embedding.STRIDE * steps + embedding.EXTRA
    backbone = embedding.build_backbone(cache)
    inp = tf.keras.Input((frames, SPEECH_MELS), batch_size=1, name="speech_features")
    return tf.keras.Model(inp, embedding.phased(backbone, inp, frames, phases))


def head_model(trained: tf.keras.Model, shape: ModelShape, phases: int = 2) -> tf.keras.Model:
    """The trained part of a hybrid with static shapes: log-mel [1, WINDOW, 40] and the
    window's embeddings [1, WINDOW / hop, 96] in, phone logits out."""
    from factory import embedding

    hop = embedding.hop_frames(phases)
    members = sum(isinstance(layer, tf.keras.Model) for layer in trained.layers)
    fixed = (build_ensemble(shape, members, WINDOW, emb_hop=hop,
                            side_by_side=is_side_by_side(trained)) if members
             else build_hybrid(shape, WINDOW, emb_hop=hop))
    fixed.set_weights(trained.get_weights())
    return fixed


def _convert(model: tf.keras.Model, representative) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    # Per-tensor quantisation: the NPU's int8 kernels want one scale per tensor.
    conv._experimental_disable_per_channel = True
    return conv.convert()


def to_tflite_split(trained: tf.keras.Model, shape: ModelShape,
                    calibration: list[np.ndarray], cache, phases: int = 2) -> tuple[bytes, bytes]:
    """A hybrid as two int8 graphs: the trained part (the model) and the frozen network (its
    embedder). The runtime computes each embedding of an utterance once and gives every
    window its slice; in one graph every window recomputed the 1.6 s of embeddings it shares
    with the window before."""
    from factory import embedding

    embedder = embedder_model(cache, phases)
    frames_e = int(embedder.inputs[0].shape[1])
    hop = embedding.hop_frames(phases)
    # The embeddings one window needs come from its WINDOW + EXTRA speech-mel32 frames.
    window_frames = WINDOW + embedding.EXTRA
    window_embedder = embedder_model(cache, phases, WINDOW // embedding.STRIDE)

    def padded(f: np.ndarray, frames: int) -> np.ndarray:
        f = f.astype(np.float32)
        if len(f) < frames:
            f = np.concatenate([f, np.repeat(pad_floor(f)[None], frames - len(f), 0)])
        return f[:frames]

    def embedder_data():
        for f in calibration:
            yield [padded(f[:, N_MELS:], frames_e)[None]]

    def head_data():
        from factory.embedding import LEFT

        for f in calibration:
            f = padded(f, window_frames)
            emb = window_embedder(f[None, :, N_MELS:], training=False).numpy()
            yield {"features": f[None, LEFT : LEFT + WINDOW, :N_MELS],
                   "embeddings": emb[:, : WINDOW // hop]}

    head = _convert(head_model(trained, shape, phases), head_data)
    return head, _convert(embedder, embedder_data)


def to_tflite(model: tf.keras.Model, shape: ModelShape, calibration: list[np.ndarray],
              cache=None, phases: int = 4) -> bytes:
    """Quantise with per-tensor int8 weights and activations, int8 input and output.

    With ``cache`` (where the pretrained network lives), ``model`` is a head trained on
    speech_embedding outputs and the export puts the frozen network in front of it. A hybrid
    (log-mel beside the embeddings) is exported as two graphs: ``to_tflite_split``.
    """
    if len(model.inputs) == 2:
        raise ValueError("a hybrid network exports as two graphs: use to_tflite_split")
    if cache is not None:
        fixed = embedding_model(model, shape, cache, phases)
    else:
        fixed = build_model(shape, WINDOW)
        fixed.set_weights(model.get_weights())
    frames = max(int(i.shape[1]) for i in fixed.inputs)

    def representative():
        for f in calibration:
            f = f.astype(np.float32)
            if len(f) < frames:
                f = np.concatenate([f, np.repeat(pad_floor(f)[None], frames - len(f), 0)])
            yield [f[None, :frames]]

    return _convert(fixed, representative)


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
