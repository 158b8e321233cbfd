"""``python -m factory``: reproduce the shipped model from nothing.

Stages (each with a progress bar): sentences -> synthesis + augmentation -> CTC training ->
int8 export -> check on a synthetic dev set of unseen sentences -> model card.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from edgeasr.acoustic import FALLBACK_THRESHOLD
from edgeasr.features import N_MELS
from factory.augment import DEFAULT as DEFAULT_AUGMENTATION
from factory.augment import Augmentation
from factory.embedding import hop_frames
from factory.train import LEAD_PAD, ModelShape

REPO = Path(__file__).resolve().parents[2]


def embedding_phases() -> int:
    """Offsets per 80 ms the embedding cache holds (factory.embedding.PHASES)."""
    from factory.embedding import PHASES

    return PHASES


@dataclass(frozen=True)
class Preset:
    sentences: int
    copies: int
    dev_sentences: int
    shape: ModelShape
    epochs: int
    batch_frames: int
    # "logmel40": the whole network learns from log-mel features. "speech-mel32": a frozen
    # speech_embedding network pretrained on real speech runs first, the trained part is a
    # small head on its embeddings (see factory/embedding.py).
    frontend: str = "logmel40"
    # How the noisy copies are made: talkers, SNR, rooms (factory.augment.Augmentation; its
    # defaults are v9-hybrid-lead's; the shipped hybrid-noisy turns off the clean copy).
    augmentation: Augmentation = DEFAULT_AUGMENTATION
    # Voices left out of training; the dev check and the confidence calibration use them.
    hold_out: tuple[str, ...] = ()
    # speech-mel32 and hybrid: offsets the frozen network runs at (4: an embedding every
    # 20 ms; 2: every 40 ms, half the operations; 1, hybrid only: every 80 ms).
    phases: int = 4
    # Hybrid only: up to this many frames of quiet (factory.train.LEAD_PAD) go in front of
    # each training utterance, a random number of embedding steps of it; 0: speech starts where
    # the input does, as v8-hybrid was trained.
    lead_pad: int = 0
    # Hybrid only: the chance that a training example's log-mel input, and again its
    # embeddings, are replaced by their quiet floor (factory.train._batches), so that each view
    # alone must carry the sentence; 0: both always present.
    drop_view: float = 0.0
    # Hybrid only, > 0: distil from a real-speech teacher (factory.teacher: Whisper tiny.en's
    # encoder, training only); the weight of its loss beside the CTC loss.
    teacher: float = 0.0
    # What the teacher hears (factory.dataset.TEACHER_HEARS): "mix", the training audio
    # itself; "dry", that audio before the noise went in, so the student, hearing the TV,
    # learns what the speech alone sounds like to a real-speech network.
    teacher_hears: str = "mix"
    # Hybrid only, > 1: that many networks, each trained alone on the same data from its own
    # initial weights and batch order (seeds --seed, --seed + 1, ...), exported side by side
    # in one graph; the runtime decodes each and acts where they agree, a sentence every
    # member decoded needing ``agreement_bonus`` less confidence (edgeasr.recognizer.agree).
    members: int = 1
    agreement_bonus: float = 0.1
    # With several members: member m trains on its own data, made as the first member's is
    # but from seed --seed + m (other sentences, voices and noise draws, as v20's and v21's
    # differ) and without the held-out voices' utterances, since only the first member's
    # data checks and calibrates the model. False: every member trains on the first's data.
    member_data: bool = False

    def __post_init__(self) -> None:
        if self.member_data and self.teacher:
            raise ValueError("a preset whose members train on their own data cannot distil "
                             "(the teacher's targets are kept for the first member's data)")

    def audio_args(self) -> dict:
        """What ``dataset.build`` needs to make this preset's audio: every call passes the
        same, so the teacher's second synthesis hears what the first one made."""
        return {"frontend_name": self.frontend, "recipe": self.augmentation,
                "hold_out": self.hold_out}


# Speakers held out of training by default: flite's awb and rms and festival's ked are the
# only voices made from those speakers' recordings (flite slt and festival's HTS slt share a
# speaker, as do the kal voices), so their utterances are truly unseen.
DEV_VOICES = ("flite:awb", "flite:rms", "festival:ked_diphone")

# v9's recipe and its miniature: the variants below (the shipped hybrid-noisy among them)
# change one or two fields of them.
HYBRID_LEAD = Preset(sentences=9000, copies=2, dev_sentences=300, shape=ModelShape(192, 10, 9),
                     epochs=20, batch_frames=16000, frontend="logmel40+speech-mel32",
                     hold_out=DEV_VOICES, phases=2, lead_pad=LEAD_PAD)
TINY_HYBRID = Preset(sentences=48, copies=1, dev_sentences=8, shape=ModelShape(16, 1, 5),
                     epochs=1, batch_frames=4000, frontend="logmel40+speech-mel32",
                     hold_out=DEV_VOICES, phases=2, lead_pad=LEAD_PAD)

