"""Building config validation: each mistake is reported with file, line, key and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeasr.building import ConfigError, group_address_raw, load_building

ROOT = Path(__file__).resolve().parents[1]
DEMO_TEXT = (ROOT / "examples" / "demo-building.yaml").read_text()


def line_of(text: str, needle: str, nth: int = 0) -> int:
    """1-based line of the ``nth`` line containing ``needle``."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[nth]


def write(tmp_path: Path, text: str, name: str = "house.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def config_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_building(path)
    return info.value


def test_demo_building_loads() -> None:
    b = load_building(ROOT / "examples" / "demo-building.yaml")
    assert [r.name for r in b.rooms] == [
        "kitchen",
        "living room",
        "bedroom",
        "office",
        "bathroom",
        "hallway",
    ]
    living = b.room("living room")
    assert living is not None
    blinds = living.device("blinds")
    assert blinds is not None and blinds.functions.stop is not None
    assert (blinds.functions.stop.ga, blinds.functions.stop.dpt) == ("2/2/2", "1.017")
    assert b.central.all_lights_off is not None and b.central.all_lights_off.ga == "1/0/0"
    assert b.scenes is not None and b.scenes.values == {
        "movie": 1,
        "good night": 2,
        "good morning": 3,
    }
    assert sum(1 for _ in b.addresses()) == 20  # the 20 rows of the contract table


def test_typo_key(tmp_path: Path) -> None:
    text = DEMO_TEXT.replace("          brightness: {ga: 1/2/3", "          brightnes: {ga: 1/2/3")
    err = config_error(write(tmp_path, text))
    msg = str(err)
    assert "house.yaml" in msg
    assert f":{line_of(text, 'brightnes: {ga: 1/2/3')}:" in msg
    assert "rooms[1].devices[0].functions.brightnes" in msg
    assert "did you mean 'brightness'" in msg
    assert len(err.problems) == 1


def test_typo_required_key_reported_once(tmp_path: Path) -> None:
    text = DEMO_TEXT.replace("  - name: office", "  - nmae: office")
    err = config_error(write(tmp_path, text))
    assert len(err.problems) == 1, str(err)
    assert f"house.yaml:{line_of(text, 'nmae: office')}: rooms[3].nmae" in str(err)
    assert "expected one of: name, aliases, devices" in str(err)


def test_unknown_dpt(tmp_path: Path) -> None:
    text = DEMO_TEXT.replace(
        'setpoint: {ga: 3/4/1, dpt: "9.001"}', 'setpoint: {ga: 3/4/1, dpt: "9.999"}'
    )
    msg = str(config_error(write(tmp_path, text)))
    assert f"house.yaml:{line_of(text, '9.999')}:" in msg
    assert "rooms[3].devices[1].functions.setpoint.dpt" in msg
    assert "unknown DPT '9.999'" in msg


def test_wrong_dpt_for_function(tmp_path: Path) -> None:
    text = DEMO_TEXT.replace(
        'brightness: {ga: 1/3/3, dpt: "5.001"}', 'brightness: {ga: 1/3/3, dpt: "9.001"}'
    )
    msg = str(config_error(write(tmp_path, text)))
    assert f"house.yaml:{line_of(text, 'brightness: {ga: 1/3/3')}:" in msg
    assert "rooms[2].devices[0].functions.brightness.dpt" in msg
    assert "needs DPT 5.001" in msg


def test_unquoted_dpt(tmp_path: Path) -> None:
    text = DEMO_TEXT.replace('switch: {ga: 1/1/1, dpt: "1.001"}', "switch: {ga: 1/1/1, dpt: 1.001}")
    msg = str(config_error(write(tmp_path, text)))
    assert (
        f"house.yaml:{line_of(text, 'ga: 1/1/1')}: rooms[0].devices[0].functions.switch.dpt" in msg
    )
    assert "quotes" in msg


def test_duplicate_group_address(tmp_path: Path) -> None:
    text = DEMO_TEXT.replace("switch: {ga: 1/6/1", "switch: {ga: 1/1/1")
    msg = str(config_error(write(tmp_path, text)))
    second = line_of(text, "switch: {ga: 1/1/1", nth=1)
    first = line_of(text, "switch: {ga: 1/1/1", nth=0)
    assert f"house.yaml:{second}: rooms[5].devices[0].functions.switch.ga" in msg
    assert "rooms[0].devices[0].functions.switch" in msg and f"line {first}" in msg


def test_duplicate_group_address_across_notations(tmp_path: Path) -> None:
    # 2-level 1/0 and 3-level 1/0/0 are the same 16-bit address
    text = DEMO_TEXT.replace("switch: {ga: 1/6/1", "switch: {ga: 1/0")
    msg = str(config_error(write(tmp_path, text)))
    assert "central.all_lights_off.ga: group address 1/0/0 is already used by rooms[5]" in msg


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ("1/8/1", "middle group 8 out of range 0..7"),
        ("32/0/1", "main group 32 out of range 0..31"),
        ("1/2/256", "sub group 256 out of range 0..255"),
        ("1-2-3", "expected main/middle/sub"),
        ("0/0/0", "broadcast"),
        ("1/2048", "sub group 2048 out of range 0..2047"),
    ],
)
def test_bad_group_address(tmp_path: Path, bad: str, needle: str) -> None:
    text = DEMO_TEXT.replace("switch: {ga: 1/6/1", f"switch: {{ga: {bad}")
    msg = str(config_error(write(tmp_path, text)))
    assert (
        f"house.yaml:{line_of(text, f'ga: {bad},')}: rooms[5].devices[0].functions.switch.ga" in msg
    )
    assert needle in msg


