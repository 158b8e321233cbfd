"""`make demo`: spoken commands in, KNX telegrams out on a real knxd bus.

1. Synthesise a stream of speech with espeak-ng voices: the wake phrase, commands, and
   chatter that must send nothing. (espeak-ng is one of the training engines; accuracy on a
   voice the model never heard is measured by `make eval` in docs/accuracy.md.)
2. Start knxd on loopback with a dummy bus, and a bus monitor (knxtool vbusmonitor1) that is
   not the service.
3. Run `edgeasr serve` over the stream in real time, tunnelling to that knxd.
4. Show side by side what was said, what the service recognised, and what the monitor saw.
Everything started here is stopped by pid at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from xknx.dpt import DPTArray, DPTBinary

from bench.knxbus import Knxd, KnxtoolMonitor, environment_problem, free_port
from edgeasr.audio import read_wav, write_wav
from edgeasr.building import load_building
from edgeasr.pipeline import DEFAULT_WAKE_PHRASE
from edgeasr.telegram import transcoder

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "examples" / "demo-building.yaml"
W = DEFAULT_WAKE_PHRASE
SCRIPT = [
    f"{W} turn on the kitchen light",
    "what a lovely evening it is",
    W,
    "set the living room light to forty percent",
    "turn off the bedroom light",  # no wake phrase: the service is not addressed
    f"{W} close the bedroom blinds",
    f"{W} set the heating in the office to twenty one and a half degrees",
    f"{W} turn on the garage light",  # a room the building lacks
    "did you see the match last night",
    f"{W} movie time",
]


VOICES = ["en-us+m3", "en-gb-x-rp+f2", "en-us", "en-us+klatt", "en+m1"]


def speak(text: str, i: int) -> np.ndarray:
    """espeak-ng, one of several voices, at microphone level with a little room tone."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", VOICES[i % len(VOICES)], "-s", "150", "-w", f.name,
                        text], check=True)
        audio = read_wav(f.name)
    audio = 0.5 * audio / (np.abs(audio).max() + 1e-9)  # -6 dBFS peak
    lead = np.zeros(4800, np.float32)
    return np.concatenate([lead, audio])


def decode_value(dpt: str | None, payload: bytes, small: bool) -> object:
    if dpt is None:
        return payload.hex()
    value = DPTBinary(payload[0]) if small else DPTArray(payload)
    return transcoder(dpt).from_knx(value)


def main() -> int:
    problem = environment_problem()
    if problem:
        print(f"demo: {problem}", file=sys.stderr)
        return 1
    building = load_building(CONFIG)
    dpts = {addr.ga: addr.dpt for _, _, addr in building.addresses()}
    work = Path(tempfile.mkdtemp(prefix="edgeasr-demo-"))
    print(f"synthesising speech with espeak-ng ({', '.join(VOICES)}) ...", flush=True)
    playlist = work / "stream.txt"
    lines = []
    for i, text in enumerate(SCRIPT):
        path = work / f"{i:02d}.wav"
        write_wav(path, speak(text, i))
        lines.append(path.name)
    playlist.write_text("\n".join(lines) + "\n")

    port = free_port()
    service_cfg = work / "service.yaml"
    service_cfg.write_text(yaml.safe_dump({
        "building": str(CONFIG),
        "audio": {"source": "file", "files": [str(playlist)], "realtime": True},
        "listen": {"mode": "wake", "wake_phrase": W},
        "knx": {"type": "tunnelling", "host": "127.0.0.1", "port": port},
    }))
    knxd = Knxd(port, work)
    knxd.start()
    monitor = KnxtoolMonitor(knxd.socket)
    print(f"knxd (pid {knxd.pid}) on 127.0.0.1:{port}; bus monitor: knxtool vbusmonitor1\n"
          f"service: edgeasr serve, wake phrase \"{W}\"; listening to {len(SCRIPT)} utterances "
          "in real time ...\n", flush=True)
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "edgeasr.cli", "serve", "--service", str(service_cfg)],
            capture_output=True, text=True, timeout=300)
        time.sleep(0.5)  # let the last telegram reach the monitor
        bus = monitor.telegrams()
    finally:
        monitor.close()
        knxd.stop()
    events = [json.loads(line.split("edgeasr.action: ", 1)[1])
              for line in proc.stderr.splitlines() if "edgeasr.action: " in line]
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return 1

    print(f"{'said':<78} {'recognised':<30} {'seen on the bus (knxtool)'}")
    print("-" * 150)
    bus_iter = list(bus)
    for i, text in enumerate(SCRIPT):
        ev = events[i] if i < len(events) else None
        if ev is None:
            heard = "-"
        elif ev["event"] == "command":
            heard = f"{ev['intent']} [{ev['confidence']:.2f}]"
        elif ev["event"] == "wake":
            heard = "(wake phrase)"
        else:
            heard = f"ignored [{ev['confidence']:.2f}]"
        seen = []
        if ev and ev["event"] == "command":
            for t in ev["telegrams"]:
                match = next((b for b in bus_iter if b.ga == t["ga"]), None)
                if match is not None:
                    bus_iter.remove(match)
                    value = decode_value(dpts.get(match.ga, t["dpt"]), match.payload, match.small)
                    seen.append(f"{match.ga} {match.service} {value}")
        print(f"{text:<78} {heard:<30} {', '.join(seen) or 'nothing'}")
    extra = len(events) - len(SCRIPT)
    if extra > 0:
        print(f"(the service heard {extra} more utterance(s) than were spoken)")
    print(f"\n{len(bus)} telegram(s) on the bus in {time.monotonic() - t0:.0f} s; "
          f"stopped knxd and the monitor. Work files: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