PRESETS = {
    # What the tests run: the same pipelines end to end, in about a minute each.
    "tiny": Preset(sentences=48, copies=1, dev_sentences=8, shape=ModelShape(16, 1, 5),
                   epochs=1, batch_frames=4000, augmentation=Augmentation(own_share=0.5),
                   hold_out=DEV_VOICES),
    "tiny-speech": Preset(sentences=48, copies=1, dev_sentences=8, shape=ModelShape(16, 1, 5),
                          epochs=1, batch_frames=4000, frontend="speech-mel32",
                          augmentation=Augmentation(own_share=0.5),
                          hold_out=DEV_VOICES),
    # The log-mel model shipped until v8 (v5 in docs/model-alternatives.md): three speakers
    # (no other voice shares their recordings) train nothing, so the confidence is calibrated
    # on voices the model never heard, as a user's will be; 30 epochs did better than 24.
    "full": Preset(sentences=9000, copies=2, dev_sentences=300,
                   shape=ModelShape(192, 10, 9), epochs=30, batch_frames=16000,
                   hold_out=DEV_VOICES),
    # "full" with half of the talker noise in the speaker's own voice: measured, no better in
    # TV noise (docs/model-alternatives.md, v2-own-tv), so not shipped.
    "full-tv": Preset(sentences=9000, copies=2, dev_sentences=300,
                      shape=ModelShape(192, 10, 9), epochs=14, batch_frames=16000,
                      augmentation=Augmentation(own_share=0.5)),
    # "full" at 24 epochs (as v4) with noisy copies at most 20 dB SNR instead of 30: more of
    # the training noise as hard as a TV at 10 dB. Measured worse than v4 on the dev voices in
    # every condition but 0 dB (v6-noisy-24 in docs/model-alternatives.md), so not shipped.
    "full-noisy": Preset(sentences=9000, copies=2, dev_sentences=300,
                         shape=ModelShape(192, 10, 9), epochs=24, batch_frames=16000,
                         hold_out=DEV_VOICES,
                         augmentation=Augmentation(snr_max=20.0)),
    # The pretrained-front-end candidate (v3-speech-20 in docs/model-alternatives.md): far
    # better on the clean and reverberant held-out voice, worse at 10 dB TV noise, and less
    # confident on espeak-ng voices (the demo's lone wake phrase is rejected), so not shipped.
    "speech": Preset(sentences=9000, copies=2, dev_sentences=300,
                     shape=ModelShape(160, 6, 9), epochs=20, batch_frames=16000,
                     frontend="speech-mel32"),
    # "speech" with the frozen network at two offsets instead of four (0.28 instead of
    # 0.55 GOP per second of audio, inside the 0.5) and the dev voices held out, so
    # its confidence is calibrated on unseen speakers like the shipped model's.
    # The model shipped until v9 (v8-hybrid in docs/model-alternatives.md): both views
    # in one network (factory.train.build_hybrid): log-mel frames, as "full" learns from, and
    # the frozen real-speech network at two phases, which carried v3-speech-20 on the clean
    # held-out voice; one CTC output, so one timing. Same held-out voices as "full".
    "hybrid": Preset(sentences=9000, copies=2, dev_sentences=300,
                     shape=ModelShape(192, 10, 9), epochs=20, batch_frames=16000,
                     frontend="logmel40+speech-mel32", hold_out=DEV_VOICES, phases=2),
    # The model shipped until v21 (v9-hybrid-lead in docs/model-alternatives.md): "hybrid"
    # with 0-400 ms of quiet in front of every training utterance (lead_pad), so the network
    # cannot tie the first word to the start of its input: hears every leading "please" and,
    # with the runtime's onset-aware quiet frames, more commands than v8-hybrid on the dev
    # voices at the same false actions.
    "hybrid-lead": HYBRID_LEAD,
    # "hybrid-lead" with the frozen network at one offset (an embedding every 80 ms): the
    # frozen network's operations, most of the model's, halve (0.34 instead of 0.61 G
    # operations per second of streamed audio). Measured far worse in TV noise on the dev
    # voices (v10-hybrid-lead-1 in docs/model-alternatives.md), so not shipped.
    "hybrid-lead-1": Preset(sentences=9000, copies=2, dev_sentences=300,
                            shape=ModelShape(192, 10, 9), epochs=20, batch_frames=16000,
                            frontend="logmel40+speech-mel32", hold_out=DEV_VOICES, phases=1,
                            lead_pad=LEAD_PAD),
    # "hybrid-lead" with TV-like talker noise (streams): the same share and loudness of
    # talker noise, but the talkers talk through the utterance, from a larger pool, none in a
    # held-out voice. Measured worse in TV noise on the dev voices (v11-hybrid-tv in
    # docs/model-alternatives.md), so not shipped.
    "hybrid-tv": Preset(sentences=9000, copies=2, dev_sentences=300,
                        shape=ModelShape(192, 10, 9), epochs=20, batch_frames=16000,
                        frontend="logmel40+speech-mel32", hold_out=DEV_VOICES, phases=2,
                        lead_pad=LEAD_PAD,
                        augmentation=Augmentation(streams=True)),
    # "hybrid-lead" with a wider trained part (256 channels instead of 192) for 14 epochs
    # instead of 20, so it trains in about the same time. Measured no better on the dev
    # voices (v12-hybrid-wide in docs/model-alternatives.md: fewer TV commands, more false
    # actions), so not shipped.
    "hybrid-wide": replace(HYBRID_LEAD, shape=ModelShape(256, 10, 9), epochs=14),
    # "hybrid-lead" with view dropout: 15 % of the training examples hear only their quiet
    # floor in the log-mel input, another 15 % only in the embeddings, so neither view can
    # lean on the other (the embeddings come from a network trained on real speech). Not
    # measured: its first run was stopped to give the 2 cores to hybrid-distil. The same
    # dropout on the later recipe, hybrid-noisy-drop, measured worse than without it.
    "hybrid-drop": replace(HYBRID_LEAD, drop_view=0.15),
    # "hybrid-lead" distilled from a real-speech teacher: the trained part's last hidden layer
    # also predicts Whisper tiny.en's encoder output for the same audio (factory.teacher),
    # half as much weight as the CTC loss. The teacher runs at training time only. Measured
    # better than v9 on the dev voices (v14-hybrid-distil in docs/model-alternatives.md: more
    # commands right, fewer wrong, the same false actions), but not shipped: from a fresh
    # clone it is estimated at about 96 minutes, over `make model`'s 90 (hybrid-dry-18, the
    # same teacher passes and dev check, timed at 88.5, plus two epochs of about 223 s).
    "hybrid-distil": replace(HYBRID_LEAD, teacher=0.5),
    # "hybrid-distil" in 18 epochs instead of 20 (the cosine schedule spans whatever count is
    # given), to fit `make model`'s 90 minutes. Measured (v15-hybrid-distil-18 in
    # docs/model-alternatives.md): 90.5 minutes from a fresh clone, and worse than v9 on the
    # dev voices (more false actions at 0.65, fewer commands right), so not shipped.
    "hybrid-distil-18": replace(HYBRID_LEAD, teacher=0.5, epochs=18),
    # "hybrid-distil-18" with a teacher that hears each noisy copy before the noise went in
    # (teacher_hears "dry"): teacher-student learning from parallel clean audio, aimed at TV
    # noise. Measured (v16-hybrid-dry-18 in docs/model-alternatives.md): 88.5 minutes from a
    # fresh clone, and worse than v9 and hybrid-distil-18 on the dev voices, in TV noise
    # most (fewer false actions, far fewer commands right), so not shipped.
    "hybrid-dry-18": replace(HYBRID_LEAD, teacher=0.5, teacher_hears="dry", epochs=18),
    # "hybrid-lead" in rooms where the talker is heard directly too: a DRR from -12 dB (a few
    # metres away in a living room, beyond the critical distance) to +8 dB (close by), where
    # every earlier recipe heard mostly the tail (DRR -11 to -33 dB). Measured
    # (v17-hybrid-room in docs/model-alternatives.md): 72 min from a fresh clone, fewer
    # commands right than v9 on the dev voices, but no fewer than v9's own recipe with
    # another seed (v18-seed2): within the seed spread, so not shipped and not shown worse.
    "hybrid-room": replace(HYBRID_LEAD, augmentation=Augmentation(drr=(-12.0, 8.0))),
    # "hybrid-lead" with 80 % of the noisy copies heard through a room instead of half (the
    # same rooms, mostly tail): does more reverb in training buy reverb commands, and at what
    # cost in TV noise? Measured once (v19-hybrid-wet, session 20: 81 min from a fresh
    # clone): no more reverb commands on the dev voices (370 of 504 at 0.65; v9 367, its
    # seed-2 twin 369) and far fewer in 10 dB TV noise (240; v9 330, seed 2 299), beyond
    # the seed spread, so not shipped.
    "hybrid-wet": replace(HYBRID_LEAD, augmentation=Augmentation(reverb=0.8)),
    # "hybrid-lead" without the clean copy: both copies of every sentence noisy, so twice
    # as many copies hear TV-like noise without a room. hybrid-wet, with fewer of those,
    # lost 10 dB TV commands beyond the seed spread; does having more of them gain some, and
    # what does the clean condition lose? Measured once (v20-hybrid-noisy, session 21: 86 min
    # from a fresh clone): on the dev voices at 0.55, its lowest threshold under 1 % false
    # actions, 1217 right / 87 wrong / 5 of 672 (v9 at 0.65: 1189 / 91 / 6); reverb 417 of
    # 504 (v9 367), 10 dB TV 313 (v9 330), clean 486 (488); joe, measured after: reverb
    # 81.0 % (v9 70.2), clean 92.9 % (95.8). The shipped model (`make model`, with --seed 2:
    # v21-hybrid-noisy in docs/model-alternatives.md): the second seed, 68 min from a fresh
    # clone, at its dev-rule threshold 0.6: 1236 right / 72 wrong / 6 of 672; clean 495,
    # 10 dB TV 317, reverb 423. Both seeds beat v9 on the dev voices.
    "hybrid-noisy": replace(HYBRID_LEAD, augmentation=Augmentation(clean_copy=False)),
    # "hybrid-noisy" with half of the talker noise in the speaker's own voice (a TV that
    # sounds like them, as make eval's TV mix is made of the held-out voice's own chatter).
    # Tried before only on the log-mel model (v2-own-tv: no better). Measured once with
    # --seed 2 (v22-hybrid-noisy-own, session 23: 79 min with other jobs on the cores, its
    # synthesis twice v21's for the chatter lines): more 10 dB TV commands on the dev voices
    # (339 of 504 at 0.6; v21 317) but fewer in reverb (397; 423) and clean (486; 495), and
    # more wrong telegrams; by the dev rule 0.7, 1151 right / 83 wrong / 5 of 672 (v21 at
    # 0.6: 1236 / 72 / 6). Not shipped.
    "hybrid-noisy-own": replace(HYBRID_LEAD, augmentation=Augmentation(clean_copy=False,
                                                                       own_share=0.5)),
    # "hybrid-noisy-own" with half as much own-voice chatter (a quarter of the talker
    # noise): does a smaller share keep some of its TV commands and give back less of the
    # clean and reverb ones? Measured once with --seed 2 (v23-hybrid-noisy-own-quarter,
    # session 24: 68 min with other jobs on the cores): on the dev voices by the dev rule
    # (0.65, 6 of 672 false actions) 1205 right / 91 wrong (v21 at 0.6: 1236 / 72 / 6);
    # clean 491, 10 dB TV 315, reverb 399 of 504 (v21: 495, 317, 423). Neither share of
    # own-voice chatter bought TV commands without losing reverb ones. Not shipped.
    "hybrid-noisy-own-quarter": replace(
        HYBRID_LEAD, augmentation=Augmentation(clean_copy=False, own_share=0.25)),
    # "hybrid-noisy-own" as a small, quickly trained network (128 channels, 6 blocks, 8
    # epochs): can a second network that fits beside the shipped one in make model's 90
    # minutes still catch its mistakes (python -m bench.agreement)? Measured once with
    # --seed 2 (v25-hybrid-noisy-own-small, session 24: 1457 s of training beside other jobs,
    # 180 KB): alone 947 of 2016 dev-voice commands right / 144 wrong within 1 % false
    # actions; with v21 1229 / 78 against v21 alone's 1252 / 77. Too weak to help: the
    # agreement gain needs a second full network. Not shipped.
    "hybrid-noisy-own-small": replace(
        HYBRID_LEAD, shape=ModelShape(128, 6, 9), epochs=8,
        augmentation=Augmentation(clean_copy=False, own_share=0.5)),
    # "hybrid-noisy" as two networks trained apart on the same data (seeds --seed and
    # --seed + 1), exported side by side; the runtime acts where they agree (``members``).
    # Twice the training time. Replayed with `python -m bench.agreement` on the dev voices
    # (most commands right within 1 % false actions): v20 with v21, v21's recipe with seeds 1
    # and 2 (so other data too), 1306 of 2016 right / 73 wrong against v21 alone's 1252 / 77;
    # but v21 with its same-data twin (seed 3 on seed 2's data, session 25: alone 1156 / 78,
    # its few confident false actions forcing a threshold of 0.64) only 1174 / 59, worse than
    # v21 alone; v21 with a good same-data network (session 25's fresh-clone make model,
    # 1248 / 73 alone) 1281 / 72. The pair is only as good as its weaker member's
    # confidence; not shipped (docs/model-alternatives.md).
    "hybrid-noisy-pair": replace(HYBRID_LEAD, augmentation=Augmentation(clean_copy=False),
                                 members=2),
    # "hybrid-noisy-pair" with each member trained on its own data (``member_data``): with
    # --seed 1 its members are v20's and v21's recipes exactly (seeds 1 and 2, other
    # sentences, voices and noise draws), the pair bench.agreement measured best.
    "hybrid-noisy-pair-apart": replace(HYBRID_LEAD,
                                       augmentation=Augmentation(clean_copy=False),
                                       members=2, member_data=True),
    # "hybrid-noisy-pair-apart" with a third more sentences (12000: a third more voices and
    # sentences heard) in 15 epochs instead of 20, so training takes as long: does speech
    # the networks heard fewer times but from more pseudo-speakers carry better to a voice
    # they never heard? Measured once (v28-hybrid-noisy-pair-more, session 32; make model
    # with it from a fresh clone alone took 105 min in session 33, over its 90, and made the
    # same weights): on the dev voices at the shipped settings 1267 right / 31 wrong / 5 of
    # 672 (the shipped pair 1277 / 42 / 5); 10 dB TV 388 of 504 (369), reverb 393 (417),
    # clean 485 (489). A trade, not a gain. Not shipped. With --epochs 12 (v30, session 34:
    # make model 86 min alone from a fresh clone) 1236 / 46 / 4: worse; clean 476, reverb 382.
    "hybrid-noisy-pair-more": replace(HYBRID_LEAD, sentences=12000, epochs=15,
                                      augmentation=Augmentation(clean_copy=False),
                                      members=2, member_data=True),
    # "hybrid-noisy" (v20's recipe with --seed 1) with view dropout ("hybrid-drop"): 15 % of
    # the training examples hear only the quiet floor in the log-mel input, another 15 %
    # only in the embeddings, so the network cannot lean on the log-mel view alone, the one
    # that learns the synthetic voices; the embeddings come from a network trained on real
    # speech. Measured once (v27-hybrid-noisy-drop, session 30: 98 min of training beside
    # other jobs) against v20 on the dev voices (bench.eval --dev-voice V --threshold 0, then
    # bench.threshold --noise-allowance 0 --noisy-outside-limit none): its best sentence is
    # right as often (1352 of 2016 at threshold 0; v20 1344), but its confidence sets
    # commands apart from non-commands worse. At its lowest threshold under 1 % false actions,
    # 0.7: 1031 right / 67 wrong / 5 of 672 (v20 at 0.55: 1217 / 87 / 5); 10 dB TV 177 of
    # 504 (v20 313). Not shipped.
    "hybrid-noisy-drop": replace(HYBRID_LEAD, augmentation=Augmentation(clean_copy=False),
                                 drop_view=0.15),
    # hybrid-lead in miniature, lead padding included (the tests run it; the shipped
    # hybrid-noisy differs only in its augmentation, which a tiny run cannot tell apart).
    "tiny-hybrid": TINY_HYBRID,
    # Two members in miniature, each with its own data ("hybrid-noisy-pair-apart").
    "tiny-pair": replace(TINY_HYBRID, members=2, member_data=True),
    # "hybrid-distil" in miniature.
    "tiny-distil": replace(TINY_HYBRID, teacher=0.5),
    # "hybrid-lead-1" in miniature.
    "tiny-hybrid-1": Preset(sentences=48, copies=1, dev_sentences=8,
                            shape=ModelShape(16, 1, 5), epochs=1, batch_frames=4000,
                            frontend="logmel40+speech-mel32", hold_out=DEV_VOICES, phases=1,
                            lead_pad=LEAD_PAD),
    "speech2": Preset(sentences=9000, copies=2, dev_sentences=300,
                      shape=ModelShape(160, 6, 9), epochs=20, batch_frames=16000,
                      frontend="speech-mel32", hold_out=DEV_VOICES, phases=2),
}


