"""NPU readiness of a TFLite model: every op, its tensor types, NPU support, MACs, parameters.

    python -m bench.npu [MODEL] [--json PATH] [--markdown PATH]

Reads the graph through the TFLite interpreter's own view of the flatbuffer (op list, tensor
shapes, dtypes and quantisation), so what is reported is what the runtime will execute.

What "NPU-ready" means here, from ST's documentation of the STM32MP2 NPU (``NPU_DOC``): the
NPU runs 8-bit models quantised *per tensor, asymmetric*; per-channel quantised or float
layers fall back to the GPU/CPU. The operator list is the set of TFLite builtins that the
VeriSilicon VX delegate maps to the NPU/GPU graph (``VX_DELEGATE_OPS``), at the revision
ST's X-LINUX-AI layer builds (``VX_DELEGATE_RECIPE``), narrowed to the operators that are
compute layers or pure data movement. The NPU-vs-GPU engine of each operator is given per data
type in section 2 of ``NPU_DOC``; check new operators there before relying on them.

Cost figures are *estimates from the MAC count*, not measurements on the board:

* NPU: MACs x 2 ops / 1.35 TOPS (ST's figure at 900 MHz) gives the time at peak; small 1-D
  convolutions use a fraction of the array, so the load is also given at ``NPU_UTILISATION``.
* Cortex-A35: ``A35_HZ`` x ``A35_INT8_MACS_PER_CYCLE`` (Armv8.0 NEON without the dot-product
  instructions, 64-bit NEON datapath: 4 int8 MACs per cycle at best) x ``A35_EFFICIENCY``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "models" / "edgeasr.tflite"

NPU_DOC = "https://wiki.st.com/stm32mpu/wiki/STM32MP2_NPU_description"
VX_DELEGATE_RECIPE = ("https://github.com/STMicroelectronics/meta-st-x-linux-ai/blob/main/"
                      "recipes-frameworks/tflite-vx-delegate/tflite-vx-delegate_git.bb")
VX_DELEGATE_OPS = "https://github.com/VeriSilicon/tflite-vx-delegate/blob/main/op_map.cc"

# TFLite builtins the VX delegate maps (op_map.cc) that are accelerator work: convolutions,
# matrix products, element-wise arithmetic, activations, pooling and data movement.
NPU_OPS = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL",
    "ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM",
    "RELU", "RELU6", "RELU_N1_TO_1", "LEAKY_RELU", "PRELU", "LOGISTIC", "TANH", "HARD_SWISH",
    "SOFTMAX", "AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN",
    "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "CONCATENATION", "PAD", "TRANSPOSE", "SPLIT",
    "STRIDED_SLICE", "SLICE", "PACK", "UNPACK",
    "RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE",
})
# Weight/bias tensors may be int32 (biases) or int8; activations must be int8/uint8.
INTEGER_TYPES = {"int8", "uint8", "int32"}
ACTIVATION_TYPES = {"int8", "uint8"}

NPU_TOPS = 1.35  # STM32MP257 NPU at 900 MHz (NPU_DOC, section 1.1)
NPU_UTILISATION = 0.25  # assumed array utilisation for narrow 1-D convolutions
A35_HZ = 1.5e9  # STM32MP257 Cortex-A35 maximum clock
A35_INT8_MACS_PER_CYCLE = 4  # Armv8.0 NEON, SMLAL on a 64-bit datapath, no SDOT
A35_EFFICIENCY = 0.4  # assumed share of peak a TFLite int8 kernel reaches
FRAME_S = 0.010  # feature hop (edgeasr.features.HOP / 16 kHz)


@dataclass
class TensorInfo:
    name: str
    shape: list[int]
    dtype: str
    per_tensor: bool  # one scale (or not quantised at all)
    constant: bool
    index: int = -1  # the graph's tensor index: a weight shared by several ops is one tensor


@dataclass
class OpInfo:
    index: int
    op: str
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    macs: int
    params: int
    full_integer: bool
    per_tensor: bool
    npu_op: bool
    graph: str = "model"  # or "embedder": a split model's front network, its own file

    @property
    def npu_ready(self) -> bool:
        return self.full_integer and self.per_tensor and self.npu_op


@dataclass
class Report:
    model: str
    bytes: int
    input: TensorInfo
    output: TensorInfo
    ops: list[OpInfo]
    stride_frames: int  # audio frames per window that produce new output (long input)
    one_window_s: float  # longest utterance that takes a single inference
    notes: list[str] = field(default_factory=list)
    # A split model (edgeasr.acoustic.Embedder): its front network runs this many times for
    # one window's embeddings and, over long input, once per ``embedder_stride_frames``.
    embedder: str | None = None
    embedder_calls: int = 0
    embedder_stride_frames: int = 0

    def graph_macs(self, graph: str) -> int:
        return sum(o.macs for o in self.ops if o.graph == graph)

    @property
    def macs(self) -> int:
        """One window's inference: the model, and a split model's embedder calls for it."""
        return self.graph_macs("model") + self.embedder_calls * self.graph_macs("embedder")

    @property
    def params(self) -> int:
        """Constant elements, each tensor once (the front network's four phases share one
        set of weights; summing per op counted them four times)."""
        seen: dict[tuple[str, int], int] = {}  # tensor indices are per graph
        for o in self.ops:
            if o.op == "RESHAPE":  # its constant operand is a shape, not a weight
                continue
            for t in o.inputs:
                if t.constant:
                    seen[o.graph, t.index] = int(np.prod(t.shape))
        return sum(seen.values())

    @property
    def window_s(self) -> float:
        return self.input.shape[1] * FRAME_S

    @property
    def macs_per_audio_s(self) -> float:
        """Streaming cost: each window contributes ``stride_frames`` of new output; a split
        model's embedder computes each embedding once, ``embedder_stride_frames`` a call."""
        if self.embedder is None:
            return self.macs / (self.stride_frames * FRAME_S)
        return (self.graph_macs("model") / (self.stride_frames * FRAME_S)
                + self.graph_macs("embedder") / (self.embedder_stride_frames * FRAME_S))

    @property
    def all_npu_ready(self) -> bool:
        return all(o.npu_ready for o in self.ops)

    def estimates(self) -> dict[str, float]:
        ops_per_s = 2 * self.macs_per_audio_s
        a35_macs_s = A35_HZ * A35_INT8_MACS_PER_CYCLE * A35_EFFICIENCY
        return {
            "npu_peak_ms_per_window": 1e3 * 2 * self.macs / (NPU_TOPS * 1e12),
            "npu_ms_per_window_at_utilisation": 1e3 * 2 * self.macs
            / (NPU_TOPS * 1e12 * NPU_UTILISATION),
            "npu_load_streaming_peak": ops_per_s / (NPU_TOPS * 1e12),
            "npu_load_streaming_at_utilisation": ops_per_s / (NPU_TOPS * 1e12 * NPU_UTILISATION),
            "a35_ms_per_window": 1e3 * self.macs / a35_macs_s,
            "a35_core_load_streaming": self.macs_per_audio_s / a35_macs_s,
        }

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for o, od in zip(self.ops, d["ops"], strict=True):
            od["npu_ready"] = o.npu_ready
        d.update(macs_per_window=self.macs, params=self.params, window_s=self.window_s,
                 macs_per_audio_s=self.macs_per_audio_s, all_npu_ready=self.all_npu_ready,
                 estimates=self.estimates(),
                 assumptions={"npu_tops": NPU_TOPS, "npu_utilisation": NPU_UTILISATION,
                              "a35_hz": A35_HZ, "a35_int8_macs_per_cycle": A35_INT8_MACS_PER_CYCLE,
                              "a35_efficiency": A35_EFFICIENCY},
                 sources={"npu_doc": NPU_DOC, "vx_delegate_recipe": VX_DELEGATE_RECIPE,
                          "vx_delegate_ops": VX_DELEGATE_OPS})
        return d


