"""``edgeasr serve``: the always-on voice-to-KNX service.

audio source -> Pipeline (VAD, wake phrase, command) -> KnxGateway. One structured log line
(JSON) per utterance — heard text, intent, telegrams, latency — and never the audio. Audio
is written only with the opt-in ``debug_recording`` (:mod:`edgeasr.recording`).
systemd: READY/WATCHDOG/STOPPING notifications, SIGTERM stops cleanly, SIGHUP reloads the
building configuration while the KNX connection stays up.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import json
import logging
import os
import platform
import signal
import time
from pathlib import Path
from typing import Annotated, Literal

import sdnotify
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgeasr.button import ButtonConfig, make_button
from edgeasr.capture import AlsaSource, AudioSource, FileSource, StdinSource
from edgeasr.health import ServiceHealth, status_path, write_status
from edgeasr.knx.gateway import KnxConfig, KnxGateway
from edgeasr.pipeline import DEFAULT_WAKE_PHRASE, Mode, Pipeline, PipelineConfig
from edgeasr.recognizer import Recognizer
from edgeasr.recording import DebugRecorder, DebugRecordingConfig
from edgeasr.vad import VadConfig

log = logging.getLogger("edgeasr.service")
actions = logging.getLogger("edgeasr.action")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AudioConfig(_Strict):
    source: Literal["alsa", "file", "stdin"] = "alsa"
    device: str = "default"  # ALSA device, e.g. plughw:CARD=STM32MP25DK,DEV=1
    rate: Annotated[int, Field(gt=0)] = 16000
    channels: Annotated[int, Field(ge=1, le=8)] = 1
    files: list[Path] = []  # for source: file (WAVs or playlists)
    realtime: bool = True  # file source: pace like a microphone


class ListenConfig(_Strict):
    mode: Mode = Mode.WAKE
    wake_phrase: str | None = None  # default: the building's wake_phrase, else DEFAULT
    # The defaults are the pipeline's and the endpointer's own (chosen there).
    command_window_s: Annotated[float, Field(gt=0)] = PipelineConfig.command_window_s
    end_silence_s: Annotated[float, Field(gt=0)] = VadConfig.end_silence_s
    # Act on a confident command after this much quiet (0: only at end_silence_s) ...
    early_silence_s: Annotated[float, Field(ge=0)] = VadConfig.early_silence_s
    # ... or after this much when no further word could change its meaning.
    settled_silence_s: Annotated[float, Field(ge=0)] = VadConfig.settled_silence_s
    # Confidence needed to act in a pause: settled results after settled_silence_s, others
    # after early_silence_s (a sentence cut off may fit a command; docs/knx.md).
    early_confidence: Annotated[float, Field(ge=0, le=1)] = PipelineConfig.early_confidence
    pause_confidence: Annotated[float, Field(ge=0, le=1)] = PipelineConfig.pause_confidence
    threshold: Annotated[float, Field(ge=0, le=1)] | None = None
    button: ButtonConfig | None = None  # push_to_talk: where the button is
    max_press_s: Annotated[float, Field(gt=0)] = PipelineConfig.max_press_s  # push_to_talk

    @model_validator(mode="after")
    def _button_for_ptt(self) -> ListenConfig:
        if self.mode is Mode.PUSH_TO_TALK and self.button is None:
            raise ValueError("mode push_to_talk needs 'button' (type gpio, evdev, file or signal)")
        return self

    @model_validator(mode="after")
    def _pauses_in_order(self) -> ListenConfig:
        if not self.settled_silence_s <= self.early_silence_s < self.end_silence_s:
            raise ValueError(
                f"expected settled_silence_s <= early_silence_s < end_silence_s, got "
                f"{self.settled_silence_s} / {self.early_silence_s} / {self.end_silence_s}")
        return self


class ServiceConfig(_Strict):
    building: Path
    model: Path | None = None
    delegate: str | None = None  # on the board: /usr/lib/libvx_delegate.so.2 (the NPU)
    audio: AudioConfig = AudioConfig()
    listen: ListenConfig = ListenConfig()
    knx: KnxConfig = KnxConfig()
    # PRIVACY: off by default. When set, each decoded utterance is written as WAV (bounded).
    debug_recording: DebugRecordingConfig | None = None


DEVICE_FILE = "device.yaml"  # written by edgeasr-provision next to service.yaml


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = (_merge(out[key], value) if isinstance(value, dict)
                    and isinstance(out.get(key), dict) else value)
    return out


def _device_settings(directory: Path) -> dict:
    """The ``service:`` section of ``device.yaml`` in ``directory`` ({} if there is none)."""
    device = directory / DEVICE_FILE
    if not device.is_file():
        return {}
    try:
        unit = yaml.safe_load(device.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{device}: cannot read device configuration: {exc}") from exc
    if not isinstance(unit, dict) or not isinstance(unit.get("service", {}), dict):
        raise ValueError(f"{device}: 'service' must be a mapping of service settings")
    log.info("device configuration %s (serial %s) merged", device, unit.get("serial"))
    return unit.get("service") or {}


def _validate(data: dict, source: Path) -> ServiceConfig:
    try:
        return ServiceConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{source}: {problems}") from exc


def load_service_config(path: str | Path, building: Path | None = None) -> ServiceConfig:
    """The service file (audio, listening, KNX); ``building`` overrides its building path.

    A provisioned unit also has ``device.yaml`` in the same directory (edgeasr-provision,
    overlaid on /etc/edgeasr at boot): its ``service:`` section is merged over the file, so
    the image's defaults and the unit's own KNX address and keyring combine.
    """
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{p}: cannot read service configuration: {exc}") from exc
    data = _merge(data, _device_settings(p.parent))
    if building is not None:
        data["building"] = str(building)
    cfg = _validate(data, p)
    if not cfg.building.is_absolute() and building is None:
        cfg.building = p.parent / cfg.building
    rec = cfg.debug_recording
    if rec is not None and not rec.dir.is_absolute():
        rec.dir = p.parent / rec.dir
    return cfg


def service_config_for_building(building: Path) -> ServiceConfig:
    """``edgeasr serve --config BUILDING``: defaults, plus ``device.yaml`` next to the building
    file when the unit is provisioned (its KNX address, connection and keyring)."""
    data = _merge({"building": str(building)}, _device_settings(Path(building).parent))
    data["building"] = str(building)
    return _validate(data, Path(building).parent / DEVICE_FILE)


def make_source(cfg: AudioConfig) -> AudioSource:
    if cfg.source == "alsa":
        return AlsaSource(cfg.device, cfg.rate, cfg.channels)
    if cfg.source == "file":
        return FileSource(list(cfg.files), realtime=cfg.realtime)
    return StdinSource()


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library, if it is glibc (the malloc tuning below is glibc's), else None."""
    return ctypes.CDLL(None) if platform.libc_ver()[0] == "glibc" else None


