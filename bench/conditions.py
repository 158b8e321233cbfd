"""Acoustic conditions of the held-out set: clean, TV-like noise at 10 and 0 dB SNR, reverb.

Deliberately *not* the model factory's generators (``factory.augment``: white/pink/brown noise,
babble of training voices, an exponential-noise impulse response with a random direct path).
Here:

* noise is a "TV in the room" mix: three babble talkers made from the joe voice reading news /
  chat lines (each talker resampled to a different speed and pitch), a synthetic chord
  soundtrack and speech-shaped noise (white noise with the long-term spectrum of those lines),
  band-limited like a TV loudspeaker (150 Hz – 6 kHz);
* SNR is the active speech level (10 ms frames within 40 dB of the loudest) over the noise's
  mean power across the whole clip, padding included;
* reverb convolves with a synthetic room impulse: direct path, 10 early reflections (4–50 ms)
  and a late tail whose decay depends on frequency (RT60 0.7 s below 500 Hz, 0.6 s from
  500 Hz to 4 kHz, 0.4 s above), scaled to a direct-to-reverberant ratio of 0 dB
  (a talker a few metres from a wall-mounted device in a furnished living room).

Every clip also gets a -75 dBFS white microphone noise floor, so no engine sees digital silence.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np
import soxr
from scipy import signal

SR = 16000
PEAK = 0.5  # speech peak level of every clip (about -6 dBFS)
PAD_BEFORE_S = 0.35
PAD_AFTER_S = 0.45
FLOOR_DBFS = -75.0

RT60_BANDS: tuple[tuple[float, float, float], ...] = (
    (0.0, 500.0, 0.7), (500.0, 4000.0, 0.6), (4000.0, 8000.0, 0.4),
)
RT60_NOMINAL = 0.6
DRR_DB = 0.0

CONDITIONS: dict[str, str] = {
    "clean": "joe voice, -75 dBFS microphone floor only",
    "snr10": "TV-like mix (babble + music + speech-shaped noise) at 10 dB SNR",
    "snr0": "TV-like mix (babble + music + speech-shaped noise) at 0 dB SNR",
    "reverb": f"synthetic room impulse, RT60 {RT60_NOMINAL} s (0.7 s < 500 Hz, 0.4 s > 4 kHz), "
              f"DRR {DRR_DB:g} dB",
}
SNR_DB = {"snr10": 10.0, "snr0": 0.0}

# The SNR sweep of `make bench`: "<noise>-snr<dB>", e.g. "tv-snr6", "fan-snr18".
NOISES: dict[str, str] = {
    "tv": "TV-like mix (babble + music + speech-shaped noise)",
    "fan": "fan/extractor hood: airflow noise with two broad resonances, blade-pass hum "
           "(95-125 Hz and harmonics) and a slow swell",
}
SWEEP_SNRS = (0, 6, 12, 18, 24)
_SWEEP = re.compile(r"^(?P<noise>[a-z]+)-snr(?P<snr>-?\d+)$")


def sweep_condition(noise: str, snr_db: int) -> str:
    if noise not in NOISES:
        raise ValueError(f"unknown noise {noise!r}; known: {sorted(NOISES)}")
    return f"{noise}-snr{snr_db}"


def parse_sweep(condition: str) -> tuple[str, float] | None:
    """("tv", 6.0) for "tv-snr6"; None for anything that is not a sweep condition."""
    m = _SWEEP.match(condition)
    if m is None or m["noise"] not in NOISES:
        return None
    return m["noise"], float(m["snr"])


def describe(condition: str) -> str:
    if condition in CONDITIONS:
        return CONDITIONS[condition]
    sweep = parse_sweep(condition)
    if sweep is None:
        raise ValueError(f"unknown condition {condition!r}")
    return f"{NOISES[sweep[0]]} at {sweep[1]:g} dB SNR"


def clip_rng(*keys: str) -> np.random.Generator:
    """A generator seeded by the clip's identity, stable across runs and machines."""
    return np.random.default_rng(zlib.crc32("\x00".join(keys).encode()))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def active_power(speech: np.ndarray, frame: int = 160, range_db: float = 40.0) -> float:
    """Mean power over the 10 ms frames within ``range_db`` of the loudest frame."""
    n = len(speech) - len(speech) % frame
    if n == 0:
        return float(np.mean(np.square(speech, dtype=np.float64)) + 1e-20)
    p = np.mean(np.square(speech[:n].reshape(-1, frame), dtype=np.float64), axis=1)
    keep = p >= p.max() * 10 ** (-range_db / 10)
    return float(p[keep].mean() + 1e-20)


