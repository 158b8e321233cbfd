"""The model factory: its tiny preset runs the whole pipeline and yields an NPU-ready model."""

from __future__ import annotations

import json
import pickle
import random
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from conftest import DEMO_CONFIG, ROOT, TINY_THRESHOLD, copy_model, subprocess_env

from edgeasr.acoustic import AcousticModel, Calibration, ModelError, _interpreter_class
from edgeasr.features import N_MELS
from edgeasr.lexicon import N_OUTPUTS
from factory import dataset, voices

# factory.export imports TensorFlow (seconds); only the test that needs its op list loads it.
WINDOW = 400  # feature frames per inference window: factory.export.WINDOW, checked below


def test_tiny_preset_writes_every_artefact(tiny_model: Path) -> None:
    out = tiny_model.parent
    for name in ("edgeasr.tflite", "edgeasr.json", "model-meta.json", "MODEL_CARD.md"):
        assert (out / name).is_file(), f"factory did not write {name}"
        assert (out / name).stat().st_size > 0
    meta = json.loads((out / "model-meta.json").read_text())
    assert meta["preset"] == "tiny"
    assert meta["train_examples"] > 0 and meta["voices"]
    assert meta["size_bytes"] == tiny_model.stat().st_size
    dev = meta["dev"]
    assert dev["commands"] + dev["non_commands"] > 0
    runtime = json.loads((out / "edgeasr.json").read_text())
    # --threshold goes to the runtime with the calibration, and the dev figures use it.
    assert runtime["threshold"] == dev["threshold"] == TINY_THRESHOLD
    calib = runtime["calibration"]
    assert {"scale", "offset"} <= set(calib) <= {f.name for f in fields(Calibration)}
    assert all(np.isfinite(v) for v in calib.values())


@pytest.fixture(params=["tiny_model", "tiny_speech_model", "tiny_hybrid_model",
                        "tiny_hybrid_1_model", "tiny_pair_model"])
def factory_model(request: pytest.FixtureRequest) -> Path:
    """Each front end's tiny preset (log-mel network; frozen speech_embedding + head; both
    in one network with two inputs, the frozen network at two offsets or at one; two such
    networks side by side)."""
    return request.getfixturevalue(request.param)


def _graph_ops(path: Path, interp_inputs: list, outputs: list) -> set[str]:
    """Check one graph is static and int8 throughout; its op names."""
    from factory.export import NPU_OPS

    interp = _interpreter_class()(model_path=str(path))
    interp.allocate_tensors()
    inputs, [out] = interp.get_input_details(), interp.get_output_details()
    assert sorted(list(t["shape"]) for t in inputs) == sorted(interp_inputs), path.name
    assert [list(out["shape"])] == outputs, path.name
    assert all(t["dtype"] == np.int8 for t in [*inputs, out])
    for t in (*inputs, out):
        assert list(t["shape_signature"]) == list(t["shape"]), "dynamic dimension in the model"
        scale, _zero = t["quantization"]
        assert scale > 0
    tensors = interp.get_tensor_details()
    floats = [t["name"] for t in tensors if t["dtype"] not in (np.int8, np.int32)]
    assert floats == [], f"tensors that are not int8/int32: {floats}"
    assert all(-1 not in t["shape_signature"] for t in tensors)
    ops = {op["op_name"] for op in interp._get_ops_details()}
    assert ops, "no ops found"
    assert ops <= NPU_OPS, f"ops outside the NPU set: {sorted(ops - NPU_OPS)}"
    return ops


