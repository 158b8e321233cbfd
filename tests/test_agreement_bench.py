"""bench.agreement replays two models' bench.eval results with the agreement rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.agreement import agreement, alone, best, main, pair_clips, tally

ON = [{"ga": "1/1/1", "dpt": "1.001", "value": True}]
OFF = [{"ga": "1/1/1", "dpt": "1.001", "value": False}]


def _result(sent: list, confidence: float, outcome: str) -> dict:
    return {"sent": sent, "confidence": confidence, "outcome": outcome}


def _run(path: Path, results: list[tuple[str, str, dict]], digest: str = "same") -> Path:
    """An accuracy.json with one clip per (kind, condition, EdgeASR result)."""
    clips = [{"clip": f"c{i}", "condition": cond, "kind": kind, "engines": {"edgeasr": r}}
             for i, (kind, cond, r) in enumerate(results)]
    path.write_text(json.dumps({"dataset": {"clips_sha256": digest}, "clips": clips}))
    return path


def test_agreeing_models_need_less_and_disagreeing_ones_the_full_bar(tmp_path: Path) -> None:
    first = _run(tmp_path / "a.json", [
        ("command", "snr10", _result(ON, 0.62, "correct")),   # both agree, under the bar
        ("command", "clean", _result(ON, 0.50, "correct")),   # the second is surer, and wrong
        ("non_command", "clean", _result(OFF, 0.64, "false_action")),  # only one sends
    ])
    second = _run(tmp_path / "b.json", [
        ("command", "snr10", _result(ON, 0.60, "correct")),
        ("command", "clean", _result(OFF, 0.80, "wrong")),
        ("non_command", "clean", _result([], 0.0, "silent")),
    ])
    pairs = pair_clips([first], [second])
    alone_t = tally(pairs, alone, 0.7)
    assert (alone_t.right, alone_t.wrong, alone_t.false) == (0, 0, 0)
    both = tally(pairs, agreement(0.1), 0.7)
    # Agreement at 0.62 passes 0.7 - 0.1; the disagreement sends the surer (wrong) one;
    # the non-command that only the first model heard needs the full 0.7 and stays silent.
    assert (both.right, both.wrong, both.false) == (1, 1, 0)
    assert both.by_condition == {"snr10": [1, 0, 0], "clean": [0, 1, 0]}
    # At 0.6 the lone non-command (0.64) goes through: the false-action limit then rules
    # out every threshold that low, and the best one left sends it no more.
    assert tally(pairs, agreement(0.1), 0.6).false == 1
    chosen = best(pairs, agreement(0.1), max_false=0.0)
    assert chosen is not None and chosen.false == 0 and chosen.threshold > 0.64


def test_runs_must_hold_the_same_clips(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    one = [("command", "clean", _result(ON, 0.9, "correct"))]
    a = _run(tmp_path / "a.json", one, digest="x")
    b = _run(tmp_path / "b.json", one, digest="y")
    with pytest.raises(SystemExit, match="different clips"):
        pair_clips([a], [b])
    with pytest.raises(SystemExit, match="1 --first files but 2"):
        pair_clips([a], [b, b])
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(SystemExit, match="broken.json: not a bench.eval accuracy.json"):
        pair_clips([broken], [a])
    same = _run(tmp_path / "c.json", one, digest="x")
    assert main(["--first", str(a), "--second", str(same)]) == 0
    table = capsys.readouterr().out
    assert "| first alone | 0.300 | 1/1 | 0 | 0/0 |" in table
