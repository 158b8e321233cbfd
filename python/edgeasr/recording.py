"""Opt-in debug recording: each decoded utterance's audio as a WAV file, within fixed limits.

Off unless the service file has ``debug_recording:``. Meant for commissioning (why did the
kitchen not understand "blinds"?), never for normal operation: it stores what people said.
The directory is created private (mode 0700); the oldest recordings are deleted so that at
most ``max_files`` files and ``max_mb`` megabytes are kept.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edgeasr.audio import write_wav

log = logging.getLogger(__name__)

PREFIX = "edgeasr-"  # only files named like this are counted and deleted


class DebugRecordingConfig(BaseModel):
    """``debug_recording`` in the service file. PRIVACY: it writes what people say to disk."""

    model_config = ConfigDict(extra="forbid")

    dir: Path
    max_files: Annotated[int, Field(ge=1)] = 50
    max_mb: Annotated[float, Field(gt=0)] = 20.0


class DebugRecorder:
    def __init__(self, cfg: DebugRecordingConfig) -> None:
        self.dir = cfg.dir
        self.max_files = cfg.max_files
        self.max_bytes = int(cfg.max_mb * 1e6)
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"debug_recording.dir {self.dir}: cannot create it: {exc.strerror}"
                             ) from exc
        self._seq = itertools.count(1)
        log.warning("debug recording is ON: every decoded utterance is written to %s "
                    "(at most %d files, %.1f MB); turn it off after commissioning",
                    self.dir, self.max_files, self.max_bytes / 1e6)

    def save(self, audio: np.ndarray, event: str) -> Path:
        """Write one utterance; then delete the oldest recordings beyond the limits."""
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        path = self.dir / f"{PREFIX}{stamp}-{next(self._seq):06d}-{event}.wav"
        write_wav(path, audio)
        os.chmod(path, 0o600)
        self._prune()
        return path

    def recordings(self) -> list[Path]:
        """Oldest first."""
        files = [p for p in self.dir.glob(f"{PREFIX}*.wav") if p.is_file()]
        return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def _prune(self) -> None:
        files = self.recordings()
        sizes = [p.stat().st_size for p in files]
        total = sum(sizes)
        while files and (len(files) > self.max_files or total > self.max_bytes):
            old = files.pop(0)
            total -= sizes.pop(0)
            old.unlink(missing_ok=True)
            log.debug("debug recording: deleted %s (limits)", old.name)
