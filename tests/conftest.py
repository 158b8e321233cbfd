"""Shared fixtures: repo paths, a tiny model built by the factory, the shipped model, speech.

The tiny model is made once per test session by the model factory's ``tiny`` preset (the
whole pipeline: synthesis, augmentation, training, int8 export, dev check, model card), so no
test depends on a model lying around from an earlier run. Tests that judge accuracy use the
shipped model (``models/edgeasr.tflite``) and skip, saying why, when it is absent.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT / "python", ROOT / "models", ROOT):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from edgeasr.audio import read_wav  # noqa: E402 (needs the sys.path above)
from edgeasr.decoder import PhoneGraph  # noqa: E402
from edgeasr.grammar import CompiledGrammar, load_building_grammar  # noqa: E402

DEMO_CONFIG = ROOT / "examples" / "demo-building.yaml"
COFFEE_CONTEXT = ROOT / "examples" / "coffee.yaml"
SHIPPED_MODEL = ROOT / "models" / "edgeasr.tflite"

Speak = Callable[..., Path]


def subprocess_env() -> dict[str, str]:
    """Environment for child processes: ``edgeasr`` and ``factory`` importable, no TF noise."""
    env = dict(os.environ)
    paths = [str(ROOT / "python"), str(ROOT / "models")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


@pytest.fixture
def dataset_state(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``factory.dataset`` with every worker global (``_BABBLE``, ``_TEACHER``, ...) put back
    after the test: ``_init_worker`` and ``build`` set them for the whole process. Found by
    name, so a global added later is restored too."""
    from factory import dataset

    for name in [n for n in vars(dataset) if re.fullmatch(r"_[A-Z][A-Z_]*", n)]:
        monkeypatch.setattr(dataset, name, getattr(dataset, name))
    return dataset


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def demo_config() -> Path:
    return DEMO_CONFIG


@pytest.fixture(scope="module")
def grammar(demo_config: Path) -> CompiledGrammar:
    """The demo building's grammar (a test module may define its own ``grammar``)."""
    return load_building_grammar(demo_config)


@pytest.fixture(scope="module")
def phone_graph(grammar: CompiledGrammar) -> PhoneGraph:
    """The decoder's phone graph of ``grammar``."""
    return PhoneGraph(grammar.graph)


@pytest.fixture(scope="session")
def coffee_context() -> Path:
    return COFFEE_CONTEXT


# What the factory writes into the tiny models' edgeasr.json: the shipped model's threshold,
# so the tiny models act as the shipped one would on the same confidences.
TINY_THRESHOLD = 0.6


def _factory_model(tmp_path_factory: pytest.TempPathFactory, preset: str) -> Path:
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow is not installed (pip install -e 'python[factory]')")
    missing = [exe for exe in ("espeak-ng", "flite") if shutil.which(exe) is None]
    if missing:
        pytest.skip(f"the model factory needs {', '.join(missing)} (scripts/setup.sh)")
    base = tmp_path_factory.mktemp(f"{preset}-model")
    out, cache = base / "model", base / "cache"
    proc = subprocess.run(
        [sys.executable, "-m", "factory", "--preset", preset, "--out", str(out),
         "--cache", str(cache), "--workers", "2", "--config", str(DEMO_CONFIG),
         "--threshold", str(TINY_THRESHOLD)],
        cwd=ROOT / "models", env=subprocess_env(), capture_output=True, text=True,
        timeout=600, check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"factory --preset {preset} failed ({proc.returncode}):\n"
                    f"{proc.stderr[-4000:]}")
    return out / "edgeasr.tflite"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``edgeasr.tflite`` from a fresh run of ``python -m factory --preset tiny``.

    Its directory also holds ``edgeasr.json`` (calibration), ``model-meta.json`` and
    ``MODEL_CARD.md``.
    """
    return _factory_model(tmp_path_factory, "tiny")


@pytest.fixture(scope="session")
def tiny_speech_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same for ``--preset tiny-speech``: frozen speech_embedding + a tiny head."""
    return _factory_model(tmp_path_factory, "tiny-speech")


@pytest.fixture(scope="session")
def tiny_hybrid_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same for ``--preset tiny-hybrid``: log-mel and speech_embedding in one network."""
    return _factory_model(tmp_path_factory, "tiny-hybrid")


@pytest.fixture(scope="session")
def tiny_hybrid_1_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``--preset tiny-hybrid-1``: the hybrid with the frozen network at one offset."""
    return _factory_model(tmp_path_factory, "tiny-hybrid-1")


@pytest.fixture(scope="session")
def tiny_pair_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``--preset tiny-pair``: two tiny hybrids trained apart, side by side in one graph."""
    return _factory_model(tmp_path_factory, "tiny-pair")


def copy_model(model: Path, into: Path) -> Path:
    """A copy of ``model`` with the files beside it (its embedder, its edgeasr.json), for a
    test that edits them; the copy's model path."""
    into.mkdir(parents=True, exist_ok=True)
    for f in model.parent.glob(f"{model.stem}*"):
        shutil.copy(f, into / f.name)
    return into / model.name


@pytest.fixture(scope="session")
def shipped_model() -> Path:
    if not SHIPPED_MODEL.is_file():
        pytest.skip(f"{SHIPPED_MODEL.relative_to(ROOT)} is absent: the shipped model is made "
                    "by `make model` (about two hours) and committed")
    return SHIPPED_MODEL


@pytest.fixture(scope="session")
def any_model(request: pytest.FixtureRequest) -> Path:
    """The shipped model when it exists, else the tiny one: for tests of plumbing, not accuracy."""
    if SHIPPED_MODEL.is_file():
        return SHIPPED_MODEL
    tiny: Path = request.getfixturevalue("tiny_model")
    return tiny


def _synthesise(engine: str, text: str, path: Path, voice: str | None,
                speed: int | None) -> Path:
    if engine == "espeak":
        exe = shutil.which("espeak-ng")
        if exe is None:
            pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
        cmd = [exe, "-v", voice or "en-us"]
        if speed is not None:
            cmd += ["-s", str(speed)]
        cmd += ["-w", str(path), text]
    elif engine == "flite":
        exe = shutil.which("flite")
        if exe is None:
            pytest.skip("flite is not installed (apt-get install flite)")
        cmd = [exe, "-voice", voice or "slt", "-t", text, "-o", str(path)]
    else:
        raise ValueError(f"unknown engine {engine!r}")
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return path


@pytest.fixture
def speak(tmp_path: Path) -> Speak:
    """``speak(text, voice="en-us", speed=None, engine="espeak", name=None) -> WAV path``.

    espeak-ng writes 22.05 kHz mono WAV, flite 16 kHz: both go through the resampler.
    """
    count = 0

    def _speak(text: str, voice: str | None = None, speed: int | None = None,
               engine: str = "espeak", name: str | None = None) -> Path:
        nonlocal count
        count += 1
        path = tmp_path / (name or f"speech{count:02d}.wav")
        return _synthesise(engine, text, path, voice, speed)

    return _speak


@pytest.fixture(scope="session")
def speak_audio(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., np.ndarray]:
    """Like ``speak`` but returns 16 kHz mono float32 (session-scoped)."""
    base = tmp_path_factory.mktemp("speech")
    count = 0

    def _speak(text: str, voice: str | None = None, speed: int | None = None,
               engine: str = "espeak") -> np.ndarray:
        nonlocal count
        count += 1
        return read_wav(_synthesise(engine, text, base / f"s{count:03d}.wav", voice, speed))

    return _speak
