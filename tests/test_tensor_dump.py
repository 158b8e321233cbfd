"""bench.tensors' dump: every op's output, the last one the model's own output."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench import tensors
from bench.npu import analyse
from edgeasr.acoustic import AcousticModel


def test_dump_keeps_every_op_output_and_ends_with_the_models(
        tmp_path: Path, shipped_model: Path, speak_audio) -> None:
    model = AcousticModel(shipped_model, kernels="reference")
    chunk = next(iter(model.chunks(model.features(speak_audio("kitchen light on")))))[0]
    inputs = dict(model.quantized_inputs(chunk))
    np.savez(tmp_path / "in.npz", **{str(i): x for i, x in inputs.items()})
    tensors.dump(str(shipped_model), str(tmp_path / "in.npz"), str(tmp_path / "ref.npz"),
                 "reference")
    machine, rows = tensors.load_ops(tmp_path / "ref.npz")
    # One output per operator of the model file (a split model's embedder is a file apart).
    graph_ops = [o for o in analyse(shipped_model).ops if o.graph == "model"]
    assert machine and len(rows) == len(graph_ops) > 10
    assert [int(k.split("|")[0]) for k, _ in rows] == sorted(int(k.split("|")[0])
                                                            for k, _ in rows)
    # The last op's output is what the runtime returns for the chunk (before dequantising).
    scale, zero = model._out_q
    expected = np.round(model._run(chunk) / scale + zero).astype(np.int64)
    np.testing.assert_array_equal(rows[-1][1][0].astype(np.int64), expected)
    # A residual ADD writes over its input in place: the tool must say so, not blame a conv.
    assert tensors.overwritten_ops(rows)