def _tensor(d: dict[str, Any], constant: bool) -> TensorInfo:
    scales = d.get("quantization_parameters", {}).get("scales", np.zeros(0))
    return TensorInfo(d["name"], [int(x) for x in d["shape"]], np.dtype(d["dtype"]).name,
                      len(scales) <= 1, constant, int(d["index"]))


def _macs(op: str, ins: list[TensorInfo], outs: list[TensorInfo]) -> int:
    """Multiply-accumulates of one op from its weight and output shapes (0 for data movement)."""
    out = int(np.prod(outs[0].shape)) if outs else 0
    if op == "CONV_2D":  # filter [out_c, kh, kw, in_c]
        _, kh, kw, cin = ins[1].shape
        return out * kh * kw * cin
    if op == "DEPTHWISE_CONV_2D":  # filter [1, kh, kw, out_c]
        return out * ins[1].shape[1] * ins[1].shape[2]
    if op == "FULLY_CONNECTED":  # weights [out, in]
        return out * ins[1].shape[1]
    if op in ("TRANSPOSE_CONV", "BATCH_MATMUL"):
        raise NotImplementedError(f"MAC count of {op} is not implemented")
    if op in ("ADD", "SUB", "MUL"):
        return out  # one arithmetic op per element, counted as one MAC
    return 0


