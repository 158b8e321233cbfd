"""The building configuration: rooms, devices and the KNX group addresses they answer to.

One YAML schema (see ``examples/demo-building.yaml`` for a commented instance)::

    building: {name: str}                      # required
    wake_phrase: str | null                    # optional, spoken words
    recognizer: {threshold: float 0..1,        # optional, default the model's (edgeasr.json)
                 noise_allowance: float 0..1,  # optional, default the model's (edgeasr.json)
                 noisy_outside_limit: -10..0,  # optional, default the model's (edgeasr.json)
                 rival_limit: float 0..10,     # optional, default the model's (edgeasr.json)
                 filler_penalty: float < 0}    # optional, default off
    rooms:                                     # required, at least one
      - name: str                              # spoken name, e.g. "living room"
        aliases: [str]                         # optional other spoken names
        devices:                               # at least one
          - type: light | blinds | heating | fan
            name: str                          # optional; default: the type ("light")
            aliases: [str]                     # optional extra spoken names
            functions:                         # by type, see DEVICE_TYPES
              switch | brightness | up_down | stop | position | setpoint: {ga: str, dpt: str}
    central:                                   # optional
      all_lights_off: {ga, dpt}                # optional, DPT 1.x, sends false
      all_lights_on: {ga, dpt}                 # optional, DPT 1.x, sends true
    scenes:                                    # optional
      ga: str
      dpt: "17.001"
      values: {scene name: number 1..64}
      phrases: {scene name: [extra ways to say it, e.g. "movie time"]}

Why so strict: a misspelt key in a building file would otherwise silently drop a device, and
the person commissioning the building only notices when a spoken command does nothing. So
unknown keys are errors, and every error names the file, the line, the key path and what was
expected (:class:`ConfigError`). Line numbers come from composing the YAML node tree ourselves
and mapping pydantic's error locations back to node marks.
"""

from __future__ import annotations

import difflib
import logging
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

