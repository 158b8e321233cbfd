"""ETS project import: a ``.knxproj`` file -> the building YAML the engine reads.

ETS projects are parsed by ``xknxproject`` (the parser behind Home Assistant's KNX panel).
What becomes what:

* **Rooms** are the spaces of the ETS building structure that hold *functions* (ETS 5.5+
  "Functions", ETS 6 "Building functions"); a space's name is turned into a spoken name
  ("Bedroom 2" -> "bedroom two", "Büro" -> "buero"). Spaces with equal names are qualified
  with their parent ("first floor bathroom").
* **Devices** are those functions. The device type (light, blinds, heating, fan) comes from
  the ETS function type ("Switchable light", "Sun protection", ...), else from words in the
  function's name, else from the DPTs of its group addresses.
* **Datapoints** are the function's group addresses with their ETS DPT, assigned to
  ``switch`` / ``brightness`` / ``up_down`` / ``stop`` / ``position`` / ``setpoint`` by DPT and
  ETS role. Status feedback (roles ``Info*``/``Current*``, names with "status"/"feedback"),
  measured temperatures, slat angles and relative dimming are not commands and stay out.

Everything that could not be mapped is listed in :attr:`EtsImport.unmapped` with the reason:
group addresses without a DPT or with a DPT xknx does not know, group addresses outside any
room function, functions of unknown kind, rooms without usable functions, and devices of the
topology that are placed in no room. Scenes and central functions are not imported.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from xknx.telegram.address import GroupAddress

from edgeasr.building import DEVICE_TYPES, dpt_allowed
from edgeasr.grammar.numbers import number_words
from edgeasr.telegram import transcoder

log = logging.getLogger(__name__)


class EtsImportError(ValueError):
    """The project file cannot be read (missing, not an ETS project, password)."""


@dataclass(frozen=True)
class Unmapped:
    what: str  # 'group address 1/5/1 "Bathroom mirror light"'
    why: str

    def __str__(self) -> str:
        return f"{self.what}: {self.why}"


@dataclass
class EtsImport:
    building: dict[str, Any]  # the building YAML as data
    origins: list[str]  # per room: where it came from in ETS (written as a comment)
    unmapped: list[Unmapped] = field(default_factory=list)
    project_name: str = ""

    @property
    def rooms(self) -> int:
        return len(self.building["rooms"])

    @property
    def devices(self) -> int:
        return sum(len(r["devices"]) for r in self.building["rooms"])

    @property
    def addresses(self) -> int:
        return sum(len(d["functions"]) for r in self.building["rooms"] for d in r["devices"])


# ---------------------------------------------------------------------------------------------
# Reading the project
# ---------------------------------------------------------------------------------------------


def read_project(path: str | Path, password: str | None = None,
                 language: str | None = None) -> Mapping[str, Any]:
    """Parse a ``.knxproj`` with xknxproject; :class:`EtsImportError` names what went wrong."""
    try:
        from xknxproject import XKNXProj
        from xknxproject.exceptions import InvalidPasswordException, XknxProjectException
    except ImportError as exc:
        raise EtsImportError(
            "ETS import needs xknxproject: pip install 'edgeasr[ets]' (or xknxproject)"
        ) from exc
    p = Path(path)
    if not p.is_file():
        raise EtsImportError(f"{p}: no such file; expected an ETS project export (.knxproj)")
    try:
        return XKNXProj(p, password=password, language=language).parse()
    except InvalidPasswordException:
        if not password:
            raise EtsImportError(
                f"{p}: the project is password protected; give its password (--password)"
            ) from None
        raise EtsImportError(f"{p}: wrong project password") from None
    except (XknxProjectException, zipfile.BadZipFile, KeyError) as exc:
        raise EtsImportError(
            f"{p}: not a readable ETS 4/5/6 project (.knxproj ZIP export): {exc or type(exc)}"
        ) from None


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------

_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe",
                           "å": "aa", "&": " and "})


def spoken_name(text: str) -> str | None:
    """An ETS name as words the grammar accepts: ``"Bedroom 2" -> "bedroom two"``.

    Letters are lower-cased and transliterated to ASCII, numbers spelt as words, everything
    else becomes a space. ``None`` when no word is left.
    """
    t = unicodedata.normalize("NFKD", text.lower().translate(_TRANSLIT))
    t = "".join(c for c in t if not unicodedata.combining(c))
    t = re.sub(r"\d+", lambda m: f" {_number(m.group())} ", t)
    t = re.sub(r"[^a-z']+", " ", t)
    words = [w.strip("'") for w in t.split()]
    out = " ".join(w for w in words if w)
    return out or None


def _number(digits: str) -> str:
    n = int(digits)
    try:
        return number_words(n)
    except ValueError:
        return " ".join(number_words(int(d)) for d in digits)


def _words(text: str) -> set[str]:
    return set((spoken_name(text) or "").split())


# ---------------------------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------------------------

# Word stems (matched at the start of a word of the ETS function type or name), by device
# type, in order: "Dimmable light" is a light, "Heating (floor)" heating. English and German,
# the languages ETS projects are most often written in.
_TYPE_STEMS: list[tuple[str, tuple[str, ...]]] = [
    ("blinds", ("blind", "shutter", "sun protection", "jalousie", "roller", "awning", "shade",
                "curtain", "rolllad", "rollad", "sonnenschutz", "markise", "raffstore")),
    ("heating", ("heat", "thermostat", "climate", "hvac", "radiator", "heiz", "klima",
                 "temperature", "temperatur", "floor heating")),
    ("fan", ("fan", "ventilat", "lueft", "luft")),
    ("light", ("light", "lamp", "dimm", "licht", "leucht", "spot", "chandelier")),
]
_STATUS_ROLE = ("info", "current", "state", "status", "temproom")
_STATUS_WORDS = {"status", "state", "feedback", "rueckmeldung", "ruckmeldung", "actual",
                 "current", "measured", "ist", "istwert", "zustand"}
_SLAT_WORDS = {"slat", "slats", "lamella", "lamellen", "lamelle", "angle", "tilt"}
_STOP_DPTS = {"1.007", "1.010", "1.017"}


def _has_stem(text: str, stems: tuple[str, ...]) -> bool:
    norm = f" {spoken_name(text) or ''}"
    return any(f" {s}" in norm for s in stems)


def _type_from_text(*texts: str) -> str | None:
    for text in texts:
        for dtype, stems in _TYPE_STEMS:
            if _has_stem(text, stems):
                return dtype
    return None


@dataclass(frozen=True)
class _Ga:
    address: str
    name: str  # the group address's name in ETS
    ref_name: str  # the name of the reference inside the function (may be empty)
    role: str
    dpt: str | None  # "5.001"; None when missing or unusable

    def label(self) -> str:
        return f'group address {self.address} "{self.name}"'

    @property
    def status(self) -> bool:
        role = self.role.lower()
        if role.startswith(_STATUS_ROLE):
            return True
        return bool((_words(self.name) | _words(self.ref_name)) & _STATUS_WORDS)


def _type_from_dpts(gas: list[_Ga]) -> str | None:
    dpts = {g.dpt for g in gas if g.dpt}
    if "1.008" in dpts:
        return "blinds"
    if "9.001" in dpts:
        return "heating"
    if "5.001" in dpts and any(d.startswith("1.") for d in dpts):
        return "light"
    return None


def _slot(dtype: str, ga: _Ga) -> str | None:
    """Which function of a ``dtype`` device this group address drives (None: none)."""
    dpt = ga.dpt
    if dpt is None:
        return None
    words = _words(ga.name) | _words(ga.ref_name)
    role = ga.role.lower()
    if dtype in ("light", "fan"):
        if dpt.startswith("1."):
            return "switch"
        return "brightness" if dtype == "light" and dpt == "5.001" else None
    if dtype == "blinds":
        if dpt.startswith("1."):
            if dpt in _STOP_DPTS or "stop" in role or "step" in role or "stop" in words:
                return "stop"
            return "up_down"
        if dpt == "5.001" and not words & _SLAT_WORDS and "slat" not in role:
            return "position"
        return None
    if dtype == "heating" and dpt == "9.001":
        return "setpoint"
    return None


# ---------------------------------------------------------------------------------------------
# The mapping
# ---------------------------------------------------------------------------------------------


def _dpt_of(ga: Mapping[str, Any], unmapped: list[Unmapped]) -> str | None:
    label = f'group address {ga["address"]} "{ga["name"]}"'
    dpt = ga.get("dpt")
    if not dpt:
        unmapped.append(Unmapped(label, "no DPT in the ETS project; set its datapoint type"))
        return None
    main, sub = dpt["main"], dpt.get("sub")
    if sub is None:
        if main != 1:  # all of DPT 1 encodes the same bit; other main types need the subtype
            unmapped.append(Unmapped(
                label, f"DPT {main} has no subtype in ETS (e.g. {main}.001); set the full DPT"))
            return None
        sub = 1
    norm = f"{main}.{sub:03d}"
    try:
        transcoder(norm)
    except ValueError:
        unmapped.append(Unmapped(label, f"unknown DPT {norm}: xknx has no transcoder for it"))
        return None
    return norm


def _spaces(spaces: Mapping[str, Any], parents: tuple[str, ...] = ()
            ) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any]]]:
    for space in spaces.values():
        yield parents, space
        yield from _spaces(space.get("spaces") or {}, (*parents, space["name"]))


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name} {number_words(n)}" in taken:
        n += 1
    return f"{name} {number_words(n)}"


def _strip_room(name: str, room: str) -> str:
    """ "living room ceiling light" in the living room -> "ceiling light"."""
    if name.startswith(room + " "):
        return name[len(room) + 1:]
    if name.endswith(" " + room):
        return name[: -len(room) - 1]
    return name


@dataclass
class _Device:
    type: str
    ets_name: str
    spoken: str | None
    functions: dict[str, dict[str, str]]
    origin: str


def _map_function(fn: Mapping[str, Any], gas: dict[str, _Ga], room: str,
                  unmapped: list[Unmapped], taken: dict[str, str]) -> _Device | None:
    """One ETS function as a device; ``taken``: GA -> the function that already uses it."""
    label = f'function "{fn["name"]}" in {room}'
    refs = []
    for address, ref in (fn.get("group_addresses") or {}).items():
        if address in gas:
            g = gas[address]
            refs.append(_Ga(g.address, g.name, ref.get("name") or "", ref.get("role") or "",
                            g.dpt))
    usable = [g for g in refs if g.dpt is not None]
    kind = fn.get("usage_text") or fn.get("function_type") or "?"
    dtype = (_type_from_text(fn.get("usage_text") or "", fn["name"])
             or _type_from_dpts(usable))
    if dtype is None:
        unmapped.append(Unmapped(
            label, f"cannot tell what it controls (ETS type {kind!r}): put light, blind, "
            "heating or fan in its name or give it that ETS function type"))
        return None
    chosen: dict[str, _Ga] = {}
    for g in sorted(usable, key=lambda g: (g.status, GroupAddress(g.address).raw)):
        slot = _slot(dtype, g)
        if slot is None or g.status:
            why = ("status feedback, not a command" if g.status
                   else f"DPT {g.dpt} is not used by voice commands ({dtype})")
            unmapped.append(Unmapped(g.label(), f"{why} ({label})"))
        elif slot in chosen:
            unmapped.append(Unmapped(g.label(), f"{label} already uses {chosen[slot].address} "
                                     f"for {slot}"))
        elif not dpt_allowed(slot, g.dpt or ""):
            unmapped.append(Unmapped(g.label(), f"DPT {g.dpt} does not fit {slot} ({label})"))
        elif g.address in taken:  # the engine gives each group address one function
            unmapped.append(Unmapped(g.label(), f"already used by {taken[g.address]}; not "
                                     f"also for {slot} of {label}"))
        else:
            chosen[slot] = g
    required = DEVICE_TYPES[dtype].required_any
    if not set(chosen) & required:
        unmapped.append(Unmapped(
            label, f"a {dtype} needs a group address for {' or '.join(sorted(required))}; "
            "it has none that can be used"))
        return None
    for g in chosen.values():
        taken[g.address] = label
    spoken = spoken_name(fn["name"])
    return _Device(dtype, fn["name"], spoken,
                   {slot: {"ga": g.address, "dpt": g.dpt or ""} for slot, g in chosen.items()},
                   f'"{fn["name"]}" ({kind})')


def _device_entries(devices: list[_Device], room: str) -> list[dict[str, Any]]:
    """Spoken names: a room's only light answers to "light"; several get their ETS names."""
    out: list[dict[str, Any]] = []
    taken: set[str] = set()
    for d in devices:
        defaults = DEVICE_TYPES[d.type].names
        own = _strip_room(d.spoken, room) if d.spoken else None
        if own in defaults or own == room:
            own = None
        alone = sum(x.type == d.type for x in devices) == 1
        entry: dict[str, Any] = {"type": d.type}
        if alone and not taken & set(defaults):
            taken |= set(defaults)
            if own and own not in taken:
                entry["aliases"] = [own]
                taken.add(own)
        else:
            name = _unique(own or defaults[0], taken | set(defaults))
            entry["name"] = name
            taken.add(name)
        entry["functions"] = d.functions
        out.append(entry)
    return out


