"""KnxGateway against a real knxd on loopback (started and stopped here, by pid).

What reaches the bus is checked by monitors that are not the service: a multicast socket on
knxd's routing group and ``knxtool vbusmonitor1`` (see bench/knxbus.py). Expected payloads are
written out from the KNX specification here, independently of xknx's encoders.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml import sax as xml_sax

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from pydantic import ValidationError
from xknx import XKNX
from xknx.dpt import DPTArray, DPTBinary
from xknx.io import ConnectionConfig, ConnectionType, SecureConfig
from xknx.secure.keyring import KeyringSAXContentHandler, hash_keyring_password
from xknx.secure.util import sha256_hash
from xknx.telegram import GroupAddress
from xknx.telegram import Telegram as XknxTelegram
from xknx.telegram.apci import GroupValueRead, GroupValueResponse, GroupValueWrite

from bench.knxbus import (
    Knxd,
    KnxtoolMonitor,
    MulticastMonitor,
    environment_problem,
    free_port,
    knxtool,
)
from edgeasr.building import load_building
from edgeasr.knx import (
    KnxConfig,
    KnxConfigError,
    KnxGateway,
    Outcome,
    dpts_from_building,
)
from edgeasr.telegram import Telegram, transcoder

ROOT = Path(__file__).resolve().parents[1]
DEMO = load_building(ROOT / "examples" / "demo-building.yaml")
DPTS = dpts_from_building(DEMO)

needs_knxd = pytest.mark.skipif(
    environment_problem() is not None, reason=f"knxd tests skipped: {environment_problem()}"
)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """The project has no pytest-asyncio: each test runs its own event loop."""
    return asyncio.run(coro)


@pytest.fixture
def knxd(tmp_path: Path) -> Iterator[Knxd]:
    daemon = Knxd(free_port(), tmp_path)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def monitor(knxd: Knxd) -> Iterator[MulticastMonitor]:
    with MulticastMonitor(knxd.port) as mon:
        yield mon


def tunnel_config(port: int, **overrides: Any) -> KnxConfig:
    settings: dict[str, Any] = {
        "type": "tunnelling",
        "host": "127.0.0.1",
        "port": port,
        "local_ip": "127.0.0.1",
        "backoff_initial_s": 0.2,
        "backoff_max_s": 1.0,
    }
    settings.update(overrides)
    return KnxConfig(**settings)


def routing_config(port: int, **overrides: Any) -> KnxConfig:
    settings: dict[str, Any] = {
        "type": "routing",
        "local_ip": "127.0.0.1",
        "multicast_port": port,
        "individual_address": "1.1.250",
    }
    settings.update(overrides)
    return KnxConfig(**settings)


def messages(caplog: pytest.LogCaptureFixture, level: int = logging.DEBUG) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


# ---------------------------------------------------------------------------------------------
# Expected payloads from the KNX specification (03_07_02 Datapoint Types), not from xknx
# ---------------------------------------------------------------------------------------------


def spec_payload(dpt: str, value: bool | int | float) -> tuple[bytes, bool]:
    """(payload octets, folded into the APCI?) for the demo building's DPTs."""
    main = dpt.split(".")[0]
    if main == "1":
        return bytes([1 if value else 0]), True
    if dpt == "5.001":  # U8 scaled: 0..100 % -> 0..255
        return bytes([round(float(value) * 255 / 100)]), False
    if dpt == "17.001":  # scene number 1..64 is sent as 0..63
        return bytes([int(value) - 1]), False
    if dpt == "9.001":  # 2-octet float: (0.01 * M) * 2^E, M 12-bit two's complement
        mantissa, exponent = round(float(value) * 100), 0
        while not -2048 <= mantissa <= 2047:
            mantissa, exponent = round(mantissa / 2), exponent + 1
        m = mantissa & 0x0FFF
        sign = 0x80 if mantissa < 0 else 0
        return bytes([sign | (exponent << 3) | (m >> 8), m & 0xFF]), False
    raise AssertionError(f"no reference for DPT {dpt}")


