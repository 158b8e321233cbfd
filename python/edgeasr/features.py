"""Acoustic features: 16 kHz mono float audio -> [frames, bins] float32, 10 ms hop.

Two front ends, chosen by the model (its ``edgeasr.json`` names one, see ``frontend``):

- ``logmel40``: 40 log-mel bands with per-utterance mean normalisation (the first models).
- ``speech-mel32``: the 32-band mel spectrogram that Google's speech_embedding network
  (as packaged by openWakeWord 0.4.0) was trained on: 25 ms periodic Hann window in a
  512-point FFT, Slaney mel 60-3800 Hz, 10*log10 power of int16-scale audio floored 80 dB
  below its loudest bin, then x/10 + 2.
  A model with that pretrained, frozen network in front has to see exactly these numbers.

The same code runs in training (the model factory) and on the board, so the model always
sees what it was trained on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

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


# Frames per FFT batch: the transient memory stays under 1 MB however long the utterance,
# instead of ~14 kB per frame (7 MB for 5 s: the service's peak RSS, docs/latency.md); rows
# are independent, so the result is the same as one batch.
_FFT_BATCH = 64


def log_mel(audio: np.ndarray) -> np.ndarray:
    """Log-mel energies, [frames, N_MELS]; at least one frame even for very short input."""
    x = np.asarray(audio, dtype=np.float32)
    if len(x) < WIN:
        x = np.pad(x, (0, WIN - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, WIN)[::HOP]  # a view, no copy
    out = np.empty((len(frames), N_MELS), np.float32)
    for s in range(0, len(frames), _FFT_BATCH):
        spec = np.abs(np.fft.rfft(frames[s : s + _FFT_BATCH] * _window(), n=N_FFT)) ** 2
        out[s : s + _FFT_BATCH] = np.log(spec @ mel_filterbank() + 1e-6)
    return out


def normalise(feats: np.ndarray) -> np.ndarray:
    """Per-utterance mean normalisation, scaled to roughly unit range for int8 input."""
    return ((feats - feats.mean(axis=0, keepdims=True)) / 4.0).astype(np.float32)


def features(audio: np.ndarray) -> np.ndarray:
    return normalise(log_mel(audio))


# --- speech-mel32: the speech_embedding network's input -----------------------------------
SPEECH_MELS = 32
_SPEECH_WIN = 400  # inside a 512-sample frame, centred (what the network was trained with)


def _slaney_hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log, lin)


def _slaney_mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)),
                    m * (200.0 / 3))


@functools.cache
def speech_filterbank() -> np.ndarray:
    """[257, 32] Slaney-normalised mel filters, 60-3800 Hz (librosa's default mel scale)."""
    freqs = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = _slaney_mel_to_hz(np.linspace(_slaney_hz_to_mel(60.0), _slaney_hz_to_mel(3800.0),
                                          SPEECH_MELS + 2))
    width = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    lower = -ramps[:-2] / width[:-1, None]
    upper = ramps[2:] / width[1:, None]
    fb = np.maximum(0.0, np.minimum(lower, upper)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return fb.T.astype(np.float32)


@functools.cache
def _speech_window() -> np.ndarray:
    w = np.zeros(N_FFT, dtype=np.float32)
    off = (N_FFT - _SPEECH_WIN) // 2
    w[off : off + _SPEECH_WIN] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_SPEECH_WIN)
                                                     / _SPEECH_WIN)
    return w


def speech_mel(audio: np.ndarray) -> np.ndarray:
    """[frames, 32] speech_embedding input; audio is float in [-1, 1] (scaled to int16 here)."""
    x = np.asarray(audio, dtype=np.float32) * 32767.0
    if len(x) < N_FFT:
        x = np.pad(x, (0, N_FFT - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]  # a view, no copy
    db = np.empty((len(frames), SPEECH_MELS), np.float32)
    for s in range(0, len(frames), _FFT_BATCH):  # batches bound the memory, as in log_mel
        spec = np.abs(np.fft.rfft(frames[s : s + _FFT_BATCH] * _speech_window())) ** 2
        # 10*log10(mel) / 10
        db[s : s + _FFT_BATCH] = np.log10(np.maximum(spec @ speech_filterbank(), 1e-10))
    # Like the original: nothing more than 80 dB below the loudest bin (digital silence).
    return (np.maximum(db, db.max() - 8.0) + 2.0).astype(np.float32)


FRONTENDS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "logmel40": features,
    "speech-mel32": speech_mel,
}
# Values per frame of each front end: a model with several inputs finds its columns by these.
FRONTEND_BINS = {"logmel40": N_MELS, "speech-mel32": SPEECH_MELS}


