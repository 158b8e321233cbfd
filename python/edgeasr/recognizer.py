"""The speech-to-intent engine: audio -> features -> model -> decoder -> intent (+ telegrams).

``Recognizer`` is the API the CLI, the service and the tests use.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeasr.acoustic import LEAD_FRAMES, AcousticModel, Calibration
from edgeasr.decoder import Hypothesis, PhoneGraph, RivalScorer, decode
from edgeasr.endpoint import speech_segments
from edgeasr.features import quiet_frames, speech_to_noise_db
from edgeasr.grammar import CompiledGrammar, load_building_grammar, load_context_grammar
from edgeasr.grammar.graph import Parse
from edgeasr.telegram import Telegram

log = logging.getLogger(__name__)

# Loud speech around the sentence (``Hypothesis.outside``, mean per-frame shortfall over the
# worst 200 ms) beyond which nothing is sent, whatever the confidence: "never open the
# blinds" is not "open the blinds". Chosen on training voices with `python -m bench.filler`
# (docs/architecture.md).
OUTSIDE_LIMIT = -0.2


def judge(hyp: Hypothesis, calibration: Calibration, threshold: float,
          outside_limit: float = OUTSIDE_LIMIT) -> tuple[float, bool]:
    """The confidence of a decoded sentence, and whether to act on it."""
    confidence = calibration.confidence(*hyp.features)
    return confidence, agree([vote(hyp, confidence, outside_limit)], threshold) is not None


@dataclass(frozen=True)
class Vote:
    """One member network's decode of an utterance: the sentence it would act on (any
    hashable key of its meaning; None: nothing, no parse or loud speech around it) and its
    confidence in it (0 where there is none)."""

    sentence: Any
    confidence: float


def vote(hyp: Hypothesis | None, confidence: float,
         outside_limit: float = OUTSIDE_LIMIT, rival_gap: float | None = None,
         rival_limit: float | None = None) -> Vote:
    """A member's vote from its decode and that decode's confidence: the parse's intent and
    slots, unless loud speech around the sentence (beyond ``outside_limit``) rules it out, or
    a rival sentence one word away fits nearly as well (``rival_gap`` under ``rival_limit``;
    ``decoder.RivalScorer``)."""
    if hyp is None or hyp.outside < outside_limit or rivalled(rival_gap, rival_limit):
        return Vote(None, 0.0)
    return Vote(meaning(hyp.parse), confidence)


def rivalled(gap: float | None, limit: float | None) -> bool:
    """Whether a sentence's best rival came within ``limit`` of it (None: no rule, or no
    rival that fits)."""
    return limit is not None and gap is not None and gap < limit


def meaning(parse: Parse) -> str:
    """A sentence's intent and slots as one key: two decodes agree when theirs are equal."""
    return repr((parse.intent, sorted(parse.slots.items())))


def unanimous(votes: list[Vote]) -> bool:
    """Whether every member network of a model of several decoded the same sentence: what
    lowers its bar by the agreement bonus."""
    return (len(votes) > 1 and votes[0].sentence is not None
            and all(v.sentence == votes[0].sentence for v in votes))


def agree(votes: list[Vote], threshold: float, bonus: float = 0.0) -> int | None:
    """Which member's sentence to act on (None: nothing). The surest member's (the first on
    ties), if its confidence reaches ``threshold``, or ``bonus`` less where there are several
    members and all of them decoded that same sentence: networks trained apart make
    different mistakes, so their agreement is evidence of its own (``python -m
    bench.agreement`` replays this rule on the dev voices)."""
    best = max(range(len(votes)), key=lambda i: votes[i].confidence)
    chosen = votes[best]
    if chosen.sentence is None:
        return None
    return best if chosen.confidence >= threshold - (bonus if unanimous(votes) else 0.0) else None


def is_noisy(snr_db: float | None, noisy_below_db: float) -> bool:
    """Whether the speech stood under ``noisy_below_db`` above the noise around it
    (``snr_db``; None: not measured, so not noisy)."""
    return snr_db is not None and snr_db < noisy_below_db


