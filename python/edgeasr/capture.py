"""Audio sources for the service: ALSA microphone, WAV files / playlists, stdin.

Every source delivers 16 kHz mono float32 frames of ``FRAME`` samples through a bounded
queue. A consumer that falls behind loses the oldest audio, never the process: overruns are
counted and logged.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np

from edgeasr.audio import SAMPLE_RATE, AudioError, read_wav, to_mono_16k

log = logging.getLogger(__name__)

FRAME = 320  # 20 ms
QUEUE_FRAMES = 500  # 10 s of audio


class AudioSource:
    """Base: a blocking frame generator run in a thread, exposed as an async iterator."""

    name = "audio"

    def __init__(self, queue_frames: int = QUEUE_FRAMES) -> None:
        self.overruns = 0
        self._queue_frames = queue_frames
        self._stop = threading.Event()

    def frames(self) -> Iterator[np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def stop(self) -> None:
        self._stop.set()

    async def stream(self) -> AsyncIterator[np.ndarray]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[np.ndarray | None] = asyncio.Queue(self._queue_frames)

        def put(item: np.ndarray | None) -> None:
            if item is not None and queue.full():
                queue.get_nowait()  # drop the oldest frame, keep the newest
                self.overruns += 1
                if self.overruns in (1, 10, 100) or self.overruns % 1000 == 0:
                    log.warning("%s: consumer behind, %d frames dropped", self.name,
                                self.overruns)
            queue.put_nowait(item)

        def run() -> None:
            try:
                for frame in self.frames():
                    if self._stop.is_set():
                        break
                    loop.call_soon_threadsafe(put, frame)
            except Exception as exc:  # reported to the consumer's log, then end of stream
                log.error("%s: %s", self.name, exc)
            finally:
                loop.call_soon_threadsafe(put, None)

        thread = threading.Thread(target=run, name=f"capture-{self.name}", daemon=True)
        thread.start()
        while True:
            frame = await queue.get()
            if frame is None:
                return
            yield frame


def _split(audio: np.ndarray) -> Iterator[np.ndarray]:
    for i in range(0, len(audio) - len(audio) % FRAME, FRAME):
        yield audio[i : i + FRAME]


class FileSource(AudioSource):
    """WAV files, or playlists (text files listing WAVs, one per line), played in order.

    ``realtime`` paces frames at the speed of speech, as a microphone would deliver them;
    ``gap_s`` of silence follows each file so utterances stay separate.
    """

    name = "file"

    def __init__(self, paths: list[str | Path], realtime: bool = False, gap_s: float = 0.6,
                 queue_frames: int = QUEUE_FRAMES) -> None:
        super().__init__(queue_frames)
        self.paths = [Path(p) for p in paths]
        self.realtime = realtime
        self.gap = np.zeros(int(gap_s * SAMPLE_RATE), np.float32)

    def _expand(self) -> Iterator[Path]:
        for p in self.paths:
            if p.suffix.lower() in (".txt", ".m3u", ".lst"):
                for line in p.read_text().splitlines():
                    line = line.strip()
                    if line and not line.startswith("#"):
                        q = Path(line)
                        yield q if q.is_absolute() else p.parent / q
            else:
                yield p

    def frames(self) -> Iterator[np.ndarray]:
        import time

        t_next = time.monotonic()
        for path in self._expand():
            try:
                audio = read_wav(path)
            except AudioError as exc:
                log.error("skipping %s", exc)
                continue
            for frame in _split(np.concatenate([audio, self.gap])):
                if self.realtime:
                    t_next += FRAME / SAMPLE_RATE
                    delay = t_next - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                yield frame


class StdinSource(AudioSource):
    """Raw 16 kHz s16le mono PCM on standard input (e.g. ``arecord -f S16_LE -r 16000``)."""

    name = "stdin"

    def frames(self) -> Iterator[np.ndarray]:
        stream = sys.stdin.buffer
        while not self._stop.is_set():
            data = stream.read(FRAME * 2)
            if len(data) < FRAME * 2:
                return
            yield np.frombuffer(data, "<i2").astype(np.float32) / 32768.0


class AlsaSource(AudioSource):
    """A microphone through ALSA (pyalsaaudio); captured at its own rate and resampled."""

    name = "alsa"

    def __init__(self, device: str = "default", rate: int = SAMPLE_RATE, channels: int = 1,
                 queue_frames: int = QUEUE_FRAMES) -> None:
        super().__init__(queue_frames)
        self.device, self.rate, self.channels = device, rate, channels

    def frames(self) -> Iterator[np.ndarray]:
        try:
            import alsaaudio
        except ImportError as exc:
            raise AudioError("ALSA capture needs pyalsaaudio (pip install pyalsaaudio)") from exc
        period = int(self.rate * FRAME / SAMPLE_RATE)
        try:
            pcm = alsaaudio.PCM(alsaaudio.PCM_CAPTURE, alsaaudio.PCM_NORMAL, device=self.device,
                                channels=self.channels, rate=self.rate,
                                format=alsaaudio.PCM_FORMAT_S16_LE, periodsize=period)
        except alsaaudio.ALSAAudioError as exc:
            raise AudioError(f"ALSA device {self.device!r}: {exc}") from exc
        pending = np.zeros(0, np.float32)
        while not self._stop.is_set():
            n, data = pcm.read()
            if n < 0:  # -EPIPE: the driver's buffer overran
                self.overruns += 1
                log.warning("ALSA overrun on %s (%d so far)", self.device, self.overruns)
                continue
            raw = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
            audio = to_mono_16k(raw.reshape(-1, self.channels), self.rate, self.device)
            pending = np.concatenate([pending, audio])
            while len(pending) >= FRAME:
                yield pending[:FRAME]
                pending = pending[FRAME:]
