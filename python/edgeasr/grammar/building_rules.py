"""Grammar rules for a building, and the telegrams a parse of them sends.

Intents (each rule also sets the fixed slot ``function``, the config function it drives):

================  ============  ======================================================
intent            function      slots / telegram value
================  ============  ======================================================
switch_on         switch        room, device -> true
switch_off        switch        room, device -> false
set_brightness    brightness    room, device, percent (int 0-100) -> percent
blinds_up         up_down       room, device -> false (up / open)
blinds_down       up_down       room, device -> true (down / close)
blinds_stop       stop          room, device -> true
set_position      position      room, device, percent (int 0-100) -> percent
set_temperature   setpoint      room, device, temperature (float 5.0-30.0) -> °C
activate_scene    scenes        scene (scene name) -> its scene number
all_lights_off    all_lights_off  -> false
all_lights_on     all_lights_on   -> true
================  ============  ======================================================

``room`` is the room's configured name, ``device`` the device's id in that room (its ``name``,
else its type). Only (room, device, function) combinations the building has are in the rules,
so "open the office blinds" in a building without office blinds is simply not a sentence.

The grammar is kept lean because the decoder's cost grows with the graph: each carrier phrase
("turn on ...") appears once per intent, and the room/device choices under it are factored as
slots (room first: room slot then that room's device slot; device first: device slot then the
slot of rooms having that device) instead of one sentence per device.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from edgeasr.building import Building, Device, Room
from edgeasr.grammar.graph import Parse
from edgeasr.grammar.ir import Expr, Rule, Seq, alt, opt, seq, slot, words
from edgeasr.grammar.numbers import percent_slot, temperature_slot
from edgeasr.telegram import Telegram

EMPTY = Seq(())
THE = opt("the")
VERB = alt("turn", "switch")
PERCENT = seq(percent_slot("percent"), "percent")
DEGREES = seq(temperature_slot("temperature"), "degrees")

Pair = tuple[Room, Device]

# intent -> (config function, telegram value or the slot holding it)
INTENTS: dict[str, tuple[str, bool | str]] = {
    "switch_on": ("switch", True),
    "switch_off": ("switch", False),
    "set_brightness": ("brightness", "percent"),
    "blinds_up": ("up_down", False),
    "blinds_down": ("up_down", True),
    "blinds_stop": ("stop", True),
    "set_position": ("position", "percent"),
    "set_temperature": ("setpoint", "temperature"),
}
CENTRAL_INTENTS = {"all_lights_off": False, "all_lights_on": True}


def _pairs(b: Building, function: str, types: Iterable[str] | None = None) -> list[Pair]:
    wanted = set(types) if types is not None else None
    return [
        (room, dev)
        for room in b.rooms
        for dev in room.devices
        if dev.function(function) is not None and (wanted is None or dev.type in wanted)
    ]


def _room_slot(rooms: Iterable[Room]) -> Expr:
    return slot("room", [(said, r.name) for r in rooms for said in r.spoken_names])


def _by_spoken_device(pairs: list[Pair]) -> dict[tuple[str, str], list[Room]]:
    """(spoken device name, device id) -> rooms where that name means that device."""
    groups: dict[tuple[str, str], list[Room]] = defaultdict(list)
    for room, dev in pairs:
        for said in dev.spoken_names:
            groups[(said, dev.id)].append(room)
    return groups


class _Targets:
    """Ways to name one device of a given set; all set the slots ``room`` and ``device``."""

    def __init__(self, b: Building, pairs: list[Pair]) -> None:
        self.pairs = pairs
        self.groups = _by_spoken_device(pairs)
        # How many devices in the whole building answer to a spoken name: a bare "the fan" is
        # only a target when exactly one device anywhere is called that.
        counts: dict[str, int] = defaultdict(int)
        for room in b.rooms:
            for dev in room.devices:
                for said in dev.spoken_names:
                    counts[said] += 1
        self.unique = {k: rooms[0] for k, rooms in self.groups.items() if counts[k[0]] == 1}

    def room_first(self) -> list[Expr]:
        """ "kitchen light", "living room blinds"."""
        by_room: dict[str, list[tuple[str, str]]] = defaultdict(list)
        rooms: dict[str, Room] = {}
        for room, dev in self.pairs:
            rooms[room.name] = room
            by_room[room.name] += [(said, dev.id) for said in dev.spoken_names]
        return [
            seq(_room_slot([rooms[name]]), slot("device", values))
            for name, values in by_room.items()
        ]

    def device_first(self, middle: Expr | None = None) -> list[Expr]:
        """ "light in the kitchen"; ``middle`` goes between ("lights on in the office")."""
        out: list[Expr] = []
        for (said, dev_id), rooms in self.groups.items():
            parts: list[Expr] = [slot("device", [(said, dev_id)])]
            if middle is not None:
                parts.append(middle)
            parts += [words("in"), THE, _room_slot(rooms)]
            out.append(seq(*parts))
        return out

    def bare(self) -> list[Expr]:
        """ "the fan" when only one device in the building is called that."""
        return [
            seq(slot("device", [(said, dev_id)]), slot("room", [(EMPTY, room.name)]))
            for (said, dev_id), room in self.unique.items()
        ]

    def any(self) -> Expr:
        return seq(THE, alt(*self.room_first(), *self.device_first(), *self.bare()))

    def with_middle(self, middle: Expr) -> Expr:
        return seq(THE, alt(*self.device_first(middle)))

    def room_only(self) -> Expr | None:
        """ "the living room" for rooms with exactly one such device (heating)."""
        per_room: dict[str, list[Pair]] = defaultdict(list)
        for room, dev in self.pairs:
            per_room[room.name].append((room, dev))
        by_dev: dict[str, list[Room]] = defaultdict(list)
        for found in per_room.values():
            if len(found) == 1:
                by_dev[found[0][1].id].append(found[0][0])
        if not by_dev:
            return None
        return seq(
            THE,
            alt(
                *(
                    seq(_room_slot(rooms), slot("device", [(EMPTY, dev_id)]))
                    for dev_id, rooms in by_dev.items()
                )
            ),
        )


def _rule(intent: str, function: str, core: Expr) -> Rule:
    """Every command may start or end with "please"."""
    return Rule(intent, seq(opt("please"), core, opt("please")), (("function", function),))


def _switch_rules(b: Building) -> list[Rule]:
    pairs = _pairs(b, "switch")
    if not pairs:
        return []
    t = _Targets(b, pairs)
    fans = _pairs(b, "switch", ["fan"])
    rules = []
    for intent, state, fan_verb in (("switch_on", "on", "start"), ("switch_off", "off", "stop")):
        options: list[Expr] = [
            seq(VERB, state, t.any()),  # turn on the kitchen light
            seq(opt(VERB), t.any(), state),  # turn the kitchen light on / kitchen light on
            seq(opt(VERB), t.with_middle(words(state))),  # lights on in the office
        ]
        if fans:
            options.append(seq(fan_verb, _Targets(b, fans).any()))  # start the bathroom fan
        rules.append(_rule(intent, "switch", alt(*options)))
    return rules


def _light_rules(b: Building) -> list[Rule]:
    pairs = _pairs(b, "brightness")
    if not pairs:
        return []
    core = seq(alt("set", "dim", "brighten"), _Targets(b, pairs).any(), "to", PERCENT)
    return [_rule("set_brightness", "brightness", core)]


def _blinds_rules(b: Building) -> list[Rule]:
    rules = []
    updown = _pairs(b, "up_down")
    if updown:
        t = _Targets(b, updown)
        rules.append(_rule("blinds_up", "up_down", seq(alt("open", "raise"), t.any())))
        rules.append(_rule("blinds_down", "up_down", seq(alt("close", "lower"), t.any())))
    stop = _pairs(b, "stop")
    if stop:
        rules.append(_rule("blinds_stop", "stop", seq("stop", _Targets(b, stop).any())))
    position = _pairs(b, "position")
    if position:
        core = seq("set", _Targets(b, position).any(), "to", PERCENT)
        rules.append(_rule("set_position", "position", core))
    return rules


def _heating_rules(b: Building) -> list[Rule]:
    pairs = _pairs(b, "setpoint")
    if not pairs:
        return []
    t = _Targets(b, pairs)
    room_only = t.room_only()
    set_target = alt(t.any(), room_only) if room_only is not None else t.any()
    # "set the office temperature to ...", "make the living room ..." share one number slot.
    lead: Expr = seq("set", set_target, "to")
    if room_only is not None:
        lead = alt(lead, seq("make", room_only))
    return [_rule("set_temperature", "setpoint", seq(lead, DEGREES))]


def _scene_rules(b: Building) -> list[Rule]:
    if b.scenes is None or not b.scenes.values:
        return []
    named = seq(
        opt(alt("activate", "start")),
        THE,
        slot("scene", [(n, n) for n in b.scenes.values]),
        "scene",
    )
    phrases = [(p, name) for name, ps in b.scenes.phrases.items() for p in ps]
    core = alt(named, slot("scene", phrases)) if phrases else named
    return [_rule("activate_scene", "scenes", core)]


def _central_rules(b: Building) -> list[Rule]:
    all_lights = seq("all", THE, "lights")
    rules = []
    for intent, state in (("all_lights_off", "off"), ("all_lights_on", "on")):
        if getattr(b.central, intent) is not None:
            core = alt(seq(VERB, state, all_lights), seq(opt(VERB), all_lights, state))
            rules.append(_rule(intent, intent, core))
    return rules


RULE_BUILDERS: tuple[Callable[[Building], list[Rule]], ...] = (
    _switch_rules,
    _light_rules,
    _blinds_rules,
    _heating_rules,
    _scene_rules,
    _central_rules,
)


def building_rules(b: Building) -> list[Rule]:
    """All rules for a building: only commands its rooms, devices and functions can carry out."""
    rules = [rule for build in RULE_BUILDERS for rule in build(b)]
    if not rules:
        raise ValueError(f"building {b.building.name!r} has nothing that can be commanded")
    return rules


def telegrams_for(b: Building, parse: Parse) -> list[Telegram]:
    """The telegrams that carry out a parse of :func:`building_rules` (values as in the table)."""
    slots = parse.slots
    if parse.intent in INTENTS:
        function, value = INTENTS[parse.intent]
        room = b.room(slots["room"])
        dev = room.device(slots["device"]) if room is not None else None
        addr = dev.function(function) if dev is not None else None
        if addr is None:
            raise ValueError(
                f"{parse.intent}: {slots.get('room')!r} has no {slots.get('device')!r} "
                f"with function {function!r}"
            )
        return [Telegram(addr.ga, addr.dpt, slots[value] if isinstance(value, str) else value)]
    if parse.intent == "activate_scene":
        if b.scenes is None or slots.get("scene") not in b.scenes.values:
            raise ValueError(f"activate_scene: unknown scene {slots.get('scene')!r}")
        return [Telegram(b.scenes.ga, b.scenes.dpt, b.scenes.values[slots["scene"]])]
    if parse.intent in CENTRAL_INTENTS:
        addr = getattr(b.central, parse.intent)
        if addr is None:
            raise ValueError(f"{parse.intent}: the building has no central address for it")
        return [Telegram(addr.ga, addr.dpt, CENTRAL_INTENTS[parse.intent])]
    raise ValueError(f"unknown intent {parse.intent!r}")
