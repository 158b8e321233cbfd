"""factory.members: a preset's member networks trained at once, one process each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.train_speed import examples
from factory.members import MemberJob, train_at_once
from factory.train import ModelShape

SHAPE = ModelShape(16, 1, 5)


def job(tmp_path: Path, seed: int, name: str) -> MemberJob:
    data = examples(12, hybrid=True, lead=40, hop=4, seed=seed)
    return MemberJob(data, SHAPE, 1, seed, tmp_path / f"{name}.h5",
                     {"batch_frames": 4000, "lead": 40, "hop": 4}, f"train {name}")


def test_members_trained_at_once_each_get_their_own_weights(tmp_path: Path) -> None:
    from factory import train

    jobs = [job(tmp_path, 1, "a"), job(tmp_path, 2, "b")]
    seconds = train_at_once(jobs)
    assert len(seconds) == 2 and all(s > 0 for s in seconds)
    outputs = []
    for j in jobs:
        assert json.loads(j.weights.with_suffix(".json").read_text())["epochs"] == 1
        net = train.network(j.data[:1], SHAPE, hop=4)
        net.load_weights(str(j.weights))
        x = (np.zeros((1, 80, 40), np.float32), np.zeros((1, 20, 96), np.float32))
        outputs.append(net(x).numpy())
    assert not np.allclose(outputs[0], outputs[1])  # two seeds, two networks


def test_an_error_in_one_member_is_raised_in_the_factory(tmp_path: Path) -> None:
    bad = job(tmp_path, 2, "b")
    bad.weights = tmp_path / "missing-folder" / "b.h5"  # its weights cannot be saved
    with pytest.raises(OSError):
        train_at_once([job(tmp_path, 1, "a"), bad])