def test_group_address_notations() -> None:
    assert group_address_raw("1/1/1") == 2305
    assert group_address_raw("31/7/255") == 65535
    assert group_address_raw("1/257") == 2305
    assert group_address_raw("2305") == 2305


def test_room_without_devices(tmp_path: Path) -> None:
    text = DEMO_TEXT.replace(
        "  - name: hallway\n",
        "  - name: garage\n    devices: []\n\n  - name: hallway\n",
    )
    msg = str(config_error(write(tmp_path, text)))
    assert f"house.yaml:{line_of(text, 'devices: []')}: rooms[5].devices" in msg
    assert "'garage' has no devices" in msg


def test_duplicate_room_name(tmp_path: Path) -> None:
    text = DEMO_TEXT.replace("  - name: hallway\n", "  - name: Kitchen\n")
    msg = str(config_error(write(tmp_path, text)))
    assert f"house.yaml:{line_of(text, 'name: Kitchen')}: rooms[5].name" in msg
    assert "'kitchen' is already used by rooms[0].name" in msg


def test_function_not_for_type(tmp_path: Path) -> None:
    text = DEMO_TEXT.replace(
        "      - type: fan\n        functions:\n",
        '      - type: fan\n        functions:\n          brightness: {ga: 5/5/2, dpt: "5.001"}\n',
    )
    msg = str(config_error(write(tmp_path, text)))
    assert (
        f"house.yaml:{line_of(text, 'ga: 5/5/2')}: rooms[4].devices[1].functions.brightness" in msg
    )
    assert "a fan has no function 'brightness'; expected: switch" in msg


def test_bad_device_type(tmp_path: Path) -> None:
    text = DEMO_TEXT.replace("      - type: fan\n", "      - type: fann\n")
    msg = str(config_error(write(tmp_path, text)))
    assert f"house.yaml:{line_of(text, 'type: fann')}: rooms[4].devices[1].type" in msg
    assert "'light', 'blinds', 'heating' or 'fan'" in msg


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = DEMO_TEXT.replace("    movie: 1\n", "    movie: 1\n    movie: 4\n")
    msg = str(config_error(write(tmp_path, text)))
    assert f"house.yaml:{line_of(text, 'movie: 4')}: scenes.values.movie: duplicate key" in msg


def test_scene_number_range(tmp_path: Path) -> None:
    text = DEMO_TEXT.replace("    movie: 1\n", "    movie: 65\n")
    msg = str(config_error(write(tmp_path, text)))
    assert f"house.yaml:{line_of(text, 'movie: 65')}: scenes.values.movie" in msg
    assert "64" in msg


def test_not_yaml(tmp_path: Path) -> None:
    msg = str(config_error(write(tmp_path, "rooms: [kitchen\nbuilding: {")))
    assert "house.yaml:" in msg and "not valid YAML" in msg


def test_empty_and_missing_file(tmp_path: Path) -> None:
    assert "empty" in str(config_error(write(tmp_path, "")))
    assert "cannot read" in str(config_error(tmp_path / "nope.yaml"))


def test_missing_required_top_level(tmp_path: Path) -> None:
    msg = str(config_error(write(tmp_path, "building: {name: x}\n")))
    assert "house.yaml:1: rooms: missing required key 'rooms'" in msg


def test_filler_penalty_is_optional_and_must_be_negative(tmp_path: Path) -> None:
    assert load_building(ROOT / "examples" / "demo-building.yaml").recognizer.filler_penalty \
        is None
    assert "\nrecognizer:" not in DEMO_TEXT

    def with_filler(value: str) -> str:
        return DEMO_TEXT + f"\nrecognizer:\n  threshold: 0.6\n  filler_penalty: {value}\n"

    ok = load_building(write(tmp_path, with_filler("-0.5"), "ok.yaml"))
    assert ok.recognizer.filler_penalty == -0.5
    err = config_error(write(tmp_path, with_filler("0.5")))
    assert "recognizer.filler_penalty" in str(err) and "less than 0" in str(err)


