"""bench.threshold replays higher thresholds over bench.eval's per-clip results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.threshold import main, sweep


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


def test_tables_per_condition_and_chosen_thresholds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clips = [
        {**_clip("command", "correct", True, 0.9), "condition": "clean"},
        {**_clip("command", "correct", True, 0.2), "condition": "snr10"},
        {**_clip("command", "rejected", False, 0.0), "condition": "snr10"},
    ]
    path = tmp_path / "accuracy.json"
    path.write_text(json.dumps({"clips": clips}))
    assert main([str(path), "--thresholds", "0,0.5", "--by-condition"]) == 0
    out = capsys.readouterr().out
    assert "| 0.00 | 2/3 |" in out and "| 0.50 | 1/3 |" in out  # pooled
    snr10 = out.split("snr10:")[1]
    assert "| 0.00 | 1/2 |" in snr10 and "| 0.50 | 0/2 |" in snr10
    with pytest.raises(SystemExit):
        main([str(path), "--thresholds", "0.5,2"])
    assert "within 0..1" in capsys.readouterr().err


def test_the_agreement_bonus_is_replayed_where_every_member_agreed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A pair's runtime acts on a sentence both members decoded at its bonus less than the
    threshold; a replay that ignored it counted fewer false actions than the runtime makes."""
    agreed = _clip("non-command", "false_action", True, 0.6)
    agreed["engines"]["edgeasr"]["unanimous"] = True
    clips = [agreed, _clip("non-command", "false_action", True, 0.6),
             {**_clip("command", "correct", True, 0.62), "condition": "clean"}]
    (at,) = sweep(clips, (0.65,), bonus=0.1)
    assert (at["right"], at["false"]) == (0, 1)  # only the agreed clip passes 0.55
    (alone,) = sweep(clips, (0.65,))
    assert alone["false"] == 0
    path = tmp_path / "accuracy.json"
    path.write_text(json.dumps({"engines": {"edgeasr": {"agreement_bonus": 0.1}},
                                "clips": clips}))
    assert main([str(path), "--thresholds", "0.65"]) == 0
    out = capsys.readouterr().out
    assert "bonus 0.1 replayed" in out and "| 0.65 | 0/1 | 0 | 1/2 (50.0 %) |" in out
    assert main([str(path), "--thresholds", "0.65", "--bonus", "0"]) == 0
    assert "| 0.65 | 0/1 | 0 | 0/2 (0.0 %) |" in capsys.readouterr().out
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"engines": {"edgeasr": {"agreement_bonus": 0.05}},
                                 "clips": clips}))
    with pytest.raises(SystemExit):
        main([str(path), str(other)])
    assert "different agreement bonuses" in capsys.readouterr().err