def data_cache(cache_dir: Path, preset: Preset, seed: int) -> Path:
    """Where a preset's synthesised data from ``seed`` is kept: its training examples and
    dev set."""
    return cache_dir / (f"data-{preset.frontend}-{preset.sentences}x{preset.copies}"
                        f"-{seed}{preset.augmentation.tag()}.pkl")


def with_embeddings(examples: list, cache: Path, preset: Preset, pretrained: Path) -> list:
    """Hybrid presets: the examples with the frozen network's embeddings (two phases: every
    40 ms; one: every 80 ms), kept beside their synthesised data in ``cache``: computing
    them takes minutes."""
    from factory import train

    embedded = cache.with_suffix(f".embedded{preset.phases}" + (
        f"-lead{preset.lead_pad}" if preset.lead_pad else "") + ".pkl")
    if embedded.exists():
        embeddings = pickle.loads(embedded.read_bytes())
    else:
        embeddings = train.embed_speech(examples, pretrained, preset.phases,
                                        lead=preset.lead_pad)
        embedded.write_bytes(pickle.dumps(embeddings))
    return [replace(e, extra=x) for e, x in zip(examples, embeddings, strict=True)]


def _as_list(calibration: dict | list) -> list[dict]:
    """A model-meta.json calibration: one member's dict, or a list of them."""
    return calibration if isinstance(calibration, list) else [calibration]


