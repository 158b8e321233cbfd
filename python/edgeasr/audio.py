"""Audio input: any WAV a microphone produces, or raw PCM, -> 16 kHz mono float32."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

# soundfile and soxr are imported where they are used: the service reading a 16 kHz
# microphone never needs them, and each costs a few MB of resident memory.

SAMPLE_RATE = 16000
MAX_SECONDS = 3600.0  # refuse inputs that would not fit a sensible memory budget


class AudioError(ValueError):
    """Input that is not usable audio; the message names the input and what was expected."""


def to_mono_16k(audio: np.ndarray, rate: int, name: str = "<audio>") -> np.ndarray:
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if rate <= 0:
        raise AudioError(f"{name}: sample rate {rate} Hz is invalid")
    if rate != SAMPLE_RATE:
        import soxr

        audio = soxr.resample(audio, rate, SAMPLE_RATE)
    return np.ascontiguousarray(audio, dtype=np.float32)


def read_wav(path: str | Path) -> np.ndarray:
    """Read a WAV file (any rate, any channel count) as 16 kHz mono float32 in [-1, 1]."""
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: no such file (expected a WAV file)")
    if p.is_dir():
        raise AudioError(f"{p}: is a directory (expected a WAV file)")
    try:
        info = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{p}: not a readable WAV file ({exc}); expected RIFF/WAVE audio") from exc
    if info.format not in ("WAV", "WAVEX", "RF64"):
        raise AudioError(f"{p}: is {info.format} audio, expected a WAV file")
    if info.frames == 0:
        raise AudioError(f"{p}: contains no audio samples (empty or truncated WAV)")
    if info.duration > MAX_SECONDS:
        raise AudioError(f"{p}: {info.duration:.0f} s long, expected at most {MAX_SECONDS:.0f} s")
    try:
        audio, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{p}: truncated or corrupt WAV data ({exc})") from exc
    if len(audio) == 0:
        raise AudioError(f"{p}: contains no audio samples (empty or truncated WAV)")
    return to_mono_16k(audio, rate, str(p))


def read_pcm(data: bytes, name: str = "stdin") -> np.ndarray:
    """Raw 16 kHz 16-bit little-endian mono PCM."""
    if len(data) % 2:
        raise AudioError(f"{name}: odd number of bytes; expected raw 16-bit (s16le) PCM")
    if not data:
        raise AudioError(f"{name}: no data; expected raw 16 kHz s16le mono PCM")
    return np.frombuffer(data, "<i2").astype(np.float32) / 32768.0


def write_wav(path: str | Path, audio: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    import soundfile as sf

    sf.write(str(path), audio, rate, subtype="PCM_16")


def wav_bytes(audio: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, audio, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()