def test_spec_payload_reference_values() -> None:
    # Hand-checked values, so the reference itself is trustworthy.
    assert spec_payload("9.001", 21.5) == (bytes.fromhex("0c33"), False)
    assert spec_payload("9.001", 19.0) == (bytes.fromhex("076c"), False)
    assert spec_payload("5.001", 40) == (bytes.fromhex("66"), False)
    assert spec_payload("5.001", 100) == (bytes.fromhex("ff"), False)
    assert spec_payload("17.001", 1) == (b"\x00", False)


def demo_telegrams() -> list[Telegram]:
    """Every function of the demo building, with the values a spoken command produces."""
    values: dict[str, list[bool | int | float]] = {
        "switch": [True, False],
        "brightness": [40, 0, 100],
        "up_down": [False, True],  # up (open), down (close)
        "stop": [True],
        "position": [75],
        "setpoint": [21.5, 19.0],
        "all_lights_off": [False],
    }
    out: list[Telegram] = []
    for _, function, addr in DEMO.addresses():
        if function == "scenes":
            assert DEMO.scenes is not None
            for number in sorted(DEMO.scenes.values.values()):
                out.append(Telegram(addr.ga, addr.dpt, number))
            continue
        for value in values[function]:
            out.append(Telegram(addr.ga, addr.dpt, value))
    return out


# ---------------------------------------------------------------------------------------------
# Each demo-building function: the right group telegram and value, per DPT
# ---------------------------------------------------------------------------------------------