def recheck_target(args: argparse.Namespace, ap: argparse.ArgumentParser) -> dict:
    """The model-meta.json of the model ``--recheck`` rechecks; an error, before any
    synthesis, if ``args.out`` holds none or one of another preset or seed."""
    model_path, meta_path = args.out / "edgeasr.tflite", args.out / "model-meta.json"
    if not (model_path.is_file() and meta_path.is_file()):
        ap.error(f"--recheck: {args.out} holds no model made by the factory "
                 "(edgeasr.tflite and model-meta.json)")
    meta: dict = json.loads(meta_path.read_text())
    if (meta.get("preset"), meta.get("seed")) != (args.preset, args.seed):
        ap.error(f"--recheck: {meta_path} was made by preset {meta.get('preset')} seed "
                 f"{meta.get('seed')}, not {args.preset} seed {args.seed}: its dev set differs")
    return meta


# The runtime's rules beside the threshold in edgeasr.json (and model-meta.json): the
# noisy-room settings and the rival limit, what --recheck replaces as a whole.
RULE_KEYS = ("noise_allowance", "noisy_below_db", "noisy_outside_limit", "rival_limit")


def recheck(args: argparse.Namespace, dev: list, runtime_rules: dict, meta: dict) -> int:
    """``--recheck``: new runtime settings for the model in ``args.out``, chosen after its
    training on the dev voices, written as a run of its preset would write them: the graphs
    stay, the dev check (which refits the same calibration from the same dev set) runs at the
    new threshold, and model-meta.json keeps what the training run measured (``meta``, as
    ``recheck_target`` read it)."""
    from factory import card, devcheck

    model_path = args.out / "edgeasr.tflite"
    meta_path = args.out / "model-meta.json"
    runtime_path = model_path.with_suffix(".json")
    runtime = {k: v for k, v in json.loads(runtime_path.read_text()).items()
               if k not in ("calibration", *RULE_KEYS)}
    runtime_path.write_text(json.dumps({**runtime, "threshold": args.threshold, **runtime_rules},
                                       indent=1) + "\n")
    before = meta.get("dev", {}).get("calibration")
    dev_result = devcheck.run(model_path, dev, args.config, args.threshold, args.workers)
    if before is not None and not np.allclose(
            [list(c.values()) for c in _as_list(dev_result["calibration"])],
            [list(c.values()) for c in _as_list(before)], rtol=1e-9, atol=1e-12):
        logging.warning("the dev check fitted another calibration than the run that made the "
                        "model (%s, was %s): its dev set differs", dev_result["calibration"],
                        before)
    kept = {k: v for k, v in meta.items() if k not in RULE_KEYS}
    at = list(kept).index("held_out_voices") + 1 if "held_out_voices" in kept else len(kept)
    items = list(kept.items())
    meta = dict(items[:at] + list(runtime_rules.items()) + items[at:])
    meta["dev"] = dev_result
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    card.write(args.out / "MODEL_CARD.md", meta)
    logging.info("rechecked %s at threshold %g%s", model_path, args.threshold,
                 f", with {runtime_rules}" if runtime_rules else "")
    return 0


