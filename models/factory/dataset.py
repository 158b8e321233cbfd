"""Synthesise and augment the training set: sentences -> voices -> rooms -> features + labels."""

from __future__ import annotations

import logging
import multiprocessing as mp
import random
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from edgeasr.features import frontend
from edgeasr.lexicon import phone_ids, phones_for_text
from factory import augment as aug
from factory.voices import available_engines, random_voice, synthesise

log = logging.getLogger(__name__)


@dataclass
class Example:
    feats: np.ndarray  # [frames, bins] float16, from the preset's front end
    label: np.ndarray  # phone ids, int16
    kind: str
    voice: str
    text: str
    # Hybrid models: the frozen network's embeddings (every 40 ms) beside the log-mel feats.
    extra: np.ndarray | None = None
    # Distilling presets: the teacher's view of the same audio, every 20 ms (factory.teacher).
    teacher: np.ndarray | None = None


_BABBLE: list[np.ndarray] = []
_ENGINES: list[str] = []
_FRONTEND = "logmel40"
_RECIPE = aug.DEFAULT  # how the noisy copies are made
_TEACHER = None  # factory.teacher.Teacher in a worker that computes teacher targets
_TEACHER_HEARS = "mix"  # what it hears: "mix", the training audio; "dry", it before the noise
_HOLD_OUT: tuple[str, ...] = ()  # voices that train nothing: the teacher need not hear them
_SKIP: tuple[str, ...] = ()  # voices whose utterances are not made at all (``build``'s skip)
# What a distilling preset's teacher may hear (Preset.teacher_hears).
TEACHER_HEARS = ("mix", "dry")
# Chatter lines each synthesis worker keeps for talker streams (``streams``).
STREAM_LINES = 160


def _init_worker(seed: int, frontend_name: str = "logmel40",
                 recipe: aug.Augmentation = aug.DEFAULT, hold_out: tuple[str, ...] = (),
                 teacher: bool = False, teacher_hears: str = "mix",
                 skip: tuple[str, ...] = ()) -> None:
    global _BABBLE, _ENGINES, _FRONTEND, _RECIPE, _TEACHER, _TEACHER_HEARS, _HOLD_OUT, _SKIP
    from factory.corpus import chatter

    _FRONTEND = frontend_name
    _RECIPE = recipe
    _ENGINES = available_engines()
    _TEACHER = None
    _TEACHER_HEARS = teacher_hears
    _HOLD_OUT = tuple(hold_out)
    _SKIP = tuple(skip)
    if teacher:
        from factory.teacher import Teacher

        _TEACHER = Teacher()
    rng = random.Random(seed)
    # Talker streams: a larger pool, so the model cannot learn two dozen lines by heart, and
    # none in a held-out voice, whose TV-noise results the dev check and evaluation report.
    # Without streams: the 24 lines of every earlier recipe, from any voice (as shipped).
    lines, exclude = (STREAM_LINES, list(hold_out)) if recipe.streams else (24, [])
    _BABBLE = []
    while len(_BABBLE) < lines:
        voice = random_voice(rng, _ENGINES)
        if not has_voice(voice.label, exclude):
            _BABBLE.append(synthesise(voice, chatter(rng)))