def keep_heap_small() -> bool:
    """glibc only: one malloc arena and a fixed mmap threshold for the long-running service.

    Each decode allocates a few MB in an executor thread; by default glibc gives that thread
    its own arena and raises the mmap threshold after the first large free, so the memory
    stays resident after the decode.
    """
    libc = _glibc()
    if libc is None:
        return False
    m_mmap_threshold, m_arena_max = -3, -8  # <malloc.h>
    return bool(libc.mallopt(m_mmap_threshold, 256 * 1024) and libc.mallopt(m_arena_max, 1))


def return_free_heap() -> None:
    """glibc only: give back free heap pages, wherever they are in the heap: after compiling
    the grammars (about 1.5 MB of temporary lists for the demo building) and after each
    utterance (freed decode arrays between live objects). About 0.4 ms on this host's
    service heap; it runs after the telegram has been handed to the gateway."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


class Service:
    def __init__(self, cfg: ServiceConfig) -> None:
        self.cfg = cfg
        if not keep_heap_small():
            log.debug("not glibc: malloc left as it is")
        self.notifier = sdnotify.SystemdNotifier()
        button = cfg.listen.button
        self.button = (make_button(button) if button is not None
                       and cfg.listen.mode is Mode.PUSH_TO_TALK else None)
        self.pipeline = self._build_pipeline()
        building = self.pipeline.command.grammar.building
        self.gateway = (KnxGateway.for_building(cfg.knx, building) if building is not None
                        else KnxGateway(cfg.knx))
        self.source = make_source(cfg.audio)
        self.recorder = (DebugRecorder(cfg.debug_recording) if cfg.debug_recording is not None
                         else None)
        self._stopping = asyncio.Event()
        self.audio_frames = 0  # for the health check (edgeasr.health)
        return_free_heap()

    def _recognizer(self) -> tuple[Recognizer, str]:
        listen = self.cfg.listen
        rec = Recognizer.from_config(self.cfg.building, self.cfg.model, listen.threshold,
                                     self.cfg.delegate)
        building = rec.grammar.building
        wake = listen.wake_phrase or (building.wake_phrase if building else None)
        return rec, wake or DEFAULT_WAKE_PHRASE

    def _build_pipeline(self) -> Pipeline:
        listen = self.cfg.listen
        rec, wake = self._recognizer()
        return Pipeline(rec, PipelineConfig(
            mode=listen.mode, wake_phrase=wake, command_window_s=listen.command_window_s,
            early_confidence=listen.early_confidence, pause_confidence=listen.pause_confidence,
            vad=VadConfig(end_silence_s=listen.end_silence_s,
                          early_silence_s=listen.early_silence_s,
                          settled_silence_s=listen.settled_silence_s),
            max_press_s=listen.max_press_s),
            self.button)

    def reload(self) -> None:
        """SIGHUP: re-read the building; a bad file keeps the running configuration."""
        try:
            rec, wake = self._recognizer()
            self.pipeline.set_recognizer(rec, wake)
            if rec.grammar.building is not None:
                self.gateway.set_building(rec.grammar.building)
            log.info("configuration reloaded from %s", self.cfg.building)
            return_free_heap()
        except Exception as exc:
            log.error("reload failed, keeping the previous configuration: %s", exc)

    def health(self) -> ServiceHealth:
        # Only a Service whose recognizer was built (model loaded) gets here: a model that
        # fails to load ends the process in __init__, and then nothing reports at all.
        return ServiceHealth(model_loaded=True, audio_frames=self.audio_frames,
                             knx="connected" if self.gateway.connected else "offline",
                             pid=os.getpid(), time=time.time())

    async def _watchdog(self, interval: float) -> None:
        health = status_path()
        while not self._stopping.is_set():
            self.notifier.notify("WATCHDOG=1")
            if health is not None:
                try:
                    write_status(health, self.health())
                except OSError as exc:
                    log.warning("cannot write %s: %s", health, exc)
            await asyncio.sleep(interval)

    async def _count(self, frames):
        async for frame in frames:
            self.audio_frames += 1
            yield frame

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stop)
        loop.add_signal_handler(signal.SIGINT, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        await self.gateway.start()
        self.notifier.notify("READY=1")
        log.info("listening (%s mode, source %s)", self.cfg.listen.mode.value,
                 self.cfg.audio.source)
        dog = asyncio.create_task(self._watchdog(5.0))
        try:
            frames = self._count(self.source.stream())
            async for heard in self._heard(frames):
                await self._act(heard)
        finally:
            self.notifier.notify("STOPPING=1")
            self.source.stop()
            if self.button is not None:
                self.button.close()
            dog.cancel()
            await self.gateway.stop()
        return 0

    async def _heard(self, frames):
        stop = asyncio.ensure_future(self._stopping.wait())
        it = self.pipeline.run(frames).__aiter__()
        while True:
            nxt = asyncio.ensure_future(it.__anext__())
            done, _ = await asyncio.wait({nxt, stop}, return_when=asyncio.FIRST_COMPLETED)
            if nxt not in done:
                nxt.cancel()
                return
            try:
                yield nxt.result()
            except StopAsyncIteration:
                stop.cancel()
                return

    async def _act(self, heard) -> None:
        r = heard.result
        record = {
            "event": "command" if heard.acted else ("wake" if heard.woke else "ignored"),
            "text": r.text, "intent": r.intent, "confidence": round(r.confidence, 3),
            "telegrams": [t.to_json() for t in r.telegrams] if heard.acted else [],
            "decode_ms": round(1000 * heard.decode_s, 1),
        }
        if heard.acted and r.telegrams:
            await self.gateway.send(r.telegrams)
        if self.recorder is not None:
            try:
                record["recording"] = self.recorder.save(heard.audio, record["event"]).name
            except OSError as exc:
                log.error("debug recording failed: %s", exc)
        actions.info(json.dumps(record))
        return_free_heap()  # the decode's freed arrays would otherwise stay resident

    def stop(self) -> None:
        log.info("stopping")
        self._stopping.set()
