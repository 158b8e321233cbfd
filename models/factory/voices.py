"""Training voices: espeak-ng, flite and festival, each with pseudo-speaker variation.

The Piper joe voice is the held-out stand-in for an unseen human voice; it is deliberately
absent from this module and must never be added here.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 16000

ESPEAK_VOICES = [
    "en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
    "en-029", "en-us-nyc",
]
ESPEAK_VARIANTS = [
    "", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "klatt6", "Andy", "Annie", "Denis", "Gene",
    "Lee", "Mike", "Michael", "aunty", "benjamin", "caleb", "david", "edward", "grandma",
    "grandpa", "john", "linda", "max", "norbert", "paul", "quincy", "rob", "robert", "steph",
    "travis", "victor", "zac",
]
FLITE_VOICES = ["kal", "kal16", "awb", "rms", "slt"]
FESTIVAL_VOICES = ["kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"]


@dataclass(frozen=True)
class Voice:
    engine: str  # espeak | flite | festival
    name: str
    rate: float  # 1.0 = the engine's default speed
    pitch: float  # espeak pitch 0-99, flite f0 mean in Hz; festival ignores it

    @property
    def label(self) -> str:
        return f"{self.engine}:{self.name}"


def is_voice(label: str) -> bool:
    """Whether ``label`` names a training voice (engine:name, an espeak variant optional)."""
    engine, _, name = label.partition(":")
    base, _, variant = name.partition("+")
    return {"espeak": base in ESPEAK_VOICES and (not variant or variant in ESPEAK_VARIANTS),
            "flite": name in FLITE_VOICES, "festival": name in FESTIVAL_VOICES}.get(engine, False)


def available_engines() -> list[str]:
    return [e for e, exe in (("espeak", "espeak-ng"), ("flite", "flite"),
                             ("festival", "text2wave")) if shutil.which(exe)]


def random_voice(rng: random.Random, engines: list[str]) -> Voice:
    weights = {"espeak": 0.62, "flite": 0.28, "festival": 0.10}
    engine = rng.choices(engines, [weights[e] for e in engines])[0]
    rate = rng.uniform(0.8, 1.25)
    if engine == "espeak":
        v = rng.choice(ESPEAK_VOICES)
        var = rng.choice(ESPEAK_VARIANTS)
        return Voice(engine, f"{v}+{var}" if var else v, rate, rng.uniform(20, 80))
    if engine == "flite":
        return Voice(engine, rng.choice(FLITE_VOICES), rate, rng.uniform(85, 190))
    return Voice(engine, rng.choice(FESTIVAL_VOICES), rate, 0.0)


def _read(path: str) -> np.ndarray:
    audio, sr = sf.read(path, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if sr != SAMPLE_RATE:
        audio = soxr.resample(audio, sr, SAMPLE_RATE)
    return audio.astype(np.float32)


def synthesise(voice: Voice, text: str) -> np.ndarray:
    """Speak ``text`` in ``voice``; 16 kHz mono float32."""
    fd, path = tempfile.mkstemp(suffix=".wav")
    os.close(fd)
    try:
        if voice.engine == "espeak":
            cmd = ["espeak-ng", "-v", voice.name, "-s", str(int(170 * voice.rate)),
                   "-p", str(int(voice.pitch)), "-w", path, text]
        elif voice.engine == "flite":
            cmd = ["flite", "-voice", voice.name,
                   "--setf", f"duration_stretch={1 / voice.rate:.3f}",
                   "--setf", f"int_f0_target_mean={voice.pitch:.0f}", "-t", text, "-o", path]
        else:
            script = (f"(voice_{voice.name})"
                      f"(Parameter.set 'Duration_Stretch {1 / voice.rate:.3f})")
            cmd = ["text2wave", "-eval", script, "-o", path]
        subprocess.run(cmd, input=text if voice.engine == "festival" else None, text=True,
                       check=True, capture_output=True, timeout=60)
        return _read(path)
    finally:
        os.unlink(path)
