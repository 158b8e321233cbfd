"""The grammar-constrained CTC decoder on hand-made phone posteriors (no acoustic model)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeasr.acoustic import LEAD_FRAMES, Calibration
from edgeasr.decoder import Hypothesis, PhoneGraph, decode
from edgeasr.features import ONSET_FRAMES, quiet_frames
from edgeasr.grammar import CompiledGrammar, load_context_grammar
from edgeasr.lexicon import BLANK, N_OUTPUTS, phone_ids, pronunciations
from edgeasr.recognizer import Recognizer, Vote, agree, unanimous


def posteriors(text: str, *, seed: int = 0, blanks_between: bool = True, p: float = 0.9,
               pron: int = 0) -> np.ndarray:
    """Log-probs [frames, N_OUTPUTS] that spell ``text``'s phones (CTC style) with noise.

    Each phone lasts 1-4 frames; blanks surround the utterance and sit between phones
    (between identical neighbours always, as CTC needs). The chosen label has probability
    ``p``, the rest is spread over the other outputs with random jitter.
    """
    rng = np.random.default_rng(seed)
    ids: list[int] = []
    for word in text.split():
        prons = pronunciations(word)
        ids += phone_ids(prons[min(pron, len(prons) - 1)])
    labels: list[int] = [BLANK] * int(rng.integers(3, 8))
    prev = None
    for ph in ids:
        if prev is not None and (blanks_between or prev == ph):
            labels += [BLANK] * int(rng.integers(1, 3))
        labels += [ph] * int(rng.integers(1, 5))
        prev = ph
    labels += [BLANK] * int(rng.integers(3, 8))
    rest = rng.dirichlet(np.full(N_OUTPUTS - 1, 5.0), size=len(labels)) * (1 - p)
    probs = np.empty((len(labels), N_OUTPUTS))
    for t, lab in enumerate(labels):
        probs[t, lab] = p
        probs[t, np.arange(N_OUTPUTS) != lab] = rest[t]
    return np.log(probs).astype(np.float32)


# Sentences of the contract (docs/demo-building.md) and the telegrams its table gives them.
COMMANDS: list[tuple[str, list[dict[str, Any]]]] = [
    ("turn on the kitchen light", [{"ga": "1/1/1", "dpt": "1.001", "value": True}]),
    ("please turn the kitchen light off", [{"ga": "1/1/1", "dpt": "1.001", "value": False}]),
    ("lights on in the office", [{"ga": "1/4/1", "dpt": "1.001", "value": True}]),
    ("set the living room light to forty percent",
     [{"ga": "1/2/3", "dpt": "5.001", "value": 40}]),
    ("dim the bedroom light to twenty five percent",
     [{"ga": "1/3/3", "dpt": "5.001", "value": 25}]),
    ("close the bedroom blinds", [{"ga": "2/3/1", "dpt": "1.008", "value": True}]),
    ("stop the blinds in the living room", [{"ga": "2/2/2", "dpt": "1.017", "value": True}]),
    ("set the heating in the bedroom to nineteen and a half degrees",
     [{"ga": "3/3/1", "dpt": "9.001", "value": 19.5}]),
    ("start the bathroom fan", [{"ga": "5/5/1", "dpt": "1.001", "value": True}]),
    ("movie time", [{"ga": "4/0/1", "dpt": "17.001", "value": 1}]),
    ("turn off all the lights", [{"ga": "1/0/0", "dpt": "1.001", "value": False}]),
]

NOT_IN_GRAMMAR = [
    "what time is it in london",
    "turn on the garage light",
    "turn on the kitchen light and make some coffee",
    "i think it will rain tomorrow",
]


@pytest.mark.parametrize(("text", "telegrams"), COMMANDS)
@pytest.mark.parametrize("blanks_between", [True, False])
def test_spelled_sentence_decodes_exactly(
    grammar: CompiledGrammar, phone_graph: PhoneGraph, text: str,
    telegrams: list[dict[str, Any]], blanks_between: bool,
) -> None:
    ref = grammar.graph.parse(text)
    assert ref is not None, f"the demo grammar should accept {text!r}"
    seed = sum(map(ord, text))
    hyp = decode(phone_graph, posteriors(text, seed=seed, blanks_between=blanks_between))
    assert hyp is not None
    assert hyp.parse.text == text
    assert hyp.parse.intent == ref.intent
    assert hyp.parse.slots == ref.slots
    assert grammar.resolve is not None
    assert [t.to_json() for t in grammar.resolve(hyp.parse)] == telegrams
    # The grammar path is the free path here, so the margin is (numerically) zero.
    assert hyp.margin == pytest.approx(0.0, abs=1e-3)


def test_alternative_pronunciation(grammar: CompiledGrammar, phone_graph: PhoneGraph) -> None:
    """Every word's second dictionary pronunciation (e.g. "the" as DH IY) decodes the same."""
    text = "close the bedroom blinds"
    assert len(pronunciations("the")) > 1
    hyp = decode(phone_graph, posteriors(text, seed=3, pron=1))
    assert hyp is not None and hyp.parse.text == text
    assert hyp.margin == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("text", NOT_IN_GRAMMAR)