def test_the_noise_allowance_is_replayed_where_the_clip_was_noisy(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A noisy clip (speech under the model's noisy_below_db above the noise) needs the
    noise allowance less; a quiet one, or one measured before runs recorded it, does not."""
    noisy = _clip("command", "correct", True, 0.62)
    noisy["engines"]["edgeasr"]["snr_db"] = 17.0
    quiet = _clip("command", "correct", True, 0.62)
    quiet["engines"]["edgeasr"]["snr_db"] = 55.0
    unmeasured = _clip("non-command", "false_action", True, 0.62)
    both = _clip("non-command", "false_action", True, 0.52)  # noisy and unanimous
    both["engines"]["edgeasr"] |= {"snr_db": 12.0, "unanimous": True}
    clips = [noisy, quiet, unmeasured, both]
    (at,) = sweep(clips, (0.75,), bonus=0.1, allowance=0.15, noisy_below_db=25.0)
    assert (at["right"], at["false"]) == (1, 1)  # 0.6 for the noisy one, 0.5 for both
    (plain,) = sweep(clips, (0.75,), bonus=0.1)
    assert (plain["right"], plain["false"]) == (0, 0)
    path = tmp_path / "accuracy.json"
    path.write_text(json.dumps({"engines": {"edgeasr": {
        "agreement_bonus": 0.1, "noise_allowance": 0.15, "noisy_below_db": 25.0}},
        "clips": clips}))
    assert main([str(path), "--thresholds", "0.75"]) == 0  # the runs' model's rule
    out = capsys.readouterr().out
    assert "under 25 dB" in out and "| 0.75 | 1/2 | 0 | 1/2 (50.0 %) |" in out
    assert main([str(path), "--thresholds", "0.75", "--snr"]) == 0
    # No conditions recorded: one group, three of four clips measured (12, 17, 55 dB).
    assert "| ? | 3 | 12.0 | 17.0 | 55.0 |" in capsys.readouterr().out
    assert main([str(path), "--thresholds", "0.75", "--noise-allowance", "0,0.3"]) == 0
    out = capsys.readouterr().out
    none, more = out.split("noise allowance 0:")[1].split("noise allowance 0.3:")
    assert "| 0.75 | 0/2 | 0 | 0/2 (0.0 %) |" in none
    assert "| 0.75 | 1/2 | 0 | 1/2 (50.0 %) |" in more
    for bad in (["--noise-allowance", "0.1,x"], ["--noise-allowance", "1.5"],
                ["--noisy-below-db", "-3"]):
        with pytest.raises(SystemExit):
            main([str(path), *bad])
        assert "--noise" in capsys.readouterr().err


def _voted_clip(kind: str, reference: list[dict], snr_db: float,
                members: list[tuple[str, float, float, list[dict]]]) -> dict:
    """A clip as bench.eval records it since runs keep each member's decode: (meaning,
    confidence, outside, telegrams) per member."""
    return {"kind": kind, "reference": reference, "engines": {"edgeasr": {
        "outcome": "?", "sent": [], "confidence": 0.0, "snr_db": snr_db,
        "members": [{"heard": m, "meaning": m, "confidence": c, "outside": o, "sent": t}
                    for m, c, o, t in members]}}}


def test_members_are_replayed_vote_by_vote_with_the_noisy_outside_limit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Runs that record each member's decode are replayed as the runtime votes: loud speech
    around a member's sentence (outside under the limit) takes its vote away, and in a noisy
    room the model's noisy outside limit applies instead of the quiet room's."""
    on = [{"ga": "1/1/1", "dpt": "1.001", "value": True}]
    off = [{"ga": "1/1/1", "dpt": "1.001", "value": False}]
    clips = [
        # noisy: TV babble around a right command, both members
        _voted_clip("command", on, 15.0, [("on", 0.9, -0.35, on), ("on", 0.85, -0.3, on)]),
        # quiet: a near-command ("don't turn on ...") with loud speech before it
        _voted_clip("non_command", [], 55.0, [("on", 0.9, -0.35, on), ("on", 0.9, -0.3, on)]),
        # noisy: the members disagree; the surer one's sentence is the wrong one
        _voted_clip("command", on, 15.0, [("off", 0.9, -0.1, off), ("on", 0.8, -0.1, on)]),
    ]
    (quiet_limit,) = sweep(clips, (0.8,))
    assert (quiet_limit["right"], quiet_limit["wrong"], quiet_limit["false"]) == (0, 1, 0)
    (noisy_limit,) = sweep(clips, (0.8,), noisy_below_db=25.0, noisy_limit=-0.4)
    assert (noisy_limit["right"], noisy_limit["wrong"], noisy_limit["false"]) == (1, 1, 0)
    path = tmp_path / "accuracy.json"
    path.write_text(json.dumps({"engines": {"edgeasr": {
        "agreement_bonus": 0.1, "noise_allowance": 0.15, "noisy_below_db": 25.0,
        "noisy_outside_limit": -0.4}}, "clips": clips}))
    assert main([str(path), "--thresholds", "0.8"]) == 0  # the runs' model's rule
    out = capsys.readouterr().out
    assert "vote by vote" in out and "| 0.80 | 1/2 | 1 | 0/1 (0.0 %) |" in out
    assert main([str(path), "--thresholds", "0.8", "--noisy-outside-limit", "none,-0.4"]) == 0
    none, looser = capsys.readouterr().out.split("noisy outside limit none:")[1].split(
        "noisy outside limit -0.4:")
    assert "| 0.80 | 0/2 | 1 | 0/1 (0.0 %) |" in none
    assert "| 0.80 | 1/2 | 1 | 0/1 (0.0 %) |" in looser
    with pytest.raises(SystemExit):
        main([str(path), "--noisy-outside-limit", "0.5"])
    assert "within -10..0" in capsys.readouterr().err
    # Runs from before members were recorded cannot replay another outside limit.
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"clips": [_clip("command", "correct", True, 0.9)]}))
    with pytest.raises(SystemExit):
        main([str(old), "--noisy-outside-limit", "-0.4"])
    assert "re-run bench.eval" in capsys.readouterr().err


def test_rival_gaps_are_replayed_with_the_rival_limit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A member whose recorded rival gap is under the replayed rival limit loses its vote,
    as in the runtime; runs that measured no gaps cannot replay one."""
    on = [{"ga": "1/1/1", "dpt": "1.001", "value": True}]
    off = [{"ga": "1/1/1", "dpt": "1.001", "value": False}]
    clips = [
        # "turn off" heard for "turn on", a coin toss between the two
        _voted_clip("command", on, 55.0, [("off", 0.9, 0.0, off), ("off", 0.85, 0.0, off)]),
        # a clear command: its rivals fit far worse
        _voted_clip("command", on, 55.0, [("on", 0.9, 0.0, on), ("on", 0.9, 0.0, on)]),
    ]
    for clip, gaps in zip(clips, ((0.02, 0.05), (0.8, None)), strict=True):
        for member, gap in zip(clip["engines"]["edgeasr"]["members"], gaps, strict=True):
            member["rival_gap"] = gap  # None: no rival fits (never rivalled)
    (free,) = sweep(clips, (0.8,))
    assert (free["right"], free["wrong"]) == (1, 1)
    (ruled,) = sweep(clips, (0.8,), rival_limit=0.1)
    assert (ruled["right"], ruled["wrong"]) == (1, 0)
    path = tmp_path / "accuracy.json"
    path.write_text(json.dumps({"engines": {"edgeasr": {"rival_limit": 0.0}}, "clips": clips}))
    assert main([str(path), "--thresholds", "0.8", "--rival-limit", "none,0.1"]) == 0
    none, limited = capsys.readouterr().out.split("rival limit none:")[1].split(
        "rival limit 0.1:")
    assert "| 0.80 | 1/2 | 1 |" in none and "| 0.80 | 1/2 | 0 |" in limited
    with pytest.raises(SystemExit):
        main([str(path), "--rival-limit", "-1"])
    assert "within 0..10" in capsys.readouterr().err
    unmeasured = tmp_path / "unmeasured.json"
    unmeasured.write_text(json.dumps({"engines": {"edgeasr": {}}, "clips": clips}))
    with pytest.raises(SystemExit):
        main([str(unmeasured), "--rival-limit", "0.1"])
    assert "--rival-limit 0" in capsys.readouterr().err