def level_and_pad(utterance: np.ndarray) -> np.ndarray:
    """Scale the utterance to ``PEAK`` and pad it with digital silence (floor added later)."""
    x = utterance * (PEAK / (np.max(np.abs(utterance)) + 1e-9))
    return np.pad(x, (int(PAD_BEFORE_S * SR), int(PAD_AFTER_S * SR))).astype(np.float32)


def add_floor(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    floor = rng.standard_normal(len(x)) * 10 ** (FLOOR_DBFS / 20)
    return (x + floor).astype(np.float32)


# --- TV-like noise --------------------------------------------------------------------------

def _talker(rng: np.random.Generator, lines: Sequence[np.ndarray], n: int,
            speed: float) -> np.ndarray:
    parts: list[np.ndarray] = []
    total = 0
    order = rng.permutation(len(lines))
    i = 0
    while total < n + SR:
        line = lines[int(order[i % len(order)])]
        i += 1
        if speed != 1.0:
            line = soxr.resample(line, SR * speed, SR)
        gap = np.zeros(int(rng.uniform(0.08, 0.3) * SR), np.float32)
        parts += [line / (rms(line) + 1e-9), gap]
        total += len(line) + len(gap)
    x = np.concatenate(parts)
    start = int(rng.integers(0, len(x) - n))
    return x[start : start + n]


def _music(rng: np.random.Generator, n: int) -> np.ndarray:
    chords = [(261.6, 329.6, 392.0), (220.0, 261.6, 329.6), (174.6, 220.0, 261.6),
              (196.0, 246.9, 293.7)]
    out = np.zeros(n, np.float64)
    pos = 0
    while pos < n:
        dur = int(rng.uniform(0.3, 0.7) * SR)
        t = np.arange(dur) / SR
        env = np.exp(-t / 0.35) * (1 - np.exp(-t / 0.01))
        chord = chords[int(rng.integers(len(chords)))]
        note = sum(np.sin(2 * np.pi * f * k * t + rng.uniform(0, 6.3)) / k
                   for f in (*chord, chord[0] / 2) for k in range(1, 5))
        seg = (env * note)[: n - pos]
        out[pos : pos + len(seg)] += seg
        pos += dur
    return out.astype(np.float32)


def speech_spectrum(lines: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Long-term average power spectrum (frequencies, PSD) of the babble lines."""
    f, p = signal.welch(np.concatenate(lines), fs=SR, nperseg=512)
    return f, p


def _speech_shaped(rng: np.random.Generator, n: int,
                   ltas: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    shape = np.sqrt(np.interp(freqs, ltas[0], ltas[1]))
    return np.fft.irfft(spec * shape, n).astype(np.float32)


def tv_noise(rng: np.random.Generator, n: int, lines: Sequence[np.ndarray]) -> np.ndarray:
    """Unit-RMS TV-like noise of ``n`` samples; ``lines`` are joe utterances (not eval text)."""
    babble = sum(g * _talker(rng, lines, n, s) for g, s in ((1.0, 0.88), (0.8, 1.0), (0.6, 1.15)))
    babble = np.asarray(babble, dtype=np.float32)
    parts = [(0.6, babble), (0.25, _music(rng, n)),
             (0.15, _speech_shaped(rng, n, speech_spectrum(lines)))]
    mix = sum(np.sqrt(w) * p / rms(p) for w, p in parts)
    sos = signal.butter(2, [150, 6000], btype="bandpass", fs=SR, output="sos")
    out = signal.sosfilt(sos, mix)
    return (out / rms(out)).astype(np.float32)


def fan_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-RMS appliance noise: not the factory's plain white/pink/brown noise."""
    freqs = np.fft.rfftfreq(n, 1 / SR)
    shape = (1 / np.sqrt(np.maximum(freqs, 40.0))
             * (1 + 2.0 * np.exp(-(((freqs - rng.uniform(250, 450)) / 120) ** 2))
                + 1.0 * np.exp(-(((freqs - rng.uniform(900, 1500)) / 300) ** 2))))
    air = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * shape, n)
    t = np.arange(n) / SR
    f0 = rng.uniform(95, 125)
    hum = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3)) / k for k in range(1, 7))
    swell = 1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t + rng.uniform(0, 6.3))
    mix = (np.sqrt(0.85) * air / rms(air) + np.sqrt(0.15) * hum / rms(hum)) * swell
    return (mix / rms(mix)).astype(np.float32)


