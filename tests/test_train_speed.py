"""bench.train_speed: the factory's own training step timed on made-up utterances."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import train_speed


def test_times_the_steps_asked_for_on_the_presets_network() -> None:
    result = train_speed.measure("tiny-hybrid", steps=3, warmup=1)
    assert result["preset"] == "tiny-hybrid" and result["steps"] == 3
    assert result["at_once"] == 1  # one network
    assert result["median_step_s"] > 0 and result["utterances_per_s"] > 0
    # Batches are cut to the preset's budget of frames (plus the quiet put in front).
    from factory.__main__ import PRESETS

    preset = PRESETS["tiny-hybrid"]
    assert 0 < result["frames_per_step"] <= preset.batch_frames + 64 * preset.lead_pad


def test_members_train_at_once_where_each_has_a_core() -> None:
    """As the factory trains them (factory.members): two members on two cores at once,
    their rates added; on one core one after another, so one is timed."""
    both = train_speed.measure("tiny-pair", steps=2, warmup=1, workers=2)
    assert both["at_once"] == 2 and both["utterances_per_s"] > 0
    assert train_speed.measure("tiny-pair", steps=2, warmup=1, workers=1)["at_once"] == 1


def test_made_up_utterances_fit_their_labels_and_carry_embeddings() -> None:
    made = train_speed.examples(40, hybrid=True, lead=40, hop=4)
    from factory import train

    assert len(train.usable(made)) == len(made)  # none too short for CTC
    for e in made:
        assert train_speed.SHORTEST <= len(e.feats) <= train_speed.LONGEST
        assert e.extra is not None and len(e.extra) * 4 >= len(e.feats) + 40


def test_predicts_make_models_training_only_for_the_preset_that_made_the_model(
        tmp_path: Path) -> None:
    meta = tmp_path / "model-meta.json"
    meta.write_text(json.dumps({"preset": "p", "train_examples": 1000, "epochs": 20,
                                "members": 2}))
    assert train_speed.predicted_training_s({"preset": "p", "utterances_per_s": 100.0},
                                            meta) == pytest.approx(400.0)
    assert train_speed.predicted_training_s({"preset": "q", "utterances_per_s": 100.0},
                                            meta) is None
    assert train_speed.predicted_training_s({"preset": "p", "utterances_per_s": 100.0},
                                            tmp_path / "absent.json") is None


def test_unknown_preset_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert train_speed.main(["--preset", "hybrid-noisey", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "hybrid-noisey" in err and "hybrid-noisy-pair-apart" in err
