"""``edgeasr import-ets``: a real .knxproj (built by tests/ets_project.py) parsed by xknxproject."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ets_project import write_knxproj

from edgeasr.building import load_building
from edgeasr.cli import main
from edgeasr.ets import spoken_name
from edgeasr.grammar import building_grammar

pytest.importorskip("xknxproject", reason="ETS import needs xknxproject (pip install xknxproject)")


def _import(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str
            ) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["import-ets", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _devices(path: Path) -> dict[str, list[tuple[str, str | None, dict[str, tuple[str, str]]]]]:
    b = load_building(path)
    return {r.name: [(d.type, d.name, {f: (a.ga, a.dpt) for f, a in d.functions.items()})
                     for d in r.devices] for r in b.rooms}


def test_import_maps_rooms_functions_and_dpts(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    project = write_knxproj(tmp_path / "house.knxproj")
    out = tmp_path / "building.yaml"
    rc, stdout, err = _import(tmp_path, capsys, str(project), "-o", str(out))
    assert rc == 0, err
    assert _devices(out) == {
        "ground floor kitchen": [("light", None, {"switch": ("1/1/1", "1.001")})],
        "living room": [
            ("light", "ceiling light", {"switch": ("1/2/1", "1.001"),
                                        "brightness": ("1/2/3", "5.001")}),
            # ETS gave only the main type DPT 1: every 1.x encodes the same bit
            ("light", "wall light", {"switch": ("1/2/5", "1.001")}),
            ("blinds", None, {"up_down": ("2/2/1", "1.008"), "stop": ("2/2/2", "1.017"),
                              "position": ("2/2/3", "5.001")}),
        ],
        "first floor kitchen": [("light", None, {"switch": ("1/7/1", "1.001")})],
        "bedroom two": [("heating", None, {"setpoint": ("3/3/1", "9.001")})],
        "buero": [("fan", None, {"switch": ("4/4/1", "1.001")})],
    }
    building = load_building(out)
    assert building.building.name == "Test House"
    assert building.room("buero").devices[0].aliases == ["ventilator"]

    # The report names every thing left out, and why.
    report = stdout.split("not imported", 1)[1]
    expected = {
        '1/5/1 "Bathroom mirror light": no DPT': "no DPT",
        '5/0/2 "Weather station vendor data": unknown DPT 999.001': "unknown DPT",
        '1/1/2 "Kitchen light status": status feedback': "status",
        '3/3/2 "Bedroom actual temperature": status feedback': "measured temperature",
        '2/2/4 "Living blinds slat angle"': "slats",
        '1/2/2 "Living ceiling light dimming": DPT 3.007': "relative dimming",
        '5/0/1 "Weather station wind speed": not part of any room function': "no function",
        'function "Gadget"': "unknown kind",
        '1/1/1 "Kitchen light switch": already used by function "Kitchen light"': "GA reused",
        'room "Test House > First floor > Bathroom"': "no usable function",
        'device 1.1.5 "Push button hall": placed in no room': "device without room",
    }
    for needle, what in expected.items():
        assert needle in report, f"{what} missing from the report:\n{report}"
    assert f"-> {out}" in stdout
    # The same report heads the file, as comments, for whoever edits it next.
    assert '#   - device 1.1.5 "Push button hall"' in out.read_text()


def test_imported_building_compiles_to_the_right_telegrams(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "building.yaml"
    assert _import(tmp_path, capsys, str(write_knxproj(tmp_path / "h.knxproj")),
                   "-o", str(out))[0] == 0
    grammar = building_grammar(load_building(out))
    assert grammar.resolve is not None
    cases = {
        "turn on the living room wall light": [("1/2/5", True)],
        "close the living room blinds": [("2/2/1", True)],
        "set the living room ceiling light to forty percent": [("1/2/3", 40)],
        "turn off the first floor kitchen light": [("1/7/1", False)],
        "turn on the buero ventilator": [("4/4/1", True)],
    }
    for said, telegrams in cases.items():
        parse = grammar.graph.parse(said)
        assert parse is not None, said
        assert [(t.ga, t.value) for t in grammar.resolve(parse)] == telegrams, said


def test_password_protected_ets6_project(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    plain, secret = tmp_path / "plain.yaml", tmp_path / "secret.yaml"
    assert _import(tmp_path, capsys, str(write_knxproj(tmp_path / "p.knxproj")),
                   "-o", str(plain))[0] == 0
    project = write_knxproj(tmp_path / "s.knxproj", password="Zugang 42")

    rc, _, err = _import(tmp_path, capsys, str(project), "-o", str(secret))
    assert rc == 2 and "password protected" in err and "--password" in err
    rc, _, err = _import(tmp_path, capsys, str(project), "--password", "wrong", "-o", str(secret))
    assert rc == 2 and "wrong project password" in err
    assert "wrong" not in err.replace("wrong project password", "")  # never echoed
    (tmp_path / "pw").write_text("Zugang 42\n")
    rc, _, err = _import(tmp_path, capsys, str(project), "--password-file", str(tmp_path / "pw"),
                         "-o", str(secret))
    assert rc == 0, err
    body = lambda p: p.read_text().split("\n\n", 1)[1]  # noqa: E731 (after the header)
    assert body(secret) == body(plain)


def test_bad_inputs_give_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _import(tmp_path, capsys, str(tmp_path / "missing.knxproj"))
    assert rc == 2 and "missing.knxproj: no such file" in err
    junk = tmp_path / "junk.knxproj"
    junk.write_text("this is not a zip")
    rc, _, err = _import(tmp_path, capsys, str(junk))
    assert rc == 2 and "junk.knxproj: not a readable ETS" in err
    out = tmp_path / "exists.yaml"
    out.write_text("hand edited\n")
    rc, _, err = _import(tmp_path, capsys, str(write_knxproj(tmp_path / "h.knxproj")),
                         "-o", str(out))
    assert rc == 2 and "--force" in err and out.read_text() == "hand edited\n"
    # Without -o the YAML goes to stdout and the report to stderr.
    rc, stdout, err = _import(tmp_path, capsys, str(tmp_path / "h.knxproj"))
    assert rc == 0 and "not imported" in err
    assert yaml.safe_load(stdout)["building"] == {"name": "Test House"}


def test_spoken_names_from_ets_names() -> None:
    assert spoken_name("Bedroom 2") == "bedroom two"
    assert spoken_name("Büro / Arbeitszimmer") == "buero arbeitszimmer"
    assert spoken_name("Kid's Room (EG.03)") == "kid's room eg three"
    assert spoken_name("Straße 12") == "strasse twelve"
    assert spoken_name("--- 1 ---") == "one"
    assert spoken_name("***") is None
