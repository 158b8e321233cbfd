"""Make synthetic speech sound like a room: pseudo-speakers, microphones, reverb and noise.

Every transform is random but seeded by the caller, so a factory run is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr
from scipy import signal

SR = 16000


def colored_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """White (0), pink (1) or brown (2) noise."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1]
    x = np.fft.irfft(spec / f ** (exponent / 2), n)
    return (x / (np.std(x) + 1e-9)).astype(np.float32)


def music(rng: np.random.Generator, n: int) -> np.ndarray:
    """Chords of a few harmonic tones with note changes: a stand-in for TV music."""
    t = np.arange(n) / SR
    out = np.zeros(n, np.float32)
    seg = int(rng.uniform(0.2, 0.8) * SR)
    for start in range(0, n, seg):
        sl = slice(start, min(n, start + seg))
        for _ in range(int(rng.integers(2, 5))):
            f0 = 110.0 * 2 ** (rng.integers(0, 36) / 12)
            for h in range(1, 4):
                out[sl] += np.sin(2 * np.pi * f0 * h * t[sl] + rng.uniform(0, 6.3)) / h
    return out / (np.std(out) + 1e-9)


def speech_shaped(rng: np.random.Generator, n: int, babble: list[np.ndarray]) -> np.ndarray:
    """Noise with the long-term spectrum of speech."""
    ref = babble[int(rng.integers(0, len(babble)))] if babble else colored_noise(rng, n, 1.0)
    mag = np.abs(np.fft.rfft(ref, n))
    x = np.fft.irfft(mag * np.exp(2j * np.pi * rng.random(len(mag))), n)
    return (x / (np.std(x) + 1e-9)).astype(np.float32)


def speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Resample-based speed change: shifts tempo, pitch and apparent vocal-tract length."""
    return soxr.resample(audio, SR * factor, SR).astype(np.float32)


def room_impulse(rng: np.random.Generator, rt60: float,
                 drr: tuple[float, float] | None = None) -> np.ndarray:
    """A direct path and an exponentially decaying noise tail.

    ``drr``: the direct-to-reverberant ratio is drawn uniformly from this range in dB. None:
    the direct path's amplitude is drawn against one tail *sample*, so the tail holds
    hundreds of times its energy (DRR mostly -11 to -33 dB: a talker far across a bare hall),
    as every recipe up to v16 was trained.
    """
    n = int(SR * rt60)
    t = np.arange(n) / SR
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    ir[: int(0.002 * SR)] = 0.0
    if drr is None:
        ir[0] = 1.0 / (0.2 + rng.uniform(0, 1.5))
    else:  # one draw as above, so the draws after it stay where they were
        ir[0] = np.sqrt(np.sum(ir[1:] ** 2) * 10 ** (rng.uniform(*drr) / 10))
    return (ir / np.sqrt(np.sum(ir**2))).astype(np.float32)


def reverb(rng: np.random.Generator, audio: np.ndarray, rt60: float,
           drr: tuple[float, float] | None = None) -> np.ndarray:
    wet = signal.fftconvolve(audio, room_impulse(rng, rt60, drr))[: len(audio)]
    return wet.astype(np.float32)


def microphone(rng: np.random.Generator, audio: np.ndarray) -> np.ndarray:
    """A cheap microphone: band limits plus a random resonance and tilt."""
    lo = rng.uniform(60, 300)
    hi = rng.uniform(3400, 7800)
    sos = signal.butter(2, [lo, hi], btype="bandpass", fs=SR, output="sos")
    out = signal.sosfilt(sos, audio)
    if rng.random() < 0.6:
        f0 = rng.uniform(800, 5000)
        b, a = signal.iirpeak(f0, rng.uniform(1.0, 4.0), fs=SR)
        out = out + rng.uniform(-0.5, 0.8) * signal.lfilter(b, a, out)
    return out.astype(np.float32)


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    if len(noise) < len(speech):
        noise = np.tile(noise, int(np.ceil(len(speech) / max(len(noise), 1))))
    noise = noise[: len(speech)]
    ps = np.mean(speech**2) + 1e-10
    pn = np.mean(noise**2) + 1e-10
    return (speech + noise * np.sqrt(ps / (pn * 10 ** (snr_db / 10)))).astype(np.float32)


def pad_silence(rng: np.random.Generator, audio: np.ndarray) -> np.ndarray:
    before = int(rng.uniform(0.05, 0.5) * SR)
    after = int(rng.uniform(0.05, 0.5) * SR)
    return np.pad(audio, (before, after))


def own_voice_tv(rng: np.random.Generator, own: np.ndarray, k: int) -> np.ndarray:
    """``k`` talkers made from one line in the speaker's own voice, each at its own speed
    (pitch) and start, quieter one after another."""
    parts = []
    for i in range(k):
        p = speed(own, rng.uniform(0.85, 1.18))
        parts.append(np.roll(p, int(rng.integers(0, len(p)))) * 0.8**i)
    n = max(len(p) for p in parts)
    return sum(np.pad(p, (0, n - len(p))) for p in parts).astype(np.float32)


def talker_streams(rng: np.random.Generator, babble: list[np.ndarray], n: int,
                   k: int) -> np.ndarray:
    """``k`` background talkers who talk through all ``n`` samples, as a TV does: each one
    chatter line after another with short pauses, from a random point, at its own speed
    (pitch), each quieter than the one before."""
    out = np.zeros(n, np.float32)
    for i in range(k):
        rate = rng.uniform(0.85, 1.18)
        parts: list[np.ndarray] = []
        total = 0
        while total < n + SR:
            line = speed(babble[int(rng.integers(0, len(babble)))], rate)
            gap = np.zeros(int(rng.uniform(0.08, 0.4) * SR), np.float32)
            parts += [line / (np.sqrt(np.mean(line**2)) + 1e-9), gap]
            total += len(line) + len(gap)
        stream = np.concatenate(parts)
        start = int(rng.integers(0, len(stream) - n))
        out += stream[start : start + n] * np.float32(0.8**i)
    return out


# The cleanest noisy mix in dB unless a preset asks for harder ones (Augmentation.snr_max).
SNR_MAX_DB = 30.0


@dataclass(frozen=True)
class Augmentation:
    """How the noisy copies are made: a preset's choices (the defaults: v9's recipe).

    ``own_share``: the share of the talker noise made of chatter in the speaker's own voice
    (``own_voice_tv``, a TV that sounds like them; needs ``own``); 0: babble of other
    training voices only. ``snr_max``: the cleanest noisy mix in dB (the SNR is drawn
    uniformly up to it; talkers from 3 dB, other noise from -2 dB); lower: more of the noisy
    copies are hard. ``streams``: other-voice talkers talk through the whole utterance
    (``talker_streams``), from a pool of chatter lines without the held-out voices, as a TV
    does, instead of one line each from a pool of 24, all starting with it. ``drr``: the
    rooms' direct-to-reverberant ratio range in dB (``room_impulse``); None: the tail holds
    hundreds of times the direct path's energy (DRR mostly -11 to -33 dB), as every recipe
    up to v16 was trained. ``reverb``: the chance that a noisy copy is heard through a room
    (0.5 up to v17). ``clean_copy``: with several copies of a sentence, the first is clean
    (every recipe up to v19); False: every copy is noisy.
    """

    own_share: float = 0.0
    snr_max: float = SNR_MAX_DB
    streams: bool = False
    drr: tuple[float, float] | None = None
    reverb: float = 0.5
    clean_copy: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.reverb <= 1.0:
            raise ValueError(f"reverb {self.reverb}: expected a chance from 0 to 1")

    def meta(self) -> dict:
        """What the model's meta (and so its card) records of this recipe: the talker
        fields always, the others where they differ from the defaults."""
        return {"own_tv": self.own_share, "streams": self.streams,
                **({"drr": list(self.drr)} if self.drr else {}),
                **({"reverb": self.reverb} if self.reverb != Augmentation.reverb else {}),
                **({} if self.clean_copy else {"clean_copy": False})}

    def tag(self) -> str:
        """What tells this recipe's training audio from the defaults' in a cache's name
        (empty for the defaults, so caches made before a field existed stay valid)."""
        return ((f"-own{self.own_share:g}" if self.own_share else "")
                + (f"-snr{self.snr_max:g}" if self.snr_max != SNR_MAX_DB else "")
                + ("-streams" if self.streams else "")
                + (f"-drr{self.drr[0]:g}_{self.drr[1]:g}" if self.drr else "")
                + (f"-reverb{self.reverb:g}" if self.reverb != Augmentation.reverb else "")
                + ("" if self.clean_copy else "-noclean"))


DEFAULT = Augmentation()


def augment(rng: np.random.Generator, audio: np.ndarray, babble: list[np.ndarray],
            strength: float = 1.0, own: np.ndarray | None = None,
            recipe: Augmentation = DEFAULT) -> np.ndarray:
    """One random room/microphone/noise condition; ``strength`` 0 gives a clean copy.

    ``own``: a chatter line in the speaker's own voice (``recipe.own_share``).
    """
    return augment_pair(rng, audio, babble, strength, own, recipe)[0]


def augment_pair(rng: np.random.Generator, audio: np.ndarray, babble: list[np.ndarray],
                 strength: float = 1.0, own: np.ndarray | None = None,
                 recipe: Augmentation = DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """``augment``'s audio (the same random draws, so the same samples) and that audio
    before the noise went in: speed, room, microphone and gain alike, sample for sample in
    time with it. A teacher that hears the second tells the student what the speech in the
    first sounds like without the TV."""
    x = speed(audio, rng.uniform(0.88, 1.14)) if rng.random() < 0.7 else audio
    x = pad_silence(rng, x)
    if strength <= 0:
        return x, x
    if rng.random() < recipe.reverb:
        x = reverb(rng, x, rng.uniform(0.15, 0.7), recipe.drr)
    if rng.random() < 0.7:
        x = microphone(rng, x)
    dry = x
    if rng.random() < 0.85:
        kind = rng.random()
        talkers = kind < 0.45 and bool(babble)
        if talkers:
            k = int(rng.integers(1, 4))
            if own is not None and len(own) and rng.random() < recipe.own_share:
                noise = own_voice_tv(rng, own, k)
            elif recipe.streams:
                noise = talker_streams(rng, babble, len(x), k)
            else:
                parts = [babble[int(i)] for i in rng.integers(0, len(babble), k)]
                n = max(len(p) for p in parts)
                noise = sum(np.pad(p, (0, n - len(p))) for p in parts)
            if rng.random() < 0.4:  # a TV: talkers over music
                noise = noise / (np.std(noise) + 1e-9) + 0.5 * music(rng, len(noise))
        elif kind < 0.6:
            noise = music(rng, len(x))
        elif kind < 0.75:
            noise = speech_shaped(rng, len(x), babble)
        else:
            noise = colored_noise(rng, len(x), float(rng.choice([0.0, 1.0, 2.0])))
        # Other talkers carry phones the label lacks: keep them quieter than the speaker.
        snr = (rng.uniform(3, recipe.snr_max) if talkers
               else rng.uniform(-2, recipe.snr_max))
        x = mix_at_snr(x, np.asarray(noise, dtype=np.float32), snr)
    gain = 10 ** rng.uniform(-1.5, 0.3) / (np.max(np.abs(x)) + 1e-6)
    return (np.clip(x * gain, -1, 1).astype(np.float32),
            np.clip(dry * gain, -1, 1).astype(np.float32))
