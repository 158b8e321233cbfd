"""bench.threshold replays higher thresholds over bench.eval's per-clip results."""

from __future__ import annotations

from bench.threshold import sweep


def _clip(kind: str, outcome: str, sent: bool, confidence: float) -> dict:
    return {"kind": kind, "engines": {"edgeasr": {
        "outcome": outcome, "sent": [{"ga": "1/1/1"}] if sent else [],
        "confidence": confidence}}}


def test_a_higher_threshold_sends_less() -> None:
    clips = [
        _clip("command", "correct", True, 0.9),
        _clip("command", "wrong", True, 0.6),
        _clip("command", "rejected", False, 0.3),
        _clip("non-command", "false_action", True, 0.55),
        _clip("non-command", "rejected", False, 0.2),
    ]
    low, mid, high = sweep(clips, (0.5, 0.58, 0.95))
    assert (low["right"], low["wrong"], low["false"]) == (1, 1, 1)
    assert (mid["right"], mid["wrong"], mid["false"]) == (1, 1, 0)
    assert (high["right"], high["wrong"], high["false"]) == (0, 0, 0)
    assert low["commands"] == 3 and low["non_commands"] == 2
