"""A KNX group telegram to send: group address, datapoint type and value.

The value is kept as the JSON-friendly Python value (bool, int percent, float °C, scene number)
because that is what the command-line contract prints. :meth:`Telegram.encode` turns it into
the bus payload with xknx's own DPT transcoders, so no byte layout is written by hand here.
Construction validates the value, so an out-of-range telegram can never reach the bus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from xknx.dpt import DPTArray, DPTBase, DPTBinary
from xknx.exceptions import ConversionError

_DPT_RE = re.compile(r"^(\d{1,3})\.(\d{1,3})$")

# Ranges checked before xknx sees the value, so the error speaks the user's units.
_RANGES: dict[str, tuple[float, float, str]] = {
    "5.001": (0, 100, "percent"),
    "17.001": (1, 64, "scene number"),
    "9.001": (-273.0, 670760.0, "°C"),
}


def normalize_dpt(dpt: str) -> str:
    """``"1.1" -> "1.001"``; raises ValueError for anything that is not ``main.sub``."""
    m = _DPT_RE.match(dpt.strip()) if isinstance(dpt, str) else None
    if not m:
        raise ValueError(f"DPT must look like '1.001' (main.sub), got {dpt!r}")
    return f"{int(m.group(1))}.{int(m.group(2)):03d}"


def transcoder(dpt: str) -> type[DPTBase]:
    """xknx's transcoder class for a DPT; ValueError naming the DPT if xknx does not know it."""
    norm = normalize_dpt(dpt)
    cls = DPTBase.parse_transcoder(norm)
    if cls is None:
        raise ValueError(f"unknown DPT {dpt!r}: xknx has no transcoder for it")
    return cls


def dpt_main(dpt: str) -> int:
    return int(normalize_dpt(dpt).split(".")[0])


@dataclass(frozen=True)
class Telegram:
    """One GroupValueWrite: ``ga`` as written in the config ("1/2/3"), ``dpt`` like "5.001"."""

    ga: str
    dpt: str
    value: bool | int | float

    def __post_init__(self) -> None:
        dpt = normalize_dpt(self.dpt)
        object.__setattr__(self, "dpt", dpt)
        value: Any = self.value
        if dpt_main(dpt) == 1:
            if not isinstance(value, bool):
                raise ValueError(f"DPT {dpt} needs true/false, got {value!r} for {self.ga}")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"DPT {dpt} needs a number, got {value!r} for {self.ga}")
        if dpt == "9.001":
            object.__setattr__(self, "value", float(value))
        if dpt in ("5.001", "17.001") and not float(value).is_integer():
            raise ValueError(f"DPT {dpt} needs a whole number, got {value!r} for {self.ga}")
        if dpt in ("5.001", "17.001"):
            object.__setattr__(self, "value", int(value))
        if dpt in _RANGES:
            lo, hi, unit = _RANGES[dpt]
            if not lo <= value <= hi:
                raise ValueError(
                    f"{unit} {value!r} out of range {lo:g}..{hi:g} for DPT {dpt} on {self.ga}"
                )
        self.encode()  # anything xknx cannot serialize fails here, not on the bus

    def to_json(self) -> dict[str, Any]:
        return {"ga": self.ga, "dpt": self.dpt, "value": self.value}

    def encode(self) -> DPTBinary | DPTArray:
        """The payload as xknx builds it (what ``GroupValueWrite(payload)`` takes)."""
        try:
            return transcoder(self.dpt).to_knx(self.value)
        except ConversionError as err:
            raise ValueError(
                f"cannot encode {self.value!r} as DPT {self.dpt} for {self.ga}: {err}"
            ) from err

    def payload_bytes(self) -> bytes:
        """The payload octets; a 1-bit/6-bit DPTBinary becomes one byte holding its value."""
        payload = self.encode()
        if isinstance(payload, DPTBinary):
            return bytes([int(payload.value)])
        return bytes(payload.value)
