"""The factory's TV-like talker noise: streams that talk through an utterance, from a pool of
chatter lines that leaves the held-out voices out."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from factory import augment as aug
from factory import dataset
from factory.voices import FESTIVAL_VOICES, FLITE_VOICES, synthesise

SR = aug.SR


@pytest.fixture
def stream_pool(monkeypatch: pytest.MonkeyPatch,
                dataset_state: ModuleType) -> tuple[list[np.ndarray], list[str]]:
    """A small talker-stream pool made by the real worker set-up, every voice it used, and
    the module state put back afterwards (``dataset_state``)."""
    monkeypatch.setattr(dataset, "STREAM_LINES", 8)
    used: list[str] = []

    def spoken(voice, text):  # the real synthesiser, noting who spoke
        used.append(voice.label)
        return synthesise(voice, text)

    monkeypatch.setattr(dataset, "synthesise", spoken)
    # Hold out every flite and festival voice: a pool that ignored hold_out would almost
    # surely draw one of them (38 % of draws each).
    held = tuple(f"flite:{v}" for v in FLITE_VOICES) + tuple(
        f"festival:{v}" for v in FESTIVAL_VOICES)
    dataset._init_worker(3, recipe=aug.Augmentation(streams=True), hold_out=held)
    return list(dataset._BABBLE), used


def test_stream_pool_leaves_held_out_voices_out(stream_pool) -> None:
    pool, used = stream_pool
    assert len(pool) == dataset.STREAM_LINES
    assert used and all(v.startswith("espeak:") for v in used), used
    assert all(len(line) > SR // 4 for line in pool)


def test_talker_streams_talk_through_the_utterance(stream_pool) -> None:
    pool, _ = stream_pool
    n = 6 * SR  # longer than any one chatter line
    rng = np.random.default_rng(0)
    x = aug.talker_streams(rng, pool, n, 1)
    assert x.shape == (n,) and x.dtype == np.float32
    # Some speech in every second, unlike one line padded with silence to the utterance.
    for s in range(0, n, SR):
        assert np.sqrt(np.mean(x[s : s + SR] ** 2)) > 0.05, f"silent second at {s / SR:.0f} s"
    again = aug.talker_streams(np.random.default_rng(1), pool, n, 1)
    assert not np.allclose(x, again), "another seed must pick other lines, starts or speeds"
    three = aug.talker_streams(np.random.default_rng(0), pool, n, 3)
    assert np.mean(three**2) > np.mean(x**2), "more talkers, more sound"



def test_the_dry_copy_is_the_mix_before_its_noise() -> None:
    """``augment_pair`` draws what ``augment`` draws (the same training audio) and gives that
    audio before the noise went in as well: same length, in time with it, differing only where
    noise was mixed in, and identical for the clean copy (strength 0)."""
    t = np.arange(SR) / SR
    speech = (0.4 * np.sin(2 * np.pi * 180 * t) * (t > 0.3) * (t < 0.7)).astype(np.float32)
    babble = [aug.colored_noise(np.random.default_rng(9), SR, 1.0)]
    noisy = 0
    for seed in range(12):
        x = aug.augment(np.random.default_rng(seed), speech, babble)
        mix, dry = aug.augment_pair(np.random.default_rng(seed), speech, babble)
        np.testing.assert_array_equal(mix, x)
        assert dry.shape == mix.shape and dry.dtype == np.float32
        if not np.array_equal(mix, dry):
            noisy += 1
            lags = np.correlate(mix, dry, mode="full")
            assert abs(int(lags.argmax()) - (len(dry) - 1)) <= 2  # in time: lag 0
        clean, dry = aug.augment_pair(np.random.default_rng(seed), speech, babble, strength=0.0)
        np.testing.assert_array_equal(clean, dry)
    assert 6 <= noisy < 12  # 85 % of the noisy copies get noise


def _drr_db(ir: np.ndarray) -> float:
    return float(10 * np.log10(ir[0] ** 2 / np.sum(ir[1:] ** 2)))


def test_rooms_hear_the_talker_directly_at_the_drawn_drr() -> None:
    """``drr``: the direct path's energy over the tail's is drawn from the range; without it
    the tail drowns the direct path (the recipe up to v16), and the draws after the impulse
    are the same either way, so the rest of an utterance's augmentation does not move."""
    for rt60 in (0.15, 0.4, 0.7):
        drrs = [_drr_db(aug.room_impulse(np.random.default_rng(s), rt60, (-12.0, 8.0)))
                for s in range(40)]
        assert min(drrs) >= -12.01 and max(drrs) <= 8.01, drrs
        assert max(drrs) - min(drrs) > 10, "drawn across the range"
        old = [_drr_db(aug.room_impulse(np.random.default_rng(s), rt60)) for s in range(40)]
        assert np.median(old) < -15 and max(old) < -5, old
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    aug.room_impulse(a, 0.4)
    aug.room_impulse(b, 0.4, (-12.0, 8.0))
    assert a.random() == b.random()