def test_non_grammar_speech_has_a_much_lower_margin(
    grammar: CompiledGrammar, phone_graph: PhoneGraph, text: str
) -> None:
    assert grammar.graph.parse(text) is None
    good = decode(phone_graph, posteriors("turn on the kitchen light", seed=1))
    bad = decode(phone_graph, posteriors(text, seed=1))
    assert good is not None and bad is not None
    assert bad.margin < good.margin - 1.0, (bad.parse.text, bad.margin)
    # With the runtime's default calibration the command is acted on and the speech is not.
    cal = Calibration()
    assert cal.confidence(good.margin) > 0.5 > cal.confidence(bad.margin)


def test_empty_and_too_short_input(phone_graph: PhoneGraph) -> None:
    assert decode(phone_graph, np.zeros((0, N_OUTPUTS), np.float32)) is None
    one_frame = np.full((1, N_OUTPUTS), np.log(1 / N_OUTPUTS), np.float32)
    assert decode(phone_graph, one_frame) is None


class SpelledModel:
    """Stands in for ``AcousticModel``: its 'features' are already log-probs."""

    calibration = Calibration()
    calibrations = [calibration]
    agreement_bonus = 0.0
    noise_allowance = 0.0  # features carry no audio to measure the room by
    noisy_below_db = 0.0
    noisy_outside_limit = None
    rival_limit = None

    def log_probs(self, feats: np.ndarray, lead: bool = False) -> np.ndarray:
        if not lead:
            return feats
        # The padding rows before the audio, as the real model gives them: blank.
        blank = np.full((LEAD_FRAMES, feats.shape[1]), -20.0, np.float32)
        blank[:, BLANK] = 0.0
        return np.concatenate([blank, feats])

    def member_log_probs(self, feats: np.ndarray, lead: bool = False) -> list[np.ndarray]:
        return [self.log_probs(feats, lead)]


class SpelledPair(SpelledModel):
    """Two member networks: the first hears the features, the second ``other``."""

    calibrations = [Calibration(), Calibration()]

    def __init__(self, other: np.ndarray, bonus: float) -> None:
        self.other = other
        self.agreement_bonus = bonus

    def member_log_probs(self, feats: np.ndarray, lead: bool = False) -> list[np.ndarray]:
        return [self.log_probs(feats, lead), self.log_probs(self.other, lead)]


def test_recognizer_turns_margins_into_telegrams(grammar: CompiledGrammar) -> None:
    rec = Recognizer(grammar, SpelledModel(), threshold=0.5)  # type: ignore[arg-type]
    text, telegrams = COMMANDS[3]
    result = rec.recognize_features(posteriors(text, seed=5))
    assert result.accepted and result.text == text
    assert [t.to_json() for t in result.telegrams] == telegrams
    assert result.confidence > 0.5
    for other in NOT_IN_GRAMMAR:
        result = rec.recognize_features(posteriors(other, seed=5))
        assert not result.accepted, other
        assert result.telegrams == [] and result.confidence < 0.5
        assert result.text  # what was heard is still reported


def test_agreement_lowers_the_bar_only_where_every_member_decoded_the_same() -> None:
    assert agree([Vote("a", 0.55), Vote("a", 0.5)], 0.6, 0.1) == 0  # agree: 0.5 is enough
    assert agree([Vote("a", 0.45), Vote("a", 0.55)], 0.6, 0.1) == 1  # the surer one speaks
    assert agree([Vote("a", 0.55), Vote("b", 0.5)], 0.6, 0.1) is None  # disagree: full bar
    assert agree([Vote("a", 0.5), Vote("b", 0.7)], 0.6, 0.1) == 1
    assert agree([Vote(None, 0.0), Vote("b", 0.7)], 0.6, 0.1) == 1
    assert agree([Vote(None, 0.0), Vote(None, 0.0)], 0.0, 0.1) is None  # nothing to act on
    assert agree([Vote("a", 0.55)], 0.6, 0.1) is None  # one network agrees with no one
    assert agree([Vote("a", 0.6)], 0.6) == 0
    assert unanimous([Vote("a", 0.9), Vote("a", 0.1)])
    assert not unanimous([Vote("a", 0.9), Vote("b", 0.1)])
    assert not unanimous([Vote(None, 0.0), Vote(None, 0.0)])
    assert not unanimous([Vote("a", 0.9)])