def noise_lowered(threshold: float, allowance: float, noisy_below_db: float,
                  snr_db: float | None) -> float:
    """The threshold, or ``allowance`` less in a noisy room (``is_noisy``). The one rule the
    recogniser applies and ``bench.threshold`` replays."""
    return threshold - allowance if is_noisy(snr_db, noisy_below_db) else threshold


def outside_limit(noisy_limit: float | None, noisy_below_db: float,
                  snr_db: float | None) -> float:
    """How much loud speech around the sentence a vote tolerates: ``OUTSIDE_LIMIT``, or in a
    noisy room (``is_noisy``) the model's ``noisy_limit`` where it has one. In 10 dB TV noise
    the frames around a command are the TV's as often as the speaker's, and the quiet room's
    limit silenced right commands (chosen on the dev voices with ``python -m bench.threshold
    --noisy-outside-limit``, docs/configuration.md)."""
    if noisy_limit is not None and is_noisy(snr_db, noisy_below_db):
        return noisy_limit
    return OUTSIDE_LIMIT


@dataclass(frozen=True)
class Decision:
    """The member networks' decodes of one utterance judged together."""

    chosen: int | None  # the member to act on (None: nothing)
    shown: int  # the member to report: the acting one, else the surest
    confidences: list[float]  # each member's
    unanimous: bool  # every member decoded the same sentence (``unanimous``)


def member_confidences(hyps: list[Hypothesis | None], calibrations: list[Calibration]
                       ) -> list[float]:
    """Each member's confidence in its decode (0 where it found none)."""
    return [0.0 if h is None else c.confidence(*h.features)
            for h, c in zip(hyps, calibrations, strict=True)]


def decide(hyps: list[Hypothesis | None], confs: list[float], threshold: float,
           bonus: float, limit: float = OUTSIDE_LIMIT,
           gaps: list[float | None] | None = None, rival_limit: float | None = None
           ) -> Decision:
    """Judge the member networks' decodes of one utterance by ``agree``: each decode with
    its confidence (``member_confidences``), the speech-outside-the-sentence ``limit`` and its
    rival gap (``gaps``, one per member, None: not measured) against ``rival_limit``."""
    votes = [vote(h, c, limit, g, rival_limit) for h, c, g in
             zip(hyps, confs, gaps if gaps is not None else [None] * len(hyps), strict=True)]
    chosen = agree(votes, threshold, bonus)
    shown = chosen if chosen is not None else int(np.argmax(confs))
    return Decision(chosen, shown, confs, unanimous(votes))


@dataclass(frozen=True)
class MemberDecode:
    """What one member network decoded, before the vote: what a replay of other rules must
    know (``bench.threshold``). Its telegrams are the grammar's to resolve, by whoever needs
    them: the recogniser resolves only the sentence it acts on."""

    parse: Parse
    confidence: float
    outside: float  # Hypothesis.outside
    # How clearly it beat its best rival one word away (decoder.RivalScorer); None: not
    # measured (no rival rule, or a confidence too low to act on) or no rival fits.
    rival_gap: float | None = None

    @property
    def meaning(self) -> str:
        """``meaning``: equal for decodes that agree."""
        return meaning(self.parse)


@dataclass
class Result:
    text: str
    intent: str | None
    slots: dict[str, Any]
    telegrams: list[Telegram]
    confidence: float
    timings: dict[str, float] = field(default_factory=dict)
    # The sentence could not go on to mean anything else (see WordGraph.settled): a live
    # service may act on it after a shorter pause.
    settled: bool = False
    # Every member network of a model of several decoded this sentence, so it needed the
    # model's agreement bonus less confidence (what a replay of other thresholds must know).
    unanimous: bool = False
    # How far the speech stood above the noise around it (features.speech_to_noise_db; None:
    # not measured). Under the model's noisy_below_db the threshold was lowered by its noise
    # allowance (Recognizer.threshold_for).
    snr_db: float | None = None
    # Each member network's decode of the utterance (None: it found no sentence).
    members: list[MemberDecode | None] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.intent is not None