def side_by_side(parts: list[Callable[[np.ndarray], np.ndarray]]
                 ) -> Callable[[np.ndarray], np.ndarray]:
    """Several front ends' frames side by side, cut to the shortest (their windows differ,
    so their frame counts may differ by one at the end)."""
    def both(audio: np.ndarray) -> np.ndarray:
        outs = [f(audio) for f in parts]
        n = min(len(o) for o in outs)
        return np.concatenate([o[:n] for o in outs], axis=1)

    return both


def frontend(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The feature function a model was trained with, by the name in its ``edgeasr.json``;
    ``a+b`` is front ends a and b side by side (a model with an input for each)."""
    try:
        parts = [FRONTENDS[n] for n in name.split("+")]
    except KeyError:
        raise ValueError(f"unknown front end {name!r}; expected one of {sorted(FRONTENDS)} "
                         "or several joined by '+'") from None
    return parts[0] if len(parts) == 1 else side_by_side(parts)


def pad_floor(feats: np.ndarray) -> np.ndarray:
    """What padding looks like: the utterance's own quiet floor, per mel bin."""
    return np.percentile(feats, 5, axis=0).astype(np.float32)


QUIET_BELOW_DB = 10.0
QUIET_HOP = 2 * HOP  # one flag per 20 ms, the acoustic model's output rate
# A soft consonant ("who", "don't") is well under the vowel after it, and the model's phone
# spikes tend to come at such onsets, ahead of the loud vowel. So a frame up to ONSET_FRAMES
# before a syllable's loud nucleus (at least NUCLEUS_FRAMES loud in a row; a TV's babble
# crosses the gate in shorter blips) is the speaker's, not quiet. Both chosen on the dev
# voices with the v9 model (docs/architecture.md).
ONSET_FRAMES = 6
NUCLEUS_FRAMES = 3


def quiet_frames(audio: np.ndarray, n_frames: int, below_db: float = QUIET_BELOW_DB,
                 lead: int = 0, onset: int = ONSET_FRAMES,
                 nucleus: int = NUCLEUS_FRAMES) -> np.ndarray:
    """Per 20 ms frame, whether it is more than ``below_db`` under the speech level and no
    run of ``nucleus`` louder frames starts within ``onset`` frames after it.

    The speech level is the 95th percentile of the frame energies: the talker nearest the
    microphone. Quiet frames around a command (a TV in the background) are not counted as
    speech left outside the sentence, and may be filler where that is on; loud ones (words
    the speaker said, and the soft onsets just before them) are counted and never filler.
    Frames past the audio's end (the model's padding) count as quiet, and so do the ``lead``
    frames of padding before it.
    """
    quiet = np.ones(n_frames, bool)
    db = frame_db(audio, QUIET_HOP)[: max(0, n_frames - lead)]
    if len(db):
        loud = db >= np.percentile(db, 95) - below_db
        nuclei = _runs_of(loud, nucleus)
        speaker = loud.copy()
        for k in range(1, onset + 1):
            speaker[:-k] |= nuclei[k:]
        quiet[lead : lead + len(db)] = ~speaker
    return quiet


NOISE_PERCENTILE = 5


def speech_to_noise_db(audio: np.ndarray) -> float | None:
    """How far the speech stands above the noise around it, in dB: the 95th percentile of
    the 20 ms frame energies (the talker, as in ``quiet_frames``) less their 5th percentile
    (the room between and around the words). None for audio under 0.2 s.

    The 5th, not the 10th: a live utterance carries only 0.3 s of audio from before its onset
    (``VadConfig.pre_roll_s``), and the lower the percentile, the more surely it lands in
    that stretch of room rather than in a reverberant gap between words. A file cut tighter
    still, with no room around the words, reads low and is judged as noisy. What the dev
    clips read: ``python -m bench.threshold ... --snr`` (docs/configuration.md).
    """
    db = frame_db(audio, QUIET_HOP)
    if len(db) < 10:
        return None
    return float(np.percentile(db, 95) - np.percentile(db, NOISE_PERCENTILE))


def _runs_of(flags: np.ndarray, length: int) -> np.ndarray:
    """``flags`` where they are part of a run of at least ``length`` set flags."""
    if length <= 1:
        return flags
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    out = np.zeros_like(flags)
    for a, b in zip(starts, ends, strict=True):
        if b - a >= length:
            out[a:b] = True
    return out


def frame_db(audio: np.ndarray, hop: int) -> np.ndarray:
    """Mean power in dB of each whole ``hop``-sample frame (a partial last frame is dropped)."""
    m = len(audio) // hop
    # One expression, so numpy squares the float64 copy in place (a 10-minute file stays cheap).
    power = np.mean(np.asarray(audio[: m * hop]).reshape(m, hop).astype(np.float64) ** 2, axis=1)
    return 10 * np.log10(power + 1e-10)