@needs_knxd
@pytest.mark.parametrize("kind", ["tunnelling", "routing"])
def test_each_demo_function_reaches_the_bus(
    kind: str, knxd: Knxd, monitor: MulticastMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edgeasr.knx")
    telegrams = demo_telegrams()
    assert {t.ga for t in telegrams} == set(DPTS)  # every function of the building is covered
    config = tunnel_config(knxd.port) if kind == "tunnelling" else routing_config(knxd.port)

    async def scenario() -> tuple[list[Outcome], str | None]:
        async with KnxGateway(config, DPTS) as gw:
            assert gw.connected
            deliveries = await gw.send(telegrams)
            outcomes = [await d.wait(10) for d in deliveries]
            return outcomes, gw.individual_address

    with KnxtoolMonitor(knxd.socket) as bus:
        outcomes, own_address = run(scenario())
        assert outcomes == [Outcome.SENT] * len(telegrams)
        for mon in (monitor, bus):
            assert mon.wait_for(lambda seen: len(seen) >= len(telegrams), timeout=3)
        time.sleep(0.2)  # anything duplicated would arrive now
        for name, mon in (("multicast", monitor), ("knxtool vbusmonitor1", bus)):
            seen = mon.telegrams()
            assert len(seen) == len(telegrams), f"{name} saw {seen}"
            for sent, got in zip(telegrams, seen, strict=True):
                payload, small = spec_payload(sent.dpt, sent.value)
                where = f"{name}: {sent}"
                assert (got.ga, got.service) == (sent.ga, "write"), where
                assert (got.payload, got.small) == (payload, small), where
                raw = DPTBinary(got.payload[0]) if got.small else DPTArray(tuple(got.payload))
                decoded = transcoder(sent.dpt).from_knx(raw)
                decoded = decoded.value if isinstance(decoded, enum.Enum) else decoded
                assert decoded == sent.value, where
                assert got.src == (own_address if kind == "tunnelling" else "1.1.250"), where
    sent_lines = [m for m in messages(caplog) if m.startswith("KNX sent write")]
    assert len(sent_lines) == len(telegrams)
    assert "KNX sent write ga=3/2/1 dpt=9.001 value=21.5 payload=0c33 src=" in "\n".join(sent_lines)


# ---------------------------------------------------------------------------------------------
# Reliability: restart within TTL, outage longer than TTL, unreachable at start-up
# ---------------------------------------------------------------------------------------------

KITCHEN_ON = Telegram("1/1/1", "1.001", True)
HALLWAY_ON = Telegram("1/6/1", "1.001", True)
OFFICE_21 = Telegram("3/4/1", "9.001", 21.0)


@needs_knxd
def test_gateway_restart_within_ttl_delivers_fresh_command_exactly_once(
    knxd: Knxd, monitor: MulticastMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edgeasr.knx")
    # heartbeat off: the outage is found by the send itself (no TUNNELLING_ACK), the hard case
    config = tunnel_config(knxd.port, heartbeat_s=0)
    assert config.ttl_s == 3.0

    async def scenario() -> tuple[Outcome, float]:
        async with KnxGateway(config, DPTS) as gw:
            warm = await gw.send([OFFICE_21])
            assert await warm[0].wait(5) == Outcome.SENT
            knxd.stop()
            stopped = time.monotonic()
            await asyncio.sleep(0.2)
            (fresh,) = await gw.send([KITCHEN_ON])
            await asyncio.sleep(2.0 - (time.monotonic() - stopped))
            knxd.start()  # down for 2 s
            outcome = await fresh.wait(5)
            latency = time.monotonic() - fresh.queued_at
            await asyncio.sleep(1.0)  # a duplicate would show up now
            return outcome, latency

    outcome, latency = run(scenario())
    assert outcome == Outcome.SENT
    assert latency < 3.0, f"delivered {latency:.2f} s after the command, after its TTL"
    kitchen = monitor.telegrams(ga="1/1/1")
    assert [t.payload for t in kitchen] == [b"\x01"], f"expected exactly one, saw {kitchen}"
    log = "\n".join(messages(caplog))
    assert "lost" in log and "KNX connected" in log
    assert "KNX sent write ga=1/1/1 dpt=1.001 value=true" in log


@needs_knxd
def test_idle_gateway_restart_is_noticed_by_the_heartbeat(
    knxd: Knxd, monitor: MulticastMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edgeasr.knx")
    config = tunnel_config(knxd.port, heartbeat_s=0.3)

    async def scenario() -> tuple[Outcome, float]:
        async with KnxGateway(config, DPTS) as gw:
            assert gw.connections == 1
            knxd.restart()  # nobody tells the gateway; the heartbeat must find out
            restarted = time.monotonic()
            while gw.connections < 2 and time.monotonic() - restarted < 5:
                await asyncio.sleep(0.05)
            assert gw.connections == 2, "heartbeat did not notice the restarted gateway"
            assert gw.connected
            (d,) = await gw.send([HALLWAY_ON])
            outcome = await d.wait(3)
            return outcome, time.monotonic() - d.queued_at

    outcome, latency = run(scenario())
    assert outcome == Outcome.SENT
    assert latency < 0.5  # sent at once: the link was already re-established
    # knxd acknowledges the tunnel frame before it routes it: on busy cores the multicast copy
    # can arrive a little after the ACK, so wait for it rather than look once
    assert monitor.wait_for(lambda ts: len(ts) >= 1, timeout=3.0, ga="1/6/1")
    assert [t.payload for t in monitor.telegrams(ga="1/6/1")] == [b"\x01"]
    assert any("no longer knows our connection" in m for m in messages(caplog))


@needs_knxd
def test_gateway_down_longer_than_ttl_delivers_nothing_stale(
    knxd: Knxd, monitor: MulticastMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edgeasr.knx")
    config = tunnel_config(knxd.port, heartbeat_s=0)

    async def scenario() -> tuple[Outcome, Outcome]:
        async with KnxGateway(config, DPTS) as gw:
            knxd.stop()
            stopped = time.monotonic()
            await asyncio.sleep(0.1)
            (stale,) = await gw.send([KITCHEN_ON])  # TTL 3 s, gateway back after 4 s
            await asyncio.sleep(4.0 - (time.monotonic() - stopped))
            assert stale.outcome == Outcome.EXPIRED  # dropped while the link was down
            knxd.start()
            assert await gw.wait_connected(5)
            (fresh,) = await gw.send([HALLWAY_ON])
            fresh_outcome = await fresh.wait(3)
            await asyncio.sleep(0.5)
            return await stale.wait(0), fresh_outcome

    stale_outcome, fresh_outcome = run(scenario())
    assert stale_outcome == Outcome.EXPIRED
    assert fresh_outcome == Outcome.SENT
    assert monitor.telegrams(ga="1/1/1") == [], "a stale command reached the bus"
    assert [t.payload for t in monitor.telegrams(ga="1/6/1")] == [b"\x01"]
    dropped = [m for m in messages(caplog, logging.WARNING) if "KNX dropped stale" in m]
    assert len(dropped) == 1
    assert "ga=1/1/1 dpt=1.001 value=true" in dropped[0] and "ttl_s=3" in dropped[0]


@needs_knxd
def test_unreachable_gateway_at_startup_gives_clear_error_and_retries(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edgeasr.knx")
    port = free_port()
    daemon = Knxd(port, tmp_path)
    config = tunnel_config(port, backoff_initial_s=0.2, backoff_max_s=0.8)

    async def scenario() -> tuple[bool, int, Outcome]:
        gw = KnxGateway(config, DPTS)
        try:
            await gw.start()  # returns after the first attempt; does not raise
            assert not gw.connected
            (queued,) = await gw.send([KITCHEN_ON], ttl_s=30)  # waits for the gateway
            await asyncio.sleep(2.5)
            attempts = gw.attempts
            daemon.start()
            connected = await gw.wait_connected(5)
            return connected, attempts, await queued.wait(5)
        finally:
            await gw.stop()

    with MulticastMonitor(port) as monitor:
        try:
            connected, attempts, outcome = run(scenario())
        finally:
            daemon.stop()
        assert connected
        assert outcome == Outcome.SENT
        assert monitor.wait_for(lambda ts: len(ts) >= 1, timeout=3.0, ga="1/1/1")
        assert [t.payload for t in monitor.telegrams(ga="1/1/1")] == [b"\x01"]
    assert attempts >= 2, "no retry while the gateway was unreachable"
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert f"127.0.0.1:{port}" in errors[0] and "unreachable" in errors[0]
    assert "retrying in 0.2 s" in errors[0]
    retries = [m for m in messages(caplog, logging.WARNING) if "unreachable for" in m]
    assert retries and "retrying in 0.4 s" in retries[0]
    assert any(m.startswith("KNX connected") and "down" in m for m in messages(caplog))


def test_unreachable_tcp_gateway_names_host_and_port(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edgeasr.knx")
    port = free_port()  # nothing listens there
    config = tunnel_config(port, type="tunnelling_tcp", backoff_initial_s=0.1)

    async def scenario() -> int:
        async with KnxGateway(config) as gw:
            await asyncio.sleep(0.5)
            assert not gw.connected
            return gw.attempts

    assert run(scenario()) >= 2
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert f"tunnelling (TCP) gateway 127.0.0.1:{port} unreachable" in errors[0]
    assert "refused" in errors[0].lower() or "connect call failed" in errors[0].lower()


# ---------------------------------------------------------------------------------------------
# State tracking: writes and responses from other devices, our own sends, reads
# ---------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def thermostat_device(port: int, ga: str, answer: bytes) -> AsyncIterator[None]:
    """A second KNX client on knxd that answers GroupValueRead on ``ga`` with ``answer``."""
    device: XKNX
    tasks: set[asyncio.Task[None]] = set()

    def on_telegram(telegram: XknxTelegram) -> None:
        if str(telegram.destination_address) == ga and isinstance(telegram.payload, GroupValueRead):
            response = XknxTelegram(
                destination_address=GroupAddress(ga),
                payload=GroupValueResponse(DPTArray(tuple(answer))),
            )
            task = asyncio.create_task(device.cemi_handler.send_telegram(response))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    device = XKNX(
        connection_config=ConnectionConfig(
            connection_type=ConnectionType.TUNNELING,
            gateway_ip="127.0.0.1",
            gateway_port=port,
            local_ip="127.0.0.1",
            auto_reconnect=False,
        ),
        telegram_received_cb=on_telegram,
    )
    await device.start()
    try:
        yield
    finally:
        await device.stop()


@needs_knxd
def test_states_follow_the_bus_and_read_gets_the_response(
    knxd: Knxd, monitor: MulticastMonitor
) -> None:
    async def in_thread(fn: Callable[..., str], *args: str) -> str:
        return await asyncio.to_thread(fn, *args)

    async def scenario() -> None:
        async with KnxGateway(tunnel_config(knxd.port), DPTS) as gw:
            assert gw.state("1/1/1") is None
            # another KNX device (knxtool on knxd's socket) switches the kitchen light on
            await in_thread(knxtool, knxd.socket, "groupswrite", "1/1/1", "1")
            await in_thread(knxtool, knxd.socket, "groupwrite", "1/2/3", "66")
            await asyncio.sleep(0.3)
            kitchen, living = gw.state("1/1/1"), gw.state("1/2/3")
            assert kitchen is not None and kitchen.value is True and kitchen.origin == "write"
            assert kitchen.source != gw.individual_address
            assert living is not None and living.value == 40 and living.payload == b"\x66"

            # our own command updates the state once the interface has taken it
            (d,) = await gw.send([Telegram("1/1/1", "1.001", False)])
            assert await d.wait(3) == Outcome.SENT
            kitchen = gw.state("1/1/1")
            assert kitchen is not None and kitchen.value is False and kitchen.origin == "sent"

            # a status query: GroupValueRead, answered by "the thermostat": another tunnel
            # client on knxd (a plain xknx connection, answering with hand-made payload 0C 33)
            async with thermostat_device(knxd.port, "3/2/1", bytes.fromhex("0c33")):
                state = await gw.read("3/2/1", timeout_s=3)
            assert state is not None and state.value == 21.5 and state.origin == "response"
            assert gw.state("3/2/1") == state
            # the monitor hears the bus on its own: give it time to see the response too
            await monitor.async_wait_for(lambda ts: len(ts) >= 2, timeout=2.0, ga="3/2/1",
                                         service=None)
            on_bus = monitor.telegrams(ga="3/2/1", service=None)
            assert [(t.service, t.payload) for t in on_bus] == [
                ("read", b""),
                ("response", b"\x0c\x33"),
            ]
            # nobody answers for 5/5/1: None after the timeout, no exception
            assert await gw.read("5/5/1", timeout_s=0.3) is None

    run(scenario())


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


def test_config_defaults_and_errors(tmp_path: Path) -> None:
    local = KnxConfig()  # the service's default: a knxd on this machine
    assert local.describe() == "KNX/IP tunnelling (UDP) gateway 127.0.0.1:3671"
    cfg = KnxConfig(host="192.168.1.20")
    assert (cfg.type, cfg.port, cfg.ttl_s) == ("tunnelling", 3671, 3.0)
    assert cfg.describe() == "KNX/IP tunnelling (UDP) gateway 192.168.1.20:3671"
    assert KnxConfig(type="routing").describe() == "KNX/IP routing group 224.0.23.12:3671"

    cases: list[tuple[dict[str, Any], str]] = [
        ({"type": "tunnelling_tcp", "host": " "}, "needs 'host'"),
        ({"host": "h", "individual_address": "1/1/1"}, "not a KNX individual address"),
        ({"type": "routing", "multicast_group": "10.0.0.1"}, "not an IPv4 multicast"),
        ({"host": "h", "ttl_s": 0}, "greater than 0"),
        ({"host": "h", "colour": "red"}, "Extra inputs are not permitted"),
        (
            {"host": "h", "secure": {"keyring": "k.knxkeys", "password": "x"}},
            "use type 'tunnelling_tcp'",
        ),
        (
            {"type": "routing", "secure": {"keyring": "k.knxkeys"}},
            "exactly one of 'password' or 'password_file'",
        ),
    ]
    for settings, expected in cases:
        with pytest.raises(ValidationError, match=expected):
            KnxConfig(**settings)


@dataclass(frozen=True)
class KeyringTunnel:
    """A secure tunnel as ETS exports it: the interface's own address (``host``), the
    tunnel's address, its user id and password, and the interface's authentication code."""

    host: str
    address: str
    user_id: int
    password: str
    authentication: str


def make_keyring(path: Path, password: str, backbone_key: bytes | None = None,
                 latency_ms: int = 100, tunnels: tuple[KeyringTunnel, ...] = ()) -> Path:
    """An ETS-style .knxkeys file, signed for ``password``: a routing backbone key and/or
    secure tunnels (ETS's encryption: AES-128-CBC under the password's PBKDF2 hash, IV from
    the creation time; passwords with 8 random bytes in front and padding behind)."""
    created = "2024-01-01T00:00:00"
    iv = sha256_hash(created.encode())[:16]
    key = hash_keyring_password(password.encode())  # PBKDF2: once, not per attribute

    def encrypt(data: bytes) -> str:
        encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode()

    def encrypt_password(secret: str) -> str:
        raw = os.urandom(8) + secret.encode()
        pad = 16 - len(raw) % 16
        return encrypt(raw + bytes([pad]) * pad)

    body = ""
    if backbone_key is not None:
        body += (f'  <Backbone MulticastAddress="224.0.23.12" Latency="{latency_ms}" '
                 f'Key="{encrypt(backbone_key)}" />\n')
    for tunnel in tunnels:
        body += (f'  <Interface Type="Tunneling" Host="{tunnel.host}" '
                 f'IndividualAddress="{tunnel.address}" UserID="{tunnel.user_id}" '
                 f'Password="{encrypt_password(tunnel.password)}" '
                 f'Authentication="{encrypt_password(tunnel.authentication)}" />\n')
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<Keyring Project="EdgeASR test" CreatedBy="tests" Created="{created}" '
        'Signature="SIGNATURE" xmlns="http://knx.org/xml/keyring/1">\n'
        f"{body}"
        "</Keyring>\n"
    )
    path.write_text(xml)
    handler = KeyringSAXContentHandler(password)  # xknx's signature check, run forwards
    xml_sax.parseString(xml.encode(), handler)
    signature = base64.b64encode(sha256_hash(bytes(handler.output))[:16]).decode()
    path.write_text(xml.replace("SIGNATURE", signature))
    return path


def test_secure_keyring_problems_are_config_errors(tmp_path: Path) -> None:
    missing = KnxConfig(
        type="routing", secure={"keyring": tmp_path / "nope.knxkeys", "password": "pw"}
    )
    with pytest.raises(KnxConfigError, match="nope.knxkeys not found"):
        run(KnxGateway(missing).start())

    keyring = make_keyring(tmp_path / "house.knxkeys", "right", bytes(range(16)))
    (tmp_path / "password").write_text("wrong\n")
    wrong = KnxConfig(
        type="routing",
        local_ip="127.0.0.1",
        secure={"keyring": keyring, "password_file": tmp_path / "password"},
    )
    with pytest.raises(KnxConfigError, match="wrong password or not an ETS .knxkeys file"):
        run(KnxGateway(wrong).start())
    (tmp_path / "empty").write_text("")
    empty = wrong.model_copy(
        update={"secure": wrong.secure.model_copy(update={"password_file": tmp_path / "empty"})}
    )
    with pytest.raises(KnxConfigError, match="is empty"):
        run(KnxGateway(empty).start())


def test_secure_routing_with_keyring_and_password(tmp_path: Path) -> None:
    """KNX IP Secure routing: the keyring's backbone key encrypts what goes on the network.

    knxd speaks no KNX IP Secure, so the other end is an independent xknx secure router given
    the raw backbone key; a plain multicast monitor must see no readable telegram.
    """
    backbone = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    keyring = make_keyring(tmp_path / "house.knxkeys", "provisioned secret", backbone)
    (tmp_path / "knx-password").write_text("provisioned secret\n")
    port = free_port()
    config = routing_config(
        port,
        secure={"keyring": keyring, "password_file": tmp_path / "knx-password"},
    )
    received: list[XknxTelegram] = []

    async def scenario() -> Outcome:
        peer = XKNX(
            connection_config=ConnectionConfig(
                connection_type=ConnectionType.ROUTING_SECURE,
                local_ip="127.0.0.1",
                multicast_port=port,
                individual_address="1.1.251",
                secure_config=SecureConfig(backbone_key=backbone.hex(), latency_ms=100),
            ),
            telegram_received_cb=received.append,
        )
        await peer.start()
        try:
            async with KnxGateway(config, DPTS) as gw:
                assert gw.connected
                (d,) = await gw.send([Telegram("3/2/1", "9.001", 21.5)])
                outcome = await d.wait(3)
                for _ in range(50):
                    if received:
                        break
                    await asyncio.sleep(0.02)
                return outcome
        finally:
            await peer.stop()

    with MulticastMonitor(port) as plain:
        assert run(scenario()) == Outcome.SENT
        assert plain.telegrams(service=None) == []  # only SECURE_WRAPPER frames on the wire
    writes = [t for t in received if isinstance(t.payload, GroupValueWrite)]
    assert len(writes) == 1
    assert str(writes[0].destination_address) == "3/2/1"
    assert str(writes[0].source_address) == "1.1.250"
    assert writes[0].payload.value == DPTArray((0x0C, 0x33))
