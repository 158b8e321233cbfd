"""What the service knows about the bus: the last value seen on each group address.

Every GroupValueWrite and GroupValueResponse the gateway sees (from any device, or sent by the
service itself) updates the entry of its group address. Values are decoded with xknx's DPT
transcoder for the address's DPT when it is known (from the building configuration); the raw
payload is kept either way, so an address without a known DPT still has a state.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from xknx.dpt import DPTArray, DPTBinary
from xknx.exceptions import ConversionError, CouldNotParseAddress
from xknx.telegram import GroupAddress

from edgeasr.telegram import normalize_dpt, transcoder

log = logging.getLogger("edgeasr.knx")

Origin = Literal["write", "response", "sent"]
Value = bool | int | float


def ga_raw(ga: str | int | GroupAddress) -> int:
    """The 16-bit value of a group address ("1/2/3", "1/515", "2307", 2307 or GroupAddress)."""
    if isinstance(ga, GroupAddress):
        return ga.raw
    try:
        return GroupAddress(ga).raw
    except CouldNotParseAddress as err:
        raise ValueError(f"not a KNX group address: {ga!r}") from err


def ga_str(ga: str | int | GroupAddress) -> str:
    """Canonical 3-level text of a group address ("1/2/3")."""
    return str(GroupAddress(ga_raw(ga)))


def payload_bytes(payload: DPTBinary | DPTArray) -> bytes:
    """The payload octets; a small (≤ 6 bit) DPTBinary becomes one byte holding its value."""
    if isinstance(payload, DPTBinary):
        return bytes([int(payload.value)])
    return bytes(payload.value)


@dataclass(frozen=True)
class GroupState:
    """The last value seen on one group address."""

    ga: str  # canonical "main/middle/sub"
    dpt: str | None  # None when the address is not in the configuration
    value: Value | None  # decoded with xknx's transcoder; None if the DPT is unknown/undecodable
    payload: bytes  # raw payload octets as on the bus
    source: str  # individual address of the sender ("1.1.5"), the service's own for "sent"
    origin: Origin  # "write"/"response" seen on the bus, or "sent" by this service
    at: float = field(default_factory=time.time)  # wall clock, for logs
    at_monotonic: float = field(default_factory=time.monotonic)

    @property
    def age_s(self) -> float:
        return time.monotonic() - self.at_monotonic


class StateStore:
    """Latest :class:`GroupState` per group address, with optional DPTs for decoding."""

    def __init__(self, dpts: Mapping[str, str] | None = None) -> None:
        self._dpts: dict[int, str] = {}
        self.set_dpts(dpts or {})
        self._states: dict[int, GroupState] = {}
        self._listeners: list[Callable[[GroupState], None]] = []

    def set_dpts(self, dpts: Mapping[str, str]) -> None:
        """Replace the GA -> DPT map (e.g. after the building file was reloaded)."""
        self._dpts = {ga_raw(ga): normalize_dpt(dpt) for ga, dpt in dpts.items()}

    def dpt(self, ga: str | int | GroupAddress) -> str | None:
        return self._dpts.get(ga_raw(ga))

    def decode(self, ga: str | int | GroupAddress, payload: DPTBinary | DPTArray) -> Value | None:
        dpt = self.dpt(ga)
        if dpt is None:
            return None
        try:
            value = transcoder(dpt).from_knx(payload)
        except (ConversionError, ValueError) as err:
            log.debug("KNX cannot decode %s as DPT %s on %s: %s", payload, dpt, ga_str(ga), err)
            return None
        if isinstance(value, enum.Enum):  # DPT 1.x decode to enums (Switch.ON: True, ...)
            value = value.value
        return value if isinstance(value, bool | int | float) else None

    def update(
        self,
        ga: str | int | GroupAddress,
        payload: DPTBinary | DPTArray,
        source: str,
        origin: Origin,
    ) -> GroupState:
        raw = ga_raw(ga)
        state = GroupState(
            ga=ga_str(raw),
            dpt=self._dpts.get(raw),
            value=self.decode(raw, payload),
            payload=payload_bytes(payload),
            source=source,
            origin=origin,
        )
        self._states[raw] = state
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:  # a broken listener must not break bus processing
                log.exception("KNX state listener failed for %s", state.ga)
        return state

    def get(self, ga: str | int | GroupAddress) -> GroupState | None:
        return self._states.get(ga_raw(ga))

    def add_listener(self, listener: Callable[[GroupState], None]) -> Callable[[], None]:
        """Call ``listener(state)`` on every update; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def __iter__(self) -> Iterator[GroupState]:
        return iter(list(self._states.values()))

    def __len__(self) -> int:
        return len(self._states)
