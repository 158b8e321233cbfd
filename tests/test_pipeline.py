"""Wake-phrase grammar and the endpointer, without audio hardware."""

from __future__ import annotations

import numpy as np
from conftest import DEMO_CONFIG

from edgeasr.capture import FRAME
from edgeasr.grammar import WAKE, load_building_grammar
from edgeasr.pipeline import DEFAULT_WAKE_PHRASE
from edgeasr.vad import Endpointer, VadConfig


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


def test_early_decode_is_offered_once_per_pause() -> None:
    t = np.arange(8000) / 16000
    burst = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    quiet = np.zeros(16000, np.float32) + 1e-4
    ep = Endpointer(VadConfig(early_silence_s=0.16))
    early = 0
    for f in _frames(np.concatenate([quiet, burst, quiet])):
        ep.push(f)
        early += ep.early() is not None
    assert early == 1