def building_from_project(project: Mapping[str, Any]) -> EtsImport:
    """Map a parsed ETS project (xknxproject's ``KNXProject``) to building YAML data."""
    unmapped: list[Unmapped] = []
    gas: dict[str, _Ga] = {}
    by_address = sorted(project["group_addresses"].items(),
                        key=lambda kv: GroupAddress(kv[0]).raw)
    for address, ga in by_address:
        gas[address] = _Ga(address, ga["name"], "", "", _dpt_of(ga, unmapped))
    functions = project.get("functions") or {}

    rooms: list[tuple[str, str, list[_Device], tuple[str, ...]]] = []
    placed: set[str] = set()
    taken: dict[str, str] = {}
    for parents, space in _spaces(project.get("locations") or {}):
        placed.update(space.get("devices") or [])
        where = " > ".join((*parents, space["name"]))
        fns = [functions[f] for f in space.get("functions") or [] if f in functions]
        if not fns:
            if space.get("type") == "Room" and space.get("devices"):
                unmapped.append(Unmapped(
                    f'room "{where}"', "has devices but no ETS functions; add functions "
                    "(light, sun protection, heating) to the room in ETS to import it"))
            continue
        spoken = spoken_name(space["name"])
        if spoken is None:
            unmapped.append(Unmapped(f'room "{where}"', "its name has no letters to speak"))
            continue
        devices = [d for fn in fns
                   if (d := _map_function(fn, gas, f'"{where}"', unmapped, taken))]
        if not devices:
            unmapped.append(Unmapped(f'room "{where}"', "none of its functions could be used"))
            continue
        rooms.append((spoken, where, devices, parents))

    # Same spoken name twice (two "Bathroom"s): qualify with the parent space's name.
    counts: dict[str, int] = {}
    for spoken, *_ in rooms:
        counts[spoken] = counts.get(spoken, 0) + 1
    out_rooms: list[dict[str, Any]] = []
    origins: list[str] = []
    used: set[str] = set()
    used_gas: set[str] = set()
    for spoken, where, devices, parents in rooms:
        name = spoken
        if counts[spoken] > 1 and parents:
            name = f"{spoken_name(parents[-1]) or ''} {spoken}".strip()
        if name in used:
            unmapped.append(Unmapped(f'room "{where}"', f'spoken name "{name}" is taken by '
                                     "another room; rename one in ETS"))
            continue
        used.add(name)
        room: dict[str, Any] = {"name": name, "devices": _device_entries(devices, name)}
        out_rooms.append(room)
        origins.append(f"ETS {where}: " + ", ".join(d.origin for d in devices))
        used_gas.update(a["ga"] for d in devices for a in d.functions.values())

    in_functions = {a for fn in functions.values() for a in fn.get("group_addresses") or {}}
    for address, g in gas.items():
        if g.dpt is not None and address not in in_functions:
            unmapped.append(Unmapped(g.label(), "not part of any room function in ETS"))
    for ia, dev in sorted((project.get("devices") or {}).items()):
        if ia not in placed:
            unmapped.append(Unmapped(f'device {ia} "{dev.get("name", "")}"',
                                     "placed in no room of the ETS building structure"))
    name = project.get("info", {}).get("name") or "ETS project"
    data = {"building": {"name": name}, "rooms": out_rooms}
    return EtsImport(data, origins, unmapped, name)


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