def mix_at_snr(clean: np.ndarray, speech_power: float, noise: np.ndarray,
               snr_db: float) -> np.ndarray:
    """``clean + noise`` with the noise scaled to ``snr_db`` below ``speech_power``."""
    noise_power = np.mean(np.square(noise, dtype=np.float64))
    gain = np.sqrt(speech_power / (noise_power * 10 ** (snr_db / 10)))
    x = clean + gain * noise[: len(clean)]
    peak = np.max(np.abs(x))
    if peak > 0.99:
        x = x * (0.99 / peak)
    return x.astype(np.float32)


# --- reverb ---------------------------------------------------------------------------------

def room_impulse(rng: np.random.Generator) -> np.ndarray:
    """Direct path + early reflections + frequency-dependent late tail; DRR = ``DRR_DB``."""
    longest = max(b[2] for b in RT60_BANDS)
    n = int(SR * longest)
    t = np.arange(n) / SR
    tail = np.zeros(n, np.float64)
    for lo, hi, rt60 in RT60_BANDS:
        noise = rng.standard_normal(n)
        if lo <= 0:
            sos = signal.butter(4, hi, btype="lowpass", fs=SR, output="sos")
        elif hi >= SR / 2:
            sos = signal.butter(4, lo, btype="highpass", fs=SR, output="sos")
        else:
            sos = signal.butter(4, [lo, hi], btype="bandpass", fs=SR, output="sos")
        tail += signal.sosfilt(sos, noise) * np.exp(-6.9078 * t / rt60)  # -60 dB at rt60
    onset = int(0.005 * SR)
    tail[:onset] = 0.0
    tail[onset:] *= 1 - np.exp(-(t[onset:] - t[onset]) / 0.01)  # diffuse build-up
    early = np.zeros(n, np.float64)
    for _ in range(10):
        k = int(rng.uniform(0.004, 0.05) * SR)
        early[k] += rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.7) * np.exp(-k / SR / 0.05)
    reverberant = early + tail / rms(tail) * rms(early) * 2.0
    reverberant *= np.sqrt(10 ** (-DRR_DB / 10) / np.sum(reverberant**2))
    ir = reverberant
    ir[0] = 1.0
    return (ir / np.sqrt(np.sum(ir**2))).astype(np.float32)


def rt60_schroeder(ir: np.ndarray) -> float:
    """RT60 from Schroeder backward integration, the -5..-25 dB slope (T20) extrapolated."""
    edc = np.cumsum(np.square(ir[::-1], dtype=np.float64))[::-1]
    edc_db = 10 * np.log10(edc / edc[0] + 1e-30)
    i5 = int(np.argmax(edc_db <= -5))
    i25 = int(np.argmax(edc_db <= -25))
    if i25 <= i5:
        return float("nan")
    slope = np.polyfit(np.arange(i5, i25) / SR, edc_db[i5:i25], 1)[0]  # dB per second
    return float(-60.0 / slope)


def reverberate(rng: np.random.Generator, clean: np.ndarray) -> np.ndarray:
    """Convolve the padded, floor-free clip with a fresh room impulse; keep 0.3 s of tail."""
    wet = signal.fftconvolve(clean, room_impulse(rng))[: len(clean) + int(0.3 * SR)]
    return (wet * (PEAK / (np.max(np.abs(wet)) + 1e-9))).astype(np.float32)