def _graph_ops(path: Path, graph: str) -> tuple[Any, list[OpInfo]]:
    """The interpreter of one TFLite file and its operators."""
    from edgeasr.acoustic import ModelError, _interpreter_class

    if not path.is_file():
        raise ModelError(f"model file {path} not found")
    interp = _interpreter_class()(model_path=str(path))
    interp.allocate_tensors()
    tensors = {d["index"]: d for d in interp.get_tensor_details()}
    produced: set[int] = set()
    graph_inputs = {d["index"] for d in interp.get_input_details()}
    ops_raw = interp._get_ops_details()  # the only API that lists the graph's operators
    for o in ops_raw:
        produced.update(int(i) for i in o["outputs"])
    ops: list[OpInfo] = []
    for o in ops_raw:
        ins_idx = [int(i) for i in o["inputs"] if i >= 0]
        ins = [_tensor(tensors[i], i not in produced and i not in graph_inputs) for i in ins_idx]
        outs = [_tensor(tensors[int(i)], False) for i in o["outputs"]]
        name = o["op_name"]
        params = sum(int(np.prod(t.shape)) for t in ins
                     if t.constant and name not in ("RESHAPE",))  # RESHAPE's shape operand
        acts = [t for t in ins + outs if not t.constant]
        full_int = (all(t.dtype in ACTIVATION_TYPES for t in acts)
                    and all(t.dtype in INTEGER_TYPES for t in ins if t.constant))
        ops.append(OpInfo(int(o["index"]), name, ins, outs, _macs(name, ins, outs), params,
                          full_int, all(t.per_tensor for t in ins + outs), name in NPU_OPS,
                          graph))
    return interp, ops


