"""Where two TFLite kernel sets part ways: every op's output for one input, compared.

    PYTHONPATH=models:. .venv/bin/python -m bench.tensors WAV [--model M] [--rows N]

Quantises the model's first input chunk for WAV (as the runtime does), runs the graph with
every tensor kept (``experimental_preserve_all_tensors``) with this host's optimized kernels,
with TFLite's reference kernels, and, when the arm64 root of scripts/aarch64-root.sh exists,
under qemu with aarch64's kernels; then prints, op by op in execution order, how many output
codes differ from the reference and by how much. The first op that differs is where a kernel
rounds differently; the later ones show how the network carries it.

TFLite runs some binary ops in place (a residual ADD may write into its input's buffer), so
after the run that input tensor holds the ADD's result: such rows are marked "overwritten",
and their counts are the ADD's, not their own op's.

    python -m bench.tensors dump MODEL INPUTS.npz OUT.npz [--kernels reference]

is the part that runs on each machine (numpy and tflite-runtime only).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def dump(model: str, inputs: str, out: str, kernels: str = "optimized") -> None:
    from tflite_runtime.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.BUILTIN_REF if kernels == "reference" else OpResolverType.AUTO
    it = Interpreter(model_path=model, num_threads=1, experimental_op_resolver_type=resolver,
                     experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    given = np.load(inputs)
    for d in it.get_input_details():
        it.set_tensor(d["index"], given[str(d["index"])])
    it.invoke()
    names = {d["index"]: d["name"] for d in it.get_tensor_details()}
    saved: dict[str, np.ndarray] = {}
    for op in it._get_ops_details():
        ins = ",".join(str(int(i)) for i in op["inputs"] if int(i) >= 0)
        for t in op["outputs"]:
            key = f"{op['index']}|{op['op_name']}|{int(t)}|{ins}|{names[int(t)]}"
            saved[key] = it.get_tensor(int(t)).copy()
    np.savez(out, machine=np.array(platform.machine()), **saved)


def load_ops(path: Path) -> tuple[str, list[tuple[str, np.ndarray]]]:
    with np.load(path) as z:
        rows = [(k, z[k]) for k in z.files if k != "machine"]
        machine = str(z["machine"])
    rows.sort(key=lambda kv: int(kv[0].split("|")[0]))
    return machine, rows


IN_PLACE_OPS = ("ADD", "SUB", "MUL")


def overwritten_ops(rows: list[tuple[str, np.ndarray]]) -> set[int]:
    """Ops whose output a later binary op consumed and, in place, replaced by its own."""
    marked = set()
    for i, (key, a) in enumerate(rows):
        tensor = key.split("|")[2]
        for later, b in rows[i + 1 :]:
            kind, inputs = later.split("|")[1], later.split("|")[3].split(",")
            if (kind in IN_PLACE_OPS and tensor in inputs and a.shape == b.shape
                    and np.array_equal(a, b)):
                marked.add(i)
    return marked


def compare(wav: Path, model: Path | None, max_rows: int) -> int:
    from bench.aarch64 import arm_python, build_root, find_qemu, host_python
    from edgeasr.acoustic import AcousticModel
    from edgeasr.audio import read_wav

    m = AcousticModel(model)
    chunk = next(iter(m.chunks(m.features(read_wav(wav)))))[0]
    tmp = Path(tempfile.mkdtemp(prefix="edgeasr-tensors-"))
    np.savez(tmp / "in.npz", **{str(i): x for i, x in m.quantized_inputs(chunk)})
    me = ["-m", "bench.tensors", "dump", str(m.path), str(tmp / "in.npz")]
    python, env = host_python()
    runs = {"optimized": tmp / "opt.npz", "reference": tmp / "ref.npz"}
    subprocess.run([*python, *me, str(runs["optimized"])], check=True, env=env, cwd=ROOT)
    subprocess.run([*python, *me, str(runs["reference"]), "--kernels", "reference"],
                   check=True, env=env, cwd=ROOT)
    qemu = find_qemu()
    if qemu:
        root, _ = build_root()
        arm, arm_env = arm_python(qemu, root)
        runs["aarch64"] = tmp / "arm.npz"
        subprocess.run([*arm, *me, str(runs["aarch64"])], check=True, env=arm_env, cwd=ROOT)
    _, ref = load_ops(runs["reference"])
    others: dict[str, list[tuple[str, np.ndarray]]] = {}
    for name, path in runs.items():
        if name != "reference":
            machine, rows = load_ops(path)
            others[f"{name} ({machine})"] = rows
    overwritten = overwritten_ops(ref)
    print(f"{wav.name}: {len(ref)} op outputs; codes that differ from the reference kernels "
          f"(count / max):")
    header = "| op | output | " + " | ".join(others) + " |"
    print(header)
    print("|" + "---|" * (2 + len(others)))
    shown = 0
    for i, (key, r) in enumerate(ref):
        cells: list[str] = []
        for rows in others.values():
            d = np.abs(rows[i][1].astype(np.int64) - r.astype(np.int64))
            cells.append(f"{int((d > 0).sum()):,} / {int(d.max()) if d.size else 0}")
        if all(c.startswith("0 /") for c in cells) and i != len(ref) - 1:
            continue
        op, kind, _, _, name = key.split("|", 4)
        note = " (overwritten)" if i in overwritten else ""
        print(f"| {op} {kind}{note} | {name.split(';')[0][:60]} {tuple(r.shape)} | "
              + " | ".join(cells) + " |")
        shown += 1
        if shown >= max_rows and i != len(ref) - 1:
            print(f"| ... | (rows after the first {max_rows} differing ops left out) |")
            r_last = ref[-1]
            cells = []
            for rows in others.values():
                d = np.abs(rows[-1][1].astype(np.int64) - r_last[1].astype(np.int64))
                cells.append(f"{int((d > 0).sum()):,} / {int(d.max())}")
            print(f"| {r_last[0].split('|')[0]} output | {r_last[0].split('|', 4)[4][:60]} | "
                  + " | ".join(cells) + " |")
            break
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["dump"]:
        p = argparse.ArgumentParser(prog="python -m bench.tensors dump")
        p.add_argument("model")
        p.add_argument("inputs")
        p.add_argument("out")
        p.add_argument("--kernels", choices=("optimized", "reference"), default="optimized")
        a = p.parse_args(args_in[1:])
        dump(a.model, a.inputs, a.out, a.kernels)
        return 0
    p = argparse.ArgumentParser(prog="python -m bench.tensors", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("wav", type=Path)
    p.add_argument("--model", type=Path, help="TFLite model (default: the shipped one)")
    p.add_argument("--rows", type=int, default=12, help="differing ops to show (default 12)")
    a: Any = p.parse_args(args_in)
    if not a.wav.is_file():
        p.error(f"{a.wav}: no such WAV file")
    return compare(a.wav, a.model, a.rows)


if __name__ == "__main__":
    sys.exit(main())