def _make(job: tuple[int, str, str, int, float]) -> list[Example]:
    idx, kind, text, copies, strength = job
    rng = random.Random(idx)
    nrng = np.random.default_rng(idx)
    voice = random_voice(rng, _ENGINES)
    if has_voice(voice.label, list(_SKIP)):  # each job draws from its own seed: the rest
        return []  # of the data is what it would have been
    try:
        audio = synthesise(voice, text)
    except Exception as exc:  # a voice that fails on one text must not stop the factory
        log.warning("synthesis failed for %s %r: %s", voice.label, text, exc)
        return []
    label = np.asarray(phone_ids(phones_for_text(text)), dtype=np.int16)
    own = None
    if _RECIPE.own_share > 0 and strength > 0:
        # Chatter in the speaker's own voice: a TV talker that sounds like them, so the model
        # must follow the louder voice rather than the one that sounds different.
        from factory.corpus import chatter

        try:
            own = synthesise(voice, chatter(rng))
        except Exception as exc:  # as above: this utterance just gets other babble
            log.warning("synthesis failed for %s chatter: %s", voice.label, exc)
    out = []
    featurise = frontend(_FRONTEND)
    # A held-out voice's utterances only check the model: the teacher need not hear them.
    teach = _TEACHER is not None and not has_voice(voice.label, list(_HOLD_OUT))
    for c in range(copies):
        x, dry = aug.augment_pair(nrng, audio, _BABBLE,
                                  strength=0.0 if c == 0 and copies > 1
                                  and _RECIPE.clean_copy else strength,
                                  own=own, recipe=_RECIPE)
        heard = dry if _TEACHER_HEARS == "dry" else x
        out.append(Example(featurise(x).astype(np.float16), label, kind, voice.label, text,
                           teacher=_TEACHER(heard) if teach else None))
    return out


def build(sentences: list[tuple[str, str]], copies: int, seed: int, workers: int,
          strength: float = 1.0, desc: str = "synthesise",
          frontend_name: str = "logmel40", recipe: aug.Augmentation = aug.DEFAULT,
          hold_out: tuple[str, ...] = (), teacher: bool = False, teacher_hears: str = "mix",
          skip: tuple[str, ...] = ()) -> list[Example]:
    """Synthesise every sentence once and augment it ``copies`` times (the first copy clean).

    ``recipe``: how the noisy copies are made (``aug.Augmentation``); with its ``streams``,
    the talkers' pool leaves out ``hold_out``'s voices. ``teacher``: each copy but those in
    a ``hold_out`` voice also gets the teacher's view (``Example.teacher``) of its audio
    (``teacher_hears`` "mix") or of that audio before the noise went in ("dry"). ``skip``:
    voices whose utterances are left out unmade; the others are the same as without it.
    The same arguments give the same audio."""
    if teacher_hears not in TEACHER_HEARS:
        raise ValueError(f"teacher_hears: {teacher_hears!r}; expected one of "
                         f"{', '.join(TEACHER_HEARS)}")
    jobs = [(seed * 1_000_003 + i, k, t, copies, strength) for i, (k, t) in enumerate(sentences)]
    examples: list[Example] = []
    if workers <= 1:
        _init_worker(seed, frontend_name, recipe, hold_out, teacher, teacher_hears, skip)
        for j in tqdm(jobs, desc=desc, unit="utt"):
            examples.extend(_make(j))
        return examples
    with mp.get_context("fork").Pool(workers, _init_worker,
                                      (seed, frontend_name, recipe, hold_out, teacher,
                                       teacher_hears, skip)) as pool:
        for ex in tqdm(pool.imap(_make, jobs, chunksize=8), total=len(jobs), desc=desc,
                       unit="utt"):
            examples.extend(ex)
    return examples


def has_voice(voice: str, names: list[str]) -> bool:
    """Whether ``voice`` (a Voice.label) is one of ``names``, an espeak variant included."""
    return any(voice == n or voice.startswith(n + "+") for n in names)


def split_voices(examples: list[Example], dev: list[Example], names: list[str], most: int = 1500
                 ) -> tuple[list[Example], list[Example]]:
    """Training utterances without the ``names`` voices, and up to ``most`` of theirs.

    Every utterance of a held-out voice, from the training and the dev set alike, is unseen
    by the model, so all of them may check and calibrate it.
    """
    train = [e for e in examples if not has_voice(e.voice, names)]
    check = [e for e in examples + dev if has_voice(e.voice, names)]
    if not check:
        raise ValueError(f"no utterance has the voice(s) {', '.join(names)}; voices are "
                         "spelt engine:name, e.g. flite:awb")
    return train, check[:: max(1, -(-len(check) // most))]