class _Flow(dict):  # type: ignore[type-arg]
    """A mapping written on one line: ``{ga: 1/1/1, dpt: '1.001'}``."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Flow, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True))


def _flow_addresses(room: dict[str, Any]) -> dict[str, Any]:
    devices = [{**d, "functions": {k: _Flow(v) for k, v in d["functions"].items()}}
               for d in room["devices"]]
    return {**room, "devices": devices}


def render_yaml(result: EtsImport, source: str) -> str:
    """The building file: a header with the import report, then the configuration."""
    head = [f"# Building configuration imported from the ETS project {source}",
            f"# (edgeasr import-ets). Project: {result.project_name}.",
            "# Check the spoken names (they come from ETS names), then: edgeasr check --config "
            "<this file>"]
    if result.unmapped:
        head.append(f"# Not imported ({len(result.unmapped)}):")
        head += [f"#   - {u}" for u in result.unmapped]
    body = yaml.dump({"building": result.building["building"]}, Dumper=_Dumper,
                     sort_keys=False, allow_unicode=True)
    body += "\nrooms:\n"
    for room, origin in zip(result.building["rooms"], result.origins, strict=True):
        text = yaml.dump([_flow_addresses(room)], Dumper=_Dumper, sort_keys=False,
                         allow_unicode=True, width=100)
        body += f"  # {origin}\n" + "".join(f"  {line}\n" for line in text.splitlines())
    return "\n".join(head) + "\n\n" + body


def check_rendered(text: str) -> None:
    """Load the rendered file as the engine would and compile its grammar (raises on error)."""
    import tempfile

    from edgeasr.grammar import load_building_grammar

    with tempfile.TemporaryDirectory(prefix="edgeasr-ets-") as tmp:
        path = Path(tmp) / "building.yaml"
        path.write_text(text, encoding="utf-8")
        load_building_grammar(path)


def import_ets(path: str | Path, password: str | None = None,
               language: str | None = None) -> EtsImport:
    """Read an ETS project and map it (see the module docstring)."""
    result = building_from_project(read_project(path, password, language))
    if not result.building["rooms"]:
        problems = "\n".join(f"  - {u}" for u in result.unmapped) or "  (nothing found)"
        raise EtsImportError(
            f"{path}: no room with a light, blind, heating or fan function could be imported:\n"
            f"{problems}")
    return result
