"""The ``edgeasr`` command line, run as a user runs it (a subprocess), against its contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import soxr
from conftest import Speak, subprocess_env

from edgeasr.audio import read_wav


def edgeasr(*args: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "edgeasr.cli", *map(str, args)],
        input=stdin if stdin is not None else b"", capture_output=True, env=subprocess_env(),
        timeout=120, check=False,
    )


def json_lines(proc: subprocess.CompletedProcess[bytes]) -> list[dict[str, Any]]:
    lines = proc.stdout.decode().splitlines()
    return [json.loads(line) for line in lines]


def assert_result_line(obj: dict[str, Any], name: str) -> None:
    assert obj["file"] == name
    assert "error" not in obj
    assert isinstance(obj["text"], str)
    assert obj["intent"] is None or isinstance(obj["intent"], str)
    assert isinstance(obj["telegrams"], list)
    assert 0.0 <= obj["confidence"] <= 1.0
    if obj["intent"] is None:
        assert obj["telegrams"] == []
    for t in obj["telegrams"]:
        assert set(t) == {"ga", "dpt", "value"}


def test_transcribe_json_several_files_one_bad(
    tmp_path: Path, speak: Speak, tiny_model: Path, demo_config: Path
) -> None:
    first = speak("turn on the kitchen light", voice="en-us+m3", speed=150)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(range(40)))
    stereo = tmp_path / "stereo-48k.wav"
    mono = read_wav(speak("close the bedroom blinds"))
    up = soxr.resample(mono, 16000, 48000)
    sf.write(stereo, np.stack([up, up], axis=1), 48000, subtype="PCM_16")
    missing = tmp_path / "missing.wav"
    files = [first, bad, stereo, missing]

    proc = edgeasr("transcribe", "--config", demo_config, "--model", tiny_model, "--json",
                   *files)
    assert proc.returncode != 0
    out = json_lines(proc)
    assert [o["file"] for o in out] == [str(f) for f in files]
    assert_result_line(out[0], str(first))
    assert_result_line(out[2], str(stereo))
    for obj, path in ((out[1], bad), (out[3], missing)):
        assert set(obj) == {"file", "error"}
        assert str(path) in obj["error"] and "WAV" in obj["error"]


def test_all_good_files_exit_zero(speak: Speak, tiny_model: Path, demo_config: Path) -> None:
    wav = speak("good night")
    proc = edgeasr("transcribe", "--config", demo_config, "--model", tiny_model, "--json", wav)
    assert proc.returncode == 0, proc.stderr.decode()
    [obj] = json_lines(proc)
    assert_result_line(obj, str(wav))


def test_stdin_raw_pcm_matches_the_same_wav(
    tmp_path: Path, speak: Speak, tiny_model: Path, demo_config: Path
) -> None:
    pcm = read_wav(speak("set the office temperature to twenty one degrees", voice="en-us"))
    wav = tmp_path / "same.wav"
    sf.write(wav, pcm, 16000, subtype="PCM_16")
    raw = np.round(np.clip(pcm, -1, 32767 / 32768) * 32768).astype("<i2").tobytes()

    proc = edgeasr("transcribe", "--config", demo_config, "--model", tiny_model, "--json",
                   "-", wav, stdin=raw)
    assert proc.returncode == 0, proc.stderr.decode()
    from_stdin, from_file = json_lines(proc)
    assert_result_line(from_stdin, "-")
    assert {k: v for k, v in from_stdin.items() if k != "file"} == {
        k: v for k, v in from_file.items() if k != "file"
    }


def test_stdin_odd_byte_count_is_an_error(tiny_model: Path, demo_config: Path) -> None:
    proc = edgeasr("transcribe", "--config", demo_config, "--model", tiny_model, "--json",
                   "-", stdin=b"\x00\x01\x02")
    assert proc.returncode != 0
    [obj] = json_lines(proc)
    assert obj["file"] == "-" and "16-bit" in obj["error"]


def test_context_prints_intent_and_slots(
    speak: Speak, tiny_model: Path, coffee_context: Path
) -> None:
    wav = speak("make me a large cappuccino")
    # Threshold 0 accepts whatever the decoder finds, so the slots are printed too.
    for threshold in ("0.5", "0"):
        proc = edgeasr("transcribe", "--context", coffee_context, "--model", tiny_model,
                       "--threshold", threshold, "--json", wav)
        assert proc.returncode == 0, proc.stderr.decode()
        [obj] = json_lines(proc)
        assert set(obj) == {"file", "text", "intent", "slots", "confidence"}
        assert isinstance(obj["slots"], dict)
        if threshold == "0":
            assert obj["intent"] is not None, "--threshold 0 must accept the best parse"
        elif obj["intent"] is None:
            assert obj["slots"] == {}


def test_human_output(speak: Speak, tiny_model: Path, demo_config: Path) -> None:
    wav = speak("movie time")
    proc = edgeasr("transcribe", "--config", demo_config, "--model", tiny_model, wav)
    assert proc.returncode == 0, proc.stderr.decode()
    [line] = proc.stdout.decode().splitlines()
    assert line.startswith(f"{wav}: ")


def test_config_error_names_file_and_line(
    tmp_path: Path, tiny_model: Path, demo_config: Path
) -> None:
    lines = demo_config.read_text().splitlines(keepends=True)
    lineno = next(i for i, line in enumerate(lines) if line.startswith("building:")) + 2
    assert lines[lineno - 1].strip().startswith("name:")
    lines[lineno - 1] = lines[lineno - 1].replace("name:", "nmae:")
    bad = tmp_path / "typo.yaml"
    bad.write_text("".join(lines))
    for cmd in (["transcribe", "--config", bad, "--model", tiny_model, "--json",
                 tmp_path / "never-read.wav"], ["check", "--config", bad]):
        proc = edgeasr(*cmd)
        assert proc.returncode == 2
        assert proc.stdout == b""
        err = proc.stderr.decode()
        assert f"{bad}:{lineno}:" in err
        assert "nmae" in err and "name" in err.replace("nmae", "")


def test_startup_errors_exit_2(
    tmp_path: Path, demo_config: Path, tiny_model: Path, speak: Speak
) -> None:
    wav = speak("good morning")
    model = tmp_path / "nope.tflite"
    proc = edgeasr("transcribe", "--config", demo_config, "--model", model, "--json", wav)
    assert proc.returncode == 2 and proc.stdout == b""
    assert str(model) in proc.stderr.decode()
    proc = edgeasr("transcribe", "--config", demo_config, "--model", tiny_model,
                   "--threshold", "1.5", "--json", wav)
    assert proc.returncode == 2 and proc.stdout == b""
    assert "1.5" in proc.stderr.decode()


@pytest.mark.parametrize("source", ["--config", "--context"])
def test_check(source: str, demo_config: Path, coffee_context: Path) -> None:
    path = demo_config if source == "--config" else coffee_context
    exe = Path(sys.executable).parent / "edgeasr"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "edgeasr.cli"]
    proc = subprocess.run([*cmd, "check", source, str(path)], capture_output=True, text=True,
                          env=subprocess_env(), timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{path}: ok")
    words = int(proc.stdout.split("—")[1].split("words")[0])
    assert words > 10
