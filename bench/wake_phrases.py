"""`python -m bench.wake_phrases`: how often candidate wake phrases are accepted.

Each phrase is spoken alone by several espeak-ng voices (a training engine; the held-out
Piper voice is deliberately not used, so the choice is not tuned on it) and decoded with the
wake grammar of the demo building; the mean confidence of accepted wakes is printed.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from edgeasr import Recognizer
from edgeasr.audio import read_wav
from edgeasr.grammar import WAKE

REPO = Path(__file__).resolve().parents[1]
VOICES = ["en-us", "en-us+m3", "en-gb-x-rp+f2", "en-us+klatt", "en+m1", "en-us+f3"]
CANDIDATES = ["hello house", "okay house", "hello building", "okay building", "hey building",
              "listen up house", "attention house", "house computer", "hello home",
              "good day house"]


def speak(text: str, voice: str) -> np.ndarray:
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", f.name, text], check=True)
        audio = read_wav(f.name)
    audio = 0.5 * audio / (np.abs(audio).max() + 1e-9)
    return np.concatenate([np.zeros(4800, np.float32), audio, np.zeros(8000, np.float32)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.wake_phrases", description=__doc__)
    ap.add_argument("phrases", nargs="*", default=CANDIDATES)
    args = ap.parse_args(argv)
    rec = Recognizer.from_config(REPO / "examples" / "demo-building.yaml")
    for phrase in args.phrases:
        wake = rec.with_grammar(rec.grammar.with_wake_phrase(phrase))
        results = [wake.recognize(speak(phrase, v)) for v in VOICES]
        accepted = [r for r in results if r.intent == WAKE]
        conf = [r.confidence if r.intent == WAKE else 0.0 for r in results]
        print(f"{phrase:<18} accepted {len(accepted)}/{len(VOICES)}  "
              f"mean confidence {np.mean(conf):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
