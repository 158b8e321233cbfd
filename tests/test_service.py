"""The service end to end: spoken audio in, group telegrams on a real knxd bus out.

Also the privacy guarantee: while the service runs it opens no listening socket and writes
no file (so no audio can land on disk), watched through /proc.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import DEMO_CONFIG, Speak, subprocess_env

from bench.knxbus import Knxd, KnxtoolMonitor, environment_problem, free_port
from bench.service_env import service_env
from edgeasr.audio import write_wav
from edgeasr.pipeline import DEFAULT_WAKE_PHRASE

pytestmark = pytest.mark.skipif(environment_problem() is not None,
                                reason=str(environment_problem()))


def _listening_inodes() -> set[str]:
    """Inodes of every TCP socket in LISTEN state on this machine."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if parts[3] == "0A":
                    inodes.add(parts[9])
    return inodes


def _udp_locals() -> dict[str, str]:
    """inode -> local address (hex) of every UDP socket."""
    out = {}
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                out[parts[9]] = parts[1]
    return out


def _watch(pid: int) -> tuple[set[str], set[str], set[str]]:
    """(listening sockets, UDP local addresses, files open for writing) of a process now."""
    listening, udp, written = set(), set(), set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        fds = list(fd_dir.iterdir())
    except FileNotFoundError:
        return listening, udp, written
    lsn, udps = _listening_inodes(), _udp_locals()
    for fd in fds:
        try:
            target = os.readlink(fd)
            flags = int(Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text().split()[3], 8)
        except (FileNotFoundError, IndexError, ValueError):
            continue
        if target.startswith("socket:["):
            inode = target[8:-1]
            if inode in lsn:
                listening.add(inode)
            if inode in udps:
                udp.add(udps[inode])
        elif (target.startswith("/") and flags & (os.O_WRONLY | os.O_RDWR)
              and not target.startswith(("/dev/", "/proc/"))):
            written.add(target)
    return listening, udp, written


def test_spoken_commands_reach_the_bus_and_nothing_else(
    tmp_path: Path, speak: Speak, shipped_model: Path
) -> None:
    said = [
        (f"{DEFAULT_WAKE_PHRASE} turn on the kitchen light", ("1/1/1", 1)),  # DPT 1: true
        ("what a lovely evening", None),
        (f"{DEFAULT_WAKE_PHRASE} close the bedroom blinds", ("2/3/1", 1)),
        ("turn off the bedroom light", None),  # not addressed: no wake phrase
    ]
    wavs = [speak(text, voice="en-us", speed=150) for text, _ in said]
    playlist = tmp_path / "stream.txt"
    playlist.write_text("\n".join(str(w) for w in wavs) + "\n")
    port = free_port()
    cfg = tmp_path / "service.yaml"
    cfg.write_text(yaml.safe_dump({
        "building": str(DEMO_CONFIG),
        "audio": {"source": "file", "files": [str(playlist)], "realtime": True},
        "knx": {"host": "127.0.0.1", "port": port},
    }))
    with Knxd(port, tmp_path) as knxd:
        monitor = KnxtoolMonitor(knxd.socket)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "edgeasr.cli", "serve", "--service", str(cfg)],
                # as systemd runs it: the unit's environment (PYTHONOPTIMIZE=2, no bytecode
                # written: the privacy check below would see it)
                env=service_env(subprocess_env()), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, cwd=tmp_path)
            listening: set[str] = set()
            udp: set[str] = set()
            written: set[str] = set()
            while proc.poll() is None:
                lsn, u, w = _watch(proc.pid)
                listening |= lsn
                udp |= u
                written |= w
                time.sleep(0.05)
            _, err = proc.communicate(timeout=60)
            time.sleep(0.3)
            bus = monitor.telegrams()
        finally:
            monitor.close()
    assert proc.returncode == 0, err[-3000:]
    actions = [json.loads(line.split("edgeasr.action: ", 1)[1])
               for line in err.splitlines() if "edgeasr.action: " in line]
    assert [a["event"] for a in actions].count("command") == 2, actions
    expected = [e for _, e in said if e is not None]
    seen = [(t.ga, t.payload[0]) for t in bus if t.service == "write"]
    assert seen == expected, (seen, actions)
    assert not listening, f"the service opened listening sockets: {listening}"
    # UDP tunnelling needs one client socket; it must be bound to loopback, not to all hosts.
    assert all(not a.startswith("00000000:") for a in udp), udp
    assert not written, f"the service wrote files: {written}"


def test_unreachable_gateway_does_not_stop_listening(tmp_path: Path, speak: Speak,
                                                    shipped_model: Path) -> None:
    wav = speak(f"{DEFAULT_WAKE_PHRASE} turn on the kitchen light")
    audio_path = tmp_path / "one.wav"
    from edgeasr.audio import read_wav

    write_wav(audio_path, np.asarray(read_wav(wav)))
    proc = subprocess.run(
        [sys.executable, "-m", "edgeasr.cli", "serve", "--config", str(DEMO_CONFIG),
         "--input", str(audio_path), "--fast"],
        env=subprocess_env(), capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "unreachable" in proc.stderr
    assert '"event": "command"' in proc.stderr
