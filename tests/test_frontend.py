"""The speech-mel32 front end and the Keras port of speech_embedding match the originals.

A model with the pretrained network in front only works on real speech if the board feeds
it exactly the features it was pretrained on and runs exactly its weights; both are
checked against the ONNX files openWakeWord 0.4.0 ships, run by onnxruntime.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeasr.acoustic import AcousticModel, ModelError
from edgeasr.features import frontend, pad_floor, speech_mel

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "models" / ".cache" / "pretrained"


@pytest.fixture(scope="module")
def ort():
    return pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def speech(speak_audio) -> np.ndarray:
    return speak_audio("set the bedroom light to thirty percent")


def test_speech_mel_matches_openwakeword_melspectrogram(ort, speech: np.ndarray,
                                                        tmp_path: Path) -> None:
    from factory.pretrained import wheel_member

    onnx_path = tmp_path / "melspectrogram.onnx"
    onnx_path.write_bytes(wheel_member(PRETRAINED,
                                       "openwakeword/resources/models/melspectrogram.onnx"))
    session = ort.InferenceSession(str(onnx_path))
    ref = session.run(None, {"input": (speech * 32767.0)[None].astype(np.float32)})[0]
    ref = ref.squeeze() / 10.0 + 2.0  # openWakeWord's own transform of the ONNX output
    ours = speech_mel(speech)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-3)


def test_keras_backbone_matches_the_onnx_network(ort, speech: np.ndarray) -> None:
    pytest.importorskip("tensorflow")
    from factory.embedding import WINDOW, Embedder
    from factory.pretrained import embedding_onnx

    session = ort.InferenceSession(str(embedding_onnx(PRETRAINED)))
    feats = speech_mel(speech)
    embedder = Embedder(PRETRAINED)
    ours = embedder(feats, pad_floor(feats))
    assert ours.shape == ((len(feats) + 1) // 2, 96)
    # Output i is centred on frame 2i: the ONNX network on frames 2i-38 .. 2i+37.
    for i in range(WINDOW // 4, (len(feats) - WINDOW) // 2, 7):
        window = feats[2 * i - WINDOW // 2 : 2 * i + WINDOW // 2]
        ref = session.run(None, {"input_1": window[None, :, :, None]})[0].reshape(96)
        np.testing.assert_allclose(ours[i], ref, rtol=1e-4, atol=1e-3)


def test_utterances_embedded_together_get_what_each_gets_alone(speech: np.ndarray) -> None:
    """The factory embeds its training utterances several to a call (train.embed_speech):
    each must come out as if embedded alone, padded with its own floor, not its batch's."""
    pytest.importorskip("tensorflow")
    from factory.embedding import Embedder

    embedder = Embedder(PRETRAINED, phases=2)
    feats = speech_mel(speech)
    short, loud = feats[: len(feats) // 3], feats + 2.0  # other lengths, other floors
    utterances = [(u, pad_floor(u)) for u in (feats, short, loud)]
    together = embedder.many(utterances)
    for (u, floor), got in zip(utterances, together, strict=True):
        np.testing.assert_allclose(got, embedder(u, floor), rtol=1e-5, atol=1e-5)
    assert not np.allclose(together[0], together[2])  # the floors and features did differ


def test_two_phase_export_sees_every_second_training_embedding(speech: np.ndarray) -> None:
    """Training takes every second 20 ms embedding for a two-phase head; the exported graph
    (phases 0 and 2 of four) must compute exactly those, aligned, or the head is fed other
    features on the board than it learned from."""
    tf = pytest.importorskip("tensorflow")
    from factory import embedding

    audio = np.concatenate([speech, speech])  # longer than one 4.8 s window
    feats = speech_mel(audio)
    floor = pad_floor(feats)
    every = embedding.Embedder(PRETRAINED)(feats, floor)
    # What the hybrid factory computes for its training data: the same, half the work.
    np.testing.assert_allclose(embedding.Embedder(PRETRAINED, phases=2)(feats, floor),
                               every[::2], atol=1e-5)
    frames = 400 + embedding.EXTRA
    backbone = embedding.build_backbone(PRETRAINED)
    inp = tf.keras.Input((frames, 32), batch_size=1)
    x = np.concatenate([np.repeat(floor[None], embedding.LEFT, 0), feats])[:frames]
    for phases in (4, 2):
        graph = tf.keras.Model(inp, embedding.phased(backbone, inp, frames, phases))
        out = graph(x[None]).numpy()[0]
        assert out.shape == (200 * phases // 4, 96)
        ref = every[:: 4 // phases][: len(out)]
        # The last embeddings of the window see the end of the audio the Embedder padded.
        np.testing.assert_allclose(out[: len(ref) - 5], ref[: len(ref) - 5], atol=1e-4)


def test_model_json_names_an_unknown_front_end(tmp_path: Path, shipped_model: Path) -> None:
    model = tmp_path / "m.tflite"
    model.write_bytes(shipped_model.read_bytes())
    model.with_suffix(".json").write_text(json.dumps({"frontend": "mfcc13"}))
    with pytest.raises(ModelError, match="mfcc13.*expected one of"):
        AcousticModel(model)


def test_model_json_threshold_is_checked_and_optional(tmp_path: Path,
                                                      shipped_model: Path) -> None:
    """The model carries the threshold that goes with its calibration; a bad one is an error
    naming the file, and a file from before models carried one gets even odds."""
    from conftest import copy_model

    from edgeasr.acoustic import FALLBACK_THRESHOLD

    model = copy_model(shipped_model, tmp_path)
    meta_path = model.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    assert 0 < AcousticModel(model).threshold == meta["threshold"] < 1
    for bad in (1.5, -0.1, "0.6", True):
        meta_path.write_text(json.dumps({**meta, "threshold": bad}))
        with pytest.raises(ModelError, match=rf"{meta_path.name}: threshold .*from 0 to 1"):
            AcousticModel(model)
    meta_path.write_text(json.dumps({k: v for k, v in meta.items() if k != "threshold"}))
    assert AcousticModel(model).threshold == FALLBACK_THRESHOLD


def test_model_json_noise_rule_is_checked_and_optional(tmp_path: Path,
                                                       shipped_model: Path) -> None:
    """A model may carry a noise allowance and the level under which a room is noisy; bad
    values name the file, and a model without them judges every room alike."""
    from conftest import copy_model

    model = copy_model(shipped_model, tmp_path)
    meta_path = model.with_suffix(".json")
    meta = {k: v for k, v in json.loads(meta_path.read_text()).items()
            if k not in ("noise_allowance", "noisy_below_db", "noisy_outside_limit",
                         "rival_limit")}
    meta_path.write_text(json.dumps(meta))
    plain = AcousticModel(model)
    assert (plain.noise_allowance, plain.noisy_below_db, plain.noisy_outside_limit,
            plain.rival_limit) == (0.0, 0.0, None, None)
    meta_path.write_text(json.dumps({**meta, "noise_allowance": 0.2, "noisy_below_db": 30,
                                     "noisy_outside_limit": -0.5, "rival_limit": 0.1}))
    ruled = AcousticModel(model)
    assert (ruled.noise_allowance, ruled.noisy_below_db, ruled.noisy_outside_limit,
            ruled.rival_limit) == (0.2, 30.0, -0.5, 0.1)
    for key, bad, expected in (("noise_allowance", 1.2, "from 0 to 1"),
                               ("noisy_below_db", -5, "decibels from 0 to 100"),
                               ("noisy_below_db", "25", "decibels from 0 to 100"),
                               ("noisy_outside_limit", 0.3, "from -10 to 0"),
                               ("noisy_outside_limit", True, "from -10 to 0"),
                               ("rival_limit", -0.1, "from 0 to 10"),
                               ("rival_limit", "0.1", "from 0 to 10")):
        meta_path.write_text(json.dumps({**meta, key: bad}))
        with pytest.raises(ModelError, match=rf"{meta_path.name}: {key} .*{expected}"):
            AcousticModel(model)


def test_reference_kernels_run_the_same_graph(shipped_model: Path, speech: np.ndarray) -> None:
    """TFLite's reference kernels (what aarch64 computes) give the same phones, give or take
    x86's optimized int8 rounding, and an unknown kernel set is a clear error."""
    fast, ref = AcousticModel(shipped_model), AcousticModel(shipped_model, kernels="reference")
    assert ref.kernels == "reference"
    feats = fast.features(speech)
    a, b = fast.logits(feats), ref.logits(feats)
    assert a.shape == b.shape
    assert np.mean(a.argmax(1) == b.argmax(1)) > 0.9
    with pytest.raises(ModelError, match="'fastest'.*optimized, reference"):
        AcousticModel(shipped_model, kernels="fastest")
    with pytest.raises(ModelError, match="cannot go with a delegate"):
        AcousticModel(shipped_model, kernels="reference", delegate="libvx_delegate.so")


def test_unknown_front_end_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="'nope'.*logmel40"):
        frontend("nope")


def test_log_mel_rows_depend_only_on_their_own_window(speech: np.ndarray) -> None:
    """log_mel works through long audio in batches of frames (to bound the service's memory);
    every row, on either side of a batch boundary, is still that 25 ms window's features."""
    from edgeasr.features import HOP, WIN, log_mel

    audio = np.tile(speech, 3)[: 16000 * 7]  # 7 s: several batches
    feats = log_mel(audio)
    assert feats.shape == (1 + (len(audio) - WIN) // HOP, 40) and feats.dtype == np.float32
    for i in (0, 63, 64, 65, 200, len(feats) - 1):
        np.testing.assert_allclose(feats[i], log_mel(audio[i * HOP : i * HOP + WIN])[0],
                                   rtol=1e-5, atol=1e-5)
