"""Voice activity detection and end-pointing for the live stream.

An adaptive energy detector: the noise floor is a low percentile of the last few seconds'
frame energies, and speech is where the energy rises well above it. Hangover keeps short
pauses inside one utterance; the end of speech closes the utterance so it can be decoded.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from edgeasr.capture import FRAME

FRAME_S = FRAME / 16000


@dataclass
class VadConfig:
    threshold_db: float = 9.0  # speech: this far above the noise floor
    # Once an utterance has started, speech must also be within this much of its loudest
    # frame (None: off), so a reverberant tail ends sooner. 40 dB, not 30: at 30 dB a weak
    # final fricative counts as quiet, and "the fan off" cut before its "f" decodes as
    # "the fan on" (bench.early_decisions --clips on the dev voices, docs/knx.md).
    peak_drop_db: float | None = 40.0
    # ... except a frame whose signal crosses zero at least this often per sample (None: no
    # exception): a fricative ("f", "s": 0.25-0.4 in the dev voices), not a vowel's
    # reverberant tail (under 0.2). Energy alone cut "off" to "o" even at 40 dB (the
    # classic energy + zero-crossing endpointer, Rabiner and Sambur 1975).
    fricative_zcr: float | None = 0.25
    min_speech_s: float = 0.25  # shorter bursts are clicks, not speech
    end_silence_s: float = 0.45  # this much quiet ends an utterance
    # A decode starts at the first quiet frame of every pause; a confident command from it is
    # acted on after this much quiet (0: only at end_silence_s) ...
    early_silence_s: float = 0.16
    # ... or after this much, when no word the speaker could add would change its meaning.
    settled_silence_s: float = 0.06
    max_utterance_s: float = 8.0
    pre_roll_s: float = 0.3  # audio kept from before the onset
    floor_window_s: float = 3.0  # the noise floor is a low percentile of this much history


def zero_crossings(frame: np.ndarray) -> float:
    """Sign changes per sample: high for hiss (fricatives, white noise), low for vowels."""
    signs = np.signbit(frame)
    return float(np.count_nonzero(signs[1:] != signs[:-1])) / max(len(frame) - 1, 1)


class Endpointer:
    """Feed 20 ms frames; get back each complete utterance as one array."""

    def __init__(self, cfg: VadConfig | None = None) -> None:
        self.cfg = cfg or VadConfig()
        self._history: deque[float] = deque(maxlen=int(self.cfg.floor_window_s / FRAME_S))
        self._pre: deque[np.ndarray] = deque(maxlen=max(1, int(self.cfg.pre_roll_s / FRAME_S)))
        self._utt: list[np.ndarray] = []
        self._speech_frames = 0
        self._quiet = 0
        self._peak_db = -200.0
        self.in_speech = False

    @property
    def floor_db(self) -> float:
        return float(np.percentile(self._history, 10)) if self._history else -70.0

    def push(self, frame: np.ndarray) -> np.ndarray | None:
        db = 10 * np.log10(float(np.mean(frame.astype(np.float64) ** 2)) + 1e-10)
        self._history.append(db)
        loud = db > max(self.floor_db, -70.0) + self.cfg.threshold_db
        if not self.in_speech:
            self._pre.append(frame)
            if loud:
                self.in_speech = True
                self._utt = list(self._pre)
                self._speech_frames = 1
                self._quiet = 0
                self._peak_db = db
            return None
        self._utt.append(frame)
        self._peak_db = max(self._peak_db, db)
        drop, zcr = self.cfg.peak_drop_db, self.cfg.fricative_zcr
        if drop is not None and loud and db <= self._peak_db - drop:
            loud = zcr is not None and zero_crossings(frame) >= zcr
        if loud:
            self._speech_frames += 1
            self._quiet = 0
        else:
            self._quiet += 1
        too_long = len(self._utt) * FRAME_S >= self.cfg.max_utterance_s
        if self._quiet * FRAME_S >= self.cfg.end_silence_s or too_long:
            self.in_speech = False
            self._pre.clear()
            utt, self._utt = self._utt, []
            if self._speech_frames * FRAME_S >= self.cfg.min_speech_s:
                return np.concatenate(utt)
        return None

    @property
    def quiet_s(self) -> float:
        """How long the utterance in progress has been quiet (0 while speaking or idle)."""
        return self._quiet * FRAME_S if self.in_speech else 0.0

    def paused(self) -> np.ndarray | None:
        """The utterance so far, at the first quiet frame of each pause in it.

        Decoding it then, while the endpointer waits to see whether the person goes on,
        makes the result ready by the time the pause is long enough to act on.
        """
        if (not self.in_speech or self._quiet != 1
                or self._speech_frames * FRAME_S < self.cfg.min_speech_s):
            return None
        return np.concatenate(self._utt)

    def discard(self) -> None:
        """Drop the utterance in progress (it was already decided on)."""
        self.in_speech = False
        self._pre.clear()
        self._utt = []

    def flush(self) -> np.ndarray | None:
        """The utterance in progress when the stream ends, if it is long enough."""
        if not self.in_speech:
            return None
        self.in_speech = False
        utt, self._utt = self._utt, []
        if self._speech_frames * FRAME_S >= self.cfg.min_speech_s:
            return np.concatenate(utt)
        return None