def test_reverb_share_sets_how_many_noisy_copies_hear_a_room(monkeypatch) -> None:
    """``Augmentation.reverb``: the chance a noisy copy goes through a room; clean copies
    never do. The recipe names its cache only where it differs from the defaults, so data
    made before the field existed is still found."""
    rooms: list[int] = []
    real = aug.reverb

    def counted(rng, audio, rt60, drr=None):
        rooms.append(1)
        return real(rng, audio, rt60, drr)

    monkeypatch.setattr(aug, "reverb", counted)
    speech = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    for share, low, high in ((0.0, 0, 0), (1.0, 60, 60), (0.8, 40, 56)):
        rooms.clear()
        recipe = aug.Augmentation(reverb=share)
        for seed in range(60):
            aug.augment(np.random.default_rng(seed), speech, [], recipe=recipe)
        aug.augment(np.random.default_rng(0), speech, [], strength=0.0, recipe=recipe)
        assert low <= len(rooms) <= high, (share, len(rooms))
    assert aug.DEFAULT.tag() == "" and aug.Augmentation(reverb=0.8).tag() == "-reverb0.8"
    with pytest.raises(ValueError, match="reverb 1.5"):
        aug.Augmentation(reverb=1.5)


def test_without_the_clean_copy_every_copy_of_a_sentence_is_noisy() -> None:
    """``Augmentation.clean_copy``: by default the first of a sentence's copies is the clean
    speech; without it, neither copy is. The same seed synthesises the same speech either
    way, and the cache name says which recipe made the data."""
    sentence = [("command", "turn on the kitchen light")]
    clean = dataset.build(sentence, 1, seed=3, workers=1, strength=0.0)[0].feats

    def is_clean(recipe: aug.Augmentation) -> list[bool]:
        copies = dataset.build(sentence, 2, seed=3, workers=1, recipe=recipe)
        assert [c.text for c in copies] == [sentence[0][1]] * 2
        return [c.feats.shape == clean.shape and bool(np.array_equal(c.feats, clean))
                for c in copies]

    assert is_clean(aug.DEFAULT) == [True, False]
    assert is_clean(aug.Augmentation(clean_copy=False)) == [False, False]
    assert aug.Augmentation(clean_copy=False).tag() == "-noclean"


def test_skipped_voices_are_left_unmade_and_the_rest_is_unchanged() -> None:
    """``dataset.build(skip=...)``, how a further member's own data leaves out the held-out
    voices without synthesising them: the other utterances are the same audio as without
    it, in the same order."""
    sentences = [("command", t) for t in (
        "turn on the kitchen light", "turn off the hallway light", "open the bedroom blinds",
        "set the office light to thirty percent", "close the living room blinds",
        "turn on the bathroom fan", "what time is it", "dim the kitchen light")]
    every = dataset.build(sentences, 1, seed=5, workers=1)
    skipped = every[0].voice
    rest = dataset.build(sentences, 1, seed=5, workers=1, skip=(skipped,))
    expected = [e for e in every if not dataset.has_voice(e.voice, [skipped])]
    assert 0 < len(rest) == len(expected) < len(every)
    for got, want in zip(rest, expected, strict=True):
        assert (got.text, got.voice) == (want.text, want.voice)
        np.testing.assert_array_equal(got.feats, want.feats)
