"""bench.alternatives rows: a split model's size counts both of its files."""

from __future__ import annotations

from pathlib import Path

from bench.alternatives import model_files


def test_split_model_row_counts_the_embedder(tiny_hybrid_model: Path) -> None:
    embedder = tiny_hybrid_model.with_name("edgeasr.embedder.tflite")
    assert embedder.is_file()
    row = model_files(tiny_hybrid_model)
    assert row["bytes"] == tiny_hybrid_model.stat().st_size + embedder.stat().st_size
    assert row["embedder"]["bytes"] == embedder.stat().st_size
    assert row["sha256"] != row["embedder"]["sha256"]


def test_single_file_model_row_is_its_own_size(tiny_model: Path) -> None:
    row = model_files(tiny_model)
    assert row["bytes"] == tiny_model.stat().st_size
    assert "embedder" not in row
