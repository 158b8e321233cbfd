"""Two acoustic models run side by side (``ensemble`` in a model's edgeasr.json).

Real TFLite interpreters on models the factory makes in the test session: the log-mel one
and the speech_embedding one, each hearing the same audio through its own front end.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeasr.acoustic import AcousticModel, EnsembleModel, ModelError, load_model, log_softmax
from edgeasr.features import SPEECH_MELS, features, speech_mel
from edgeasr.recognizer import Recognizer


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path,
         tiny_speech_model: Path) -> Path:
    """A folder with the log-mel model naming the speech model as its partner at 0.4."""
    d = tmp_path_factory.mktemp("ensemble")
    shutil.copy(tiny_model, d / "edgeasr.tflite")
    shutil.copy(tiny_speech_model, d / "partner.tflite")
    shutil.copy(tiny_speech_model.with_suffix(".json"), d / "partner.json")
    meta = json.loads(tiny_model.with_suffix(".json").read_text())
    meta["ensemble"] = [{"model": "partner.tflite", "weight": 0.4}]
    (d / "edgeasr.json").write_text(json.dumps(meta))
    return d / "edgeasr.tflite"


def test_ensemble_adds_the_members_logits_with_their_weights(pair: Path,
                                                             speak_audio) -> None:
    model = load_model(pair)
    assert isinstance(model, EnsembleModel)
    assert model.frontend == "logmel40+speech-mel32"
    assert [w for _, w in model.members] == pytest.approx([0.6, 0.4])
    audio = speak_audio("turn on the kitchen light")
    feats = model.features(audio)
    a, b = features(audio), speech_mel(audio)
    n = min(len(a), len(b))
    assert feats.shape == (n, a.shape[1] + SPEECH_MELS)
    lp = model.log_probs(feats)
    # The same as running each model alone on its own front end and mixing by hand.
    own = AcousticModel(pair).logits(a[:n])
    partner = AcousticModel(pair.with_name("partner.tflite")).logits(b[:n])
    np.testing.assert_allclose(lp, log_softmax(0.6 * own + 0.4 * partner), atol=1e-5)
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-4)


def test_recognizer_takes_an_ensemble_by_its_first_model(pair: Path, demo_config: Path,
                                                         speak_audio) -> None:
    rec = Recognizer.from_config(demo_config, model=pair)
    assert isinstance(rec.model, EnsembleModel)
    result = rec.recognize(speak_audio("turn on the kitchen light"))
    assert 0.0 <= result.confidence <= 1.0  # a tiny model: what it hears is not the point


@pytest.mark.parametrize("spec, message", [
    ([{"model": "partner.tflite"}], "must be a list of"),
    ([{"model": "partner.tflite", "weight": 1.2}], "weights must each be in"),
    ([{"model": "missing.tflite", "weight": 0.5}], "missing.tflite not found"),
])
def test_bad_ensemble_entry_names_the_file(pair: Path, tmp_path: Path, spec: list,
                                           message: str) -> None:
    for f in pair.parent.iterdir():
        shutil.copy(f, tmp_path / f.name)
    meta = json.loads((tmp_path / "edgeasr.json").read_text())
    meta["ensemble"] = spec
    (tmp_path / "edgeasr.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=message) as err:
        load_model(tmp_path / "edgeasr.tflite")
    assert "edgeasr" in str(err.value)


def test_features_of_the_wrong_width_are_refused(pair: Path, speak_audio) -> None:
    model = load_model(pair)
    with pytest.raises(ModelError, match="expects 72"):
        model.log_probs(features(speak_audio("good night")))