from edgeasr.telegram import dpt_main, normalize_dpt, transcoder

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Errors and YAML with line numbers
# ---------------------------------------------------------------------------------------------

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    line: int | None  # 1-based
    path: str  # "rooms[1].devices[0].functions.switch.ga"
    message: str

    def format(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line is not None else file
        return f"{where}: {self.path or '<top level>'}: {self.message}"


class ConfigError(ValueError):
    """A configuration file is wrong; ``str()`` lists every problem as ``file:line: key: what``."""

    def __init__(self, file: str | Path, problems: list[Problem]) -> None:
        self.file = str(file)
        self.problems = problems
        super().__init__("\n".join(p.format(self.file) for p in problems))


def format_loc(loc: Loc) -> str:
    """``("rooms", 1, "name") -> "rooms[1].name"``; keys with spaces as ``['good night']``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).isidentifier():
            out += f"[{str(part)!r}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class LocatedYaml:
    """Plain Python data from a YAML file plus the start line of every key and list item."""

    file: str
    data: Any
    lines: dict[Loc, int]

    def line_of(self, loc: Loc) -> int | None:
        """Line of the deepest part of ``loc`` that exists in the file (1-based)."""
        loc = tuple(loc)
        while loc not in self.lines and loc:
            loc = loc[:-1]
        return self.lines.get(loc)

    def problem(self, loc: Loc, message: str) -> Problem:
        return Problem(self.line_of(loc), format_loc(loc), message)


def load_yaml(path: str | Path) -> LocatedYaml:
    """Parse YAML safely, keeping line numbers; duplicate keys are errors (PyYAML drops one)."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(file, [Problem(None, "", f"cannot read file: {err.strerror}")]) from err
    except UnicodeDecodeError as err:
        problem = Problem(None, "", f"not UTF-8 text (byte {err.start}); save it as UTF-8")
        raise ConfigError(file, [problem]) from err
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(err, "problem", None) or str(err)
        raise ConfigError(file, [Problem(line, "", f"not valid YAML: {what}")]) from err
    if root is None:
        raise ConfigError(file, [Problem(1, "", "the file is empty; expected a YAML mapping")])
    constructor = yaml.SafeLoader("")
    lines: dict[Loc, int] = {(): root.start_mark.line + 1}
    problems: list[Problem] = []

    def convert(node: yaml.Node, loc: Loc) -> Any:
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = constructor.construct_object(key_node, deep=True)
                if isinstance(key, list | dict):
                    problems.append(
                        Problem(key_node.start_mark.line + 1, format_loc(loc), "keys must be text")
                    )
                    continue
                here = (*loc, key)
                if key in out:
                    problems.append(
                        Problem(
                            key_node.start_mark.line + 1,
                            format_loc(here),
                            f"duplicate key {key!r} (first on line {lines[here]})",
                        )
                    )
                    continue
                lines[here] = key_node.start_mark.line + 1
                out[key] = convert(value_node, here)
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                lines[(*loc, i)] = item.start_mark.line + 1
                items.append(convert(item, (*loc, i)))
            return items
        return constructor.construct_object(node, deep=True)

    data = convert(root, ())
    if problems:
        raise ConfigError(file, problems)
    return LocatedYaml(file, data, lines)


def _annotation_at(model: Any, loc: Loc) -> Any:
    """Walk type annotations along ``loc``; returns the type found there (or None)."""
    tp = model
    for part in loc:
        tp = _strip(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            tp = field.annotation
        elif typing.get_origin(tp) in (list, tuple) and isinstance(part, int):
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
    return _strip(tp)


def _strip(tp: Any) -> Any:
    """Remove Annotated[...] and Optional[...] wrappers."""
    while True:
        if typing.get_origin(tp) is Annotated:
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _has_child(container: Any, part: str | int) -> bool:
    if isinstance(container, dict):
        return part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def _keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys the schema allows in the mapping at ``loc``."""
    tp = _annotation_at(model, loc)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _data_loc(data: Any, loc: Loc) -> tuple[Loc, Any]:
    """Follow pydantic's ``loc`` through the data, skipping validator/union tags it inserts."""
    path: list[str | int] = []
    cur = data
    for i, part in enumerate(loc):
        if _has_child(cur, part):
            cur = cur[part]
            path.append(part)
        elif i == len(loc) - 1 and part != "[key]":
            path.append(part)  # a missing key: keep it so the message can name it
        # else: a tag such as "function-after[...]", "[key]" or a union member: skip it
    return tuple(path), cur


def pydantic_problems(
    doc: LocatedYaml, model: type[BaseModel], err: ValidationError
) -> list[Problem]:
    """Turn pydantic's errors into file/line/key problems with an 'expected ...' hint."""
    problems: list[Problem] = []
    errors = [(e, *_data_loc(doc.data, tuple(e["loc"]))) for e in err.errors(include_url=False)]
    # A misspelt key shows up twice: as unknown and as missing. Report it once, as the typo.
    misspelt = {
        (loc[:-1], close)
        for e, loc, _ in errors
        if e["type"] == "extra_forbidden"
        for close in difflib.get_close_matches(str(loc[-1]), _keys(model, loc[:-1]), n=1)
    }
    for e, loc, value in errors:
        kind = e["type"]
        if kind == "missing" and (loc[:-1], loc[-1]) in misspelt:
            continue
        if kind == "extra_forbidden":
            allowed = _keys(model, loc[:-1])
            msg = f"unknown key {loc[-1]!r}; expected one of: {', '.join(allowed)}"
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            if close:
                msg += f" (did you mean {close[0]!r}?)"
        elif kind == "missing":
            msg = f"missing required key {loc[-1]!r}"
        else:
            msg = e["msg"].removeprefix("Value error, ")
            if kind != "value_error":
                msg += f", got {value!r}"
        problems.append(doc.problem(loc, msg))
    return problems


def validate_yaml(doc: LocatedYaml, model: type[BaseModel]) -> Any:
    """``model.model_validate(doc.data)`` with errors as :class:`ConfigError`."""
    if not isinstance(doc.data, dict):
        raise ConfigError(doc.file, [doc.problem((), "expected a mapping at the top level")])
    try:
        return model.model_validate(doc.data)
    except ValidationError as err:
        raise ConfigError(doc.file, pydantic_problems(doc, model, err)) from None


# ---------------------------------------------------------------------------------------------
# Field types
# ---------------------------------------------------------------------------------------------

_SPOKEN_RE = re.compile(r"^[a-z][a-z']*( [a-z][a-z']*)*$")


def spoken(text: str) -> str:
    """Normalize a spoken name: lower case, single spaces, letters and apostrophes only."""
    norm = " ".join(text.lower().split())
    if not _SPOKEN_RE.match(norm):
        raise ValueError(
            f"{text!r} is not a spoken phrase: use letters and spaces only (spell numbers as words)"
        )
    return norm


def group_address_raw(ga: str) -> int:
    """The 16-bit value of a KNX group address in 3-level, 2-level or free notation.

    Ranges: 3-level main 0-31 / middle 0-7 / sub 0-255; 2-level main 0-31 / sub 0-2047;
    free 1-65535. 0/0/0 is the broadcast address and never a device's group address.
    """
    parts = ga.split("/")
    if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 3:
        raise ValueError(
            f"group address {ga!r} is not valid: expected main/middle/sub like '1/2/3' "
            "(or 2-level '1/515', or free '2307')"
        )
    nums = [int(p) for p in parts]
    if len(nums) == 3:
        limits = (31, 7, 255)
        raw = (nums[0] << 11) | (nums[1] << 8) | nums[2]
    elif len(nums) == 2:
        limits = (31, 2047)
        raw = (nums[0] << 11) | nums[1]
    else:
        limits = (65535,)
        raw = nums[0]
    names = {3: ("main", "middle", "sub"), 2: ("main", "sub"), 1: ("address",)}[len(nums)]
    for n, hi, name in zip(nums, limits, names, strict=True):
        if n > hi:
            raise ValueError(f"group address {ga!r}: {name} group {n} out of range 0..{hi}")
    if raw == 0:
        raise ValueError(f"group address {ga!r} is the broadcast address; use another")
    return raw


def _check_ga(value: str) -> str:
    value = value.strip()
    group_address_raw(value)
    return value


def _ga_before(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _dpt_before(value: Any) -> Any:
    if isinstance(value, float | int) and not isinstance(value, bool):
        raise ValueError(
            f'write the DPT in quotes, like "{value}": unquoted YAML reads it as a number'
        )
    return value


def _check_dpt(value: str) -> str:
    norm = normalize_dpt(value)
    transcoder(norm)  # raises "unknown DPT ..." if xknx has no transcoder
    return norm


GroupAddressStr = Annotated[str, BeforeValidator(_ga_before), AfterValidator(_check_ga)]
DptStr = Annotated[str, BeforeValidator(_dpt_before), AfterValidator(_check_dpt)]
Spoken = Annotated[str, AfterValidator(spoken)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Address(_Strict):
    """One KNX datapoint: where to write (``ga``) and how to encode (``dpt``)."""

    ga: GroupAddressStr
    dpt: DptStr


class _AddressSet(_Strict):
    """A model whose fields are all optional :class:`Address` entries."""

    def items(self) -> Iterator[tuple[str, Address]]:
        """The entries that are set, in schema order."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is not None:
                yield name, value


class Functions(_AddressSet):
    """The datapoints a device offers; which ones a device type may have is in DEVICE_TYPES."""

    switch: Address | None = None
    brightness: Address | None = None
    up_down: Address | None = None
    stop: Address | None = None
    position: Address | None = None
    setpoint: Address | None = None


DeviceType = Literal["light", "blinds", "heating", "fan"]


@dataclass(frozen=True)
class DeviceKind:
    functions: frozenset[str]  # allowed
    required_any: frozenset[str]  # at least one of these
    names: tuple[str, ...]  # default spoken names when a device has no name


DEVICE_TYPES: dict[str, DeviceKind] = {
    "light": DeviceKind(
        frozenset({"switch", "brightness"}), frozenset({"switch"}), ("light", "lights")
    ),
    "blinds": DeviceKind(
        frozenset({"up_down", "stop", "position"}),
        frozenset({"up_down", "position"}),
        ("blinds", "blind"),
    ),
    "heating": DeviceKind(
        frozenset({"setpoint"}), frozenset({"setpoint"}), ("heating", "temperature", "thermostat")
    ),
    "fan": DeviceKind(frozenset({"switch"}), frozenset({"switch"}), ("fan",)),
}

# DPTs a function accepts: exact "main.sub" strings or a bare main number for the whole family.
FUNCTION_DPTS: dict[str, tuple[str, ...]] = {
    "switch": ("1",),
    "up_down": ("1",),
    "stop": ("1",),
    "brightness": ("5.001",),
    "position": ("5.001",),
    "setpoint": ("9.001",),
    "all_lights_off": ("1",),
    "all_lights_on": ("1",),
    "scenes": ("17.001",),
}


def dpt_allowed(function: str, dpt: str) -> bool:
    allowed = FUNCTION_DPTS[function]
    return dpt in allowed or str(dpt_main(dpt)) in allowed


class Device(_Strict):
    type: DeviceType
    name: Spoken | None = None
    aliases: list[Spoken] = Field(default_factory=list)
    functions: Functions

    @property
    def id(self) -> str:
        """The device's name within its room: its ``name``, else its type."""
        return self.name or self.type

    @property
    def spoken_names(self) -> tuple[str, ...]:
        base = (self.name,) if self.name else DEVICE_TYPES[self.type].names
        return tuple(dict.fromkeys((*base, *self.aliases)))

    def function(self, name: str) -> Address | None:
        return getattr(self.functions, name)


class Room(_Strict):
    name: Spoken
    aliases: list[Spoken] = Field(default_factory=list)
    devices: list[Device]

    @property
    def spoken_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.name, *self.aliases)))

    def device(self, device_id: str) -> Device | None:
        return next((d for d in self.devices if d.id == device_id), None)


class Central(_AddressSet):
    all_lights_off: Address | None = None
    all_lights_on: Address | None = None


class Scenes(_Strict):
    ga: GroupAddressStr
    dpt: DptStr = "17.001"
    values: dict[Spoken, Annotated[int, Field(ge=1, le=64)]]
    phrases: dict[Spoken, list[Spoken]] = Field(default_factory=dict)


class BuildingInfo(_Strict):
    name: str


class Recognizer(_Strict):
    # None: the model's own (its edgeasr.json "threshold", docs/configuration.md).
    threshold: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    # How much less confidence a command needs in a noisy room (0: none); None: the model's
    # own (its edgeasr.json "noise_allowance", docs/configuration.md).
    noise_allowance: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    # How much loud speech around the sentence a noisy room tolerates (per-frame shortfall;
    # -0.2, the quiet room's, turns the relaxation off); None: the model's own (its
    # edgeasr.json "noisy_outside_limit", docs/configuration.md).
    noisy_outside_limit: Annotated[float, Field(ge=-10.0, le=0.0)] | None = None
    # How clearly a sentence must beat its rivals one word away ("turn off" for "turn on")
    # before it is acted on (log-probability per phone; 0: any margin); None: the model's
    # own (its edgeasr.json "rival_limit", docs/configuration.md).
    rival_limit: Annotated[float, Field(ge=0.0, le=10.0)] | None = None
    # Opt-in: quiet audio around a command may be background at this cost per 20 ms frame
    # (log-probability, e.g. -0.5); see docs/architecture.md "Quiet filler".
    filler_penalty: Annotated[float, Field(lt=0.0)] | None = None


class Building(_Strict):
    building: BuildingInfo
    wake_phrase: Spoken | None = None
    recognizer: Recognizer = Field(default_factory=Recognizer)
    rooms: list[Room]
    central: Central = Field(default_factory=Central)
    scenes: Scenes | None = None

    def room(self, name: str) -> Room | None:
        return next((r for r in self.rooms if r.name == name), None)

    def addresses(self) -> Iterator[tuple[Loc, str, Address]]:
        """Every datapoint: (config location, function name, address)."""
        for ri, room in enumerate(self.rooms):
            for di, dev in enumerate(room.devices):
                for fname, addr in dev.functions.items():
                    yield ("rooms", ri, "devices", di, "functions", fname), fname, addr
        for fname, addr in self.central.items():
            yield ("central", fname), fname, addr
        if self.scenes is not None:
            yield ("scenes",), "scenes", Address(ga=self.scenes.ga, dpt=self.scenes.dpt)


# ---------------------------------------------------------------------------------------------
# Checks across the whole file
# ---------------------------------------------------------------------------------------------


def _semantic_problems(doc: LocatedYaml, b: Building) -> list[Problem]:
    problems: list[Problem] = []
    room_names: dict[str, Loc] = {}
    for ri, room in enumerate(b.rooms):
        rloc: Loc = ("rooms", ri)
        for i, said in enumerate(room.spoken_names):
            loc = (*rloc, "name") if i == 0 else (*rloc, "aliases")
            if said in room_names:
                first = room_names[said]
                problems.append(
                    doc.problem(
                        loc,
                        f"room name {said!r} is already used by {format_loc(first)} "
                        f"(line {doc.line_of(first)}); room names and aliases must be unique",
                    )
                )
            else:
                room_names[said] = loc
        if not room.devices:
            problems.append(
                doc.problem((*rloc, "devices"), f"room {room.name!r} has no devices; add one")
            )
        device_names: dict[str, int] = {}
        for di, dev in enumerate(room.devices):
            dloc: Loc = (*rloc, "devices", di)
            kind = DEVICE_TYPES[dev.type]
            for said in dev.spoken_names:
                if said in device_names and device_names[said] != di:
                    problems.append(
                        doc.problem(
                            dloc,
                            f"device name {said!r} is used twice in room {room.name!r}; "
                            "give one a different name",
                        )
                    )
                device_names.setdefault(said, di)
            present = {f for f, _ in dev.functions.items()}
            for fname in sorted(present - kind.functions):
                problems.append(
                    doc.problem(
                        (*dloc, "functions", fname),
                        f"a {dev.type} has no function {fname!r}; expected: "
                        f"{', '.join(sorted(kind.functions))}",
                    )
                )
            if not present & kind.required_any:
                problems.append(
                    doc.problem(
                        (*dloc, "functions"),
                        f"a {dev.type} needs at least one of: "
                        f"{', '.join(sorted(kind.required_any))}",
                    )
                )
    if b.scenes is not None:
        for name in b.scenes.phrases:
            if name not in b.scenes.values:
                problems.append(
                    doc.problem(
                        ("scenes", "phrases", name),
                        f"scene {name!r} has phrases but no number under scenes.values",
                    )
                )
    seen: dict[int, Loc] = {}
    for loc, fname, addr in b.addresses():
        if not dpt_allowed(fname, addr.dpt):
            problems.append(
                doc.problem(
                    (*loc, "dpt"),
                    f"{fname} needs DPT {' or '.join(_dpt_names(fname))}, got {addr.dpt}",
                )
            )
        raw = group_address_raw(addr.ga)
        if raw in seen:
            first = seen[raw]
            problems.append(
                doc.problem(
                    (*loc, "ga"),
                    f"group address {addr.ga} is already used by {format_loc(first)} "
                    f"(line {doc.line_of((*first, 'ga'))}); each function needs its own address",
                )
            )
        else:
            seen[raw] = loc
    return problems


def _dpt_names(function: str) -> list[str]:
    return [d if "." in d else f"{d}.x" for d in FUNCTION_DPTS[function]]


def parse_building(doc: LocatedYaml) -> Building:
    b: Building = validate_yaml(doc, Building)
    problems = _semantic_problems(doc, b)
    if problems:
        raise ConfigError(doc.file, problems)
    return b


def load_building(path: str | Path) -> Building:
    """Read and validate a building YAML file; raises :class:`ConfigError` on any problem."""
    b = parse_building(load_yaml(path))
    log.debug("loaded building %r from %s: %d rooms", b.building.name, path, len(b.rooms))
    return b
