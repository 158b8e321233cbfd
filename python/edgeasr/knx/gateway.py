"""The KNX/IP link: an asyncio gateway around xknx that survives a flaky IP interface.

What it adds on top of xknx:

* **A queue with a time-to-live.** :meth:`KnxGateway.send` never blocks on the network: each
  telegram is queued with a deadline (``ttl_s``, default 3 s). One dispatcher task sends the
  queue in order. A telegram is removed from the queue only when the interface has taken it
  (tunnelling: TUNNELLING_ACK and L_Data.con; routing: written to the multicast socket), so it
  goes out once. While the link is down telegrams wait; the ones whose deadline passes are
  dropped with a log line instead of switching a light minutes after somebody asked.
* **Reconnects with exponential backoff** (``backoff_initial_s`` doubling up to
  ``backoff_max_s``), a clear error naming ``host:port`` when the interface is unreachable, and
  an optional liveness probe (``heartbeat_s``) so a restarted interface is noticed while idle.
* **State tracking**: every GroupValueWrite/GroupValueResponse seen on the bus, and every
  telegram this service sent, updates :meth:`KnxGateway.state`; :meth:`KnxGateway.read` asks the
  bus (GroupValueRead) and waits for the answer.

Payloads come from :meth:`edgeasr.telegram.Telegram.encode`, i.e. xknx's own DPT classes.

Exactly-once, precisely: a telegram is sent again after a reconnect only when the interface
never acknowledged it (UDP tunnelling: no TUNNELLING_ACK for the request and its repetition, or
no connection at all). When the interface acknowledged it but the bus confirmation (L_Data.con)
did not come, it is *not* repeated (outcome ``UNCONFIRMED``), because the interface may already
have put it on the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import ipaddress
import itertools
import logging
import time
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from xknx import XKNX
from xknx.core import XknxConnectionState
from xknx.dpt import DPTArray, DPTBinary
from xknx.exceptions import (
    CommunicationError,
    ConfirmationError,
    CouldNotParseAddress,
    InvalidSecureConfiguration,
    IPSecureError,
    XKNXException,
)
from xknx.io import ConnectionConfig, ConnectionType, SecureConfig
from xknx.secure.keyring import Keyring, load_keyring
from xknx.telegram import GroupAddress, IndividualAddress
from xknx.telegram import Telegram as XknxTelegram
from xknx.telegram.apci import GroupValueRead, GroupValueResponse, GroupValueWrite

from edgeasr.knx.state import GroupState, StateStore, ga_raw, ga_str, payload_bytes
from edgeasr.telegram import Telegram

if TYPE_CHECKING:
    from edgeasr.building import Building

log = logging.getLogger("edgeasr.knx")

ConnectionKind = Literal["tunnelling", "tunnelling_tcp", "routing"]


class KnxConfigError(ValueError):
    """The KNX connection settings cannot work (not a network problem: retrying will not help)."""


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


class KnxSecure(BaseModel):
    """KNX IP Secure: the ETS keyring export and its password (from the provisioning data)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keyring: Path  # the .knxkeys file exported from ETS
    password: SecretStr | None = None  # the keyring password, or:
    password_file: Path | None = None  # a file holding it (first line), e.g. a provisioning mount
    user_id: int | None = Field(default=None, ge=1, le=127)  # secure tunnel user; default: the
    # tunnel whose address is ``individual_address`` (or the first free one in the keyring)

    @model_validator(mode="after")
    def _one_password(self) -> KnxSecure:
        if (self.password is None) == (self.password_file is None):
            raise ValueError("secure: give exactly one of 'password' or 'password_file'")
        return self

    def read_password(self) -> str:
        if self.password is not None:
            return self.password.get_secret_value()
        assert self.password_file is not None
        try:
            lines = self.password_file.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise KnxConfigError(
                f"cannot read the keyring password file {self.password_file}: {err.strerror}"
            ) from err
        if not lines or not lines[0].strip():
            raise KnxConfigError(f"the keyring password file {self.password_file} is empty")
        return lines[0].strip()


