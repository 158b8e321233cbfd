"""The demo building's grammar: every contract phrase sends the right telegrams, nothing else."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from edgeasr.building import Building, load_building
from edgeasr.grammar import load_building_grammar
from edgeasr.grammar.building_rules import building_rules, telegrams_for
from edgeasr.grammar.graph import WordGraph
from edgeasr.grammar.jsgf import to_jsgf
from edgeasr.grammar.numbers import int_slot, number_words, temperature_slot
from edgeasr.telegram import Telegram

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo-building.yaml"


@pytest.fixture(scope="module")
def demo() -> Building:
    return load_building(DEMO)


@pytest.fixture(scope="module")
def graph(demo: Building) -> WordGraph:
    return WordGraph(building_rules(demo))


def sent(demo: Building, graph: WordGraph, text: str) -> tuple[str, list[tuple]]:
    parse = graph.parse(text)
    assert parse is not None, f"not parsed: {text!r}"
    return parse.intent, [(t.ga, t.dpt, t.value) for t in telegrams_for(demo, parse)]


# (phrase, intent, [(ga, dpt, value)]) — the phrases of docs/demo-building.md
DEMO_PHRASES = [
    ("turn on the kitchen light", "switch_on", [("1/1/1", "1.001", True)]),
    ("turn the kitchen light off", "switch_off", [("1/1/1", "1.001", False)]),
    ("switch on the hallway light", "switch_on", [("1/6/1", "1.001", True)]),
    ("kitchen light on", "switch_on", [("1/1/1", "1.001", True)]),
    ("lights on in the office", "switch_on", [("1/4/1", "1.001", True)]),
    ("start the bathroom fan", "switch_on", [("5/5/1", "1.001", True)]),
    ("stop the bathroom fan", "switch_off", [("5/5/1", "1.001", False)]),
    (
        "set the living room light to forty percent",
        "set_brightness",
        [("1/2/3", "5.001", 40)],
    ),
    (
        "dim the bedroom light to twenty five percent",
        "set_brightness",
        [("1/3/3", "5.001", 25)],
    ),
    (
        "brighten the living room light to eighty percent",
        "set_brightness",
        [("1/2/3", "5.001", 80)],
    ),
    ("open the living room blinds", "blinds_up", [("2/2/1", "1.008", False)]),
    ("close the bedroom blinds", "blinds_down", [("2/3/1", "1.008", True)]),
    ("raise the living room blinds", "blinds_up", [("2/2/1", "1.008", False)]),
    ("lower the living room blinds", "blinds_down", [("2/2/1", "1.008", True)]),
    ("raise the bedroom blinds", "blinds_up", [("2/3/1", "1.008", False)]),
    ("lower the bedroom blinds", "blinds_down", [("2/3/1", "1.008", True)]),
    ("stop the blinds in the living room", "blinds_stop", [("2/2/2", "1.017", True)]),
    (
        "set the bedroom blinds to fifty percent",
        "set_position",
        [("2/3/3", "5.001", 50)],
    ),
    (
        "set the office temperature to twenty one degrees",
        "set_temperature",
        [("3/4/1", "9.001", 21.0)],
    ),
    (
        "set the heating in the bedroom to nineteen degrees",
        "set_temperature",
        [("3/3/1", "9.001", 19.0)],
    ),
    (
        "make the living room twenty two degrees",
        "set_temperature",
        [("3/2/1", "9.001", 22.0)],
    ),
    (
        "set the office temperature to twenty one and a half degrees",
        "set_temperature",
        [("3/4/1", "9.001", 21.5)],
    ),
    ("movie time", "activate_scene", [("4/0/1", "17.001", 1)]),
    ("activate the movie scene", "activate_scene", [("4/0/1", "17.001", 1)]),
    ("good night", "activate_scene", [("4/0/1", "17.001", 2)]),
    ("good morning", "activate_scene", [("4/0/1", "17.001", 3)]),
    ("turn off all the lights", "all_lights_off", [("1/0/0", "1.001", False)]),
    ("all lights off", "all_lights_off", [("1/0/0", "1.001", False)]),
    # variations the contract names: please, articles, room after device, plurals
    ("please turn on the kitchen light", "switch_on", [("1/1/1", "1.001", True)]),
    ("turn on the kitchen light please", "switch_on", [("1/1/1", "1.001", True)]),
    ("turn on kitchen light", "switch_on", [("1/1/1", "1.001", True)]),
    ("turn on the light in the kitchen", "switch_on", [("1/1/1", "1.001", True)]),
    ("turn the light in the kitchen off", "switch_off", [("1/1/1", "1.001", False)]),
    ("turn off the bedroom lights", "switch_off", [("1/3/1", "1.001", False)]),
    ("switch the hallway light off", "switch_off", [("1/6/1", "1.001", False)]),
    ("please good night", "activate_scene", [("4/0/1", "17.001", 2)]),
    (
        "set the living room blinds to one hundred percent",
        "set_position",
        [("2/2/3", "5.001", 100)],
    ),
    (
        "set the bedroom light to a hundred percent",
        "set_brightness",
        [("1/3/3", "5.001", 100)],
    ),
    (
        "set the living room light to zero percent",
        "set_brightness",
        [("1/2/3", "5.001", 0)],
    ),
]


@pytest.mark.parametrize(("text", "intent", "telegrams"), DEMO_PHRASES)
def test_demo_phrase(
    demo: Building, graph: WordGraph, text: str, intent: str, telegrams: list[tuple]
) -> None:
    assert sent(demo, graph, text) == (intent, telegrams)


def test_slots_name_room_and_device(graph: WordGraph) -> None:
    parse = graph.parse("lights on in the office")
    assert parse is not None
    assert parse.slots == {"function": "switch", "room": "office", "device": "light"}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "turn on the garage light",
        "open the office blinds",
        "set the kitchen light to forty percent",  # the kitchen light has no dimmer
        "start the kitchen light",
        "make the kitchen twenty degrees",  # no heating in the kitchen
        "what is the temperature in the office",
        "turn on the light",  # which one? six rooms have a light
        "set the living room light to forty",
        "set the living room light to one hundred and one percent",
        "set the office temperature to thirty one degrees",
        "set the office temperature to four degrees",
        "the weather tomorrow will be sunny",
        "turn on the turn on the kitchen light",
    ],
)
def test_not_a_command(graph: WordGraph, text: str) -> None:
    assert graph.parse(text) is None


@pytest.mark.parametrize("n", range(101))
def test_every_percent_parses(demo: Building, graph: WordGraph, n: int) -> None:
    text = f"set the living room blinds to {number_words(n)} percent"
    assert sent(demo, graph, text) == ("set_position", [("2/2/3", "5.001", n)])


def test_temperatures_in_half_degrees(demo: Building, graph: WordGraph) -> None:
    for n in range(5, 31):
        text = f"set the bedroom temperature to {number_words(n)} degrees"
        assert sent(demo, graph, text)[1] == [("3/3/1", "9.001", float(n))]
    _, tel = sent(demo, graph, "make the bedroom twenty one and a half degrees")
    assert tel == [("3/3/1", "9.001", 21.5)]


def test_number_words() -> None:
    assert number_words(0) == "zero"
    assert number_words(25) == "twenty five"
    assert number_words(40) == "forty"
    assert number_words(100) == "one hundred"
    assert number_words(119) == "one hundred nineteen"
    assert number_words(2005) == "two thousand five"
    with pytest.raises(ValueError):
        number_words(-1)
    values = {v for _, v in int_slot("n", 0, 100).values}
    assert values == set(range(101))
    temps = sorted({v for _, v in temperature_slot().values})
    assert temps[0] == 5.0 and temps[-1] == 30.0 and 21.5 in temps and len(temps) == 51


def test_parse_is_unambiguous(graph: WordGraph) -> None:
    """A random sentence of the grammar parses back to the meaning it was generated with."""
    rng = random.Random(7)
    for _ in range(3000):
        sample = graph.sample(rng)
        parse = graph.parse(sample.text)
        assert parse is not None
        assert (parse.intent, parse.slots) == (sample.intent, sample.slots), sample.text


def test_every_sample_resolves_to_valid_telegrams(demo: Building, graph: WordGraph) -> None:
    rng = random.Random(3)
    for _ in range(500):
        telegrams = telegrams_for(demo, graph.sample(rng))
        assert telegrams and all(t.encode() is not None for t in telegrams)


def test_encodings_via_xknx() -> None:
    assert Telegram("1/1/1", "1.001", True).payload_bytes() == b"\x01"
    assert Telegram("1/1/1", "1.001", False).payload_bytes() == b"\x00"
    assert Telegram("2/2/1", "1.008", True).payload_bytes() == b"\x01"
    assert Telegram("2/2/2", "1.017", True).payload_bytes() == b"\x01"
    assert Telegram("1/2/3", "5.001", 100).payload_bytes() == b"\xff"
    assert Telegram("1/2/3", "5.001", 40).payload_bytes() == bytes([102])
    assert Telegram("3/2/1", "9.001", 21.5).payload_bytes() == b"\x0c\x33"
    assert Telegram("4/0/1", "17.001", 1).payload_bytes() == b"\x00"
    assert Telegram("4/0/1", "17.001", 64).payload_bytes() == b"\x3f"
    assert Telegram("3/2/1", "9.001", 21).to_json() == {
        "ga": "3/2/1",
        "dpt": "9.001",
        "value": 21.0,
    }


@pytest.mark.parametrize(
    ("dpt", "value", "needle"),
    [
        ("5.001", 101, "percent"),
        ("5.001", -1, "percent"),
        ("17.001", 0, "scene"),
        ("17.001", 65, "scene"),
        ("1.001", 1, "true/false"),
        ("5.001", True, "number"),
        ("99.999", 1, "unknown DPT"),
    ],
)
def test_telegram_value_validation(dpt: str, value: object, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        Telegram("1/2/3", dpt, value)  # type: ignore[arg-type]


def test_compiled_grammar(demo: Building) -> None:
    grammar = load_building_grammar(DEMO)
    assert grammar.resolve is not None
    parse = grammar.graph.parse("all lights off")
    assert parse is not None
    assert grammar.resolve(parse) == [Telegram("1/0/0", "1.001", False)]
    vocab = grammar.vocabulary()
    assert {"kitchen", "percent", "hundred", "please", "degrees"} <= set(vocab)
    assert "garage" not in vocab


def test_jsgf(demo: Building) -> None:
    text = to_jsgf(building_rules(demo))
    assert text.startswith("#JSGF V1.0;")
    assert "public <command> =" in text
    assert text.count("(") == text.count(")") and text.count("[") == text.count("]")
    assert "kitchen" in text and "twenty" in text


def _big_building(n_rooms: int) -> Building:
    rooms = []
    for i in range(n_rooms):
        main, middle = divmod(i, 8)
        name = f"room {number_words(i + 1)}"
        rooms.append(
            {
                "name": name,
                "devices": [
                    {
                        "type": "light",
                        "functions": {
                            "switch": {"ga": f"{main + 1}/{middle}/1", "dpt": "1.001"},
                            "brightness": {
                                "ga": f"{main + 1}/{middle}/2",
                                "dpt": "5.001",
                            },
                        },
                    },
                    {
                        "type": "blinds",
                        "functions": {
                            "up_down": {"ga": f"{main + 1}/{middle}/3", "dpt": "1.008"},
                            "stop": {"ga": f"{main + 1}/{middle}/4", "dpt": "1.017"},
                            "position": {
                                "ga": f"{main + 1}/{middle}/5",
                                "dpt": "5.001",
                            },
                        },
                    },
                    {
                        "type": "heating",
                        "functions": {"setpoint": {"ga": f"{main + 1}/{middle}/6", "dpt": "9.001"}},
                    },
                ],
            }
        )
    return Building.model_validate(
        {
            "building": {"name": "big"},
            "rooms": rooms,
            "central": {"all_lights_off": {"ga": "31/7/255", "dpt": "1.001"}},
        }
    )


def test_fifty_rooms_compile_fast() -> None:
    b = _big_building(50)
    start = time.perf_counter()
    graph = WordGraph(building_rules(b))
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"compiling 50 rooms took {elapsed:.2f} s"
    parse = graph.parse("set the room forty two blinds to ten percent")
    assert parse is not None and parse.slots["room"] == "room forty two"
    assert telegrams_for(b, parse) == [Telegram("6/1/5", "5.001", 10)]


def test_jsgf_accepts_the_same_sentences(demo: Building, graph: WordGraph, tmp_path: Path) -> None:
    """pocketsphinx (the baseline) compiles our JSGF and accepts exactly what the graph does."""
    ps = pytest.importorskip("pocketsphinx")
    path = tmp_path / "demo.gram"
    path.write_text(to_jsgf(building_rules(demo)))
    jsgf = ps.Jsgf(str(path))
    fsg = jsgf.build_fsg(jsgf.get_rule("edgeasr.command"), ps.LogMath(), 7.5)
    rng = random.Random(11)
    for _ in range(300):
        assert fsg.accept(graph.sample(rng).text)
    for text in ("turn on the garage light", "open the office blinds", "kitchen light"):
        assert not fsg.accept(text)
