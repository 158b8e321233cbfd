"""Numbers as spoken English words, and grammar slots that accept them.

The recognizer hears words, not digits, so every number a command may carry ("forty percent",
"twenty one and a half degrees") has to be spelled out in the grammar. The slots built here map
each spelling back to its numeric value, so the parse already carries ``40`` or ``21.5``.
"""

from __future__ import annotations

from edgeasr.grammar.ir import Expr, Slot, seq, slot, words

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

MAX_NUMBER = 999_999


def number_words(n: int) -> str:
    """``25 -> "twenty five"``, ``100 -> "one hundred"``, ``0 -> "zero"``.

    American style without "and" ("one hundred five") and without hyphens, because the lexicon
    and the grammar work on whitespace-separated words.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"number_words needs an int, got {n!r}")
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"number_words supports 0..{MAX_NUMBER}, got {n}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] if ones == 0 else f"{_TENS[tens]} {_ONES[ones]}"
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = f"{_ONES[hundreds]} hundred"
        return head if rest == 0 else f"{head} {number_words(rest)}"
    thousands, rest = divmod(n, 1000)
    head = f"{number_words(thousands)} thousand"
    return head if rest == 0 else f"{head} {number_words(rest)}"


def number_spellings(n: int) -> list[str]:
    """All accepted spellings of ``n``: the canonical one first; 100 is also "a hundred"."""
    return [number_words(n), "a hundred"] if n == 100 else [number_words(n)]


def int_slot(name: str, lo: int, hi: int) -> Slot:
    """A slot accepting every integer ``lo..hi`` (inclusive) as words; the value is the int."""
    if lo > hi:
        raise ValueError(f"int_slot {name!r}: empty range {lo}..{hi}")
    return slot(name, [(words(s), n) for n in range(lo, hi + 1) for s in number_spellings(n)])


def half_step_slot(name: str, lo: int, hi: int) -> Slot:
    """Integers ``lo..hi`` and the halves between them ("twenty one and a half" -> 21.5).

    Values are floats. ``hi`` itself gets no half, so ``half_step_slot("t", 5, 30)`` spans
    5.0 .. 30.0 in steps of 0.5.
    """
    if lo > hi:
        raise ValueError(f"half_step_slot {name!r}: empty range {lo}..{hi}")
    values: list[tuple[Expr, float]] = []
    for n in range(lo, hi + 1):
        for s in number_spellings(n):
            values.append((words(s), float(n)))
            if n < hi:
                values.append((seq(s, "and a half"), n + 0.5))
    return slot(name, values)


def temperature_slot(name: str = "temperature", lo: int = 5, hi: int = 30) -> Slot:
    """Room setpoints: 5–30 °C in half degrees, the range a KNX room thermostat accepts."""
    return half_step_slot(name, lo, hi)


def percent_slot(name: str = "percent") -> Slot:
    """0–100 as words; the value is an int, as DPT 5.001 expects."""
    return int_slot(name, 0, 100)
