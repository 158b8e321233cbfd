"""Log-mel features: 16 kHz mono float audio -> [frames, 40] float32, 10 ms hop.

The same code runs in training (the model factory) and on the board, so the model always
sees what it was trained on. Mean normalisation per utterance removes a fixed microphone or
room colouring.
"""

from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 512
WIN = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
FMIN, FMAX = 60.0, 7600.0


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


@functools.cache
def mel_filterbank() -> np.ndarray:
    """[N_FFT//2+1, N_MELS] triangular filters (HTK mel scale)."""
    mels = np.linspace(_hz_to_mel(np.array(FMIN)), _hz_to_mel(np.array(FMAX)), N_MELS + 2)
    hz = _mel_to_hz(mels)
    bins = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
    fb = np.zeros((len(bins), N_MELS), dtype=np.float32)
    for i in range(N_MELS):
        lo, mid, hi = hz[i], hz[i + 1], hz[i + 2]
        up = (bins - lo) / (mid - lo)
        down = (hi - bins) / (hi - mid)
        fb[:, i] = np.maximum(0.0, np.minimum(up, down))
    return fb


@functools.cache
def _window() -> np.ndarray:
    return np.hanning(WIN).astype(np.float32)


def log_mel(audio: np.ndarray) -> np.ndarray:
    """Log-mel energies, [frames, N_MELS]; at least one frame even for very short input."""
    x = np.asarray(audio, dtype=np.float32)
    if len(x) < WIN:
        x = np.pad(x, (0, WIN - len(x)))
    n = 1 + (len(x) - WIN) // HOP
    idx = np.arange(WIN)[None, :] + HOP * np.arange(n)[:, None]
    frames = x[idx] * _window()
    spec = np.abs(np.fft.rfft(frames, n=N_FFT)) ** 2
    return np.log(spec @ mel_filterbank() + 1e-6).astype(np.float32)


def normalise(feats: np.ndarray) -> np.ndarray:
    """Per-utterance mean normalisation, scaled to roughly unit range for int8 input."""
    return ((feats - feats.mean(axis=0, keepdims=True)) / 4.0).astype(np.float32)


def features(audio: np.ndarray) -> np.ndarray:
    return normalise(log_mel(audio))


def pad_floor(feats: np.ndarray) -> np.ndarray:
    """What padding looks like: the utterance's own quiet floor, per mel bin."""
    return np.percentile(feats, 5, axis=0).astype(np.float32)