def test_recognizer_acts_where_two_members_agree_below_the_threshold(
        grammar: CompiledGrammar) -> None:
    text, telegrams = COMMANDS[3]
    heard = posteriors(text, seed=5)
    sure = Recognizer(grammar, SpelledModel(), threshold=0.0).recognize_features(heard)
    assert sure.accepted
    # A bar just above what one member reaches: alone it is not enough.
    bar = sure.confidence + 0.05
    assert not Recognizer(grammar, SpelledModel(), threshold=bar).recognize_features(
        heard).accepted
    pair = Recognizer(grammar, SpelledPair(posteriors(text, seed=6), 0.1),  # type: ignore[arg-type]
                      threshold=bar)
    result = pair.recognize_features(heard)
    assert result.accepted and result.text == text and result.unanimous
    assert [t.to_json() for t in result.telegrams] == telegrams
    # The second member heard another command: no agreement, the full bar, nothing sent.
    other_text = COMMANDS[0][0]
    split = Recognizer(grammar, SpelledPair(posteriors(other_text, seed=6), 0.1),  # type: ignore[arg-type]
                       threshold=bar).recognize_features(heard)
    assert not split.accepted and split.telegrams == [] and not split.unanimous
    assert split.text in (text, other_text)  # the surer member's sentence is reported
    assert not sure.unanimous  # one network agrees with no one


def test_settled_says_whether_more_words_could_change_the_meaning(tmp_path: Path) -> None:
    """"count to forty" may go on to "forty two"; "count to forty two" and a colour
    followed only by optional politeness cannot change: a live service may act on those at
    once. The flag is found on the decoded path's end node, not the text."""
    ctx = tmp_path / "ctx.yaml"
    ctx.write_text(
        "context:\n  expressions:\n    go:\n"
        '      - "count to $pv.TwoDigitInteger:n"\n'
        '      - "paint it $colour:c (please, now)"\n'
        '      - "paint it $colour:c with $colour:trim"\n'
        "  slots:\n    colour: [red, dark blue]\n")
    graph = PhoneGraph(load_context_grammar(ctx).graph)
    for text, settled in [("count to forty", False), ("count to forty two", True),
                          ("count to fifteen", True), ("paint it red please", True),
                          ("paint it red", False), ("paint it red with dark blue", True)]:
        hyp = decode(graph, posteriors(text))
        assert hyp is not None and " ".join(hyp.parse.words) == text
        assert hyp.settled is settled, text


@pytest.fixture(scope="module")
def filler_graph(grammar: CompiledGrammar) -> PhoneGraph:
    return PhoneGraph(grammar.graph, filler_penalty=-0.5)


def test_quiet_filler_absorbs_trailing_babble_but_not_loud_words(
    filler_graph: PhoneGraph, phone_graph: PhoneGraph,
) -> None:
    """With filler on, TV babble after a command may be filler when it is quiet; loud
    frames never are."""
    command = "turn on the kitchen light"
    babble = posteriors("what time is it in london", seed=5)
    lp = np.concatenate([posteriors(command, seed=4), babble])
    n_cmd = len(lp) - len(babble)
    quiet_tail = np.zeros(len(lp), bool)
    quiet_tail[n_cmd:] = True

    forced = decode(filler_graph, lp)  # no quiet flags: the babble must fit the sentence
    filled = decode(filler_graph, lp, quiet_tail)
    assert forced is not None and filled is not None
    assert filled.parse.text == command
    assert filled.margin > forced.margin + 1.0, (forced.margin, filled.margin)
    # Filler costs ``filler_penalty`` per babbled phone frame against free recognition
    # (its blank frames are free), no more.
    phone_frames = int((babble.argmax(axis=1) != BLANK).sum())
    assert filled.score - filled.free_score == pytest.approx(phone_frames * -0.5, rel=0.05)

    # Loud frames (nothing flagged quiet) are never filler: the same result as no flags.
    loud = decode(filler_graph, lp, np.zeros(len(lp), bool))
    assert loud is not None and loud.score == pytest.approx(forced.score)
    # The default graph has no filler and ignores the flags.
    assert phone_graph.filler_penalty is None
    plain = decode(phone_graph, lp, quiet_tail)
    assert plain is not None and plain.score == pytest.approx(forced.score)


def test_quiet_filler_before_the_command(filler_graph: PhoneGraph) -> None:
    command = "close the bedroom blinds"
    chatter = posteriors("i think it will rain tomorrow", seed=6)
    lp = np.concatenate([chatter, posteriors(command, seed=7)])
    quiet_head = np.zeros(len(lp), bool)
    quiet_head[: len(chatter)] = True
    hyp = decode(filler_graph, lp, quiet_head)
    assert hyp is not None and hyp.parse.text == command
    assert hyp.margin > decode(filler_graph, lp).margin + 1.0  # type: ignore[union-attr]


