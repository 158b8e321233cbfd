"""Train a preset's member networks at the same time, one process and one core each.

A training step of these networks is compute-bound, but TensorFlow keeps two cores busy only
about two thirds of its time on their many small operations (docs/history.md, "Session
35"). Two members trained at once, each on its own core, keep both cores busy. Each member
trains as ``train.train`` trains it alone, from its own seed on its own data; its weights
come back through the file the factory keeps them in anyway.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import time
from dataclasses import dataclass, field
from pathlib import Path

from factory.dataset import Example
from factory.train import ModelShape


@dataclass
class MemberJob:
    """One member's training: ``train.train(data, shape, epochs, seed, **options)``, its
    weights saved to ``weights`` (with a record of the time taken beside them)."""
    data: list[Example]
    shape: ModelShape
    epochs: int
    seed: int
    weights: Path
    options: dict = field(default_factory=dict)
    label: str = "train"  # its progress bar's name


def train_one(job: MemberJob, position: int = 0) -> float:
    """Train ``job``'s network here; seconds it took."""
    from factory import train

    t = time.time()
    network = train.train(job.data, job.shape, job.epochs, job.seed, **job.options,
                          progress=job.label, position=position)
    network.save_weights(str(job.weights))
    seconds = time.time() - t
    job.weights.with_suffix(".json").write_text(json.dumps(
        {"train_seconds": round(seconds), "epochs": job.epochs}) + "\n")
    return seconds


def use_threads(threads: int) -> None:
    """A training process's set-up: TensorFlow on ``threads`` cores (before it runs anything
    here: its thread pools are made once), the factory's log format."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")


def train_at_once(jobs: list[MemberJob], threads: int = 1) -> list[float]:
    """Train every job in its own process at the same time, ``threads`` cores each; the
    seconds each took. An error in one stops the others and is raised here."""
    # Spawned, not forked: the factory has TensorFlow's threads running by now, and a forked
    # child inherits their locks.
    with mp.get_context("spawn").Pool(len(jobs), use_threads, (threads,)) as pool:
        running = [pool.apply_async(train_one, (job, i)) for i, job in enumerate(jobs)]
        return [r.get() for r in running]
