"""Opt-in debug recording: files appear only when configured, and stay within the limits.

(That nothing is written by default is proven by tests/test_service.py's privacy test.)
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from conftest import DEMO_CONFIG, Speak, subprocess_env

from bench.knxbus import free_port
from edgeasr.audio import SAMPLE_RATE, read_wav
from edgeasr.pipeline import DEFAULT_WAKE_PHRASE
from edgeasr.recording import DebugRecorder, DebugRecordingConfig
from edgeasr.service import ServiceConfig


def test_off_unless_configured() -> None:
    assert ServiceConfig(building=DEMO_CONFIG).debug_recording is None


def test_recorder_keeps_the_newest_within_count_and_size(tmp_path: Path) -> None:
    rec_dir = tmp_path / "rec"
    rec = DebugRecorder(DebugRecordingConfig(dir=rec_dir, max_files=3, max_mb=1.0))
    (rec_dir / "notes.txt").write_text("not ours")  # never touched
    one_second = 0.1 * np.sin(np.arange(SAMPLE_RATE) / 8).astype(np.float32)
    paths = [rec.save(one_second * (i + 1) / 5, "command") for i in range(5)]
    assert rec.recordings() == paths[2:]  # the newest three
    assert (rec_dir / "notes.txt").exists()
    assert stat.S_IMODE(rec_dir.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in paths[2:])
    np.testing.assert_allclose(read_wav(paths[-1]), one_second, atol=1e-4)

    small = DebugRecorder(DebugRecordingConfig(dir=tmp_path / "small", max_files=100,
                                               max_mb=0.1))  # 100 kB: three 32 kB seconds
    for _ in range(6):
        small.save(one_second, "ignored")
    kept = small.recordings()
    assert len(kept) == 3
    assert sum(p.stat().st_size for p in kept) <= 100_000


def test_service_records_decoded_utterances_when_asked(tmp_path: Path, speak: Speak,
                                                       shipped_model: Path) -> None:
    said = [f"{DEFAULT_WAKE_PHRASE} turn on the kitchen light", "what a lovely evening",
            f"{DEFAULT_WAKE_PHRASE} close the bedroom blinds"]
    playlist = tmp_path / "stream.txt"
    playlist.write_text("\n".join(str(speak(t, voice="en-us", speed=150)) for t in said))
    cfg = tmp_path / "service.yaml"
    cfg.write_text(yaml.safe_dump({
        "building": str(DEMO_CONFIG),
        "audio": {"source": "file", "files": [str(playlist)], "realtime": False},
        # routing needs no gateway to answer: the test is about the recordings
        "knx": {"type": "routing", "local_ip": "127.0.0.1", "multicast_port": free_port()},
        "debug_recording": {"dir": "recordings", "max_files": 2},  # relative to the file
    }))
    proc = subprocess.run([sys.executable, "-m", "edgeasr.cli", "serve", "--service", str(cfg)],
                          env=subprocess_env(), capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "debug recording is ON" in proc.stderr
    actions = [json.loads(line.split("edgeasr.action: ", 1)[1])
               for line in proc.stderr.splitlines() if "edgeasr.action: " in line]
    assert len(actions) == 3, actions
    files = sorted((tmp_path / "recordings").iterdir())
    assert [f.name for f in files] == [a["recording"] for a in actions[-2:]]  # capped at 2
    for f, action in zip(files, actions[-2:], strict=True):
        assert f.name.endswith(f"-{action['event']}.wav")
        audio = read_wav(f)
        assert 0.5 * SAMPLE_RATE < len(audio) < 8 * SAMPLE_RATE  # one utterance each
        assert np.abs(audio).max() > 0.05  # speech, not silence
