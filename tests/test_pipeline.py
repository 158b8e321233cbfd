"""Wake-phrase grammar, the endpointer and early decisions, without audio hardware."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest
from conftest import DEMO_CONFIG
from pydantic import ValidationError

from edgeasr.capture import FRAME
from edgeasr.grammar import WAKE, load_building_grammar
from edgeasr.pipeline import DEFAULT_WAKE_PHRASE, Heard, Mode, Pipeline, PipelineConfig
from edgeasr.recognizer import Recognizer
from edgeasr.service import ListenConfig
from edgeasr.vad import Endpointer, VadConfig

SpeakAudio = Callable[..., np.ndarray]


def test_wake_phrase_alone_sends_nothing_and_with_a_command_sends_it() -> None:
    wake = load_building_grammar(DEMO_CONFIG).with_wake_phrase(DEFAULT_WAKE_PHRASE)
    assert wake.resolve is not None
    alone = wake.graph.parse(DEFAULT_WAKE_PHRASE)
    assert alone is not None and alone.intent == WAKE
    assert wake.resolve(alone) == []
    both = wake.graph.parse(f"{DEFAULT_WAKE_PHRASE} turn on the kitchen light")
    assert both is not None and both.intent == "switch_on"
    assert [t.to_json() for t in wake.resolve(both)] == [
        {"ga": "1/1/1", "dpt": "1.001", "value": True}]
    assert wake.graph.parse("turn on the kitchen light") is None  # not addressed


def _frames(audio: np.ndarray) -> list[np.ndarray]:
    return [audio[i : i + FRAME] for i in range(0, len(audio) - FRAME + 1, FRAME)]


def test_endpointer_returns_each_utterance_once() -> None:
    rng = np.random.default_rng(0)
    quiet = 0.001 * rng.standard_normal(16000).astype(np.float32)
    t = np.arange(12000) / 16000
    burst = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    stream = np.concatenate([quiet, burst, quiet, burst, quiet])
    ep = Endpointer(VadConfig())
    utterances = [u for f in _frames(stream) if (u := ep.push(f)) is not None]
    assert len(utterances) == 2
    for u in utterances:  # the whole burst plus pre-roll and the closing quiet
        assert 0.75 * 16000 <= len(u) <= 1.6 * 16000


def test_a_decode_is_offered_once_per_pause() -> None:
    """The utterance so far comes out at the first quiet frame of each pause (two here: a
    short gap inside the utterance and its end), and only as far as it has been heard."""
    t = np.arange(8000) / 16000
    burst = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    quiet = np.zeros(16000, np.float32) + 1e-4
    gap = np.zeros(1600, np.float32) + 1e-4  # 100 ms: shorter than end_silence_s
    ep = Endpointer(VadConfig())
    offered = []
    for f in _frames(np.concatenate([quiet, burst, gap, burst, quiet])):
        ep.push(f)
        if (so_far := ep.paused()) is not None:
            offered.append(len(so_far))
            assert ep.quiet_s == pytest.approx(0.02)
    assert len(offered) == 2
    assert offered[0] < 16000 * 0.9 < offered[1]  # the first burst, then both


def test_a_fading_tail_far_below_the_utterance_peak_is_quiet() -> None:
    """In a quiet room the noise floor is ~-100 dB: a tail 45 dB under the talker's peak is
    above floor + threshold but is not speech; the pause starts where the tail starts."""
    t = np.arange(8000) / 16000
    burst = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    tail = burst[:3200] * 10 ** (-45 / 20)  # 200 ms, 45 dB down
    quiet = np.zeros(16000, np.float32) + 1e-5
    for drop_db, expect_tail_in in ((40.0, False), (None, True)):
        ep = Endpointer(VadConfig(peak_drop_db=drop_db))
        offered = [len(s) for f in _frames(np.concatenate([quiet, burst, tail, quiet]))
                   if (ep.push(f), s := ep.paused())[1] is not None]
        assert len(offered) == 1
        pre_roll = int(VadConfig().pre_roll_s * 16000)
        heard = offered[0] - pre_roll - FRAME  # what was taken for speech
        assert (heard > len(burst) + FRAME) is expect_tail_in, (drop_db, heard)


def test_a_weak_fricative_after_the_peak_is_still_speech() -> None:
    """The "f" of "the fan off" lies over 40 dB under the vowel but hisses (many zero
    crossings): cutting it there made the early decode hear "the fan on". A hum equally far
    down is a reverberant tail and ends the utterance."""
    t = np.arange(8000) / 16000
    vowel = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    rng = np.random.default_rng(0)
    hiss = (0.3 * 10 ** (-45 / 20) * rng.standard_normal(3200)).astype(np.float32)
    hum = vowel[:3200] * 10 ** (-45 / 20)
    quiet = np.zeros(16000, np.float32) + 1e-5
    pre_roll = int(VadConfig().pre_roll_s * 16000)
    for tail, zcr, expect_tail_in in ((hiss, 0.25, True), (hiss, None, False),
                                      (hum, 0.25, False)):
        ep = Endpointer(VadConfig(fricative_zcr=zcr))
        offered = [len(s) for f in _frames(np.concatenate([quiet, vowel, tail, quiet]))
                   if (ep.push(f), s := ep.paused())[1] is not None]
        assert len(offered) == 1
        heard = offered[0] - pre_roll - FRAME
        assert (heard > len(vowel) + FRAME) is expect_tail_in, (zcr, heard)


def _trim(audio: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > 1e-3)
    return audio[loud[0] : loud[-1] + 1]


def test_a_settled_command_is_acted_on_within_a_short_pause(speak_audio: SpeakAudio) -> None:
    """A command nothing could extend is acted on in a 0.25 s pause, before the talker goes on
    chatting (end of utterance needs 0.45 s, so without the early decode the two would be
    one utterance). Frames arrive one at a time through ``Pipeline.run`` and its decode thread,
    as from a microphone, but each waits for the decodes before it: how fast a decode is on the
    board is ``make latency``'s to measure, and a test paced by the wall clock failed on a
    loaded 2-core CI machine (the decode outlasted the 0.25 s pause)."""
    rec = Recognizer.from_config(DEMO_CONFIG)
    pipeline = Pipeline(rec, PipelineConfig(mode=Mode.ALWAYS))
    command = _trim(speak_audio("turn on the kitchen light"))
    chatter = _trim(speak_audio("what a lovely day it is today"))
    rng = np.random.default_rng(0)
    stream = np.concatenate([np.zeros(8000), command, np.zeros(4000), chatter, np.zeros(16000)])
    stream = (stream + 1e-4 * rng.standard_normal(len(stream))).astype(np.float32)

    async def frames() -> AsyncIterator[np.ndarray]:
        for f in _frames(stream):
            await pipeline.decodes_done()  # a decode started in the pause is ready for f
            yield f

    async def hear() -> list[Heard]:
        return [h async for h in pipeline.run(frames())]

    heard = asyncio.run(hear())
    acted = [h for h in heard if h.acted]
    assert len(acted) == 1, [(h.result.text, h.result.confidence) for h in heard]
    assert acted[0].result.settled
    assert [(t.ga, t.value) for t in acted[0].result.telegrams] == [("1/1/1", True)]
    assert len(acted[0].audio) < 8000 + len(command) + 4000  # decided inside the pause


def test_pause_settings_must_be_in_order() -> None:
    """A settled wait longer than the early one, or an early wait as long as the end of an
    utterance, could never be reached: the service configuration refuses them by name."""
    ListenConfig(settled_silence_s=0.1, early_silence_s=0.2, end_silence_s=0.5)
    for bad in ({"settled_silence_s": 0.2, "early_silence_s": 0.1},
                {"early_silence_s": 0.45, "end_silence_s": 0.45}):
        with pytest.raises(ValidationError, match="settled_silence_s <= early_silence_s"):
            ListenConfig(**bad)


def test_the_wake_recogniser_keeps_the_buildings_settings() -> None:
    """In wake mode the pipeline builds a second recogniser for the wake-phrase grammar; the
    building's threshold and noisy-room overrides carry over to it, not the model's own."""
    rec = Recognizer.from_config(DEMO_CONFIG)
    tuned = Recognizer(rec.grammar, rec.model, threshold=0.9, noise_allowance=0.0,
                       noisy_outside_limit=-0.2)
    wake = Pipeline(tuned, PipelineConfig(mode=Mode.WAKE)).wake
    assert wake is not None
    assert (wake.threshold, wake.noise_allowance, wake.noisy_outside_limit) == (0.9, 0.0, -0.2)
    assert (rec.noise_allowance, rec.noisy_outside_limit) == (0.15, -0.5)  # the model's
