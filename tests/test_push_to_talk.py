"""Push-to-talk: only speech said while the button is held is decoded, as a command."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from conftest import DEMO_CONFIG, Speak
from pydantic import ValidationError

from edgeasr.audio import SAMPLE_RATE, read_wav, write_wav
from edgeasr.button import ButtonConfig, FileButton, SignalButton, make_button
from edgeasr.capture import FileSource
from edgeasr.pipeline import Heard, Mode, Pipeline, PipelineConfig
from edgeasr.recognizer import Recognizer
from edgeasr.service import ListenConfig

GAP_S = 0.6  # FileSource's silence after each file


def test_only_speech_while_pressed_is_decoded_without_wake_phrase(
        tmp_path: Path, speak: Speak, shipped_model: Path) -> None:
    quiet = tmp_path / "quiet.wav"
    write_wav(quiet, np.zeros(int(0.8 * SAMPLE_RATE), np.float32))
    said = [
        ("turn on the kitchen light", True),  # pressed: acted, no wake phrase needed
        ("turn off the bedroom light", False),  # not pressed: never decoded
        ("close the bedroom blinds", True),
    ]
    wavs = [quiet] + [speak(text, voice="en-us", speed=150) for text, _ in said]
    # The button is pressed 0.1 s before each pressed command and let go 0.25 s after it,
    # on the stream's clock (the file source plays in real time, like a microphone).
    presses = []
    t = len(read_wav(quiet)) / SAMPLE_RATE + GAP_S
    for wav, (_, pressed) in zip(wavs[1:], said, strict=True):
        length = len(read_wav(wav)) / SAMPLE_RATE
        if pressed:
            presses.append((t - 0.1, t + length + 0.25))
        t += length + GAP_S
    button_file = tmp_path / "ptt"
    rec = Recognizer.from_config(DEMO_CONFIG, shipped_model)
    pipeline = Pipeline(rec, PipelineConfig(mode=Mode.PUSH_TO_TALK), FileButton(button_file))
    source = FileSource(wavs, realtime=True)

    async def scenario() -> list[Heard]:
        loop = asyncio.get_running_loop()

        async def press_and_release(t0: float) -> None:
            for down, up in presses:
                await asyncio.sleep(max(0.0, t0 + down - loop.time()))
                button_file.touch()
                await asyncio.sleep(max(0.0, t0 + up - loop.time()))
                button_file.unlink()

        async def frames():  # type: ignore[no-untyped-def]
            presser = None
            async for frame in source.stream():
                if presser is None:
                    presser = asyncio.create_task(press_and_release(loop.time()))
                yield frame
            assert presser is not None
            await presser

        return [h async for h in pipeline.run(frames())]

    heard = asyncio.run(scenario())
    assert len(heard) == 2, [(h.result.text, h.acted) for h in heard]
    assert all(h.acted and not h.woke for h in heard)
    telegrams = [[(t.ga, t.value) for t in h.result.telegrams] for h in heard]
    assert telegrams == [[("1/1/1", True)], [("2/3/1", True)]], [h.result.text for h in heard]


def test_a_press_longer_than_the_limit_is_decoded_once(tmp_path: Path,
                                                       shipped_model: Path) -> None:
    button_file = tmp_path / "ptt"
    button_file.touch()  # held down the whole time
    rec = Recognizer.from_config(DEMO_CONFIG, shipped_model)
    cfg = PipelineConfig(mode=Mode.PUSH_TO_TALK, max_press_s=1.0)
    pipeline = Pipeline(rec, cfg, FileButton(button_file))
    silence = tmp_path / "s.wav"
    write_wav(silence, np.zeros(3 * SAMPLE_RATE, np.float32))

    async def scenario() -> list[Heard]:
        return [h async for h in pipeline.run(FileSource([silence]).stream())]

    heard = asyncio.run(scenario())
    assert len(heard) == 1 and not heard[0].acted  # then it waits for a release


def test_button_configuration_and_sources(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="push_to_talk needs 'button'"):
        ListenConfig(mode="push_to_talk")
    with pytest.raises(ValidationError, match="button type 'gpio' needs 'line'"):
        ButtonConfig(type="gpio")
    with pytest.raises(ValidationError, match="button type 'evdev' needs 'device'"):
        ButtonConfig(type="evdev")
    listen = ListenConfig(mode="push_to_talk", button={"type": "file", "path": tmp_path / "b"})
    assert listen.button is not None
    button = make_button(listen.button)
    assert not button.pressed()
    (tmp_path / "b").touch()
    assert button.pressed()

    sig = SignalButton()
    try:
        assert not sig.pressed()
        os.kill(os.getpid(), signal.SIGUSR1)
        assert sig.pressed()
        os.kill(os.getpid(), signal.SIGUSR2)
        assert not sig.pressed()
    finally:
        sig.close()
    with pytest.raises(ValueError, match="needs a button"):
        Pipeline(None, PipelineConfig(mode=Mode.PUSH_TO_TALK))  # type: ignore[arg-type]


def test_service_wires_the_configured_button(tmp_path: Path, speak: Speak, shipped_model: Path,
                                             caplog: pytest.LogCaptureFixture,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from bench.knxbus import free_port
    from edgeasr.cli import main
    from edgeasr.service import Service, ServiceConfig

    rc = main(["serve", "--config", str(DEMO_CONFIG), "--mode", "push_to_talk",
               "--input", str(tmp_path / "x.wav")])
    assert rc == 2 and "--mode push_to_talk: mode push_to_talk needs 'button'" in (
        capsys.readouterr().err)

    held = tmp_path / "held"
    held.touch()  # pressed for the whole (fast) stream: one command, decoded at its end
    cfg = ServiceConfig.model_validate({
        "building": DEMO_CONFIG, "model": shipped_model,
        "audio": {"source": "file", "realtime": False,
                  "files": [speak("turn on the kitchen light", voice="en-us", speed=150)]},
        "listen": {"mode": "push_to_talk", "button": {"type": "file", "path": held}},
        "knx": {"type": "routing", "local_ip": "127.0.0.1", "multicast_port": free_port()},
    })
    caplog.set_level(logging.INFO, logger="edgeasr.action")
    assert asyncio.run(Service(cfg).run()) == 0
    actions = [r.getMessage() for r in caplog.records if r.name == "edgeasr.action"]
    assert len(actions) == 1 and '"event": "command"' in actions[0], actions
    assert '"ga": "1/1/1"' in actions[0]
