"""The listening loop: frames -> utterances -> (wake phrase) -> command -> result.

Modes:
- ``wake``: nothing acts until the wake phrase; a command may follow it in the same breath
  ("good day house, turn on the kitchen light") or in the command window after it.
- ``always``: every utterance is a candidate command (for push-to-talk hardware or a quiet
  room; rejection still keeps chatter out).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from edgeasr.grammar import WAKE, CompiledGrammar
from edgeasr.recognizer import Recognizer, Result
from edgeasr.vad import Endpointer, VadConfig

log = logging.getLogger(__name__)

DEFAULT_WAKE_PHRASE = "good day house"  # chosen by measurement: see docs/knx.md


class Mode(StrEnum):
    WAKE = "wake"
    ALWAYS = "always"


@dataclass
class PipelineConfig:
    mode: Mode = Mode.WAKE
    wake_phrase: str = DEFAULT_WAKE_PHRASE
    command_window_s: float = 5.0
    vad: VadConfig = field(default_factory=VadConfig)


@dataclass
class Heard:
    """One utterance's outcome, for the action log."""

    result: Result
    woke: bool  # the wake phrase was in this utterance
    acted: bool  # a command to execute
    speech_end: float  # time.monotonic() when the utterance was closed
    decode_s: float


class Pipeline:
    def __init__(self, recognizer: Recognizer, cfg: PipelineConfig | None = None) -> None:
        self.cfg = cfg or PipelineConfig()
        self.set_recognizer(recognizer)
        self.endpointer = Endpointer(self.cfg.vad)
        self._window_until = 0.0

    def set_recognizer(self, recognizer: Recognizer, wake_phrase: str | None = None) -> None:
        """Swap in a new grammar (configuration reload) without stopping the stream."""
        if wake_phrase:
            self.cfg.wake_phrase = wake_phrase
        grammar: CompiledGrammar = recognizer.grammar
        wake = None
        if self.cfg.mode is Mode.WAKE:
            wake = Recognizer(grammar.with_wake_phrase(self.cfg.wake_phrase),
                              recognizer.model, recognizer.threshold)
        self.command, self.wake = recognizer, wake

    def _decide(self, audio: np.ndarray) -> Heard:
        now = time.monotonic()
        t0 = time.perf_counter()
        in_window = now < self._window_until
        if self.wake is None or in_window:
            result = self.command.recognize(audio)
            woke = False
            if not result.accepted and self.wake is not None:
                # The window is open, but someone may say the wake phrase again.
                again = self.wake.recognize(audio)
                if again.accepted:
                    result, woke = again, True
        else:
            result = self.wake.recognize(audio)
            woke = result.accepted
        acted = result.accepted and result.intent != WAKE
        if woke and result.intent == WAKE:
            self._window_until = now + self.cfg.command_window_s
            log.info("wake phrase heard; listening for a command for %.1f s",
                     self.cfg.command_window_s)
        elif acted and in_window:
            self._window_until = 0.0
        return Heard(result, woke, acted, now, time.perf_counter() - t0)

    async def run(self, frames: AsyncIterator[np.ndarray]) -> AsyncIterator[Heard]:
        loop = asyncio.get_running_loop()
        async for frame in frames:
            utterance = self.endpointer.push(frame)
            if utterance is None:
                early = self.endpointer.early()
                if early is not None:
                    heard = await loop.run_in_executor(None, self._decide, early)
                    if heard.acted or heard.woke:
                        self.endpointer.discard()
                        yield heard
                continue
            # Decoding is CPU work: keep it off the event loop so KNX I/O stays live.
            yield await loop.run_in_executor(None, self._decide, utterance)
        tail = self.endpointer.flush()
        if tail is not None:
            yield await loop.run_in_executor(None, self._decide, tail)
