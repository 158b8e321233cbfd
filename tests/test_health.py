"""edgeasr-health: the boot assessment (edgeasr-health.service) gating `rauc status mark-good`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import DEMO_CONFIG, Speak, subprocess_env

from bench.knxbus import free_port
from edgeasr.audio import read_wav, write_wav
from edgeasr.health import evaluate

NOW = 1_000_000.0
OK = {"model_loaded": True, "audio_frames": 120, "knx": "connected", "pid": os.getpid(),
      "time": NOW - 2}


@pytest.mark.parametrize(("status", "provisioned", "healthy", "why"), [
    (OK, True, True, "KNX connected"),
    ({**OK, "knx": "offline"}, True, True, "knowingly offline"),
    ({**OK, "audio_frames": 0}, True, False, "no audio frames"),
    ({**OK, "model_loaded": False}, True, False, "model is not loaded"),
    ({**OK, "time": NOW - 300}, True, False, "stopped reporting"),
    (None, True, False, "not reported yet"),
    ({"error": "bad json"}, True, False, "unreadable status"),
    (None, False, True, "not provisioned"),
    ({**OK, "pid": 999_999_999}, True, False, "is gone"),
])
def test_verdicts(status: dict | None, provisioned: bool, healthy: bool, why: str) -> None:
    verdict = evaluate(status, provisioned=provisioned, now=NOW)  # real process check
    assert verdict.healthy is healthy and why in verdict.reason


def test_running_service_with_unreachable_knx_is_healthy(tmp_path: Path, speak: Speak,
                                                         shipped_model: Path) -> None:
    """The real service writes its state; the check waits for it: audio flowing and KNX
    knowingly offline (nothing listens on the port) counts as healthy."""
    one = tmp_path / "one.wav"
    write_wav(one, np.asarray(read_wav(speak("what a lovely evening"))))
    playlist = tmp_path / "stream.txt"
    playlist.write_text(f"{one}\n" * 8)
    cfg = tmp_path / "service.yaml"
    cfg.write_text(yaml.safe_dump({
        "building": str(DEMO_CONFIG),
        "audio": {"source": "file", "files": [str(playlist)], "realtime": True},
        "knx": {"host": "127.0.0.1", "port": free_port(), "connect_timeout_s": 1.0},
    }))
    device = tmp_path / "device.yaml"
    device.write_text("serial: T-1\n")
    run = tmp_path / "run"
    run.mkdir()
    env = {**subprocess_env(), "RUNTIME_DIRECTORY": str(run)}
    before = subprocess.run([sys.executable, "-m", "edgeasr.health", "--status",
                             str(run / "health.json"), "--device", str(device)],
                            env=env, capture_output=True, text=True, timeout=60)
    assert before.returncode == 1 and "not reported yet" in before.stdout
    proc = subprocess.Popen([sys.executable, "-m", "edgeasr.cli", "serve", "--service",
                             str(cfg)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        t0 = time.monotonic()
        res = subprocess.run([sys.executable, "-m", "edgeasr.health", "--status",
                              str(run / "health.json"), "--device", str(device),
                              "--wait", "40"], env=env, capture_output=True, text=True,
                             timeout=90)
        waited = time.monotonic() - t0
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert res.returncode == 0, (res.stdout, err[-2000:])
    assert "knowingly offline" in res.stdout and waited < 40