def hold_out(examples: list, dev: list, held_out: list[str],
             ap: argparse.ArgumentParser) -> tuple[list, list]:
    """The training examples and the dev set with the ``held_out`` voices' utterances moved
    to the dev set (unchanged where none are held out)."""
    from factory import dataset

    if not held_out:
        return examples, dev
    try:
        examples, dev = dataset.split_voices(examples, dev, held_out)
    except ValueError as exc:
        ap.error(f"--hold-out: {exc}")
    logging.info("holding out %s: %d training utterances, %d for the dev check",
                 ", ".join(held_out), len(examples), len(dev))
    return examples, dev


def member_data(preset: Preset, seed: int, args: argparse.Namespace, grammar, held: set,
                held_out: list[str]) -> tuple[Path, list]:
    """A further member's own training data (``Preset.member_data``) and its cache: the
    training examples the preset makes from ``seed``, those in a ``held_out`` voice left
    unmade (the rest is the same as with them), and no dev set."""
    from factory import corpus, dataset

    first = data_cache(args.cache, preset, seed)
    cache = first.with_name(first.stem + "-train" + "".join(
        "-" + v.replace(":", "_") for v in sorted(held_out)) + ".pkl")
    if cache.exists():
        logging.info("reusing synthesised data from %s", cache)
        return cache, pickle.loads(cache.read_bytes())
    sents = corpus.sentences(grammar.graph, preset.sentences, seed, held)
    examples = dataset.build(sents, preset.copies, seed, args.workers,
                             desc=f"synthesise (seed {seed})", skip=tuple(held_out),
                             **preset.audio_args())
    cache.write_bytes(pickle.dumps(examples))
    return cache, examples


def teacher_cache(cache: Path, hears: str = "mix") -> Path:
    """Where the teacher's targets for the synthesised data in ``cache`` are kept (``hears``:
    Preset.teacher_hears)."""
    return cache.with_suffix(".teacher.pkl" if hears == "mix" else f".teacher-{hears}.pkl")


