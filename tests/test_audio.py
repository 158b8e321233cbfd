"""Audio input: whatever a microphone writes becomes 16 kHz mono; anything else is a clear error."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edgeasr import audio as audio_mod
from edgeasr.audio import SAMPLE_RATE, AudioError, read_pcm, read_wav
from edgeasr.recognizer import Recognizer


def tone(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * rate / len(x))


def error_of(path: Path) -> str:
    with pytest.raises(AudioError) as info:
        read_wav(path)
    message = str(info.value)
    assert str(path) in message, f"error does not name the file: {message}"
    return message


@pytest.fixture(scope="module")
def recognizer(any_model: Path, demo_config: Path) -> Recognizer:
    return Recognizer.from_config(demo_config, any_model)


# -- files that are not usable audio --------------------------------------------------------

def test_random_bytes_named_wav(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.wav"
    path.write_bytes(np.random.default_rng(0).bytes(8000))
    assert "WAV" in error_of(path)


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("turn on the kitchen light\n" * 50)
    assert "WAV" in error_of(path)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "nothing.wav"
    path.write_bytes(b"")
    assert "WAV" in error_of(path)


@pytest.mark.parametrize("fmt", ["FLAC", "OGG"])
def test_other_audio_format(tmp_path: Path, fmt: str) -> None:
    for name in (f"clip.{fmt.lower()}", f"{fmt.lower()}-in-disguise.wav"):
        path = tmp_path / name
        sf.write(path, tone(440, 0.5, SAMPLE_RATE), SAMPLE_RATE, format=fmt)
        message = error_of(path)
        assert fmt in message and "expected a WAV" in message


def test_empty_wav(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, np.float32), SAMPLE_RATE, subtype="PCM_16")
    assert path.stat().st_size > 0  # a valid header with no frames
    assert "no audio" in error_of(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert "no such file" in error_of(tmp_path / "absent.wav")
    assert "directory" in error_of(tmp_path)


def test_header_cut_short(tmp_path: Path) -> None:
    full = tmp_path / "full.wav"
    sf.write(full, tone(440, 1.0, SAMPLE_RATE), SAMPLE_RATE, subtype="PCM_16")
    cut = tmp_path / "cut-in-header.wav"
    cut.write_bytes(full.read_bytes()[:30])
    assert "WAV" in error_of(cut)


def test_data_cut_short_reads_what_is_there(tmp_path: Path) -> None:
    """The header promises 1 s, the file holds ~0.5 s: the samples present, nothing invented."""
    x = tone(440, 1.0, SAMPLE_RATE)
    full = tmp_path / "full.wav"
    sf.write(full, x, SAMPLE_RATE, subtype="PCM_16")
    data = full.read_bytes()
    assert sf.info(full).frames == len(x)
    cut = tmp_path / "truncated.wav"
    cut.write_bytes(data[: len(data) // 2])
    header = len(data) - 2 * len(x)  # 16-bit mono: 2 bytes a sample after the header
    present = (len(data) // 2 - header) // 2
    got = read_wav(cut)
    assert len(got) == present
    np.testing.assert_allclose(got, x[:present], atol=1 / 32768)


def test_too_long(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio_mod, "MAX_SECONDS", 1.0)
    path = tmp_path / "long.wav"
    sf.write(path, tone(440, 2.0, SAMPLE_RATE), SAMPLE_RATE, subtype="PCM_16")
    assert "at most" in error_of(path)


def test_raw_pcm() -> None:
    pcm = np.array([0, 16384, -16384, 32767, -32768], "<i2")
    np.testing.assert_allclose(read_pcm(pcm.tobytes()),
                               [0.0, 0.5, -0.5, 32767 / 32768, -1.0])
    with pytest.raises(AudioError, match=r"stdin.*16-bit"):
        read_pcm(pcm.tobytes()[:-1])
    with pytest.raises(AudioError, match=r"stdin.*no data"):
        read_pcm(b"")


# -- what microphones produce ---------------------------------------------------------------

@pytest.mark.parametrize(
    ("rate", "channels", "subtype"),
    [
        (8000, 1, "PCM_16"),
        (48000, 2, "PCM_16"),
        (44100, 1, "PCM_24"),
        (22050, 1, "PCM_U8"),
        (32000, 2, "FLOAT"),
        (48000, 4, "PCM_32"),  # a microphone array: WAVE_FORMAT_EXTENSIBLE
        (16000, 1, "PCM_16"),
    ],
)
def test_resampled_to_16k_mono(tmp_path: Path, rate: int, channels: int, subtype: str) -> None:
    seconds = 1.5
    x = tone(1000.0, seconds, rate, amp=0.5)
    path = tmp_path / f"tone-{rate}-{channels}ch-{subtype}.wav"
    sf.write(path, np.stack([x] * channels, axis=1), rate, subtype=subtype)
    got = read_wav(path)
    assert got.dtype == np.float32 and got.ndim == 1
    assert abs(len(got) - seconds * SAMPLE_RATE) <= 1
    assert abs(peak_hz(got) - 1000.0) < 2.0
    body = got[1000:-1000]  # away from the resampler's edges
    rms = float(np.sqrt(np.mean(body**2)))
    assert rms == pytest.approx(0.5 / np.sqrt(2), rel=0.05)


def test_stereo_is_mixed_down(tmp_path: Path) -> None:
    """1 kHz on the left, 3 kHz on the right: both survive at half amplitude."""
    rate = 48000
    left, right = tone(1000.0, 1.0, rate, 0.6), tone(3000.0, 1.0, rate, 0.6)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), rate, subtype="PCM_16")
    got = read_wav(path)
    assert len(got) == SAMPLE_RATE
    spec = np.abs(np.fft.rfft(got * np.hanning(len(got))))
    hz = np.fft.rfftfreq(len(got), 1 / SAMPLE_RATE)
    strongest = sorted(hz[np.argsort(spec)[-2:]])
    assert strongest == pytest.approx([1000.0, 3000.0], abs=2.0)
    expected = tone(1000.0, 1.0, SAMPLE_RATE, 0.3) + tone(3000.0, 1.0, SAMPLE_RATE, 0.3)
    np.testing.assert_allclose(got[500:-500], expected[500:-500], atol=0.01)


# -- silence and long recordings through the recogniser -------------------------------------

def test_silence_sends_nothing(tmp_path: Path, recognizer: Recognizer) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(3 * 44100, np.float32), 44100, subtype="PCM_16")
    result = recognizer.recognize(read_wav(path))
    assert result.telegrams == []
    assert result.intent is None


def test_ten_minute_recording(tmp_path: Path, recognizer: Recognizer) -> None:
    """10 min of room noise with loud bursts: finishes, sends nothing, memory stays bounded."""
    rng = np.random.default_rng(7)
    n = 600 * SAMPLE_RATE
    x = (0.003 * rng.standard_normal(n)).astype(np.float32)
    for start in range(5 * SAMPLE_RATE, n, 20 * SAMPLE_RATE):  # 30 bursts of 1.5 s
        burst = int(1.5 * SAMPLE_RATE)
        envelope = np.abs(np.sin(np.linspace(0, 9 * np.pi, burst))).astype(np.float32)
        x[start : start + burst] += 0.2 * envelope * rng.standard_normal(burst).astype(np.float32)
    path = tmp_path / "ten-minutes.wav"
    sf.write(path, np.clip(x, -1, 1), SAMPLE_RATE, subtype="PCM_16")
    del x

    pcm = read_wav(path)
    assert len(pcm) == n
    tracemalloc.start()
    try:
        result = recognizer.recognize(pcm)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.telegrams == []
    assert result.intent is None
    # The input itself is 38 MB; working memory must not grow with a multiple of it.
    assert peak < 3 * pcm.nbytes, f"peak {peak / 1e6:.0f} MB for {pcm.nbytes / 1e6:.0f} MB input"
    # The bursts were found and decoded (not skipped as one silent block).
    assert result.timings["model"] > 0