class Recognizer:
    def __init__(self, grammar: CompiledGrammar, model: AcousticModel,
                 threshold: float | None = None,
                 filler_penalty: float | None = None,
                 noise_allowance: float | None = None,
                 noisy_outside_limit: float | None = None,
                 rival_limit: float | None = None) -> None:
        # None: the model's own (edgeasr.json), chosen with its calibration: a model brought
        # by an update carries the threshold (and noise allowance) that go with it.
        if threshold is None:
            threshold = model.threshold
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold {threshold} is outside 0..1")
        if noise_allowance is None:
            noise_allowance = model.noise_allowance
        if not 0.0 <= noise_allowance <= 1.0:
            raise ValueError(f"noise_allowance {noise_allowance} is outside 0..1")
        self.noise_allowance = noise_allowance
        if noisy_outside_limit is None:
            noisy_outside_limit = model.noisy_outside_limit
        if noisy_outside_limit is not None and not -10.0 <= noisy_outside_limit <= 0.0:
            raise ValueError(f"noisy_outside_limit {noisy_outside_limit} is outside -10..0")
        self.noisy_outside_limit = noisy_outside_limit
        if rival_limit is None:
            rival_limit = model.rival_limit
        if rival_limit is not None and not 0.0 <= rival_limit <= 10.0:
            raise ValueError(f"rival_limit {rival_limit} is outside 0..10")
        self.rival_limit = rival_limit
        if filler_penalty is not None and filler_penalty >= 0.0:
            raise ValueError(f"filler_penalty {filler_penalty} must be below 0 (or None: off)")
        self.grammar = grammar
        self.model = model
        self.threshold = threshold
        self.filler_penalty = filler_penalty
        self.phone_graph = PhoneGraph(grammar.graph, filler_penalty=filler_penalty)
        self.rivals = RivalScorer(self.phone_graph)

    def with_grammar(self, grammar: CompiledGrammar) -> Recognizer:
        """A recogniser of ``grammar`` (the wake phrase's) with this one's model and every
        setting, the building's overrides included."""
        return Recognizer(grammar, self.model, self.threshold, self.filler_penalty,
                          self.noise_allowance, self.noisy_outside_limit, self.rival_limit)

    @classmethod
    def from_config(cls, path: str | Path, model: str | Path | None = None,
                    threshold: float | None = None, delegate: str | None = None,
                    kernels: str = "optimized", rival_limit: float | None = None
                    ) -> Recognizer:
        """A recogniser for a building configuration YAML.

        ``delegate``: a TFLite delegate library, e.g. ST's NPU delegate
        ``/usr/lib/libvx_delegate.so.2`` on the STM32MP257; None runs on the CPU.
        ``kernels``: "reference" runs TFLite's reference kernels (slow; what aarch64 computes).
        ``threshold``, ``rival_limit``: override the configuration's and the model's.
        """
        grammar = load_building_grammar(path)
        settings = grammar.building.recognizer if grammar.building is not None else None
        if threshold is None and settings is not None:
            threshold = settings.threshold
        filler = settings.filler_penalty if settings is not None else None
        allowance = settings.noise_allowance if settings is not None else None
        limit = settings.noisy_outside_limit if settings is not None else None
        if rival_limit is None and settings is not None:
            rival_limit = settings.rival_limit
        return cls(grammar, AcousticModel(model, delegate=delegate, kernels=kernels), threshold,
                   filler, allowance, limit, rival_limit)

    @classmethod
    def from_context(cls, path: str | Path, model: str | Path | None = None,
                     threshold: float | None = None, kernels: str = "optimized") -> Recognizer:
        """A recogniser for a Picovoice Rhino context YAML (intent + slots, no telegrams)."""
        return cls(load_context_grammar(path), AcousticModel(model, kernels=kernels), threshold)

    def threshold_for(self, snr_db: float | None) -> float:
        """The confidence a sentence needs: the threshold, or the noise allowance less where
        the speech stood under the model's ``noisy_below_db`` above the room's noise. In 10 dB
        TV noise a right command's confidence falls, a non-command's stays low; so a noisy
        room may take less (chosen on the dev voices with ``python -m bench.threshold``,
        docs/configuration.md)."""
        return noise_lowered(self.threshold, self.noise_allowance, self.model.noisy_below_db,
                             snr_db)

    def outside_limit_for(self, snr_db: float | None) -> float:
        """How much loud speech around the sentence a vote tolerates (``outside_limit``)."""
        return outside_limit(self.noisy_outside_limit, self.model.noisy_below_db, snr_db)

    def recognize(self, pcm: np.ndarray) -> Result:
        """Recognise one utterance of 16 kHz mono float32 audio."""
        t0 = time.perf_counter()
        audio = np.asarray(pcm, dtype=np.float32)
        best: Result | None = None
        timings = {"features": 0.0, "model": 0.0, "decoder": 0.0, "intent": 0.0}
        # Over the whole audio, not each speech segment: the room is heard around the words.
        snr = speech_to_noise_db(audio)
        for seg in speech_segments(audio):
            result = self._recognize_segment(audio[seg[0] : seg[1]], timings, snr)
            if best is None or (result.accepted, result.confidence) > (
                best.accepted, best.confidence
            ):
                best = result
        if best is None:
            best = Result("", None, {}, [], 0.0)
        best.timings = {**timings, "total": time.perf_counter() - t0}
        best.snr_db = snr
        return best

    def recognize_features(self, feats: np.ndarray) -> Result:
        return self._decode(feats, {"model": 0.0, "decoder": 0.0, "intent": 0.0})

    def _recognize_segment(self, audio: np.ndarray, timings: dict[str, float],
                           snr_db: float | None) -> Result:
        t = time.perf_counter()
        feats = self.model.features(audio)
        timings["features"] += time.perf_counter() - t
        return self._decode(feats, timings, audio, snr_db)

    def _decode(self, feats: np.ndarray, timings: dict[str, float],
                audio: np.ndarray | None = None, snr_db: float | None = None) -> Result:
        t = time.perf_counter()
        # With the rows of the model's leading padding, quiet by construction (LEAD_FRAMES).
        members = self.model.member_log_probs(feats, lead=True)
        timings["model"] += time.perf_counter() - t
        t = time.perf_counter()
        quiet = (quiet_frames(audio, len(members[0]), lead=LEAD_FRAMES) if audio is not None
                 else None)
        hyps = [decode(self.phone_graph, lp, quiet) for lp in members]
        if all(h is None for h in hyps):
            timings["decoder"] += time.perf_counter() - t
            return Result("", None, {}, [], 0.0)
        threshold, limit = self.threshold_for(snr_db), self.outside_limit_for(snr_db)
        confs = member_confidences(hyps, self.model.calibrations)
        gaps = self._rival_gaps(hyps, confs, members, quiet, threshold, limit)
        timings["decoder"] += time.perf_counter() - t
        t = time.perf_counter()
        decision = decide(hyps, confs, threshold,
                          self.model.agreement_bonus, limit, gaps, self.rival_limit)
        hyp = hyps[decision.shown]
        assert hyp is not None
        parse = hyp.parse
        result = Result(parse.text, None, dict(parse.slots), [],
                        decision.confidences[decision.shown], settled=hyp.settled,
                        unanimous=decision.unanimous,
                        members=[None if h is None else MemberDecode(h.parse, c, h.outside, g)
                                 for h, c, g in zip(hyps, decision.confidences, gaps,
                                                    strict=True)])
        if decision.chosen is not None:
            result.intent = parse.intent
            if self.grammar.resolve is not None:
                result.telegrams = self.grammar.resolve(parse)
        timings["intent"] += time.perf_counter() - t
        return result

    def _rival_gaps(self, hyps: list[Hypothesis | None], confs: list[float],
                    log_probs: list[np.ndarray], quiet: np.ndarray | None, threshold: float,
                    limit: float) -> list[float | None]:
        """Each member's rival gap, where there is a rival rule and the member's vote (with
        confidence ``confs``) could be acted on (the others are not searched: it is a second
        search)."""
        if self.rival_limit is None:
            return [None] * len(hyps)
        bar = threshold - self.model.agreement_bonus
        return [self.rivals.gap(h, lp, quiet)
                if h is not None and c >= bar and h.outside >= limit else None
                for h, lp, c in zip(hyps, log_probs, confs, strict=True)]