def with_teacher(examples: list, cache: Path, grammar, held: set, preset: Preset,
                 args: argparse.Namespace) -> list:
    """The training examples with the teacher's view of their audio (factory.teacher), kept
    beside the synthesised data. Not there yet: the same sentences are synthesised again
    (the same arguments give the same audio, checked example by example) and the teacher
    hears each copy; a few minutes on top of the synthesis."""
    from factory import corpus, dataset

    path = teacher_cache(cache, preset.teacher_hears)
    if path.exists():
        targets = pickle.loads(path.read_bytes())
    else:
        sents = corpus.sentences(grammar.graph, preset.sentences, args.seed, held)
        again = dataset.build(sents, preset.copies, args.seed, args.workers,
                              desc="synthesise for the teacher", **preset.audio_args(),
                              teacher=True, teacher_hears=preset.teacher_hears)
        if len(again) != len(examples) or any(
                a.text != e.text or not np.array_equal(a.feats, e.feats)
                for a, e in zip(again, examples, strict=True)):
            raise SystemExit(f"the teacher's synthesis differs from {cache.name}: delete it "
                             "and run again, so that both are made by this machine's voices")
        targets = [a.teacher for a in again]
        path.write_bytes(pickle.dumps(targets))
    return [replace(e, teacher=t) for e, t in zip(examples, targets, strict=True)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m factory", description=__doc__)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="full")
    ap.add_argument("--config", type=Path, default=REPO / "examples/demo-building.yaml")
    ap.add_argument("--out", type=Path, default=REPO / "models")
    ap.add_argument("--cache", type=Path, default=REPO / "models/.cache",
                    help="where synthesised data is kept between runs")
    ap.add_argument("--pretrained", type=Path, default=REPO / "models/.cache/pretrained",
                    help="where the pretrained speech_embedding network is kept")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, help="override the preset's epoch count")
    ap.add_argument("--threshold", type=float, default=FALLBACK_THRESHOLD,
                    help="the confidence the runtime needs to act, written into edgeasr.json "
                         "beside the calibration (default: %(default)s, its even odds); chosen "
                         "after training on the dev voices (python -m bench.threshold, "
                         "docs/configuration.md), so `make model` passes the shipped model's")
    ap.add_argument("--noise-allowance", type=float, default=0.0,
                    help="how much less confidence a command needs in a noisy room, written "
                         "into edgeasr.json with --noisy-below-db (default: none); chosen, like "
                         "the threshold, on the dev voices after training")
    ap.add_argument("--noisy-below-db", type=float, default=0.0,
                    help="speech-to-noise estimate (dB) under which a room counts as noisy "
                         "(edgeasr.features.speech_to_noise_db)")
    ap.add_argument("--noisy-outside-limit", type=float, default=None,
                    help="how much loud speech around the sentence a noisy room tolerates "
                         "(per-frame shortfall, -10..0), written into edgeasr.json with "
                         "--noisy-below-db (default: the quiet room's, edgeasr.recognizer."
                         "OUTSIDE_LIMIT); chosen on the dev voices after training")
    ap.add_argument("--rival-limit", type=float, default=None,
                    help="how clearly a sentence must beat its rivals one word away before the "
                         "runtime acts on it (log-probability per phone, 0..10; edgeasr.decoder."
                         "RivalScorer), written into edgeasr.json (default: no such rule); "
                         "chosen on the dev voices after training")
    ap.add_argument("--hold-out", metavar="VOICES",
                    help="comma-separated voices (engine:name; an espeak voice also matches its "
                         "variants) left out of training; the dev check and the confidence "
                         "calibration then use only their utterances, so the confidence is "
                         "fitted on voices the model never heard (default: the preset's; "
                         "'' holds out none)")
    ap.add_argument("--weights", type=Path, nargs="+",
                    help="Keras weights of an earlier run of the same preset (the factory "
                         "keeps them next to the data as weights-PRESET-SEED.h5, a preset's "
                         "further members as weights-PRESET-SEED-mN.h5): export, check and "
                         "calibrate them instead of training; a preset of several members "
                         "takes one file per member; several for another hybrid preset: one "
                         "ensemble averaging their outputs")
    ap.add_argument("--data-only", action="store_true",
                    help="synthesise (or reuse) the training data, then stop")
    ap.add_argument("--recheck", action="store_true",
                    help="the model already in --out, made by this preset and seed, with new "
                         "runtime settings (--threshold, --noise-allowance, --noisy-below-db, "
                         "--noisy-outside-limit, --rival-limit): its edgeasr.json "
                         "rewritten, the dev check run again at them, model-meta.json and the "
                         "card updated; the graphs are not touched, nothing is trained (the "
                         "preset's data is synthesised first where --cache lacks it: the dev "
                         "set is made with it)")
    args = ap.parse_args(argv)
    if not 0.0 <= args.threshold <= 1.0:
        ap.error(f"--threshold {args.threshold}: expected a confidence from 0 to 1")
    if not 0.0 <= args.noise_allowance <= 1.0:
        ap.error(f"--noise-allowance {args.noise_allowance}: expected a confidence from 0 to 1")
    if not 0.0 <= args.noisy_below_db <= 100.0:
        ap.error(f"--noisy-below-db {args.noisy_below_db}: expected decibels from 0 to 100")
    if args.noisy_outside_limit is not None and not -10.0 <= args.noisy_outside_limit <= 0.0:
        ap.error(f"--noisy-outside-limit {args.noisy_outside_limit}: expected a per-frame "
                 "shortfall from -10 to 0")
    if args.rival_limit is not None and not 0.0 <= args.rival_limit <= 10.0:
        ap.error(f"--rival-limit {args.rival_limit}: expected a per-phone margin from 0 to 10")
    noisy_rules = bool(args.noise_allowance) or args.noisy_outside_limit is not None
    if noisy_rules != bool(args.noisy_below_db):
        ap.error("--noisy-below-db goes with --noise-allowance or --noisy-outside-limit: give "
                 "it with them, and not without")
    if args.recheck and (args.weights or args.data_only):
        ap.error("--recheck checks the model in --out: it takes no --weights or --data-only")
    target = recheck_target(args, ap) if args.recheck else None  # before any synthesis
    runtime_rules = {k: v for k, v in (("noise_allowance", args.noise_allowance or None),
                                       ("noisy_below_db", args.noisy_below_db or None),
                                       ("noisy_outside_limit", args.noisy_outside_limit),
                                       ("rival_limit", args.rival_limit))
                     if v is not None}  # a limit of 0 is a setting; an allowance of 0 is none
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    preset = PRESETS[args.preset]
    held_out = (list(preset.hold_out) if args.hold_out is None
                else [v for v in args.hold_out.split(",") if v])
    from factory.voices import is_voice

    unknown = [v for v in held_out if not is_voice(v)]
    if unknown:
        ap.error(f"--hold-out: {', '.join(unknown)} is not a training voice; expected "
                 "engine:name from models/factory/voices.py, e.g. flite:awb")
    epochs = args.epochs or preset.epochs
    t0 = time.time()

    # Everything the run will use is imported now, card and dev check too: a run takes over an
    # hour, and a module first imported at its end from a checkout edited meanwhile would
    # not match the ones imported at its start.
    from edgeasr.grammar import load_building_grammar
    from factory import card, corpus, dataset, devcheck, export, heldout, train
    from factory import members as members_mod
    from factory.members import MemberJob

    grammar = load_building_grammar(args.config)
    held = heldout.evaluation_texts(grammar.graph)
    args.cache.mkdir(parents=True, exist_ok=True)
    cache = data_cache(args.cache, preset, args.seed)
    data_cached = cache.exists()
    if data_cached:
        logging.info("reusing synthesised data from %s", cache)
        examples, dev = pickle.loads(cache.read_bytes())
    else:
        sents = corpus.sentences(grammar.graph, preset.sentences, args.seed, held)
        examples = dataset.build(sents, preset.copies, args.seed, args.workers,
                                 **preset.audio_args(), teacher=bool(preset.teacher),
                                 teacher_hears=preset.teacher_hears)
        if preset.teacher:  # the teacher heard the audio as it was made: keep its view apart
            teacher_cache(cache, preset.teacher_hears).write_bytes(
                pickle.dumps([e.teacher for e in examples]))
            examples = [replace(e, teacher=None) for e in examples]
        dev_sents = corpus.sentences(grammar.graph, preset.dev_sentences, args.seed + 7919,
                                     held | {t for _, t in sents})
        dev = dataset.build(dev_sents, 1, args.seed + 7919, args.workers, desc="dev set",
                            **preset.audio_args())
        cache.write_bytes(pickle.dumps((examples, dev)))
    further = range(1, preset.members if preset.member_data else 1)  # members with own data
    if args.data_only:
        for m in further:
            member_data(preset, args.seed + m, args, grammar, held, held_out)
        logging.info("data in %s (%d examples, %d dev)%s", cache, len(examples), len(dev),
                     f" and {len(further)} further member(s)' data" if further else "")
        return 0
    t_data = time.time() - t0
    if target is not None:
        return recheck(args, hold_out(examples, dev, held_out, ap)[1], runtime_rules, target)

    hybrid = "+" in preset.frontend
    if preset.members > 1 and not hybrid:
        ap.error(f"preset {args.preset}: several members need a hybrid front end")
    if hybrid:
        examples = with_embeddings(examples, cache, preset, args.pretrained)
    if preset.teacher:
        examples = with_teacher(examples, cache, grammar, held, preset, args)
    examples, dev = hold_out(examples, dev, held_out, ap)
    if preset.teacher and any(e.teacher is None for e in examples):
        # The teacher never hears the preset's held-out voices (dataset.build).
        ap.error(f"--hold-out: a distilling preset has no teacher targets for "
                 f"{', '.join(preset.hold_out)}, so it must hold them out (it does by default)")
    calib = [e.feats for e in examples[:: max(1, len(examples) // 200)]]
    head = preset.frontend == "speech-mel32"
    pretrained = args.pretrained if head or hybrid else None
    if hybrid:  # the network takes log-mel frames and the embeddings; the dev check all
        examples = [replace(e, feats=e.feats[:, :N_MELS]) for e in examples]
    if head:
        # Embedding every utterance takes minutes; keep them next to the synthesised data.
        embedded = cache.with_suffix(".embedded.pkl")
        if embedded.exists():
            examples = pickle.loads(embedded.read_bytes())
        else:
            examples = train.embed(examples, pretrained)
            if not held_out:  # the cache must hold every voice
                embedded.write_bytes(pickle.dumps(examples))
        # The embedded cache holds every voice: leave the held-out ones out again.
        examples = [e for e in examples if not dataset.has_voice(e.voice, held_out)]
        if preset.phases != embedding_phases():
            # The cache has all four phases interleaved; every second one is phases 0 and 2.
            keep = embedding_phases() // preset.phases
            examples = [replace(e, feats=e.feats[::keep]) for e in examples]
    up = embedding_phases() // preset.phases if head else 1
    hop = hop_frames(preset.phases) if hybrid else train.EMB_HOP
    trained_by: dict = {}
    t_more = 0.0  # synthesising and embedding further members' own data
    if args.weights:
        # Re-export (and recalibrate) networks this preset trained before, without training.
        if len(args.weights) > 1 and not hybrid:
            ap.error("--weights: several files make an ensemble of hybrids; "
                     f"preset {args.preset} is not one")
        if preset.members > 1 and len(args.weights) != preset.members:
            ap.error(f"--weights: preset {args.preset} has {preset.members} members; "
                     f"expected one weights file each, got {len(args.weights)}")
        members = []
        for path in args.weights:
            member = train.network(examples[:1], preset.shape, head, up, hop)
            member.load_weights(str(path))
            members.append(member)
        model = (members[0] if len(members) == 1
                 else train.join(members, side_by_side=preset.members > 1))
        logging.info("weights from %s instead of training", ", ".join(map(str, args.weights)))
        # What the run that trained the first measured (the factory writes it beside them).
        record = args.weights[0].with_suffix(".json")
        trained_by = json.loads(record.read_text()) if record.is_file() else {}
        trained_by["weights"] = ", ".join(p.name for p in args.weights)
    else:
        jobs = []
        for m in range(preset.members):
            data = examples
            if m in further:  # hybrid: the first's held-out voices set aside, features cut
                t_made = time.time()
                own, made = member_data(preset, args.seed + m, args, grammar, held, held_out)
                data = [replace(e, feats=e.feats[:, :N_MELS])
                        for e in with_embeddings(made, own, preset, args.pretrained)]
                t_more += time.time() - t_made
            jobs.append(MemberJob(
                data, preset.shape, epochs, args.seed + m,
                cache.with_name(f"weights-{args.preset}-{args.seed}"
                                + (f"-m{m}" if m else "") + ".h5"),
                {"batch_frames": preset.batch_frames, "head": head, "up": up,
                 "lead": preset.lead_pad, "hop": hop, "drop_view": preset.drop_view,
                 "teacher_weight": preset.teacher},
                f"train member {m + 1}" if preset.members > 1 else "train"))
        if 1 < preset.members <= args.workers:
            # Each member on its own cores, all at once: the cores stay busier than with
            # one training at a time (factory.members).
            logging.info("training %d members at once (seeds %d-%d), %d core(s) each",
                         preset.members, args.seed, args.seed + preset.members - 1,
                         args.workers // preset.members)
            members_mod.train_at_once(jobs, args.workers // preset.members)
        else:
            for m, job in enumerate(jobs):
                if preset.members > 1:
                    logging.info("training member %d of %d (seed %d)", m + 1, preset.members,
                                 job.seed)
                members_mod.train_one(job)
        members = []
        for job in jobs:
            member = train.network(job.data[:1], preset.shape, head, up, hop)
            member.load_weights(str(job.weights))
            members.append(member)
        model = members[0] if len(members) == 1 else train.join(members, side_by_side=True)
    t_train = time.time() - t0 - t_data - t_more
    args.out.mkdir(parents=True, exist_ok=True)
    model_path = args.out / "edgeasr.tflite"
    from edgeasr.acoustic import AcousticModel

    embedder_path = AcousticModel.embedder_path(model_path)
    graphs = []  # every graph the runtime runs, the model first
    if hybrid:  # the trained part, and the frozen network beside it (its embedder)
        graphs += export.to_tflite_split(model, preset.shape, calib, pretrained, preset.phases)
        embedder_path.write_bytes(graphs[1])
    else:
        graphs.append(export.to_tflite(model, preset.shape, calib, pretrained, preset.phases))
        embedder_path.unlink(missing_ok=True)  # an earlier hybrid's, now meaningless
    tflite = graphs[0]
    model_path.write_bytes(tflite)
    ops = [op for g in graphs for op in export.graph_report(g)]
    # What the runtime needs to feed the model; devcheck adds the confidence calibration.
    runtime_meta: dict = {"frontend": preset.frontend, "threshold": args.threshold}
    if head or hybrid:
        from factory.embedding import EXTRA, LEFT

        runtime_meta["context"] = [LEFT, EXTRA - LEFT]
    if hybrid:
        runtime_meta["embedder"] = True
    if preset.members > 1:
        runtime_meta |= {"members": preset.members, "agreement_bonus": preset.agreement_bonus}
    runtime_meta |= runtime_rules
    model_path.with_suffix(".json").write_text(json.dumps(runtime_meta, indent=1) + "\n")

    dev_result = devcheck.run(model_path, dev, args.config, args.threshold, args.workers)
    meta = {
        "preset": args.preset, "frontend": preset.frontend, "seed": args.seed,
        **preset.augmentation.meta(),
        "epochs": epochs, "held_out_voices": held_out, **runtime_rules,
        **({"members": preset.members, "agreement_bonus": preset.agreement_bonus,
            **({"member_data": True} if preset.member_data else {})}
           if preset.members > 1 else
           {"averaged_members": len(args.weights)} if args.weights and len(args.weights) > 1
           else {}),
        **({"drop_view": preset.drop_view} if preset.drop_view else {}),
        **({"teacher": preset.teacher, "teacher_hears": preset.teacher_hears}
           if preset.teacher else {}),
        "shape": asdict(preset.shape), "train_examples": len(examples),
        **({"phases": preset.phases} if head or hybrid else {}),
        **({"lead_pad": preset.lead_pad} if preset.lead_pad else {}),
        "train_sentences": preset.sentences, "copies": preset.copies,
        "voices": sorted({e.voice for e in examples}),
        "data_cached": data_cached,
        **({"trained_by": trained_by} if trained_by else {}),
        "seconds": {"data": round(t_data), **({"member_data": round(t_more)} if t_more else {}),
                    "train": round(t_train),
                    "total": round(time.time() - t0)},
        "ops": ops, "dev": dev_result, "size_bytes": sum(len(g) for g in graphs),
        "input_shape": [s for g in graphs for s in export.input_shape(g)],
        **({"embedder_bytes": len(graphs[1])} if hybrid else {}),
    }
    (args.out / "model-meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    card.write(args.out / "MODEL_CARD.md", meta)
    logging.info("wrote %s (%d bytes%s) in %.0f s", model_path, len(tflite),
                 f", its embedder {len(graphs[1])}" if hybrid else "", time.time() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