def test_recheck_writes_new_runtime_settings_and_leaves_the_graphs(
        tiny_model: Path, tmp_path: Path) -> None:
    """Settings chosen on the dev voices after training (threshold, noise rule) reach a made
    model with --recheck: its dev check runs again at them from the same cached dev set (so
    the same calibration), the graphs and what training measured stay as they were."""
    out = tmp_path / "model"
    shutil.copytree(tiny_model.parent, out)
    cache = tiny_model.parent.parent / "cache"
    before = json.loads((out / "model-meta.json").read_text())

    def factory(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "factory", "--preset", "tiny", "--out", str(out),
             "--cache", str(cache), "--config", str(DEMO_CONFIG), "--workers", "1", *args],
            cwd=ROOT / "models", env=subprocess_env(), capture_output=True, text=True,
            timeout=600, check=False)

    proc = factory("--recheck", "--threshold", "0.9", "--noise-allowance", "0.2",
                   "--noisy-below-db", "20", "--noisy-outside-limit", "-0.5",
                   "--rival-limit", "0.1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "edgeasr.tflite").read_bytes() == tiny_model.read_bytes()
    runtime = json.loads((out / "edgeasr.json").read_text())
    assert (runtime["threshold"], runtime["noise_allowance"], runtime["noisy_below_db"],
            runtime["noisy_outside_limit"], runtime["rival_limit"]) == (0.9, 0.2, 20.0, -0.5, 0.1)
    np.testing.assert_allclose(list(runtime["calibration"].values()),
                               list(before["dev"]["calibration"].values()), rtol=1e-9)
    meta = json.loads((out / "model-meta.json").read_text())
    assert meta["dev"]["threshold"] == 0.9 > TINY_THRESHOLD
    assert meta["dev"]["false_accepts"] <= before["dev"]["false_accepts"]
    assert (meta["seconds"], meta["train_examples"]) == (before["seconds"],
                                                         before["train_examples"])
    card = (out / "MODEL_CARD.md").read_text()
    assert "0.2 less confidence" in card and "down to -0.5 per frame" in card
    assert "by at least 0.1 log-probability per phone" in card
    # A later recheck without the outside limit and the rival limit takes them out again.
    assert factory("--recheck", "--threshold", "0.9", "--noise-allowance", "0.2",
                   "--noisy-below-db", "20").returncode == 0
    runtime = json.loads((out / "edgeasr.json").read_text())
    assert "noisy_outside_limit" not in runtime and "rival_limit" not in runtime
    proc = factory("--recheck", "--seed", "2")  # another seed's dev set is not this model's
    assert proc.returncode != 0 and "not tiny seed 2" in proc.stderr


def test_model_is_full_integer_static_and_npu_only(factory_model: Path) -> None:
    tiny_model = factory_model
    pytest.importorskip("tensorflow")
    from factory.embedding import EXTRA, STRIDE, hop_frames
    from factory.export import EMBEDDER_STEPS
    from factory.export import WINDOW as EXPORT_WINDOW

    assert EXPORT_WINDOW == WINDOW
    runtime = json.loads(tiny_model.with_suffix(".json").read_text())
    meta = json.loads((tiny_model.parent / "model-meta.json").read_text())
    left, right = runtime.get("context", (0, 0))
    out = [[1, WINDOW // 2, N_OUTPUTS * runtime.get("members", 1)]]
    embedder = AcousticModel.embedder_path(tiny_model)
    if runtime.get("embedder"):
        # Split: the trained part takes log-mel frames and the window's embeddings; the
        # embedder turns speech-mel32 frames (the frozen network's context included) into them.
        hop = hop_frames(meta["phases"])
        ops = _graph_ops(tiny_model, [[1, WINDOW, 40], [1, WINDOW // hop, 96]], out)
        ops |= _graph_ops(embedder, [[1, STRIDE * EMBEDDER_STEPS + EXTRA, 32]],
                          [[1, EMBEDDER_STEPS * meta["phases"], 96]])
        assert meta["size_bytes"] == tiny_model.stat().st_size + embedder.stat().st_size
    else:
        assert not embedder.exists()
        # One input per front end: log-mel frames without context, speech-mel32 with the
        # frozen network's context.
        expected = {"logmel40": [1, WINDOW, 40], "speech-mel32": [1, left + WINDOW + right, 32]}
        ops = _graph_ops(tiny_model, [expected[p] for p in runtime["frontend"].split("+")], out)
    assert {o["op"] for o in meta["ops"]} == ops
    assert all(o["npu"] for o in meta["ops"])


def test_runtime_loads_the_factory_model(factory_model: Path) -> None:
    """The factory's output is what the runtime expects: phone log-probs every 20 ms."""
    tiny_model = factory_model
    model = AcousticModel(tiny_model)
    assert model.window == WINDOW
    calib = json.loads(tiny_model.with_suffix(".json").read_text())["calibration"]
    calib = calib if isinstance(calib, list) else [calib]
    assert model.calibrations == [Calibration(**c) for c in calib]
    assert model.members == len(calib)
    rng = np.random.default_rng(0)
    for seconds in (0.5, 9.3):  # one window, and several overlapping ones
        feats = model.features(
            (0.05 * rng.standard_normal(int(seconds * 16000))).astype(np.float32))
        members = model.member_log_probs(feats)
        assert len(members) == model.members
        for lp in members:
            assert lp.shape == ((len(feats) + 1) // 2, N_OUTPUTS)
            np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-4)
        np.testing.assert_array_equal(model.log_probs(feats), members[0])


def test_model_card_lists_licences(factory_model: Path) -> None:
    tiny_model = factory_model
    card = (tiny_model.parent / "MODEL_CARD.md").read_text()
    meta = json.loads((tiny_model.parent / "model-meta.json").read_text())
    pretrained = [("speech_embedding", "Apache-2.0")] if "speech-mel32" in meta["frontend"] \
        else []
    assert "## Data sources and licences" in card
    licences = card.split("## Data sources and licences", 1)[1].split("\n## ", 1)[0]
    for source, licence in [("espeak-ng", "GPL"), ("flite", "BSD"), ("festival", "X11"),
                            ("cmudict", "BSD-2-Clause"), ("TensorFlow", "Apache-2.0"),
                            *pretrained]:
        row = next((line for line in licences.splitlines() if source in line), None)
        assert row is not None, f"{source} missing from the licence table"
        assert licence in row, f"{source}: licence {licence} not stated"
    assert "evaluation only" in licences  # the Piper voice is named, as held out
    assert f"--preset {meta['preset']}" in card
    assert str(meta["train_examples"]) in card


def test_piper_joe_is_not_a_training_voice(tiny_model: Path) -> None:
    """The held-out evaluation voice must never reach training."""
    names = [*voices.ESPEAK_VOICES, *voices.ESPEAK_VARIANTS, *voices.FLITE_VOICES,
             *voices.FESTIVAL_VOICES, *voices.available_engines()]
    assert not [n for n in names if "joe" in n.lower() or "piper" in n.lower()]
    engines = voices.available_engines()
    assert set(engines) <= {"espeak", "flite", "festival"}
    rng = random.Random(0)
    drawn = {voices.random_voice(rng, engines).label for _ in range(2000)}
    assert not [v for v in drawn if "joe" in v.lower() or "piper" in v.lower()]
    meta = json.loads((tiny_model.parent / "model-meta.json").read_text())
    used = {v.split(":")[0] for v in meta["voices"]}
    assert used <= {"espeak", "flite", "festival"}, used


def test_held_out_voices_leave_training_and_make_the_dev_check() -> None:
    """``--hold-out``: a voice (and all its espeak variants) trains nothing and checks all."""
    from factory.dataset import Example, split_voices

    def ex(voice: str) -> Example:
        return Example(np.zeros((1, 40), np.float16), np.zeros(1, np.int16), "command", voice,
                       "turn on the kitchen light")

    train = [ex(v) for v in ("espeak:en-us", "espeak:en-us+m1", "espeak:en-gb-x-rp",
                             "flite:awb", "flite:kal")]
    dev = [ex("flite:awb"), ex("flite:slt"), ex("espeak:en-us+f3")]
    kept, check = split_voices(train, dev, ["espeak:en-us", "flite:awb"])
    assert [e.voice for e in kept] == ["espeak:en-gb-x-rp", "flite:kal"]
    assert sorted(e.voice for e in check) == [
        "espeak:en-us", "espeak:en-us+f3", "espeak:en-us+m1", "flite:awb", "flite:awb"]
    _, few = split_voices(train * 10, dev, ["flite:awb"], most=4)
    assert 0 < len(few) <= 4
    with pytest.raises(ValueError, match="flite:nobody"):
        split_voices(train, dev, ["flite:nobody"])


def test_hold_out_names_training_voices() -> None:
    assert voices.is_voice("flite:awb") and voices.is_voice("festival:ked_diphone")
    assert voices.is_voice("espeak:en-us") and voices.is_voice("espeak:en-us+f3")
    assert not voices.is_voice("flite:bob") and not voices.is_voice("espeak:en-us+nobody")
    assert not voices.is_voice("piper:joe") and not voices.is_voice("awb")


def test_weights_of_a_run_export_the_same_model(tiny_hybrid_model: Path,
                                                tmp_path: Path) -> None:
    """``--weights`` re-exports a trained network without training: the factory keeps each
    run's weights next to its data, and the same weights give the same int8 model (the same
    outputs; the flatbuffer's layout may differ)."""
    cache = tiny_hybrid_model.parents[1] / "cache"
    weights = cache / "weights-tiny-hybrid-1.h5"
    assert weights.is_file()
    proc = subprocess.run(
        [sys.executable, "-m", "factory", "--preset", "tiny-hybrid", "--out", str(tmp_path),
         "--cache", str(cache), "--weights", str(weights), "--config", str(DEMO_CONFIG)],
        cwd=ROOT / "models", env=subprocess_env(), capture_output=True, text=True,
        timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "instead of training" in proc.stderr
    again, first = AcousticModel(tmp_path / "edgeasr.tflite"), AcousticModel(tiny_hybrid_model)
    rng = np.random.default_rng(1)
    feats = first.features((0.05 * rng.standard_normal(3 * 16000)).astype(np.float32))
    np.testing.assert_array_equal(again.logits(feats), first.logits(feats))



def test_several_weights_export_one_ensemble(tiny_hybrid_model: Path, tmp_path: Path) -> None:
    """``--weights A B`` exports the hybrids as one graph that averages their phone logits
    (the frozen network beside it runs once for all). B here is A with its output layer
    scaled by -0.5, so B's logits are -0.5 times A's and their average a quarter of A's."""
    import h5py

    cache = tiny_hybrid_model.parents[1] / "cache"
    weights = cache / "weights-tiny-hybrid-1.h5"
    scaled = tmp_path / "scaled.h5"
    shutil.copy(weights, scaled)
    with h5py.File(scaled, "r+") as h5:
        for name in ("kernel:0", "bias:0"):
            w = h5[f"phone_logits/phone_logits/{name}"]
            w[...] = -0.5 * w[...]
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "factory", "--preset", "tiny-hybrid", "--out", str(out),
         "--cache", str(cache), "--weights", str(weights), str(scaled),
         "--config", str(DEMO_CONFIG)],
        cwd=ROOT / "models", env=subprocess_env(), capture_output=True, text=True,
        timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((out / "model-meta.json").read_text())
    assert meta["averaged_members"] == 2 and "members" not in meta
    assert "2 such trained parts" in (out / "MODEL_CARD.md").read_text()
    from factory.export import NPU_OPS

    assert {op["op"] for op in meta["ops"]} <= NPU_OPS
    pair, first = AcousticModel(out / "edgeasr.tflite"), AcousticModel(tiny_hybrid_model)
    rng = np.random.default_rng(2)
    feats = first.features((0.05 * rng.standard_normal(3 * 16000)).astype(np.float32))
    alone, together = first.logits(feats), pair.logits(feats)
    assert together.shape == alone.shape
    np.testing.assert_allclose(together, alone / 4, atol=0.02 * np.abs(alone).max())


def test_pair_preset_trains_two_networks_apart_and_exports_them_side_by_side(
        tiny_pair_model: Path, tmp_path: Path) -> None:
    """A preset of two members, each with its own data, trains each from its own seed on
    data synthesised from that seed (the second without the held-out voices), keeps both
    weights, and exports one graph with both members' logits side by side, a calibration
    for each and the agreement bonus; its two weights files re-export the same model."""
    from factory.__main__ import DEV_VOICES  # imports TensorFlow

    cache = tiny_pair_model.parents[1] / "cache"
    weights = [cache / "weights-tiny-pair-1.h5", cache / "weights-tiny-pair-1-m1.h5"]
    assert all(w.is_file() for w in weights)
    second = list(cache.glob("data-*-2-train-festival_ked_diphone-flite_awb-flite_rms.pkl"))
    assert len(second) == 1, sorted(p.name for p in cache.iterdir())
    made = pickle.loads(second[0].read_bytes())
    assert made and not any(dataset.has_voice(e.voice, list(DEV_VOICES)) for e in made)
    runtime = json.loads(tiny_pair_model.with_suffix(".json").read_text())
    assert runtime["members"] == 2 and runtime["agreement_bonus"] == pytest.approx(0.1)
    assert len(runtime["calibration"]) == 2
    meta = json.loads((tiny_pair_model.parent / "model-meta.json").read_text())
    assert meta["members"] == 2 and meta["dev"]["calibration"] == runtime["calibration"]
    assert meta["member_data"] is True and meta["seconds"]["member_data"] > 0
    assert "2 such trained parts, each trained alone on its own data" in (
        tiny_pair_model.parent / "MODEL_CARD.md").read_text()
    model = AcousticModel(tiny_pair_model)
    rng = np.random.default_rng(4)
    feats = model.features((0.05 * rng.standard_normal(3 * 16000)).astype(np.float32))
    first, second = model.member_log_probs(feats)
    assert np.abs(first - second).max() > 0.01  # trained apart: not the same network
    # One file per member, no more, no fewer.
    proc = subprocess.run(
        [sys.executable, "-m", "factory", "--preset", "tiny-pair", "--out", str(tmp_path),
         "--cache", str(cache), "--weights", str(weights[0]), "--config", str(DEMO_CONFIG)],
        cwd=ROOT / "models", env=subprocess_env(), capture_output=True, text=True,
        timeout=600, check=False)
    assert proc.returncode != 0 and "2 members" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "factory", "--preset", "tiny-pair", "--out", str(tmp_path),
         "--cache", str(cache), "--weights", *map(str, weights), "--config", str(DEMO_CONFIG),
         "--threshold", str(TINY_THRESHOLD), "--noise-allowance", "0.15",
         "--noisy-below-db", "25"],
        cwd=ROOT / "models", env=subprocess_env(), capture_output=True, text=True,
        timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    again = AcousticModel(tmp_path / "edgeasr.tflite")
    np.testing.assert_array_equal(again.logits(feats), model.logits(feats))
    assert again.calibrations == model.calibrations
    # The noise rule chosen after training goes to the runtime and into the card.
    assert (again.noise_allowance, again.noisy_below_db) == (0.15, 25.0)
    assert (model.noise_allowance, model.noisy_below_db) == (0.0, 0.0)
    assert "0.15 less confidence" in (tmp_path / "MODEL_CARD.md").read_text()
    # A noisy-room setting needs the level under which a room is noisy.
    for setting in (["--noise-allowance", "0.15"], ["--noisy-outside-limit", "-0.5"]):
        proc = subprocess.run(
            [sys.executable, "-m", "factory", "--preset", "tiny-pair", "--out", str(tmp_path),
             *setting],
            cwd=ROOT / "models", env=subprocess_env(), capture_output=True, text=True,
            timeout=600, check=False)
        assert proc.returncode != 0 and "--noisy-below-db goes with" in proc.stderr, setting


def test_member_count_must_divide_the_outputs(tiny_hybrid_model: Path, tmp_path: Path) -> None:
    """An edgeasr.json that claims more members than the model's outputs hold is refused
    with the file named, and so is a calibration list of the wrong length."""
    model = copy_model(tiny_hybrid_model, tmp_path)
    meta_path = model.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "members": 3}))
    with pytest.raises(ModelError, match=r"edgeasr\.json: members 3"):
        AcousticModel(model)
    meta_path.write_text(json.dumps({**meta, "members": 1,
                                     "calibration": [meta["calibration"]] * 2}))
    with pytest.raises(ModelError, match="2 calibrations for 1 member"):
        AcousticModel(model)
    meta_path.write_text(json.dumps({**meta, "agreement_bonus": "0.1"}))
    with pytest.raises(ModelError, match=r"agreement_bonus '0.1': expected a number"):
        AcousticModel(model)


def test_view_dropout_silences_one_view_of_some_examples_never_both() -> None:
    """``drop_view`` (preset hybrid-drop) gives some training examples only their quiet floor
    in the log-mel input and others only in the embeddings, never both; 0 leaves all whole."""
    from factory.dataset import Example
    from factory.train import _batches

    rng = np.random.default_rng(0)
    examples = [Example(rng.normal(size=(200 + 4 * i, 40)).astype(np.float16),
                        np.ones(3, np.int16), "command", "flite:kal", "x",
                        extra=rng.normal(size=(60 + i, 96)).astype(np.float16))
                for i in range(60)]

    def silenced(drop: float) -> tuple[int, int, int]:
        mel = emb = both = 0
        for (x, e), *_ in _batches(examples, 4000, np.random.default_rng(1), augment=True,
                                   drop_view=drop):
            for xi, ei in zip(x, e, strict=True):
                m, b = bool(np.ptp(xi, axis=0).max() == 0), bool(np.ptp(ei, axis=0).max() == 0)
                mel, emb, both = mel + m, emb + b, both + (m and b)
        return mel, emb, both

    mel, emb, both = silenced(0.25)
    assert mel > 3 and emb > 3 and both == 0
    assert silenced(0.0) == (0, 0, 0)


def test_floors_computed_once_make_the_same_batches() -> None:
    """train.train computes each example's quiet floor once for all epochs (floors_of); the
    batches must be those that computing it for every batch made."""
    from factory.dataset import Example
    from factory.train import _batches, floors_of

    rng = np.random.default_rng(0)
    examples = [Example(rng.normal(size=(200 + 4 * i, 40)).astype(np.float16),
                        np.ones(3, np.int16), "command", "flite:kal", "x",
                        extra=rng.normal(size=(70 + i, 96)).astype(np.float16))
                for i in range(30)]
    kwargs = {"augment": True, "lead": 40, "drop_view": 0.2}
    floors = floors_of(examples)
    for a, b in zip(_batches(examples, 3000, np.random.default_rng(1), **kwargs),
                    _batches(examples, 3000, np.random.default_rng(1), floors=floors,
                             **kwargs), strict=True):
        for u, v in zip((*a[0], *a[1:]), (*b[0], *b[1:]), strict=True):
            np.testing.assert_array_equal(u, v)
    # The floors given are what pads: raised, the padding rows carry them.
    raised = [f + 100 for f in floors]
    for (x, _), *_ in _batches(examples, 3000, np.random.default_rng(1), lead=40,
                               floors=raised):
        assert (x > 50).any()
    for (x, _), *_ in _batches(examples, 3000, np.random.default_rng(1), lead=40):
        assert not (x > 50).any()

def test_hybrid_training_puts_quiet_of_random_length_before_both_inputs() -> None:
    """Training batches put 0-400 ms of quiet in front of each utterance, the same span in
    the log-mel frames and in the embeddings (whose cache starts LEAD_PAD frames early), so
    the network cannot learn where speech starts from where its input starts."""
    from factory.dataset import Example
    from factory.train import EMB_HOP, LEAD_PAD, _batches

    rng = np.random.default_rng(0)
    examples = []
    for n in rng.integers(40, 120, 24):
        n = int(n - n % EMB_HOP)
        # Frame f holds f + 1, but the last 8 are quiet (0: the utterance's floor); embedding
        # row j (40 ms) holds the first frame it covers + 1, the cached lead before it -1.
        frames = np.where(np.arange(n) < n - 8, np.arange(1, n + 1), 0)
        feats = np.repeat(frames[:, None], 40, 1).astype(np.float16)
        emb = np.concatenate([np.full(LEAD_PAD // EMB_HOP, -1), np.arange(1, n + 1, EMB_HOP)])
        examples.append(Example(feats, np.ones(3, np.int16), "command", "flite:kal", "x",
                                extra=np.repeat(emb[:, None], 96, 1).astype(np.float16)))
    fronts = set()
    for (x, e), _, xl, _ in _batches(examples, 2000, np.random.default_rng(1),
                                     lead=LEAD_PAD):
        assert x.shape[1] % EMB_HOP == 0 and e.shape[1] == x.shape[1] // EMB_HOP
        for xi, ei, n_out in zip(x, e, xl, strict=True):
            front = int(np.argmax(xi[:, 0] > 0))
            fronts.add(front)
            assert front % EMB_HOP == 0 and 0 <= front <= LEAD_PAD
            assert xi[front, 0] == 1 and not xi[:front].any()
            # Each embedding lines up with the log-mel frames it covers.
            assert (ei[: front // EMB_HOP, 0] == -1).all() and ei[front // EMB_HOP, 0] == 1
            n = int(xi[:, 0].max()) + 8  # the utterance's length: its loudest frame + 8 quiet
            assert n_out == (front + n + 1) // 2
    assert len(fronts) > 4  # the span varies
    # Without ``lead`` (the batches counted for the schedule) nothing goes in front.
    for (x, _), *_ in _batches(examples, 2000, np.random.default_rng(1)):
        assert (x[:, 0, 0] == 1).all()


def test_training_refuses_examples_that_mix_hybrid_and_log_mel_only() -> None:
    """Whether a run trains the hybrid network is read off its examples: a mix (a stale
    cache beside a fresh one) is an error, not whatever the first example says."""
    from factory.dataset import Example
    from factory.train import is_hybrid

    feats, label = np.zeros((40, 40), np.float16), np.ones(3, np.int16)
    plain = Example(feats, label, "command", "flite:kal", "x")
    hybrid = Example(feats, label, "command", "flite:kal", "x",
                     extra=np.zeros((10, 96), np.float16))
    assert is_hybrid([hybrid, hybrid]) and not is_hybrid([plain, plain])
    with pytest.raises(ValueError, match="mix"):
        is_hybrid([hybrid, plain])


def test_batches_made_ahead_come_in_order_and_their_errors_reach_training() -> None:
    """``train.ahead``: training gets the very batches the generator makes, in its order,
    and an error while making one stops training with that error."""
    from factory.train import ahead

    assert list(ahead(iter(range(9)), depth=2)) == list(range(9))

    def broken():
        yield "first"
        raise ValueError("batch 2: bad example")

    got = []
    with pytest.raises(ValueError, match="batch 2: bad example"):
        for batch in ahead(broken()):
            got.append(batch)
    assert got == ["first"]


def test_training_loss_is_ctc_per_label_phone_of_each_padded_label() -> None:
    """The factory hands TensorFlow sparse labels (its fast CTC kernel); the loss must be
    what the dense, padded labels mean: each utterance's CTC over its own ``yl`` phones
    (padding is not label), divided by that count, averaged. Checked against TensorFlow's
    dense-label CTC, and the padding must not count."""
    tf = pytest.importorskip("tensorflow")
    from factory.train import ctc_per_phone

    rng = np.random.default_rng(3)
    yl = np.array([5, 2, 7], np.int32)
    xl = np.array([30, 12, 40], np.int32)
    y = np.zeros((3, 7), np.int32)
    for j, n in enumerate(yl):
        y[j, :n] = rng.integers(1, N_OUTPUTS, n)
    logits = tf.constant(rng.normal(size=(3, 40, N_OUTPUTS)), tf.float32)
    dense = tf.nn.ctc_loss(y, logits, yl, xl, logits_time_major=False, blank_index=0)
    want = float(np.mean(dense.numpy() / yl))
    assert float(ctc_per_phone(tf.constant(y), logits, tf.constant(yl),
                               tf.constant(xl))) == pytest.approx(want, rel=1e-5)
    # One utterance's label cut shorter is another loss: the lengths are read, not the zeros.
    shorter = yl.copy()
    shorter[2] = 4
    assert float(ctc_per_phone(tf.constant(y), logits, tf.constant(shorter),
                               tf.constant(xl))) != pytest.approx(want, rel=1e-3)


def test_one_offset_of_the_frozen_network_halves_its_operations(
        tiny_hybrid_model: Path, tiny_hybrid_1_model: Path) -> None:
    """The hybrid at one offset (an embedding every 80 ms) runs the frozen network once per
    window instead of twice; the trained part is the same size, so most of the saving
    stays (bench.npu counts the multiply-accumulates from the graph)."""
    from bench.npu import analyse

    two, one = analyse(tiny_hybrid_model), analyse(tiny_hybrid_1_model)
    assert one.macs < 0.6 * two.macs
    assert json.loads((tiny_hybrid_1_model.parent / "model-meta.json").read_text())[
        "phases"] == 1


def test_split_model_computes_each_embedding_once_where_each_window_expects_it(
        tiny_hybrid_model: Path) -> None:
    """A split hybrid's runtime embeds a whole utterance once and gives each window its
    slice: that must be exactly what each window gets when its own embeddings are computed
    from its own chunk (the tensor tools and tests feed chunks), and those must be the frozen
    network's float embeddings at the rows training put them (embedding i from row 4i)."""
    pytest.importorskip("tensorflow")
    import tensorflow as tf

    from factory import embedding

    model = AcousticModel(tiny_hybrid_model)
    assert model.embedder is not None
    rng = np.random.default_rng(3)
    feats = model.features((0.05 * rng.standard_normal(16000 * 9)).astype(np.float32))
    chunks = list(model.chunks(feats))
    assert len(chunks) > 2  # several overlapping windows
    per_window = np.concatenate([model._run(c)[lo:hi] for c, lo, hi in chunks])
    n_out = (len(feats) + 1) // 2
    from edgeasr.acoustic import LEAD_FRAMES

    np.testing.assert_array_equal(model.logits(feats, lead=True),
                                  per_window[: LEAD_FRAMES + n_out])
    chunk = chunks[1][0]
    cols = slice(N_MELS, N_MELS + 32)
    frames = len(chunk)
    backbone = embedding.build_backbone(ROOT / "models" / ".cache" / "pretrained")
    inp = tf.keras.Input((frames, 32), batch_size=1)
    ref = tf.keras.Model(inp, embedding.phased(backbone, inp, frames, 2))(
        chunk[None, :, cols].astype(np.float32)).numpy()[0][: WINDOW // 4]
    got = model._embed(chunk, WINDOW // 4)
    assert np.corrcoef(got.ravel(), ref.ravel())[0, 1] > 0.98


def test_split_model_without_its_embedder_is_a_clear_error(tiny_hybrid_model: Path,
                                                            tmp_path: Path) -> None:
    for suffix in (".tflite", ".json"):
        shutil.copy(tiny_hybrid_model.with_suffix(suffix), tmp_path / f"m{suffix}")
    with pytest.raises(ModelError, match=r"m\.embedder\.tflite not found"):
        AcousticModel(tmp_path / "m.tflite")


def test_split_model_is_safe_to_share_between_threads(tiny_hybrid_model: Path) -> None:
    """The service decodes on a worker thread while another may load or decode: both of a
    split model's interpreters run one inference at a time, so answers do not mix."""
    from concurrent.futures import ThreadPoolExecutor

    model = AcousticModel(tiny_hybrid_model)
    rng = np.random.default_rng(5)
    clips = [model.features((0.05 * rng.standard_normal(int(16000 * s))).astype(np.float32))
             for s in (1.0, 6.5, 2.2, 9.0)]
    alone = [model.logits(f) for f in clips]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(model.logits, clips * 3))
    for got, want in zip(together, alone * 3, strict=True):
        np.testing.assert_array_equal(got, want)


def test_dev_check_gives_the_same_figures_in_parallel(tiny_model: Path, tmp_path: Path) -> None:
    """The factory's dev check decodes with ``--workers`` processes; the figures and the
    calibration written beside the model are those of one process."""
    import pickle

    from factory import devcheck

    cache = tiny_model.parents[1] / "cache"
    _, dev = pickle.loads(next(cache.glob("data-*.pkl")).read_bytes())
    figures = []
    for workers in (1, 2):
        d = tmp_path / str(workers)
        model = copy_model(tiny_model, d)
        figures.append(devcheck.run(model, dev, DEMO_CONFIG, TINY_THRESHOLD, workers))
        assert json.loads((d / "edgeasr.json").read_text())["calibration"] == \
            figures[-1]["calibration"]
    assert figures[0] == figures[1]
    assert figures[0]["commands"] + figures[0]["non_commands"] == len(dev)