def test_threshold_left_out_is_the_models_own(tmp_path: Path, shipped_model: Path) -> None:
    """A building without recognizer.threshold gets the model's (its edgeasr.json), so a new
    model brings the threshold chosen with its calibration; one that sets it keeps its own;
    --threshold (the argument) wins over both."""
    pytest.importorskip("tflite_runtime")
    import json

    from conftest import copy_model

    from edgeasr.recognizer import Recognizer

    model = copy_model(shipped_model, tmp_path / "model")
    meta = json.loads(model.with_suffix(".json").read_text())
    model.with_suffix(".json").write_text(json.dumps({**meta, "threshold": 0.42}))

    no_key = write(tmp_path, DEMO_TEXT + "\nrecognizer:\n  filler_penalty: -0.5\n", "a.yaml")
    no_section = write(tmp_path, DEMO_TEXT, "b.yaml")
    own = write(tmp_path, DEMO_TEXT + "\nrecognizer:\n  threshold: 0.3\n", "c.yaml")
    assert load_building(no_key).recognizer.threshold is None
    assert Recognizer.from_config(no_key, model).threshold == 0.42
    assert Recognizer.from_config(no_section, model).threshold == 0.42
    assert Recognizer.from_config(no_section).threshold == meta["threshold"]
    assert Recognizer.from_config(own, model).threshold == 0.3
    assert Recognizer.from_config(own, model, threshold=0.9).threshold == 0.9


def test_noise_allowance_is_the_models_unless_the_building_sets_it(
        tmp_path: Path, shipped_model: Path) -> None:
    """recognizer.noise_allowance: left out, the model's (edgeasr.json); set, the building's
    (0 judges noisy rooms like quiet ones); outside 0..1, an error naming the key."""
    pytest.importorskip("tflite_runtime")
    import json

    from conftest import copy_model

    from edgeasr.recognizer import Recognizer

    model = copy_model(shipped_model, tmp_path / "model")
    meta = json.loads(model.with_suffix(".json").read_text())
    model.with_suffix(".json").write_text(json.dumps(
        {**meta, "noise_allowance": 0.2, "noisy_below_db": 25}))
    left_out = write(tmp_path, DEMO_TEXT, "a.yaml")
    off = write(tmp_path, DEMO_TEXT + "\nrecognizer:\n  noise_allowance: 0\n", "b.yaml")
    assert Recognizer.from_config(left_out, model).noise_allowance == 0.2
    recognizer = Recognizer.from_config(off, model)
    assert recognizer.noise_allowance == 0.0
    assert recognizer.threshold_for(10.0) == recognizer.threshold
    err = config_error(write(tmp_path, DEMO_TEXT + "\nrecognizer:\n  noise_allowance: 2\n"))
    assert "recognizer.noise_allowance" in str(err) and "less than or equal to 1" in str(err)


def test_noisy_outside_limit_is_the_models_unless_the_building_sets_it(
        tmp_path: Path, shipped_model: Path) -> None:
    """recognizer.noisy_outside_limit: left out, the model's (edgeasr.json); set, the
    building's (the quiet room's -0.2 turns the relaxation off); outside -10..0, an error
    naming the key."""
    pytest.importorskip("tflite_runtime")
    import json

    from conftest import copy_model

    from edgeasr.recognizer import OUTSIDE_LIMIT, Recognizer

    model = copy_model(shipped_model, tmp_path / "model")
    meta = json.loads(model.with_suffix(".json").read_text())
    model.with_suffix(".json").write_text(json.dumps(
        {**meta, "noisy_below_db": 25, "noisy_outside_limit": -0.5}))
    left_out = Recognizer.from_config(write(tmp_path, DEMO_TEXT, "a.yaml"), model)
    assert left_out.outside_limit_for(10.0) == -0.5
    off = Recognizer.from_config(write(
        tmp_path, DEMO_TEXT + f"\nrecognizer:\n  noisy_outside_limit: {OUTSIDE_LIMIT}\n",
        "b.yaml"), model)
    assert off.outside_limit_for(10.0) == OUTSIDE_LIMIT
    err = config_error(write(tmp_path, DEMO_TEXT + "\nrecognizer:\n  noisy_outside_limit: 0.5\n"))
    assert "recognizer.noisy_outside_limit" in str(err) and "less than or equal to 0" in str(err)


def test_rival_limit_is_the_models_unless_the_building_sets_it(
        tmp_path: Path, shipped_model: Path) -> None:
    """recognizer.rival_limit: left out, the model's (edgeasr.json; absent there, no rule);
    set, the building's; under 0, an error naming the key."""
    pytest.importorskip("tflite_runtime")
    import json

    from conftest import copy_model

    from edgeasr.recognizer import Recognizer

    model = copy_model(shipped_model, tmp_path / "model")
    meta = json.loads(model.with_suffix(".json").read_text())
    model.with_suffix(".json").write_text(json.dumps({**meta, "rival_limit": 0.1}))
    assert Recognizer.from_config(write(tmp_path, DEMO_TEXT, "a.yaml"), model).rival_limit == 0.1
    own = Recognizer.from_config(write(
        tmp_path, DEMO_TEXT + "\nrecognizer:\n  rival_limit: 0.3\n", "b.yaml"), model)
    assert own.rival_limit == 0.3
    meta.pop("rival_limit", None)
    model.with_suffix(".json").write_text(json.dumps(meta))
    assert Recognizer.from_config(write(tmp_path, DEMO_TEXT, "c.yaml"), model).rival_limit is None
    err = config_error(write(tmp_path, DEMO_TEXT + "\nrecognizer:\n  rival_limit: -1\n"))
    assert "recognizer.rival_limit" in str(err) and "greater than or equal to 0" in str(err)
