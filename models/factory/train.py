"""The acoustic model and its CTC training loop (TensorFlow/Keras, CPU).

The network is a stack of depthwise-separable 1-D convolutions written as Conv2D over a
[time, 1, mel] tensor, so every op maps to the STM32MP257 NPU (CONV_2D, DEPTHWISE_CONV_2D,
ADD, RESHAPE); batch norm folds into the convolutions at export.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402
from tqdm import tqdm  # noqa: E402

from edgeasr.features import N_MELS, pad_floor  # noqa: E402
from edgeasr.lexicon import N_OUTPUTS  # noqa: E402
from factory.dataset import Example  # noqa: E402
from factory.embedding import hop_frames  # noqa: E402

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelShape:
    channels: int
    blocks: int
    kernel: int


def _residual_blocks(x: tf.Tensor, shape: ModelShape) -> tf.Tensor:
    """Depthwise-separable residual blocks over time: the body of both network kinds."""
    for _ in range(shape.blocks):
        y = tf.keras.layers.DepthwiseConv2D((shape.kernel, 1), padding="same", use_bias=False)(x)
        y = tf.keras.layers.BatchNormalization()(y)
        y = tf.keras.layers.ReLU(6.0)(y)
        y = tf.keras.layers.Conv2D(shape.channels, 1, use_bias=False)(y)
        y = tf.keras.layers.BatchNormalization()(y)
        y = tf.keras.layers.ReLU(6.0)(y)
        x = tf.keras.layers.Add()([x, y])
    return x


def build_model(shape: ModelShape, frames: int | None = None) -> tf.keras.Model:
    # A fixed-size model (for export) has batch 1 and static shapes throughout.
    inp = tf.keras.Input((frames, N_MELS), batch_size=1 if frames else None, name="features")
    x = tf.keras.layers.Reshape((-1 if frames is None else frames, 1, N_MELS))(inp)
    x = tf.keras.layers.Conv2D(shape.channels, (5, 1), strides=(2, 1), padding="same",
                               use_bias=False)(x)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.ReLU(6.0)(x)
    x = _residual_blocks(x, shape)
    x = tf.keras.layers.Conv2D(N_OUTPUTS, 1, name="phone_logits")(x)
    out = tf.keras.layers.Reshape((frames // 2 if frames else -1, N_OUTPUTS))(x)
    return tf.keras.Model(inp, out)


def build_head(shape: ModelShape, frames: int | None = None, dim: int = 96,
               up: int = 1) -> tf.keras.Model:
    """The trained part behind the frozen speech_embedding: [T, 96] -> [T * up, phones].

    ``up`` > 1 for embeddings sparser than 20 ms: the last convolution predicts ``up``
    consecutive 20 ms frames per embedding and a reshape lays them out in time.
    """
    inp = tf.keras.Input((frames, dim), batch_size=1 if frames else None, name="embeddings")
    x = tf.keras.layers.Reshape((-1 if frames is None else frames, 1, dim))(inp)
    x = tf.keras.layers.Conv2D(shape.channels, 1, use_bias=False)(x)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.ReLU(6.0)(x)
    x = _residual_blocks(x, shape)
    x = tf.keras.layers.Conv2D(N_OUTPUTS * up, 1, name="phone_logits")(x)
    out = tf.keras.layers.Reshape((frames * up if frames else -1, N_OUTPUTS))(x)
    return tf.keras.Model(inp, out)


def build_hybrid(shape: ModelShape, frames: int | None = None, dim: int = 96,
                 emb_hop: int = 4) -> tf.keras.Model:
    """Log-mel network and speech_embedding head in one: both views of the audio meet after
    the first layer and one CTC output (one timing) is learned from them together.

    Inputs: log-mel [T, 40] every 10 ms and embeddings [T / emb_hop, 96], one every
    ``emb_hop`` log-mel frames (4: two phases of the frozen network, every 40 ms; 8: one
    phase, every 80 ms, half its operations); output [T / 2, phones] every 20 ms. Each
    embedding becomes ``emb_hop / 2`` 20 ms frames (a 1x1 convolution to that many times the
    channels, then a reshape), added to the strided log-mel convolution's output.
    """
    per = emb_hop // 2
    batch = 1 if frames else None
    inp = tf.keras.Input((frames, N_MELS), batch_size=batch, name="features")
    emb = tf.keras.Input((frames // emb_hop if frames else None, dim), batch_size=batch,
                         name="embeddings")
    x = tf.keras.layers.Reshape((-1 if frames is None else frames, 1, N_MELS))(inp)
    x = tf.keras.layers.Conv2D(shape.channels, (5, 1), strides=(2, 1), padding="same",
                               use_bias=False)(x)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.ReLU(6.0)(x)
    e = tf.keras.layers.Reshape((-1 if frames is None else frames // emb_hop, 1, dim))(emb)
    e = tf.keras.layers.Conv2D(per * shape.channels, 1, use_bias=False)(e)
    e = tf.keras.layers.BatchNormalization()(e)
    e = tf.keras.layers.ReLU(6.0)(e)
    e = tf.keras.layers.Reshape((-1 if frames is None else frames // 2, 1, shape.channels))(e)
    x = tf.keras.layers.Add()([x, e])
    x = _residual_blocks(x, shape)
    x = tf.keras.layers.Conv2D(N_OUTPUTS, 1, name="phone_logits")(x)
    out = tf.keras.layers.Reshape((frames // 2 if frames else -1, N_OUTPUTS))(x)
    return tf.keras.Model([inp, emb], out)


def _join(side_by_side: bool) -> tf.keras.layers.Layer:
    """How an ensemble's members' phone logits become its output: averaged, or side by side
    (the runtime decodes each member and acts where they agree)."""
    return tf.keras.layers.Concatenate(axis=-1) if side_by_side else tf.keras.layers.Average()


def build_ensemble(shape: ModelShape, members: int, frames: int | None = None, dim: int = 96,
                   emb_hop: int = 4, side_by_side: bool = False) -> tf.keras.Model:
    """``members`` hybrids on the same two inputs, their phone logits averaged or side by
    side: networks trained apart make different mistakes, and the frozen network they share
    runs once."""
    batch = 1 if frames else None
    inp = tf.keras.Input((frames, N_MELS), batch_size=batch, name="features")
    emb = tf.keras.Input((frames // emb_hop if frames else None, dim), batch_size=batch,
                         name="embeddings")
    outs = [build_hybrid(shape, frames, dim, emb_hop)([inp, emb]) for _ in range(members)]
    return tf.keras.Model([inp, emb], _join(side_by_side)(outs))


def is_side_by_side(model: tf.keras.Model) -> bool:
    """Whether an ensemble puts its members' logits side by side (``join``)."""
    return isinstance(model.layers[-1], tf.keras.layers.Concatenate)


