"""Run every engine on every clip of every condition and score it.

Engines take turns on each clip (the order alternates from clip to clip), so background load
on the machine falls on both alike; each engine first recognises one warm-up clip, untimed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from bench.dataset import Clip, HeldoutAudio
from bench.engines import Engine, Output
from bench.metrics import Scored, outcome

log = logging.getLogger(__name__)
SR = 16000


@dataclass
class Record:
    clip: Clip
    condition: str
    audio_s: float
    outputs: dict[str, Output] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)

    def scored(self, engine: str) -> Scored:
        out = self.outputs[engine]
        return Scored(self.clip.kind, self.outcomes[engine], out.wall_s, out.cpu_s,
                      self.audio_s, out.error is not None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "clip": self.clip.id, "condition": self.condition, "kind": self.clip.kind,
            "text": self.clip.text, "audio_s": round(self.audio_s, 3),
            "reference": [t.to_json() for t in self.clip.reference],
            "engines": {
                name: {"outcome": self.outcomes[name], "heard": out.text,
                       "sent": [t.to_json() for t in out.telegrams],
                       "wall_s": round(out.wall_s, 6), "cpu_s": round(out.cpu_s, 6),
                       **({"error": out.error} if out.error else {}), **out.detail}
                for name, out in self.outputs.items()
            },
        }


def _safe_recognize(engine: Engine, audio: Any) -> Output:
    try:
        return engine.recognize(audio)
    except Exception as exc:  # one bad clip must not lose a long run; it is counted
        log.exception("%s failed on a clip", engine.name)
        return Output("", [], 0.0, 0.0, error=f"{type(exc).__name__}: {exc}")


def run(engines: Sequence[Engine], clips: Sequence[Clip], conditions: Sequence[str],
        audio: HeldoutAudio) -> list[Record]:
    if clips:
        warm = audio.load(clips[0], conditions[0])
        for engine in engines:
            engine.recognize(warm)
    records: list[Record] = []
    jobs = [(k, c) for k in conditions for c in clips]
    bar = tqdm(jobs, desc="recognising", unit="clip", mininterval=1.0)
    for i, (condition, clip) in enumerate(bar):
        pcm = audio.load(clip, condition)
        rec = Record(clip, condition, len(pcm) / SR)
        order = engines if i % 2 == 0 else list(reversed(engines))
        for engine in order:
            out = _safe_recognize(engine, pcm)
            rec.outputs[engine.name] = out
            rec.outcomes[engine.name] = outcome(clip.kind, out.telegrams, clip.reference)
        records.append(rec)
    return records
