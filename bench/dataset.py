"""The held-out clip set: joe speaks every evaluation sentence; conditions are derived from it.

WAVs are cached under ``bench/.cache/`` (git-ignored) and only made when missing, a tree per
voice (``v1/joe-seeded/``, ``v1/dev-flite-awb/``...): ``speech/<key>.wav`` is the voice's
utterance at 16 kHz, ``<condition>/<key>.wav`` the clip an engine hears.
Bump ``CACHE_VERSION`` when the recipe in ``conditions.py`` changes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench import conditions as cond
from bench.synth import JoeVoice, TrainingVoice
from edgeasr.audio import read_wav, write_wav
from edgeasr.grammar import CompiledGrammar
from edgeasr.telegram import Telegram

log = logging.getLogger(__name__)

CACHE_VERSION = "v1"
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"

# What the TV says in the noise conditions: spoken by joe, never an evaluation sentence,
# never a command of any building.
TV_LINES = [
    "good evening and welcome to the six o'clock news",
    "tonight the council approved the new budget for the city",
    "traffic is heavy on the motorway after an accident near the bridge",
    "the home team scored twice in the second half",
    "temperatures will fall sharply overnight with frost in the north",
    "after the break we will meet the chef who cooks with only three ingredients",
    "shares in the technology sector rose for a third day",
    "our reporter spoke to families waiting at the station",
    "the museum opens a new exhibition of paintings next week",
    "and that brings us to the end of tonight's programme",
    "researchers say the results could change how we treat the disease",
    "the singer thanked her fans at the end of a long tour",
]


@dataclass(frozen=True)
class Clip:
    id: str  # e.g. "cmd007" or "non12"
    text: str
    kind: str  # "command" | "non_command"
    reference: tuple[Telegram, ...] = field(default=())  # what a correct engine sends

    @property
    def key(self) -> str:
        return f"{self.id}-{hashlib.sha1(self.text.encode()).hexdigest()[:10]}"


def make_clips(grammar: CompiledGrammar, commands: Sequence[str],
               non_commands: Sequence[str]) -> list[Clip]:
    """Clips with reference telegrams; raises if a command does not parse or sends nothing."""
    if grammar.resolve is None:
        raise ValueError("the evaluation needs a building grammar (telegrams), not a context")
    clips: list[Clip] = []
    for i, text in enumerate(commands):
        parse = grammar.graph.parse(text)
        if parse is None:
            raise ValueError(f"held-out command {text!r} is not in the building grammar")
        ref = tuple(grammar.resolve(parse))
        if not ref:
            raise ValueError(f"held-out command {text!r} resolves to no telegram")
        clips.append(Clip(f"cmd{i:03d}", text, "command", ref))
    for i, text in enumerate(non_commands):
        clips.append(Clip(f"non{i:02d}", text, "non_command"))
    return clips


def spread(items: Sequence[Clip], n: int) -> list[Clip]:
    """``n`` items evenly spaced over ``items`` (all of them if there are fewer)."""
    if n >= len(items):
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]


class HeldoutAudio:
    """Makes (or reads from the cache) the audio of a clip under a condition."""

    def __init__(self, cache: Path = DEFAULT_CACHE,
                 voice: JoeVoice | TrainingVoice | None = None) -> None:
        self.voice = voice or JoeVoice()
        # Every voice gets a tree of its own: a dev voice's clips must never mix with joe's.
        self.root = cache / CACHE_VERSION / self.voice.tag
        self._tv_lines: list[np.ndarray] | None = None

    def _utterance(self, name: str, text: str) -> np.ndarray:
        path = self.root / "speech" / f"{name}.wav"
        if path.exists():
            return read_wav(path)
        audio = self.voice.speak(text)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(path, audio)
        return read_wav(path)  # the int16 round trip, identical to a cached read

    def tv_lines(self) -> list[np.ndarray]:
        if self._tv_lines is None:
            self._tv_lines = [self._utterance(f"tv{i:02d}", t) for i, t in enumerate(TV_LINES)]
        return self._tv_lines

    def _make(self, clip: Clip, condition: str) -> np.ndarray:
        utterance = self._utterance(clip.key, clip.text)
        speech = cond.level_and_pad(utterance)
        rng = cond.clip_rng(CACHE_VERSION, clip.key, condition)
        if condition == "clean":
            x = speech
        elif condition in cond.SNR_DB:
            power = cond.active_power(speech)
            noise = cond.tv_noise(rng, len(speech), self.tv_lines())
            x = cond.mix_at_snr(speech, power, noise, cond.SNR_DB[condition])
        elif (sweep := cond.parse_sweep(condition)) is not None:
            power = cond.active_power(speech)
            noise = (cond.tv_noise(rng, len(speech), self.tv_lines()) if sweep[0] == "tv"
                     else cond.fan_noise(rng, len(speech)))
            x = cond.mix_at_snr(speech, power, noise, sweep[1])
        elif condition == "reverb":
            x = cond.reverberate(rng, speech)
        else:
            raise ValueError(f"unknown condition {condition!r}; known: {sorted(cond.CONDITIONS)}")
        return cond.add_floor(rng, x)

    def path(self, clip: Clip, condition: str) -> Path:
        return self.root / condition / f"{clip.key}.wav"

    def load(self, clip: Clip, condition: str) -> np.ndarray:
        path = self.path(clip, condition)
        if not path.exists():
            audio = self._make(clip, condition)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_wav(path, audio)
        return read_wav(path)

    def build(self, clips: Sequence[Clip], conditions: Sequence[str],
              progress: Callable[..., Iterable[tuple[Clip, str]]] = tqdm) -> int:
        """Make every missing WAV; returns how many were made."""
        todo = [(c, k) for k in conditions for c in clips if not self.path(c, k).exists()]
        for clip, condition in progress(todo, desc="synthesising held-out clips", unit="clip",
                                        disable=not todo, mininterval=1.0):
            self.load(clip, condition)
        return len(todo)