def join(members: list[tf.keras.Model], side_by_side: bool = False) -> tf.keras.Model:
    """Trained hybrids (same inputs) as one ensemble, built as ``build_ensemble`` builds it."""
    inp, emb = (tf.keras.Input(t.shape[1:], batch_size=t.shape[0], name=t.name.split(":")[0])
                for t in members[0].inputs)
    return tf.keras.Model([inp, emb], _join(side_by_side)([m([inp, emb]) for m in members]))


# Quiet floor frames (10 ms) a preset may put before each utterance when its embeddings are
# computed; training then keeps a random whole number of embedding steps of it (0-400 ms;
# 40 ms steps with two phases, 80 ms with one) in front of both inputs. The runtime puts
# 300 ms of quiet in front (edgeasr.acoustic.EDGE); a network that only ever saw speech start
# at the same place learned to emit the first word at the start of its input, wherever it
# was spoken (v8-hybrid: "please" in its first four rows).
LEAD_PAD = 40
EMB_HOP = hop_frames(2)  # log-mel frames per embedding (two phases of the frozen network)


def spec_augment(x: np.ndarray, rng: np.random.Generator, max_span: int = 12) -> np.ndarray:
    """Mask two feature bands and a few short time spans (SpecAugment): robustness to noise."""
    x = x.copy()
    floor = x.min(axis=0)
    for _ in range(2):
        w = int(rng.integers(0, 7))
        f = int(rng.integers(0, x.shape[1] - w + 1))
        x[:, f : f + w] = floor[f : f + w]
    for _ in range(max(1, len(x) // 150)):
        w = int(rng.integers(0, max_span))
        t = int(rng.integers(0, max(1, len(x) - w)))
        x[t : t + w] = floor
    return x


def is_hybrid(examples: list[Example]) -> bool:
    """Whether the examples carry the frozen network's embeddings (all must, or none)."""
    kinds = {e.extra is not None for e in examples}
    if len(kinds) > 1:
        raise ValueError("training examples mix utterances with and without embeddings")
    return kinds == {True}


def _batches(examples: list[Example], batch_frames: int, rng: np.random.Generator,
             augment: bool = False, sub: int = 2, up: int = 1, lead: int = 0,
             hop: int = EMB_HOP, drop_view: float = 0.0, teacher: bool = False,
             floors: list[np.ndarray] | None = None):
    """Batches of padded inputs, labels and lengths; ``lead``: hybrid examples get a random
    0-``lead`` frames of quiet in front (their cached embeddings start that early), in
    steps of ``hop`` frames, their embeddings' spacing; ``drop_view``: the chance that a
    hybrid example's log-mel input, and again its embeddings, hear only their quiet floor
    (never both), so each view must carry the sentence alone; ``teacher``: each batch also
    carries the examples' teacher targets, one row per output frame, placed where the
    utterance is, and a mask that is 1 on those rows. ``floors``: each example's
    ``pad_floor`` of its features (``floors_of``), which every epoch would otherwise compute
    again: in a trainer with one core, most of the time it took to make a batch."""
    if floors is None:
        floors = floors_of(examples)
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].feats))
    batches, cur, longest = [], [], 0
    for i in order:
        n = len(examples[i].feats)
        if cur and max(longest, n) * (len(cur) + 1) > batch_frames:
            batches.append(cur)
            cur, longest = [], 0
        cur.append(i)
        longest = max(longest, n)
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    hybrid = is_hybrid(examples)
    for b in batches:
        # Hybrid: steps of quiet (one embedding each) in front, a random number of them.
        front = {i: int(rng.integers(0, lead // hop + 1)) * hop
                 if hybrid and lead else 0 for i in b}
        t = max(len(examples[i].feats) + front[i] for i in b)
        t += (-t) % (hop if hybrid else sub)  # hybrid: one embedding per ``hop`` frames

        x = np.stack([_place(examples[i].feats, front[i], t, rng, augment, 12 // sub // up,
                             floors[i]) for i in b])
        lmax = max(len(examples[i].label) for i in b)
        y = np.zeros((len(b), lmax), np.int32)
        for j, i in enumerate(b):
            y[j, : len(examples[i].label)] = examples[i].label
        xl = np.array([(len(examples[i].feats) + front[i] + sub - 1) // sub * up for i in b],
                      np.int32)
        yl = np.array([len(examples[i].label) for i in b], np.int32)
        if hybrid:
            # The cached embeddings start ``lead`` frames before the utterance.
            emb = [examples[i].extra[(lead - front[i]) // hop :] for i in b]
            e = np.stack([_fit(e, t // hop, rng, augment) for e in emb])
            if drop_view:
                for j, i in enumerate(b):
                    view = rng.random()
                    if view < drop_view:
                        x[j] = floors[i]
                    elif view < 2 * drop_view:
                        e[j] = pad_floor(examples[i].extra)
            if teacher:
                yield (x, e), y, xl, yl, _teacher_rows(examples, b, front, t // sub)
            else:
                yield (x, e), y, xl, yl
        else:
            yield x, y, xl, yl


def ahead(batches: Iterator, depth: int = 2) -> Iterator:
    """``batches`` made in a background thread, up to ``depth`` ahead, so that numpy builds
    the next batch while TensorFlow trains on this one: the same batches in the same order;
    an error making one is raised here."""
    made: queue.Queue = queue.Queue(depth)
    end = object()

    def make() -> None:
        try:
            for batch in batches:
                made.put(batch)
        except BaseException as exc:  # handed to the consumer, raised in its thread
            made.put(exc)
        made.put(end)

    threading.Thread(target=make, name="batches", daemon=True).start()
    while (item := made.get()) is not end:
        if isinstance(item, BaseException):
            raise item
        yield item


def _teacher_rows(examples: list[Example], batch: list[int], front: dict[int, int],
                  rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The batch's teacher targets [B, rows, dim] (20 ms rows; an utterance ``front`` 10 ms
    frames in starts ``front // 2`` rows in) and the mask of rows that hold one."""
    dim = next(examples[i].teacher.shape[1] for i in batch)
    target = np.zeros((len(batch), rows, dim), np.float32)
    mask = np.zeros((len(batch), rows), np.float32)
    for j, i in enumerate(batch):
        start = front[i] // 2
        rows_i = examples[i].teacher[: max(0, rows - start)]
        target[j, start : start + len(rows_i)] = rows_i
        mask[j, start : start + len(rows_i)] = 1.0
    return target, mask


def floors_of(examples: list[Example]) -> list[np.ndarray]:
    """Each example's quiet floor (``pad_floor`` of its features), what ``_batches`` pads it
    with."""
    return [pad_floor(e.feats) for e in examples]


def _place(feats: np.ndarray, front: int, t: int, rng: np.random.Generator, augment: bool,
           span: int, floor: np.ndarray) -> np.ndarray:
    """An utterance's features at ``front`` in ``t`` frames of its quiet ``floor``."""
    f = feats.astype(np.float32)
    f = spec_augment(f, rng, span) if augment else f
    floor = floor[None]
    return np.concatenate([np.repeat(floor, front, 0), f,
                           np.repeat(floor, t - len(f) - front, 0)])


def _fit(e: np.ndarray, n: int, rng: np.random.Generator, augment: bool) -> np.ndarray:
    """An utterance's embeddings cut or padded (with its quiet floor) to ``n`` rows."""
    e = e.astype(np.float32)
    if augment:
        e = spec_augment(e, rng, 3)
    if len(e) >= n:
        return e[:n]
    return np.concatenate([e, np.repeat(pad_floor(e)[None], n - len(e), 0)])


def usable(examples: list[Example], sub: int = 2, up: int = 1) -> list[Example]:
    """Drop clips too short for their label under CTC (``sub`` input frames per ``up``
    outputs)."""
    return [e for e in examples if 0 < len(e.label) * 1.2 + 2 < len(e.feats) // sub * up]


def embed(examples: list[Example], cache: Path) -> list[Example]:
    """The same examples with speech-mel32 features replaced by 20 ms embeddings."""
    from factory.embedding import Embedder

    embedder = Embedder(cache)
    out = []
    for e in tqdm(examples, desc="embed", unit="utt"):
        f = e.feats.astype(np.float32)
        out.append(replace(e, feats=embedder(f, pad_floor(f)).astype(np.float16)))
    return out


EMBED_BATCH = 8  # utterances per call of the frozen network (32 was slower)


def embed_speech(examples: list[Example], cache: Path, phases: int = 2,
                 lead: int = 0) -> list[np.ndarray]:
    """Embeddings (every 40 ms with two phases, 80 ms with one) of the speech-mel32 columns
    of hybrid examples, whose features are log-mel and speech-mel32 side by side, from
    ``lead`` frames of quiet before each utterance on."""
    from factory.embedding import Embedder

    embedder = Embedder(cache, phases)
    out: list[np.ndarray] = [np.empty(0)] * len(examples)
    # Utterances of about the same length in one call, so that little of it is padding.
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].feats))
    with tqdm(total=len(examples), desc="embed", unit="utt") as bar:
        for s in range(0, len(order), EMBED_BATCH):
            group = order[s : s + EMBED_BATCH]
            speech = []
            for i in group:
                f = examples[i].feats[:, N_MELS:].astype(np.float32)
                floor = pad_floor(f)
                speech.append((np.concatenate([np.repeat(floor[None], lead, 0), f]), floor))
            for i, e in zip(group, embedder.many(speech), strict=True):
                out[i] = e.astype(np.float16)
            bar.update(len(group))
    return out


def network(examples: list[Example], shape: ModelShape, head: bool = False,
            up: int = 1, hop: int = EMB_HOP) -> tf.keras.Model:
    """The untrained network for these examples: hybrid when they carry embeddings (one
    every ``hop`` log-mel frames)."""
    if is_hybrid(examples):
        return build_hybrid(shape, emb_hop=hop)
    return build_head(shape, up=up) if head else build_model(shape)


def ctc_per_phone(y: tf.Tensor, logits: tf.Tensor, yl: tf.Tensor, xl: tf.Tensor) -> tf.Tensor:
    """The batch's mean CTC loss per label phone (labels ``y`` padded, ``yl`` long; logits
    batch-major, ``xl`` frames long; blank 0). The labels go in sparse: TensorFlow then runs
    its CTC kernel, where dense labels take a scan over time that made each training step
    about twice as slow on CPU, for the same loss and gradients."""
    labels = tf.RaggedTensor.from_tensor(y, lengths=yl).to_sparse()
    loss = tf.nn.ctc_loss(labels, logits, None, xl, logits_time_major=False, blank_index=0)
    return tf.reduce_mean(loss / tf.cast(yl, tf.float32))


def optimizer(lr: float, total: int) -> tf.keras.optimizers.Optimizer:
    """Adam with gradients clipped, its rate ``lr`` decaying over ``total`` steps to 2 %."""
    sched = tf.keras.optimizers.schedules.CosineDecay(lr, total, alpha=0.02,
                                                      warmup_target=None)
    return tf.keras.optimizers.Adam(sched, clipnorm=5.0)


def ctc_step(model: tf.keras.Model, opt: tf.keras.optimizers.Optimizer) -> Callable:
    """One training step of ``model`` on a batch (inputs, labels, input and label lengths,
    as ``_batches`` makes them): its CTC loss, the weights moved by ``opt``."""

    @tf.function(reduce_retracing=True)
    def step(x, y, xl, yl):
        with tf.GradientTape() as tape:
            loss = ctc_per_phone(y, model(x, training=True), yl, xl)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return step


def train(examples: list[Example], shape: ModelShape, epochs: int, seed: int,
          batch_frames: int = 12000, lr: float = 2e-3, head: bool = False,
          up: int = 1, lead: int = 0, hop: int = EMB_HOP,
          drop_view: float = 0.0, teacher_weight: float = 0.0, progress: str = "train",
          position: int = 0) -> tf.keras.Model:
    """CTC training of the log-mel network, or (``head``) of the head on embeddings
    (``up`` 20 ms outputs per embedding); ``lead``: hybrid examples' embeddings start that
    many frames of quiet early, and a random part of it goes in front (``_batches``);
    ``hop``: log-mel frames per hybrid embedding (``embedding.hop_frames``); ``drop_view``:
    see ``_batches``; ``teacher_weight`` > 0 (hybrid examples with teacher targets): a 1x1
    convolution on the last hidden layer learns to predict the teacher's view of the audio,
    that weight times its mean squared error added to the CTC loss, so the hidden layer must
    hold what a real-speech network hears. The projection is for training only; the returned
    network is the same shape as without it. ``progress``, ``position``: the progress bar's
    name and line (several trainings at once each have their own)."""
    tf.keras.utils.set_random_seed(seed)
    sub = 1 if head else 2
    examples = usable(examples, sub, up)
    model = network(examples, shape, head, up, hop)
    floors = floors_of(examples)
    steps_per_epoch = sum(1 for _ in _batches(examples, batch_frames, np.random.default_rng(0),
                                              sub=sub, up=up, floors=floors))
    total = max(1, steps_per_epoch * epochs)
    opt = optimizer(lr, total)
    step = ctc_step(model, opt)

    distil = teacher_weight > 0
    if distil:
        if not is_hybrid(examples) or any(e.teacher is None for e in examples):
            raise ValueError("teacher_weight needs hybrid examples that all carry teacher "
                             "targets (dataset.build(..., teacher=True))")
        dim = examples[0].teacher.shape[1]
        hidden = model.get_layer("phone_logits").input  # [batch, T / 2, 1, channels]
        guess = tf.keras.layers.Conv2D(dim, 1, name="teacher_projection")(hidden)
        trainer = tf.keras.Model(model.inputs,
                                 [model.output, tf.keras.layers.Reshape((-1, dim))(guess)])

    @tf.function(reduce_retracing=True)
    def step_distil(x, y, xl, yl, target, mask):
        with tf.GradientTape() as tape:
            logits, guess = trainer(x, training=True)
            ctc = ctc_per_phone(y, logits, yl, xl)
            err = tf.reduce_mean(tf.square(guess - target), axis=-1)
            mse = tf.reduce_sum(err * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)
            loss = ctc + teacher_weight * mse
        grads = tape.gradient(loss, trainer.trainable_variables)
        opt.apply_gradients(zip(grads, trainer.trainable_variables, strict=True))
        return ctc, mse

    rng = np.random.default_rng(seed)
    with tqdm(total=total, desc=progress, unit="step", position=position) as bar:
        for epoch in range(epochs):
            losses, errors = [], []
            for batch in ahead(_batches(examples, batch_frames, rng, augment=True, sub=sub,
                                        up=up, lead=lead, hop=hop, drop_view=drop_view,
                                        teacher=distil, floors=floors)):
                if distil:
                    x, y, xl, yl, (target, mask) = batch
                    ctc, mse = step_distil(x, y, xl, yl, target, mask)
                    losses.append(float(ctc))
                    errors.append(float(mse))
                else:
                    losses.append(float(step(*batch)))
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{np.mean(losses[-50:]):.3f}",
                                **({"teacher": f"{np.mean(errors[-50:]):.3f}"} if distil
                                   else {}))
            log.info("epoch %d: mean CTC loss per phone %.3f%s", epoch + 1, np.mean(losses),
                     f", teacher error {np.mean(errors):.3f}" if distil else "")
            if not math.isfinite(float(np.mean(losses))):
                raise RuntimeError("training diverged (loss is not finite)")
    return model