def test_speech_left_outside_the_sentence_lowers_the_confidence(tmp_path: Path) -> None:
    """ "don't turn on the light": every word of the command fits; the "don't" before it is
    what says it is not one. Quiet frames there (a TV) do not count."""
    ctx = tmp_path / "ctx.yaml"
    ctx.write_text('context:\n  expressions:\n    lightOn:\n      - "turn on the light"\n')
    graph = PhoneGraph(load_context_grammar(ctx).graph)
    command = "turn on the light"
    alone = decode(graph, posteriors(command, seed=8))
    lp = np.concatenate([posteriors("don't", seed=9), posteriors(command, seed=8)])
    negated = decode(graph, lp)
    assert alone is not None and negated is not None
    assert negated.parse.text == command
    assert alone.outside == pytest.approx(0.0, abs=0.05)
    assert negated.outside < -2.0
    assert negated.features[1] == negated.outside  # it is the worst stretch
    cal = Calibration()
    assert cal.confidence(*alone.features) > 0.5 > cal.confidence(*negated.features)
    quiet = decode(graph, lp, np.ones(len(lp), bool))
    assert quiet is not None and quiet.outside == 0.0


def test_quiet_frames_flag_what_is_well_under_the_speech_level() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    loud = 0.5 * np.sin(2 * np.pi * 220 * t)  # 1 s "speech"
    tv = 0.5 * 10 ** (-15 / 20) * rng.standard_normal(8000)  # 0.5 s, 15 dB under
    tv[3200:3840] *= 10 ** (13 / 20)  # a 40 ms blip of it (frames 10-11) 2 dB under
    near = 0.5 * 10 ** (-5 / 20) * rng.standard_normal(8000)  # 0.5 s, 5 dB under
    audio = np.concatenate([tv, loud, near]).astype(np.float32)
    flags = quiet_frames(audio, 110)  # 100 frames of audio + 10 of the model's padding
    onset = 25 - ONSET_FRAMES  # the speech starts at frame 25
    assert not flags[10:12].any()  # the blip is loud itself ...
    assert flags[:10].all() and flags[12:onset].all()  # ... but too short to have an onset
    assert not flags[onset:25].any()  # a soft onset just before loud speech is the speaker's
    assert not flags[26:74].any()  # the speech itself
    assert not flags[76:100].any()  # a talker only 5 dB under is not filler
    assert flags[100:].all()  # padding past the end of the audio
    assert quiet_frames(np.zeros(0, np.float32), 3).all()


def test_loud_speech_outside_the_sentence_sends_nothing(grammar: CompiledGrammar) -> None:
    from edgeasr.recognizer import OUTSIDE_LIMIT, judge

    parse = grammar.graph.parse("open the living room blinds")
    assert parse is not None
    fits = Hypothesis(parse, score=-10.0, free_score=-10.0, worst_word=0.0, phones=20)
    conf, act = judge(fits, Calibration(), 0.5)
    assert act and conf > 0.5
    # "never open the living room blinds": the sentence fits, the "never" is left outside.
    never = dataclasses.replace(fits, outside=OUTSIDE_LIMIT - 0.1)
    assert judge(never, Calibration(), 0.5)[1] is False
    assert judge(dataclasses.replace(fits, outside=OUTSIDE_LIMIT + 0.05),
                 Calibration(), 0.5)[1] is True


def test_a_noisy_room_tolerates_more_speech_outside_the_sentence(
        grammar: CompiledGrammar) -> None:
    """In a noisy room (speech under noisy_below_db above the noise) the model's noisy
    outside limit replaces the quiet room's: TV babble around a command no longer takes the
    vote away. A model without one, or a quiet room, keeps OUTSIDE_LIMIT."""
    from edgeasr.recognizer import OUTSIDE_LIMIT, decide, member_confidences, outside_limit

    assert outside_limit(-0.5, 25.0, 15.0) == -0.5
    assert outside_limit(-0.5, 25.0, 40.0) == OUTSIDE_LIMIT
    assert outside_limit(-0.5, 25.0, None) == OUTSIDE_LIMIT  # not measured: not noisy
    assert outside_limit(None, 25.0, 15.0) == OUTSIDE_LIMIT
    parse = grammar.graph.parse("open the living room blinds")
    assert parse is not None
    babble = Hypothesis(parse, score=-10.0, free_score=-10.0, worst_word=0.0, phones=20,
                        outside=OUTSIDE_LIMIT - 0.1)
    confs = member_confidences([babble, babble], [Calibration(), Calibration()])
    assert decide([babble, babble], confs, 0.5, 0.0).chosen is None
    noisy = decide([babble, babble], confs, 0.5, 0.0, outside_limit(-0.5, 25.0, 15.0))
    assert noisy.chosen == 0 and noisy.unanimous