class KnxConfig(BaseModel):
    """How to reach the KNX bus. Only ``type`` and (for tunnelling) ``host`` are usually needed.

    ``KnxConfig()`` is a UDP tunnel to a knxd on the same machine (127.0.0.1:3671).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ConnectionKind = "tunnelling"
    host: str = "127.0.0.1"  # the IP interface's address (tunnelling); default: local knxd
    port: int = Field(default=3671, ge=1, le=65535)  # its KNXnet/IP port (tunnelling)
    local_ip: str | None = None  # our IP on the KNX network; default: the default-route interface
    route_back: bool = False  # UDP tunnelling behind NAT: let the interface answer to the sender
    individual_address: str | None = None  # our KNX address, e.g. "1.1.250" (see docs/knx.md)
    multicast_group: str = "224.0.23.12"  # routing
    multicast_port: int = Field(default=3671, ge=1, le=65535)  # routing
    secure: KnxSecure | None = None  # KNX IP Secure (tunnelling_tcp or routing)
    ttl_s: float = Field(default=3.0, gt=0)  # a queued command older than this is dropped
    backoff_initial_s: float = Field(default=0.5, gt=0)  # first reconnect delay, then doubled
    backoff_max_s: float = Field(default=30.0, gt=0)  # reconnect delay cap
    heartbeat_s: float = Field(default=10.0, ge=0)  # tunnel liveness probe period; 0 = off
    connect_timeout_s: float = Field(default=10.0, gt=0)  # one connection attempt, at most
    read_timeout_s: float = Field(default=2.0, gt=0)  # default wait for a GroupValueResponse

    @field_validator("individual_address")
    @classmethod
    def _check_ia(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ia = IndividualAddress(value)
        except CouldNotParseAddress:
            raise ValueError(
                f"individual_address {value!r} is not a KNX individual address "
                "(area.line.device, e.g. '1.1.250')"
            ) from None
        if ia.raw == 0:
            raise ValueError("individual_address 0.0.0 is not usable; pick one like '1.1.250'")
        return str(ia)

    @field_validator("multicast_group")
    @classmethod
    def _check_group(cls, value: str) -> str:
        try:
            ok = ipaddress.IPv4Address(value).is_multicast
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"multicast_group {value!r} is not an IPv4 multicast address")
        return value

    @model_validator(mode="after")
    def _check(self) -> KnxConfig:
        if self.type in ("tunnelling", "tunnelling_tcp") and not self.host.strip():
            raise ValueError(f"type {self.type!r} needs 'host': the KNX IP interface's address")
        if self.type == "tunnelling" and self.secure is not None:
            raise ValueError(
                "KNX IP Secure tunnelling runs over TCP: use type 'tunnelling_tcp' with 'secure'"
            )
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be at least backoff_initial_s")
        return self

    def describe(self) -> str:
        """``"KNX/IP tunnelling (UDP) gateway 192.168.1.20:3671"`` — used in every log line."""
        secure = "secure " if self.secure is not None else ""
        if self.type == "routing":
            via = f" from {self.local_ip}" if self.local_ip else ""
            return f"KNX/IP {secure}routing group {self.multicast_group}:{self.multicast_port}{via}"
        proto = "UDP" if self.type == "tunnelling" else "TCP"
        return f"KNX/IP {secure}tunnelling ({proto}) gateway {self.host}:{self.port}"


def connection_config(c: KnxConfig, keyring: Keyring | None = None) -> ConnectionConfig:
    """xknx's ConnectionConfig for our settings; ``keyring``: the loaded ``secure.keyring``.

    tunnelling -> TUNNELING (UDP); tunnelling_tcp -> TUNNELING_TCP, or TUNNELING_TCP_SECURE
    with ``secure``; routing -> ROUTING, or ROUTING_SECURE with ``secure``. Reconnecting is
    ours (with backoff), so xknx's own auto-reconnect is off.
    """
    if c.secure is not None and keyring is None:
        raise KnxConfigError("KNX IP Secure is configured but its keyring was not loaded")
    secure = c.secure is not None
    kind = {
        "tunnelling": ConnectionType.TUNNELING,
        "tunnelling_tcp": (
            ConnectionType.TUNNELING_TCP_SECURE if secure else ConnectionType.TUNNELING_TCP
        ),
        "routing": ConnectionType.ROUTING_SECURE if secure else ConnectionType.ROUTING,
    }[c.type]
    secure_config = None
    if c.secure is not None:
        secure_config = SecureConfig(keyring=keyring, user_id=c.secure.user_id)
    kwargs: dict[str, Any] = {}
    if c.type != "routing":
        kwargs.update(gateway_ip=c.host.strip(), gateway_port=c.port)
    return ConnectionConfig(
        connection_type=kind,
        individual_address=c.individual_address,
        local_ip=c.local_ip,
        route_back=c.route_back,
        multicast_group=c.multicast_group,
        multicast_port=c.multicast_port,
        auto_reconnect=False,  # reconnecting (with backoff) is ours
        secure_config=secure_config,
        **kwargs,
    )


def _caused_by(err: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``err`` or an exception it was raised from is a ``kind``."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def dpts_from_building(building: Building) -> dict[str, str]:
    """``{ga: dpt}`` for every datapoint of a building, so states can be decoded."""
    return {addr.ga: addr.dpt for _, _, addr in building.addresses()}


# ---------------------------------------------------------------------------------------------
# Queue entries
# ---------------------------------------------------------------------------------------------


class Outcome(enum.Enum):
    SENT = "sent"  # the interface took it (and confirmed it on the bus)
    EXPIRED = "expired"  # dropped: the link was not back before the deadline
    UNCONFIRMED = "unconfirmed"  # the interface took it but never confirmed; not repeated
    CANCELLED = "cancelled"  # the gateway was stopped with this still queued
    FAILED = "failed"  # xknx refused it (a bug, not a network problem); logged with traceback


_ids = itertools.count(1)


@dataclass(eq=False)
class Delivery:
    """One queued telegram. ``await delivery.wait()`` gives its :class:`Outcome`."""

    telegram: Telegram | None  # None for a GroupValueRead
    ga: str
    ttl_s: float
    queued_at: float = field(default_factory=time.monotonic)
    id: int = field(default_factory=lambda: next(_ids))
    _xknx_telegram: XknxTelegram | None = field(default=None, repr=False)
    _done: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future(), repr=False
    )

    @property
    def deadline(self) -> float:
        return self.queued_at + self.ttl_s

    @property
    def outcome(self) -> Outcome | None:
        return self._done.result() if self._done.done() else None

    async def wait(self, timeout: float | None = None) -> Outcome:
        async with asyncio.timeout(timeout):
            return await asyncio.shield(self._done)

    def _finish(self, outcome: Outcome) -> None:
        if not self._done.done():
            self._done.set_result(outcome)

    def describe(self) -> str:
        if self.telegram is None:
            return f"read ga={self.ga}"
        t = self.telegram
        value = str(t.value).lower() if isinstance(t.value, bool) else f"{t.value:g}"
        return f"write ga={t.ga} dpt={t.dpt} value={value} payload={t.payload_bytes().hex()}"


# ---------------------------------------------------------------------------------------------
# The gateway
# ---------------------------------------------------------------------------------------------


class KnxGateway:
    """Queue, send and track KNX group telegrams over one KNX/IP connection.

    Use as ``async with KnxGateway(cfg, dpts) as gw: await gw.send([...])`` or call
    :meth:`start` / :meth:`stop`. :meth:`start` returns after the first connection attempt,
    whether it worked or not; an unreachable interface is logged as an error and retried in the
    background, and commands queue meanwhile.
    """

    def __init__(self, config: KnxConfig, dpts: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.states = StateStore(dpts)
        self._queue: deque[Delivery] = deque()
        self._wakeup = asyncio.Event()
        self._connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._lost_reason = ""
        self._xknx: XKNX | None = None
        self._closing: XKNX | None = None
        self._keyring: Keyring | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._first_attempt_done = asyncio.Event()
        self._readers: dict[int, list[asyncio.Future[GroupState]]] = defaultdict(list)
        self._running = False
        self.attempts = 0  # connection attempts since the last success
        self.connections = 0  # successful connections so far (1 + reconnects)
        self.last_error: str | None = None  # why the last connection attempt failed
        self._refused = False  # the last attempt reached the interface and it refused us

    @classmethod
    def for_building(cls, config: KnxConfig, building: Building) -> KnxGateway:
        return cls(config, dpts_from_building(building))

    def set_building(self, building: Building) -> None:
        """Decode states with a reloaded building's DPTs (queued telegrams are unaffected)."""
        self.states.set_dpts(dpts_from_building(building))

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the connection and dispatcher tasks; wait for the first connection attempt.

        Raises :class:`KnxConfigError` for settings that cannot work (keyring missing or wrong
        password); network trouble is never raised, only logged and retried.
        """
        if self._running:
            return
        if self.config.secure is not None:
            self._keyring = await self._load_keyring(self.config.secure)
        self._running = True
        self._first_attempt_done.clear()
        self._tasks = [
            asyncio.create_task(self._connection_loop(), name="knx-connection"),
            asyncio.create_task(self._dispatch_loop(), name="knx-dispatch"),
        ]
        await self._first_attempt_done.wait()

    async def stop(self) -> None:
        """Disconnect; telegrams still queued are discarded (outcome ``CANCELLED``)."""
        if not self._running:
            return
        self._running = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._connected.clear()
        for xknx in (self._xknx, self._closing):  # _closing: a close cut short by cancel()
            if xknx is not None:
                await self._close(xknx)
        self._xknx = self._closing = None
        if self._queue:
            log.warning(
                "KNX stopping with %d queued telegram(s) not sent: %s",
                len(self._queue),
                "; ".join(d.describe() for d in self._queue),
            )
        while self._queue:
            self._queue.popleft()._finish(Outcome.CANCELLED)
        for waiters in self._readers.values():
            for fut in waiters:
                fut.cancel()
        self._readers.clear()
        log.info("KNX stopped (%s)", self.config.describe())

    async def __aenter__(self) -> KnxGateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def pending(self) -> int:
        """Telegrams queued and not yet sent."""
        return len(self._queue)

    @property
    def individual_address(self) -> str | None:
        """The address our telegrams carry as source (assigned by the tunnel or configured)."""
        if self.config.individual_address and self.config.type == "tunnelling":
            return self.config.individual_address
        if self._xknx is not None and self._xknx.current_address.raw:
            return str(self._xknx.current_address)
        return self.config.individual_address

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """True once connected; False if ``timeout`` passes first."""
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError:
            return False
        return True

    # -- sending ------------------------------------------------------------------------------

    async def send(
        self, telegrams: Sequence[Telegram], *, ttl_s: float | None = None
    ) -> list[Delivery]:
        """Queue GroupValueWrites, in order; returns at once with one :class:`Delivery` each."""
        self._require_running()
        ttl = self.config.ttl_s if ttl_s is None else ttl_s
        deliveries = []
        for t in telegrams:
            payload = t.encode()
            xt = XknxTelegram(
                destination_address=GroupAddress(t.ga),
                payload=GroupValueWrite(payload),
                source_address=self._source_address(),
            )
            deliveries.append(Delivery(t, t.ga, ttl, _xknx_telegram=xt))
        self._enqueue(deliveries)
        return deliveries

    async def read(self, ga: str, *, timeout_s: float | None = None) -> GroupState | None:
        """Send a GroupValueRead and wait for the answer (GroupValueResponse, or a Write).

        Returns the new state, or ``None`` if nothing answered within ``timeout_s``
        (``read_timeout_s`` by default). :meth:`state` still has the last known value.
        """
        self._require_running()
        timeout = self.config.read_timeout_s if timeout_s is None else timeout_s
        raw = ga_raw(ga)
        fut: asyncio.Future[GroupState] = asyncio.get_running_loop().create_future()
        self._readers[raw].append(fut)
        xt = XknxTelegram(
            destination_address=GroupAddress(raw),
            payload=GroupValueRead(),
            source_address=self._source_address(),
        )
        self._enqueue([Delivery(None, ga_str(raw), timeout, _xknx_telegram=xt)])
        try:
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            log.info("KNX read ga=%s: no answer within %.1f s", ga_str(raw), timeout)
            return None
        finally:
            waiters = self._readers.get(raw)
            if waiters and fut in waiters:
                waiters.remove(fut)
                if not waiters:
                    del self._readers[raw]

    def state(self, ga: str) -> GroupState | None:
        """The last value seen on ``ga`` (bus write/response, or sent by us); None if never."""
        return self.states.get(ga)

    # -- internals: queue ---------------------------------------------------------------------

    def _require_running(self) -> None:
        if not self._running:
            raise RuntimeError("KnxGateway is not started: call 'await gateway.start()' first")

    def _source_address(self) -> IndividualAddress:
        # UDP tunnels get their address from the interface, so a configured one is set as the
        # source of each frame (knxd keeps it; some interfaces overwrite it with the tunnel's).
        # TCP tunnels request it when connecting and routing uses it via xknx: 0.0.0 there
        # means "fill in the connection's address".
        if self.config.type == "tunnelling" and self.config.individual_address:
            return IndividualAddress(self.config.individual_address)
        return IndividualAddress(0)

    def _enqueue(self, deliveries: list[Delivery]) -> None:
        for d in deliveries:
            self._queue.append(d)
            log.debug("KNX queued %s ttl_s=%g id=%d", d.describe(), d.ttl_s, d.id)
        self._wakeup.set()

    def _drop_stale(self) -> None:
        now = time.monotonic()
        if not any(d.deadline <= now for d in self._queue):
            return
        keep: deque[Delivery] = deque()
        for d in self._queue:
            if d.deadline <= now:
                log.warning(
                    "KNX dropped stale %s age_ms=%d ttl_s=%g: %s not reachable in time%s",
                    d.describe(),
                    (now - d.queued_at) * 1000,
                    d.ttl_s,
                    self.config.describe(),
                    f" ({self.last_error})" if self.last_error else "",
                )
                d._finish(Outcome.EXPIRED)
            else:
                keep.append(d)
        self._queue = keep

    async def _dispatch_loop(self) -> None:
        while True:
            self._wakeup.clear()
            self._drop_stale()
            xknx = self._xknx
            if not self._queue or xknx is None or not self._connected.is_set():
                timeout = None
                if self._queue:
                    timeout = max(0.0, min(d.deadline for d in self._queue) - time.monotonic())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wakeup.wait()
                continue
            item = self._queue[0]
            assert item._xknx_telegram is not None
            try:
                await xknx.cemi_handler.send_telegram(item._xknx_telegram)
            except ConfirmationError as err:
                self._queue.popleft()
                log.warning(
                    "KNX unconfirmed %s via %s: the interface took it but did not confirm it "
                    "on the bus (%s); not repeated, to avoid sending it twice",
                    item.describe(),
                    self.config.describe(),
                    err,
                )
                item._finish(Outcome.UNCONFIRMED)
            except (CommunicationError, OSError) as err:
                # Never acknowledged by the interface: keep it queued (until its deadline)
                # and send it once the link is back.
                log.warning(
                    "KNX could not send %s via %s: %s; kept queued for %.1f s more",
                    item.describe(),
                    self.config.describe(),
                    err,
                    max(0.0, item.deadline - time.monotonic()),
                )
                self._mark_lost(xknx, f"send failed: {err}")
            except Exception:
                self._queue.popleft()
                log.exception("KNX cannot send %s; dropped", item.describe())
                item._finish(Outcome.FAILED)
            else:
                self._queue.popleft()
                self._sent(item, xknx)

    def _sent(self, item: Delivery, xknx: XKNX) -> None:
        xt = item._xknx_telegram
        assert xt is not None
        src = str(xt.source_address) if xt.source_address.raw else str(xknx.current_address)
        log.info(
            "KNX sent %s src=%s via=%s queued_ms=%d",
            item.describe(),
            src,
            self._via(),
            (time.monotonic() - item.queued_at) * 1000,
        )
        if isinstance(xt.payload, GroupValueWrite):
            self.states.update(xt.destination_address, xt.payload.value, src, "sent")
        item._finish(Outcome.SENT)

    def _via(self) -> str:
        c = self.config
        if c.type == "routing":
            return f"routing/{c.multicast_group}:{c.multicast_port}"
        return f"{c.type}/{c.host}:{c.port}"

    # -- internals: connection ----------------------------------------------------------------

    async def _load_keyring(self, secure: KnxSecure) -> Keyring:
        if not secure.keyring.is_file():
            raise KnxConfigError(
                f"KNX IP Secure keyring {secure.keyring} not found: export it from ETS "
                "(Project > Export keyring) and point 'secure.keyring' at it"
            )
        password = secure.read_password()
        try:
            keyring = await load_keyring(secure.keyring, password)
        except InvalidSecureConfiguration as err:
            raise KnxConfigError(
                f"KNX IP Secure keyring {secure.keyring} cannot be opened: wrong password or "
                f"not an ETS .knxkeys file ({err or 'signature check failed'})"
            ) from None
        log.info("KNX IP Secure keyring %s loaded", secure.keyring)
        return keyring

    def _connection_config(self) -> ConnectionConfig:
        return connection_config(self.config, self._keyring)

    def _new_xknx(self) -> XKNX:
        holder: list[XKNX] = []

        def on_state(state: XknxConnectionState) -> None:
            if state is XknxConnectionState.DISCONNECTED and holder:
                self._mark_lost(
                    holder[0], "tunnel closed: the interface stopped answering or disconnected us"
                )

        def on_telegram(telegram: XknxTelegram) -> None:
            self._telegram_received(telegram)

        xknx = XKNX(
            connection_config=self._connection_config(),
            telegram_received_cb=on_telegram,
            connection_state_changed_cb=on_state,
        )
        holder.append(xknx)
        return xknx

    def _mark_lost(self, xknx: XKNX, reason: str) -> None:
        if xknx is not self._xknx or not self._connected.is_set():
            return
        self._connected.clear()
        self._lost_reason = reason
        self._lost.set()
        self._wakeup.set()

    async def _close(self, xknx: XKNX) -> None:
        self._closing = xknx
        try:
            async with asyncio.timeout(3.0):
                await xknx.stop()
        except (TimeoutError, XKNXException, OSError) as err:
            log.debug("KNX closing the old connection: %s", err)
        self._closing = None  # not reached when cancelled: stop() finishes the close then

    async def _connection_loop(self) -> None:
        c = self.config
        delay = c.backoff_initial_s
        down_since: float | None = None
        try:
            while True:
                self.attempts += 1
                self._refused = False
                xknx, error = await self._try_connect()
                if error is not None:
                    if xknx is not None:
                        await self._close(xknx)
                    self.last_error = error
                    if down_since is None:
                        down_since = time.monotonic()
                    first = self.attempts == 1
                    log.log(
                        logging.ERROR if first else logging.WARNING,
                        "%s %s%s: %s; retrying in %.1f s "
                        "(attempt %d, backoff doubling up to %g s)%s",
                        c.describe(),
                        "refused us" if self._refused else "unreachable",
                        "" if first else f" for {time.monotonic() - down_since:.1f} s",
                        error,
                        delay,
                        self.attempts,
                        c.backoff_max_s,
                        f". {self._hint()}" if first else "",
                    )
                    self._first_attempt_done.set()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, c.backoff_max_s)
                    continue

                outage = (
                    f" after {time.monotonic() - down_since:.1f} s down, {self.attempts} attempt(s)"
                    if down_since is not None
                    else ""
                )
                log.info(
                    "KNX connected to %s as %s%s",
                    c.describe(),
                    self._address_label(xknx),
                    outage,
                )
                self._xknx = xknx
                self.connections += 1
                self._lost.clear()
                self._connected.set()
                self._wakeup.set()
                self._first_attempt_done.set()
                self.attempts, delay, down_since = 0, c.backoff_initial_s, None
                self.last_error = None

                assert xknx is not None
                await self._supervise(xknx)

                down_since = time.monotonic()
                self.last_error = self._lost_reason
                log.warning(
                    "KNX link to %s lost (%s); reconnecting", c.describe(), self._lost_reason
                )
                self._xknx = None
                # Close before reconnecting: a restarted interface may hand our old channel id
                # to the new connection, and a late DISCONNECT_REQUEST would then cut it.
                await self._close(xknx)
        finally:
            self._first_attempt_done.set()

    def _address_label(self, xknx: XKNX) -> str:
        if self.config.type == "tunnelling" and self.config.individual_address:
            return f"{self.config.individual_address} (tunnel {xknx.current_address})"
        return str(xknx.current_address)

    async def _try_connect(self) -> tuple[XKNX | None, str | None]:
        """One connection attempt: (xknx, None) on success, else (xknx or None, why)."""
        xknx: XKNX | None = None
        try:
            xknx = self._new_xknx()
            async with asyncio.timeout(self.config.connect_timeout_s):
                await xknx.start()
        except asyncio.CancelledError:  # stop() during an attempt: let stop() close it
            self._closing = xknx
            raise
        except TimeoutError:
            return xknx, f"no connection within {self.config.connect_timeout_s:g} s"
        except InvalidSecureConfiguration as err:
            return xknx, f"KNX IP Secure: {err or 'the keyring does not fit this interface'}"
        except (XKNXException, OSError) as err:
            # xknx wraps the secure session's refusal in "could not be established"
            self._refused = _caused_by(err, IPSecureError)
            return xknx, _reason(err)
        except Exception as err:  # keep retrying whatever xknx throws; show it once in full
            log.exception("KNX unexpected error while connecting")
            return xknx, f"{type(err).__name__}: {err}"
        return xknx, None

    def _hint(self) -> str:
        if self._refused:
            return (
                "The keyring's password for this tunnel (individual_address / secure.user_id) "
                "or the interface's authentication code does not match the interface: export "
                "the keyring from ETS again and restart the service"
            )
        if self.config.type == "routing":
            return (
                "Check local_ip (an address of this machine on the KNX IP network) and that "
                "multicast reaches it"
            )
        return (
            "Check that the interface is powered and reachable from here, that host/port are "
            "right, and that it has a free tunnel"
        )

    async def _supervise(self, xknx: XKNX) -> None:
        """Return when the link is lost; probe an idle tunnel every ``heartbeat_s``."""
        period = self.config.heartbeat_s
        probe = self.config.type != "routing" and period > 0
        while True:
            try:
                async with asyncio.timeout(period if probe else None):
                    await self._lost.wait()
                return
            except TimeoutError:
                pass
            problem = await self._probe(xknx)
            if problem is not None:
                self._mark_lost(xknx, problem)

    async def _probe(self, xknx: XKNX) -> str | None:
        """Ask the tunnel server whether our channel is still alive (CONNECTIONSTATE_REQUEST)."""
        interface = getattr(xknx.knxip_interface, "_interface", None)
        request = getattr(interface, "_connectionstate_request", None)
        if request is None:  # xknx internals changed: rely on send failures instead
            return None
        try:
            async with asyncio.timeout(2.0):
                outcome = await request()
        except TimeoutError:
            return "no answer to the connection-state request within 2 s"
        except (XKNXException, OSError) as err:
            return f"connection-state request failed: {err}"
        if outcome is not None and not outcome[0]:
            return f"the interface no longer knows our connection ({outcome[1]})"
        return None

    # -- internals: receiving -----------------------------------------------------------------

    def _telegram_received(self, telegram: XknxTelegram) -> None:
        dest = telegram.destination_address
        if not isinstance(dest, GroupAddress):
            return
        payload = telegram.payload
        if isinstance(payload, GroupValueWrite | GroupValueResponse) and isinstance(
            payload.value, DPTBinary | DPTArray
        ):
            origin = "write" if isinstance(payload, GroupValueWrite) else "response"
            state = self.states.update(dest, payload.value, str(telegram.source_address), origin)
            log.debug(
                "KNX seen %s ga=%s payload=%s value=%s src=%s",
                origin,
                state.ga,
                payload_bytes(payload.value).hex(),
                state.value,
                state.source,
            )
            for fut in self._readers.pop(dest.raw, []):
                if not fut.done():
                    fut.set_result(state)


def _reason(err: BaseException) -> str:
    """xknx wraps the real cause ("connection refused", "no answer in 1 s"): show both."""
    text = str(err) or type(err).__name__
    cause = err.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    return text
