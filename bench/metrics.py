"""Scoring: one outcome per clip and engine, then rates per engine and condition.

A command is *correct* when the engine sends exactly the reference telegrams (same group
addresses, DPTs and values, as a multiset, order ignored); *wrong* when it sends something
else; *rejected* when it sends nothing. A non-command is a *false action* when anything is sent.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from edgeasr.telegram import Telegram

CORRECT, WRONG, REJECTED = "correct", "wrong", "rejected"
SILENT, FALSE_ACTION = "silent", "false_action"


def telegram_key(t: Telegram) -> tuple[str, str, str]:
    return (t.ga, t.dpt, repr(t.value))  # repr keeps True apart from 1


def same_telegrams(sent: Iterable[Telegram], reference: Iterable[Telegram]) -> bool:
    return Counter(map(telegram_key, sent)) == Counter(map(telegram_key, reference))


def outcome(kind: str, sent: Sequence[Telegram], reference: Sequence[Telegram]) -> str:
    if kind == "command":
        if not sent:
            return REJECTED
        return CORRECT if same_telegrams(sent, reference) else WRONG
    if kind == "non_command":
        return FALSE_ACTION if sent else SILENT
    raise ValueError(f"unknown clip kind {kind!r}")


@dataclass(frozen=True)
class Scored:
    """One engine's result on one clip, as the metrics need it."""

    kind: str
    outcome: str
    wall_s: float
    cpu_s: float
    audio_s: float
    error: bool = False


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k/n ((0, 1) when n is 0)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def _rate(k: int, n: int) -> float:
    return k / n if n else float("nan")


@dataclass(frozen=True)
class Metrics:
    n_commands: int
    correct: int
    wrong: int
    rejected: int
    n_non_commands: int
    false_actions: int
    errors: int
    command_accuracy: float
    command_accuracy_ci95: tuple[float, float]
    wrong_action_rate: float
    rejection_rate: float
    false_action_rate: float
    false_action_ci95: tuple[float, float]
    n_clips: int
    mean_wall_s: float
    median_wall_s: float
    p95_wall_s: float
    mean_cpu_s: float
    audio_s: float
    rtf: float  # total recognition wall time / total audio duration

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def summarise(results: Sequence[Scored]) -> Metrics:
    counts = Counter(r.outcome for r in results)
    n_cmd = sum(r.kind == "command" for r in results)
    n_non = sum(r.kind == "non_command" for r in results)
    wall = np.array([r.wall_s for r in results], dtype=np.float64)
    cpu = np.array([r.cpu_s for r in results], dtype=np.float64)
    audio = float(sum(r.audio_s for r in results))
    has = len(results) > 0
    return Metrics(
        n_commands=n_cmd, correct=counts[CORRECT], wrong=counts[WRONG],
        rejected=counts[REJECTED], n_non_commands=n_non, false_actions=counts[FALSE_ACTION],
        errors=sum(r.error for r in results),
        command_accuracy=_rate(counts[CORRECT], n_cmd),
        command_accuracy_ci95=wilson(counts[CORRECT], n_cmd),
        wrong_action_rate=_rate(counts[WRONG], n_cmd),
        rejection_rate=_rate(counts[REJECTED], n_cmd),
        false_action_rate=_rate(counts[FALSE_ACTION], n_non),
        false_action_ci95=wilson(counts[FALSE_ACTION], n_non),
        n_clips=len(results),
        mean_wall_s=float(wall.mean()) if has else float("nan"),
        median_wall_s=float(np.median(wall)) if has else float("nan"),
        p95_wall_s=float(np.percentile(wall, 95)) if has else float("nan"),
        mean_cpu_s=float(cpu.mean()) if has else float("nan"),
        audio_s=audio,
        rtf=float(wall.sum() / audio) if audio > 0 else float("nan"),
    )
