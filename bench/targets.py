"""The acceptance targets of the held-out evaluation, checked against measured metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.metrics import Metrics

EDGE, BASE = "edgeasr", "pocketsphinx"


@dataclass(frozen=True)
class Target:
    name: str
    required: str
    measured: str
    met: bool | None  # None: not evaluated in this run (condition or engine missing)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


BEAT = "beat pocketsphinx in every condition"
BEAT_RULE = ("higher command accuracy, or equal accuracy with fewer bad actions "
             "(wrong actions + false actions)")


def bad_actions(m: Metrics) -> int:
    """Telegrams that should not have been sent: wrong ones on commands, any on non-commands."""
    return m.wrong + m.false_actions


def beats(edge: Metrics, base: Metrics) -> bool:
    if edge.command_accuracy != base.command_accuracy:
        return edge.command_accuracy > base.command_accuracy
    return bad_actions(edge) < bad_actions(base)


def check(per_condition: Mapping[str, Mapping[str, Metrics]],
          overall: Mapping[str, Metrics]) -> list[Target]:
    """``per_condition[engine][condition]`` and ``overall[engine]`` (all conditions pooled)."""
    edge = per_condition.get(EDGE, {})
    base = per_condition.get(BASE, {})
    targets: list[Target] = []

    for cond, need, label in (("clean", 0.98, "clean"), ("snr10", 0.95, "10 dB SNR")):
        m = edge.get(cond)
        targets.append(Target(
            f"EdgeASR command accuracy, {label}", f">= {_pct(need)}",
            f"{_pct(m.command_accuracy)} ({m.correct}/{m.n_commands})" if m else "not run",
            (m.command_accuracy >= need) if m else None))

    m_all = overall.get(EDGE)
    worst = max(edge.items(), key=lambda kv: kv[1].false_action_rate, default=None)
    measured = "not run"
    if m_all:
        measured = (f"{_pct(m_all.false_action_rate)} pooled over all conditions "
                    f"({m_all.false_actions}/{m_all.n_non_commands})")
        if worst:
            measured += f"; worst condition {worst[0]}: {_pct(worst[1].false_action_rate)}"
    targets.append(Target("EdgeASR false actions on non-commands", "<= 1.0 % (pooled)",
                          measured, (m_all.false_action_rate <= 0.01) if m_all else None))

    common = [c for c in edge if c in base]
    if common:
        lost = [c for c in common if not beats(edge[c], base[c])]
        measured = "; ".join(
            f"{c}: {_pct(edge[c].command_accuracy)} vs {_pct(base[c].command_accuracy)}"
            f" (bad actions {bad_actions(edge[c])} vs {bad_actions(base[c])})" for c in common)
        targets.append(Target(BEAT, BEAT_RULE,
                              measured + (f" — not beaten in: {', '.join(lost)}" if lost else ""),
                              not lost))
    else:
        targets.append(Target(BEAT, BEAT_RULE, "not run", None))

    e, b = overall.get(EDGE), overall.get(BASE)
    if e and b:
        ratio = e.mean_wall_s / b.mean_wall_s
        targets.append(Target("time per clip <= half of pocketsphinx", "ratio <= 0.50",
                              f"{1000 * e.mean_wall_s:.1f} ms vs {1000 * b.mean_wall_s:.1f} ms "
                              f"(ratio {ratio:.2f})", ratio <= 0.5))
    else:
        targets.append(Target("time per clip <= half of pocketsphinx", "ratio <= 0.50",
                              "not run", None))
    return targets


MAX_MODEL_BYTES = 2 * 1024 * 1024
MAX_OPS_PER_AUDIO_S = 0.5e9


def model_budget(model: Path) -> list[Target]:
    """The issue's limits on the model: at most 2 MB (every file the runtime loads) and 0.5 G
    operations (2 per MAC) per second of audio, counted from the graph by ``bench.npu``."""
    from bench.npu import analyse

    r = analyse(model)
    ops = 2 * r.macs_per_audio_s
    files = "model + embedder" if r.embedder else "model"
    return [
        Target("model size", "<= 2 MB", f"{r.bytes / 1024:.0f} KiB ({files})",
               r.bytes <= MAX_MODEL_BYTES),
        Target("operations per second of audio", "<= 0.5 G (python -m bench.npu)",
               f"{ops / 1e9:.2f} G on continuous audio; one window (a command up to "
               f"{r.one_window_s:.1f} s) {2 * r.macs / 1e9:.2f} G", ops <= MAX_OPS_PER_AUDIO_S),
    ]