def analyse(path: str | Path = DEFAULT_MODEL) -> Report:
    from edgeasr.acoustic import CONTEXT, EDGE, SUBSAMPLING, AcousticModel

    path = Path(path)
    interp, ops = _graph_ops(path, "model")
    # A model with two inputs (log-mel, and speech-mel32 for its front network) is reported
    # by the longer one, which carries the context.
    inp = _tensor(max(interp.get_input_details(), key=lambda d: int(d["shape"][1])), False)
    out = _tensor(interp.get_output_details()[0], False)
    # Frames whose phones one window predicts; a model with a front network also takes
    # context frames before and after them (its edgeasr.json says how many).
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    left, right = meta.get("context", (0, 0))
    split = bool(meta.get("embedder"))
    window = inp.shape[1] - (0 if split else left + right)
    stride = window - 2 * CONTEXT
    notes = []
    if window // SUBSAMPLING != out.shape[1]:
        notes.append(f"output frames {out.shape[1]} != (input frames - context {left}+{right})"
                     f" / {SUBSAMPLING}")
    report = Report(str(path), path.stat().st_size, inp, out, ops, stride,
                    (window - 2 * EDGE) * FRAME_S, notes)
    if split:  # the front network: its own graph, each embedding computed once
        emb_path = AcousticModel.embedder_path(path)
        e_interp, e_ops = _graph_ops(emb_path, "embedder")
        per_window = min(int(d["shape"][1]) for d in interp.get_input_details())
        per_call = int(e_interp.get_output_details()[0]["shape"][1])
        report.ops += e_ops
        report.bytes += emb_path.stat().st_size
        report.embedder = str(emb_path)
        report.embedder_calls = -(-per_window // per_call)
        report.embedder_stride_frames = per_call * window // per_window
    return report


def _types(ts: list[TensorInfo]) -> str:
    return ", ".join(f"{t.dtype}{'x'.join(map(str, t.shape))}".replace("int8", "int8 ")
                     .replace("int32", "int32 ").replace("float32", "float32 ")
                     + ("" if t.per_tensor else " (per-channel)") for t in ts)


def markdown(r: Report, heading: str = "##") -> list[str]:
    """The NPU section of docs/benchmarks.md."""
    e = r.estimates()
    yes = {True: "yes", False: "**no**"}
    lines = [
        f"{heading} NPU readiness of `{_rel(r.model)}`", "",
        (f"{len(r.ops)} operators; input {r.input.dtype} {r.input.shape}, output "
         f"{r.output.dtype} {r.output.shape}; {r.params:,} parameters; "
         f"{r.bytes:,} bytes on disk. **Every operator full-integer, per-tensor quantised and "
         f"in the NPU operator set: {yes[r.all_npu_ready]}.**"), "",
        "| # | operator | inputs (type, shape) | outputs | MACs | full-integer | per-tensor "
        "| NPU operator |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in r.ops:
        op = o.op if o.graph == "model" else f"{o.op} (embedder)"
        lines.append(f"| {o.index} | {op} | {_types(o.inputs)} | {_types(o.outputs)} "
                     f"| {o.macs:,} | {yes[o.full_integer]} | {yes[o.per_tensor]} "
                     f"| {yes[o.npu_op]} |")
    lines += [
        "", "Cost from the layer shapes:", "",
        f"- MACs per inference (one {r.window_s:.1f} s window of {r.input.shape[1]} frames): "
        f"**{r.macs / 1e6:.1f} M**"
        + (f" ({r.graph_macs('model') / 1e6:.1f} M in the model, {r.embedder_calls} "
           f"call{'s' if r.embedder_calls != 1 else ''} of its embedder "
           f"`{_rel(r.embedder)}` at {r.graph_macs('embedder') / 1e6:.1f} M)."
           if r.embedder else "."),
        (f"- MACs per second of audio: **{r.macs_per_audio_s / 1e6:.1f} M** "
         f"(**{2 * r.macs_per_audio_s / 1e9:.2f} G operations**) when streaming "
         f"(windows overlap; each adds {r.stride_frames * FRAME_S:.1f} s of new output"
         + (f"; each embedding is computed once, a call adds "
            f"{r.embedder_stride_frames * FRAME_S:.1f} s of them" if r.embedder else "")
         + f"). A command up to {r.one_window_s:.1f} s long takes one window."),
        "", "Estimates from the MAC count (not measured on the board):", "",
        (f"- NPU at its peak {NPU_TOPS} TOPS (2 ops per MAC): {e['npu_peak_ms_per_window']:.2f} "
         f"ms per window, a streaming load of {100 * e['npu_load_streaming_peak']:.3f} %; at "
         f"an assumed {100 * NPU_UTILISATION:.0f} % array utilisation "
         f"{e['npu_ms_per_window_at_utilisation']:.2f} ms per window, load "
         f"{100 * e['npu_load_streaming_at_utilisation']:.2f} %."),
        (f"- One Cortex-A35 core ({A35_HZ / 1e9:.1f} GHz x {A35_INT8_MACS_PER_CYCLE} int8 MACs "
         f"per cycle at best on Armv8.0 NEON x an assumed {100 * A35_EFFICIENCY:.0f} % "
         f"efficiency = {A35_HZ * A35_INT8_MACS_PER_CYCLE * A35_EFFICIENCY / 1e9:.1f} GMAC/s): "
         f"**{e['a35_ms_per_window']:.0f} ms per window**, "
         f"{100 * e['a35_core_load_streaming']:.0f} % of a core when streaming."),
        "",
        (f"Sources: the NPU runs 8-bit models quantised per tensor (asymmetric); per-channel "
         f"quantisation moves layers to the GPU ([ST wiki, STM32MP2 NPU description]({NPU_DOC}), "
         f"section 1.2; its section 2 gives the NPU/GPU engine per operator and data type). The "
         f"operator set is the TFLite builtins mapped by the VX delegate "
         f"([op_map.cc]({VX_DELEGATE_OPS})) that ST's X-LINUX-AI layer builds "
         f"([tflite-vx-delegate_git.bb]({VX_DELEGATE_RECIPE})), restricted to compute and "
         f"data-movement layers (`bench.npu.NPU_OPS`)."),
        "",
    ]
    lines += [f"- Note: {n}" for n in r.notes]
    return lines


def _rel(p: str) -> str:
    try:
        return str(Path(p).resolve().relative_to(ROOT))
    except ValueError:
        return p


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.npu", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--json", type=Path, help="write the full report as JSON here")
    ap.add_argument("--markdown", type=Path, help="write the Markdown section here")
    args = ap.parse_args(argv)
    from edgeasr.acoustic import ModelError

    try:
        r = analyse(args.model)
    except ModelError as err:
        print(f"bench.npu: {err}", file=sys.stderr)
        return 2
    text = "\n".join(markdown(r, "#"))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(r.as_dict(), indent=1) + "\n")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text)
    print(text)
    return 0 if r.all_npu_ready else 1


if __name__ == "__main__":
    sys.exit(main())
