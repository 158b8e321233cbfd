"""Split long audio into utterances by energy; short clips are decoded whole.

CTC blanks already absorb the silence around a command, so a clip of normal command length is
left as it is (noise-robust); only long recordings are cut where the energy drops.
"""

from __future__ import annotations

import numpy as np

from edgeasr.features import frame_db

SAMPLE_RATE = 16000
MAX_UTTERANCE_S = 8.0
FRAME = 160  # 10 ms


def speech_segments(audio: np.ndarray, max_s: float = MAX_UTTERANCE_S) -> list[tuple[int, int]]:
    """Sample ranges to decode, each at most ``max_s`` long; [] for silence-only long input."""
    n = len(audio)
    if n == 0:
        return []
    max_len = int(max_s * SAMPLE_RATE)
    if n <= max_len:
        return [(0, n)]
    db = frame_db(audio, FRAME)
    floor = np.percentile(db, 10)
    active = db > max(floor + 10.0, -60.0)
    segs: list[tuple[int, int]] = []
    i = 0
    while i < len(active):
        if not active[i]:
            i += 1
            continue
        j = i
        gap = 0
        while j < len(active) and gap < 40:  # 400 ms of quiet ends an utterance
            gap = 0 if active[j] else gap + 1
            j += 1
        start = max(0, (i - 20) * FRAME)
        end = min(n, j * FRAME)
        for s in range(start, end, max_len):
            segs.append((s, min(end, s + max_len)))
        i = j
    return segs
