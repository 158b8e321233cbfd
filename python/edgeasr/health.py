"""Is the running service healthy? The check that decides whether an update is kept.

``edgeasr serve`` writes its state to ``$RUNTIME_DIRECTORY/health.json`` (``/run/edgeasr``
under systemd) with every watchdog ping. ``edgeasr-health`` (edgeasr-health.service, which
boot-complete.target requires, which meta-rauc's rauc-mark-good.service requires) waits until
that state is healthy; only then does ``rauc status mark-good`` run. If it never gets there,
the unit fails, the board reboots and the boot counter takes an attempt from the new slot
(docs/ota.md). Healthy means:

- the model is loaded and the audio device delivers frames;
- KNX is connected, or knowingly offline: the connection loop runs and retries (a missing
  bus or interface is not the update's fault; rolling back would not bring it back);
- the state is fresh (the service is alive), and the service is the one now running.

A unit without provisioning data (no ``device.yaml``) is healthy by definition: its service
does not start (the documented safe state, docs/provisioning.md) and it must stay updatable.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

STATUS_NAME = "health.json"
MAX_AGE_S = 30.0


@dataclass(frozen=True)
class ServiceHealth:
    """What the service knows about itself."""

    model_loaded: bool
    audio_frames: int
    knx: Literal["connected", "offline"]
    pid: int
    time: float  # time.time() when written


def status_path() -> Path | None:
    runtime = os.environ.get("RUNTIME_DIRECTORY")
    return Path(runtime.split(":")[0]) / STATUS_NAME if runtime else None


def write_status(path: Path, health: ServiceHealth) -> None:
    """Atomically replace the status file (a reader never sees half a file)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(health)))
    tmp.replace(path)


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    reason: str


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def evaluate(status: dict | None, *, provisioned: bool, now: float,
             max_age_s: float = MAX_AGE_S, alive: Callable[[int], bool] = _alive) -> Verdict:
    """The decision, from the status file's content (None: no file)."""
    if not provisioned:
        return Verdict(True, "not provisioned: the service stays stopped (safe state); "
                       "the system itself booted")
    if status is None:
        return Verdict(False, "the service has not reported yet (no status file)")
    try:
        h = ServiceHealth(**status)
    except TypeError as exc:
        return Verdict(False, f"unreadable status: {exc}")
    age = now - h.time
    if age > max_age_s:
        return Verdict(False, f"status is {age:.0f} s old: the service stopped reporting")
    if not alive(h.pid):
        return Verdict(False, f"the service that reported (pid {h.pid}) is gone")
    if not h.model_loaded:
        return Verdict(False, "the model is not loaded")
    if h.audio_frames <= 0:
        return Verdict(False, "no audio frames from the microphone yet")
    if h.knx == "connected":
        return Verdict(True, "model loaded, audio flowing, KNX connected")
    return Verdict(True, "model loaded, audio flowing, KNX knowingly offline (retrying)")


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return {"error": str(exc)}


def check(status: Path, device: Path, wait_s: float, interval_s: float = 1.0) -> Verdict:
    """Poll until healthy or ``wait_s`` has passed."""
    deadline = time.monotonic() + wait_s
    while True:
        verdict = evaluate(_read(status), provisioned=device.is_file(), now=time.time())
        if verdict.healthy or time.monotonic() >= deadline:
            return verdict
        time.sleep(interval_s)


def main(argv: list[str] | None = None) -> int:
    # (__doc__ is None under PYTHONOPTIMIZE=2, as the service unit runs Python)
    p = argparse.ArgumentParser(prog="edgeasr-health",
                                description=(__doc__ or "").split("\n")[0])
    p.add_argument("--status", type=Path, default=Path("/run/edgeasr") / STATUS_NAME)
    p.add_argument("--device", type=Path, default=Path("/etc/edgeasr/device.yaml"),
                   help="present on a provisioned unit")
    p.add_argument("--wait", type=float, default=0.0, help="seconds to wait for health")
    args = p.parse_args(argv)
    verdict = check(args.status, args.device, args.wait)
    print(f"edgeasr-health: {'healthy' if verdict.healthy else 'NOT healthy'}: {verdict.reason}")
    return 0 if verdict.healthy else 1


if __name__ == "__main__":
    sys.exit(main())
