"""The frozen speech_embedding network in Keras, run at a 20 ms stride.

The network maps 76 frames (775 ms) of ``speech-mel32`` features to one 96-d embedding and,
run over a longer input, strides 8 frames (80 ms). Four copies of the input offset by 0, 2,
4 and 6 frames give one embedding every 20 ms, the phone model's rate; interleaving them is
a concatenate + reshape, so the whole thing stays in ops the NPU runs (slices, convs,
pools, leaky ReLU, maximum). Two copies (offsets 0 and 4: one embedding every 40 ms) cost
half as much; the head then predicts two 20 ms frames per embedding. The weights are never
trained here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

from edgeasr.features import SPEECH_MELS  # noqa: E402
from factory.pretrained import embedding_onnx, load_weights  # noqa: E402

WINDOW = 76  # frames the network needs for one embedding
STRIDE = 8  # frames between embeddings when it runs over a longer input
PHASES = 4  # offsets of 2 frames: one embedding per 20 ms
DIM = 96
LEFT = WINDOW // 2  # output i is centred on input frame 2*i + LEFT
EXTRA = WINDOW - 2 + (PHASES - 1) * 2  # input frames beyond 2 per output: 80


def hop_frames(phases: int) -> int:
    """Input frames (10 ms) between embeddings at ``phases`` offsets per stride (4: 2 frames,
    every 20 ms; 2: 4, every 40 ms; 1: 8, every 80 ms)."""
    if phases not in (1, 2, 4):
        raise ValueError(f"phases {phases}: expected 1, 2 or 4")
    return STRIDE // phases


def _floor_leaky(x: tf.Tensor) -> tf.Tensor:
    return tf.maximum(tf.nn.leaky_relu(x, alpha=0.2), -0.4)


def build_backbone(cache: Path, name: str = "speech_embedding") -> tf.keras.Model:
    """[batch, frames, 32] -> [batch, (frames - 76) // 8 + 1, 96], weights frozen."""
    layers = load_weights(embedding_onnx(cache))
    inp = tf.keras.Input((None, SPEECH_MELS))
    x = tf.keras.layers.Reshape((-1, SPEECH_MELS, 1))(inp)
    x = tf.keras.layers.ZeroPadding2D(((0, 0), (1, 1)))(x)
    pending: list[tuple[tf.keras.layers.Layer, list[np.ndarray]]] = []
    convs = [i for i, (kind, _) in enumerate(layers) if kind == "conv"]
    for i, (kind, arrays) in enumerate(layers):
        if kind == "conv":
            kernel = arrays[0]
            freq_only = kernel.shape[0] == 1
            layer = tf.keras.layers.Conv2D(
                kernel.shape[3], kernel.shape[:2], use_bias=len(arrays) > 1,
                padding="same" if freq_only else "valid", trainable=False)
            x = layer(x)
            pending.append((layer, arrays))
            first, last = i == convs[0], i == convs[-1]
            if first:
                x = tf.keras.layers.ReLU()(x)
            elif not last:
                x = tf.keras.layers.Lambda(_floor_leaky)(x)
        elif kind == "bn":
            layer = tf.keras.layers.BatchNormalization(epsilon=1e-3, trainable=False)
            x = layer(x, training=False)
            pending.append((layer, arrays))
            x = tf.keras.layers.Lambda(_floor_leaky)(x)
        elif kind == "pool_tf":
            x = tf.keras.layers.MaxPool2D((2, 2))(x)
        else:
            x = tf.keras.layers.MaxPool2D((1, 2))(x)
    x = tf.keras.layers.Reshape((-1, DIM))(x)
    model = tf.keras.Model(inp, x, name=name)
    for layer, arrays in pending:
        layer.set_weights(arrays)
    model.trainable = False
    return model


def phased(backbone: tf.keras.Model, x: tf.Tensor, frames: int,
           phases: int = PHASES) -> tf.Tensor:
    """[1, frames, 32] -> [1, (frames - EXTRA) // 2 * phases // PHASES, 96].

    Embeddings every 20 ms with four phases, every 40 ms with two (phases 0 and 2 of four).
    """
    steps = (frames - EXTRA) // 2 // PHASES
    span = (steps - 1) * STRIDE + WINDOW  # each phase yields exactly ``steps`` embeddings
    hop = hop_frames(phases)
    outs = []
    for p in range(phases):
        part = tf.keras.layers.Cropping1D((hop * p, frames - span - hop * p))(x)
        e = backbone(part, training=False)
        outs.append(tf.keras.layers.Reshape((steps, 1, DIM))(e))
    y = tf.keras.layers.Concatenate(axis=2)(outs)
    return tf.keras.layers.Reshape((-1, DIM))(y)


def padded_length(n_out: int, phases: int = PHASES) -> int:
    """Input frames that yield at least ``n_out`` embeddings (a whole number of strides)."""
    steps = -(-n_out // phases)
    return (steps - 1) * STRIDE + WINDOW + (phases - 1) * hop_frames(phases)


class Embedder:
    """Embeddings for whole utterances (training data), one batch row per phase: every 20 ms
    with four phases, every 40 ms with two."""

    def __init__(self, cache: Path, phases: int = PHASES) -> None:
        self.phases = phases
        self.backbone = build_backbone(cache)
        self._run = tf.function(self.backbone, reduce_retracing=True,
                                input_signature=[tf.TensorSpec([None, None, SPEECH_MELS])])

    def __call__(self, feats: np.ndarray, floor: np.ndarray) -> np.ndarray:
        """[frames, 32] -> [ceil(frames / h), 96], output i centred on frame h*i, where
        h = 8 / phases (2: every 20 ms; 4: every 40 ms)."""
        return self.many([(feats, floor)])[0]

    def many(self, utterances: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """Each (features, quiet floor) utterance's embeddings as ``__call__`` gives them, in
        one batch: the network sees each utterance alone (its own floor pads it to the
        longest), and one call does for several what it did for one, about 15 % sooner."""
        hop = hop_frames(self.phases)
        n_outs = [-(-len(feats) // hop) for feats, _ in utterances]
        total = max(padded_length(n, self.phases) for n in n_outs)
        span = total - (self.phases - 1) * hop
        rows = []
        for feats, floor in utterances:
            right = total - LEFT - len(feats)
            x = np.concatenate([np.repeat(floor[None], LEFT, 0), feats,
                                np.repeat(floor[None], right, 0)]).astype(np.float32)
            rows += [x[hop * p : hop * p + span] for p in range(self.phases)]
        e = self._run(tf.constant(np.stack(rows))).numpy()  # [utterances * phases, steps, 96]
        e = e.reshape(len(utterances), self.phases, -1, DIM)
        return [u.transpose(1, 0, 2).reshape(-1, DIM)[:n] for u, n in zip(e, n_outs,
                                                                           strict=True)]
