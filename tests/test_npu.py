"""NPU readiness of the shipped model (bench.npu): full-integer, per-tensor, NPU operators only."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from bench.npu import NPU_OPS, analyse

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_model_is_full_integer_per_tensor_and_npu_only(shipped_model: Path) -> None:
    r = analyse(shipped_model)
    assert r.input.dtype == "int8" and r.output.dtype == "int8"
    not_ready = [(o.index, o.op, o.full_integer, o.per_tensor, o.npu_op)
                 for o in r.ops if not o.npu_ready]
    assert not_ready == [], f"operators that would leave the NPU: {not_ready}"
    assert r.all_npu_ready


def test_shipped_model_macs_and_params_follow_its_recorded_architecture(
        shipped_model: Path) -> None:
    """MACs/parameters from the graph agree with the shape the factory recorded (for each
    member network of a model of several, whose outputs lie side by side)."""
    recorded = json.loads((ROOT / "models" / "model-meta.json").read_text())
    meta = recorded["shape"]
    c, blocks, k = meta["channels"], meta["blocks"], meta["kernel"]
    members = recorded.get("members", 1)
    r = analyse(shipped_model)
    t_out = r.output.shape[1]
    n_feats, n_out = 40, r.output.shape[2] // members  # the log-mel input; one member's phones
    # The frozen speech_embedding network of a hybrid model is counted apart.
    frozen = [o for o in r.ops if o.graph == "embedder"
              or any("speech_embedding" in t.name for t in o.outputs)]
    trained = [o for o in r.ops if o not in frozen]
    convs = [o for o in trained if o.op == "CONV_2D"]
    front_k = max(o.inputs[1].shape[1] for o in convs)
    expected = t_out * (front_k * n_feats * c + blocks * (k * c + c * c + c) + c * n_out)
    hybrid = "+" in recorded["frontend"]
    if hybrid:  # 1x1 conv of each 40 ms embedding to two 20 ms frames, added to the log-mel
        expected += t_out // 2 * 96 * 2 * c + t_out * c
        phases = recorded["phases"]
        assert len(frozen) % phases == 0 and sum(o.macs for o in frozen) > 0
    assert sum(o.macs for o in trained) == members * expected
    weights = front_k * n_feats * c + blocks * (k * c + c * c) + c * n_out
    biases = c + blocks * 2 * c + n_out
    if not hybrid:
        assert r.params == members * (weights + biases)
    else:  # the trained convolutions' parameters, the embedding's 1x1 conv (bias: its BN) too
        learned = sum(o.params for o in trained if o.op in ("CONV_2D", "DEPTHWISE_CONV_2D"))
        assert learned == members * (weights + biases + 96 * 2 * c + 2 * c)
    if r.embedder is None:
        assert r.macs_per_audio_s == pytest.approx(r.macs / (r.stride_frames * 0.01))
    else:  # the model per window's new output, the embedder per call's new embeddings
        assert r.macs == sum(o.macs for o in trained) + r.embedder_calls * sum(
            o.macs for o in frozen)
        assert r.macs_per_audio_s == pytest.approx(
            sum(o.macs for o in trained) / (r.stride_frames * 0.01)
            + sum(o.macs for o in frozen) / (r.embedder_stride_frames * 0.01))


def test_float_and_per_channel_models_are_flagged(tmp_path: Path) -> None:
    """A model converted the default ways (float, or int8 per-channel) is not NPU-ready."""
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow is not installed (pip install -e 'python[factory]')")
    import tensorflow as tf

    inp = tf.keras.Input((50, 1, 8), batch_size=1)
    x = tf.keras.layers.Conv2D(16, (3, 1), padding="same", activation="relu")(inp)
    x = tf.keras.layers.DepthwiseConv2D((5, 1), padding="same")(x)
    out = tf.keras.layers.Conv2D(4, 1)(x)
    model = tf.keras.Model(inp, out)

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    (tmp_path / "float.tflite").write_bytes(conv.convert())
    r = analyse(tmp_path / "float.tflite")
    assert not r.all_npu_ready
    assert all(not o.full_integer for o in r.ops if o.op == "CONV_2D")
    assert r.macs == 50 * 16 * 3 * 8 + 50 * 16 * 5 + 50 * 4 * 16

    rng = np.random.default_rng(0)

    def representative():  # type: ignore[no-untyped-def]
        for _ in range(8):
            yield [rng.standard_normal((1, 50, 1, 8)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    (tmp_path / "int8.tflite").write_bytes(conv.convert())
    r = analyse(tmp_path / "int8.tflite")
    assert all(o.full_integer for o in r.ops)
    assert any(not o.per_tensor for o in r.ops), "default int8 conversion is per-channel"
    assert not r.all_npu_ready


def test_factory_op_set_is_within_the_npu_set() -> None:
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow is not installed")
    from factory.export import NPU_OPS as FACTORY_OPS

    assert FACTORY_OPS <= NPU_OPS


def test_shared_weights_are_counted_once() -> None:
    """The pretrained front network runs at four offsets on one set of weights: the
    parameter count must count that set once, so it fits in the int8 file it came from."""
    model = ROOT / "models" / "candidates" / "speech-20" / "edgeasr.tflite"
    r = analyse(model)
    per_op = sum(o.params for o in r.ops)
    assert r.params < per_op  # some weight tensor is read by several ops
    assert r.params <= r.bytes  # int8 weights: at most one byte each, plus int32 biases


def test_model_budget_counts_every_file_the_runtime_loads(shipped_model: Path) -> None:
    """make eval's model targets: the size is the model and its embedder together, and the
    operations per second of audio are bench.npu's streaming count (2 per MAC)."""
    from bench.targets import model_budget
    from edgeasr.acoustic import AcousticModel

    size, ops = model_budget(shipped_model)
    r = analyse(shipped_model)
    files = [shipped_model, AcousticModel.embedder_path(shipped_model)]
    assert r.bytes == sum(f.stat().st_size for f in files if f.is_file())
    assert size.met == (r.bytes <= 2 * 1024 * 1024)
    assert ops.met == (2 * r.macs_per_audio_s <= 0.5e9)
    assert f"{2 * r.macs_per_audio_s / 1e9:.2f} G" in ops.measured
