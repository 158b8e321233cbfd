"""The engines under test, behind one interface: 16 kHz float32 audio in, telegrams out.

Each engine times only its own recognition (``time.perf_counter`` wall time and
``time.thread_time`` CPU time of the calling thread); input conversion to its native format
happens before the clock starts.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edgeasr.grammar import CompiledGrammar
from edgeasr.grammar.building_rules import building_rules
from edgeasr.grammar.jsgf import to_jsgf
from edgeasr.recognizer import Recognizer
from edgeasr.telegram import Telegram

log = logging.getLogger(__name__)


@dataclass
class Output:
    text: str  # what the engine heard ("" for nothing)
    telegrams: list[Telegram]
    wall_s: float
    cpu_s: float
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class Engine(Protocol):
    name: str

    def describe(self) -> dict[str, Any]: ...

    def recognize(self, audio: np.ndarray) -> Output: ...


class EdgeASREngine:
    name = "edgeasr"

    def __init__(self, config: str | Path, model: str | Path | None = None) -> None:
        self.recognizer = Recognizer.from_config(config, model=model)

    def describe(self) -> dict[str, Any]:
        return {"engine": "EdgeASR", "model": str(self.recognizer.model.path),
                "threshold": self.recognizer.threshold, "version": version("edgeasr")}

    def recognize(self, audio: np.ndarray) -> Output:
        pcm = np.ascontiguousarray(audio, dtype=np.float32)
        w0, c0 = time.perf_counter(), time.thread_time()
        result = self.recognizer.recognize(pcm)
        wall, cpu = time.perf_counter() - w0, time.thread_time() - c0
        return Output(result.text, list(result.telegrams), wall, cpu,
                      {"confidence": round(result.confidence, 4), "intent": result.intent,
                       "timings": {k: round(v, 6) for k, v in result.timings.items()}})


def telegrams_for_text(grammar: CompiledGrammar, text: str) -> list[Telegram]:
    """The telegrams a transcript means: parse it with the building's graph, else nothing."""
    words = [w for w in text.lower().split() if not (w.startswith(("<", "[", "+")))]
    if not words or grammar.resolve is None:
        return []
    parse = grammar.graph.parse(" ".join(words))
    return list(grammar.resolve(parse)) if parse is not None else []


class PocketSphinxEngine:
    """pocketsphinx 5 with its bundled en-us model and CMU dictionary, decoding our JSGF."""

    name = "pocketsphinx"

    def __init__(self, grammar: CompiledGrammar) -> None:
        import pocketsphinx

        if grammar.building is None:
            raise ValueError("the pocketsphinx baseline needs a building grammar")
        self.grammar = grammar
        self._dir = tempfile.TemporaryDirectory(prefix="edgeasr-ps-")
        jsgf = Path(self._dir.name) / "building.gram"
        jsgf.write_text(to_jsgf(building_rules(grammar.building), "edgeasr"))
        self.decoder = pocketsphinx.Decoder(jsgf=str(jsgf), samprate=16000, logfn=os.devnull)
        self.model_path = pocketsphinx.get_model_path()

    def describe(self) -> dict[str, Any]:
        return {"engine": "pocketsphinx", "version": version("pocketsphinx"),
                "acoustic_model": "bundled en-us", "dictionary": "bundled cmudict-en-us.dict",
                "grammar": "JSGF from edgeasr.grammar.jsgf.to_jsgf(building_rules(building))"}

    def recognize(self, audio: np.ndarray) -> Output:
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        w0, c0 = time.perf_counter(), time.thread_time()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        text = hyp.hypstr if hyp is not None else ""
        telegrams = telegrams_for_text(self.grammar, text)
        wall, cpu = time.perf_counter() - w0, time.thread_time() - c0
        detail = {"score": hyp.score, "prob": round(hyp.prob, 6)} if hyp is not None else {}
        return Output(text, telegrams, wall, cpu, detail)
