"""bench.early_decisions replays a clip through the service's own pause rule."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from conftest import DEMO_CONFIG

from bench.dataset import Clip
from bench.early_decisions import POLICIES, replay, score
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
