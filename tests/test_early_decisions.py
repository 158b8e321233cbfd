"""bench.early_decisions replays a clip through the service's own pause rule."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from conftest import DEMO_CONFIG

from bench.dataset import Clip
from bench.early_decisions import POLICIES, clip_record, main, replay, room, score
from edgeasr.pipeline import Mode, Pipeline, PipelineConfig
from edgeasr.recognizer import Recognizer
from edgeasr.telegram import Telegram


def test_a_settled_command_is_decided_in_the_pause_only_when_the_policy_allows(
        speak_audio: Callable[..., np.ndarray]) -> None:
    text = "turn on the kitchen light"
    clip = Clip("cmd000", text, "command", (Telegram("1/1/1", "1.001", True),))
    audio = speak_audio(text)
    rec = Recognizer.from_config(DEMO_CONFIG)
    waited = replay(Pipeline(rec, POLICIES["end of utterance only"]), audio)
    early = replay(Pipeline(rec, PipelineConfig(Mode.ALWAYS)), audio)  # the service's defaults
    assert (score(clip, waited), waited.in_pause) == ("right", False)
    assert (score(clip, early), early.in_pause) == ("right", True)
    wrong = Clip("cmd001", text, "command", (Telegram("1/1/1", "1.001", False),))
    assert score(wrong, early) == "wrong"
    # The replayed latency: the end of the utterance comes after end_silence_s of quiet, an
    # early decision well before that, and neither before the speech has ended.
    end_silence = POLICIES["end of utterance only"].vad.end_silence_s
    assert waited.after_speech_s >= end_silence
    assert 0.0 < early.after_speech_s < waited.after_speech_s
    # What --clips writes for it: enough to check a decision by hand.
    record = clip_record("espeak-ng:en-us", "clean", "default", clip, early, "right")
    assert record["heard"] == text and record["in_pause"] is True
    assert 0 < record["decoded_ms"] < 1000 * len(audio) / 16000 + 1000
    assert record["ms_after_speech"] == round(1000 * early.after_speech_s)
    # Which rule decided: a settled command this sure waits only the short quiet; unless
    # the settled rule asks for more confidence than any result has, then the longer one.
    vad = PipelineConfig().vad
    assert early.quiet_ms == record["quiet_ms"] == round(1000 * vad.settled_silence_s)
    assert waited.quiet_ms is None
    strict = replay(Pipeline(rec, PipelineConfig(Mode.ALWAYS, early_confidence=1.01)), audio)
    assert (score(clip, strict), strict.quiet_ms) == ("right", round(1000 * vad.early_silence_s))
    assert early.after_speech_s < strict.after_speech_s < waited.after_speech_s


def test_a_noisy_clip_is_replayed_in_its_noisy_room(
        speak_audio: Callable[..., np.ndarray]) -> None:
    """The noise goes on around a TV-noise clip (its quietest frames), so the recogniser
    hears the room before the onset and judges it noisy; a clean clip stays in near silence."""
    speech = speak_audio("turn on the kitchen light")
    clean = np.concatenate([np.zeros(8000, np.float32), speech, np.zeros(8000, np.float32)])
    rng = np.random.default_rng(7)
    level = float(np.sqrt(np.mean(speech ** 2)))
    noise = (0.3 * level * rng.standard_normal(len(clean))).astype(np.float32)
    around = room(clean + noise)
    assert len(around) == 16000
    assert 0.2 * level < float(np.sqrt(np.mean(around ** 2))) < 0.45 * level
    assert float(np.abs(room(clean)).max()) < 1e-3
    rec = Recognizer.from_config(DEMO_CONFIG)
    heard = replay(Pipeline(rec, POLICIES["end of utterance only"]), clean + noise).heard
    assert heard is not None and heard.result.snr_db is not None
    assert heard.result.snr_db < rec.model.noisy_below_db


def test_confidences_must_be_two_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("0.8", "0.8/high", "0.8/1.5"):
        with pytest.raises(SystemExit):
            main(["--dev-voice", "flite:awb", "--confidences", bad])
        err = capsys.readouterr().err
        assert f"'{bad}'" in err and ("EARLY/PAUSE" in err or "from 0 to 1" in err)


def test_an_unknown_policy_is_named_with_the_known_ones(capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    with pytest.raises(SystemExit):
        main(["--dev-voice", "flite:awb", "--policies", "fastest"])
    err = capsys.readouterr().err
    assert "'fastest'" in err and "end of utterance only" in err
