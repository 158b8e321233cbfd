"""KnxGateway against a KNXnet/IP server that knxd cannot stand in for: tunnelling over TCP
and KNX IP Secure tunnelling.

Opt-in, like the layer's bitbake parse: ``EDGEASR_KNX_LIVE`` names a YAML file describing
the server, a real IP interface or the Calimero KNXnet/IP server (how to run one on this
machine: docs/knx.md, "Testing TCP and IP Secure tunnelling"); without it these tests are
skipped. Example::

    host: 127.0.0.1
    port: 3700
    group_address: 1/1/1          # a group address writes may go to (DPT 1.001)
    secure:                       # optional: a secure tunnel of the interface
      gateway_address: 7.1.0      # the interface's own individual address
      tunnel_address: 7.1.10
      user_id: 2
      user_password: secret
      device_authentication: devpass

The keyring is written here the way ETS exports it (tests/test_knx_gateway.make_keyring), so
that the service's own path is tested: keyring file + password -> xknx picks the tunnel.
A second, independent tunnel connection (plain xknx) checks that the telegram arrived.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_knx_gateway import DPTS, KeyringTunnel, make_keyring
from xknx import XKNX
from xknx.io import ConnectionConfig, ConnectionType
from xknx.telegram import Telegram as XknxTelegram
from xknx.telegram.apci import GroupValueWrite

from edgeasr.knx import KnxConfig, KnxGateway, Outcome
from edgeasr.telegram import Telegram

LIVE = os.environ.get("EDGEASR_KNX_LIVE")
pytestmark = pytest.mark.skipif(
    not LIVE, reason="EDGEASR_KNX_LIVE not set: no KNXnet/IP TCP / IP Secure server to test "
    "against (docs/knx.md)")
KEYRING_PASSWORD = "keyring password"


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def live() -> dict[str, Any]:
    assert LIVE is not None
    return yaml.safe_load(Path(LIVE).read_text())


def secure_section(live: dict[str, Any]) -> dict[str, Any]:
    if "secure" not in live:
        pytest.skip(f"{LIVE} has no secure: section")
    return live["secure"]


def keyring_for(live: dict[str, Any], tmp_path: Path, user_password: str) -> Path:
    s = secure_section(live)
    tunnel = KeyringTunnel(host=s["gateway_address"], address=s["tunnel_address"],
                           user_id=int(s["user_id"]), password=user_password,
                           authentication=s["device_authentication"])
    return make_keyring(tmp_path / "house.knxkeys", KEYRING_PASSWORD, tunnels=(tunnel,))


async def listener(live: dict[str, Any], seen: list[XknxTelegram]) -> XKNX:
    """An independent plain TCP tunnel on the same server: it sees what reaches the bus."""
    xknx = XKNX(connection_config=ConnectionConfig(
        connection_type=ConnectionType.TUNNELING_TCP, gateway_ip=live["host"],
        gateway_port=int(live["port"]), auto_reconnect=False),
        telegram_received_cb=seen.append)
    await xknx.start()
    return xknx


async def send_and_watch(live: dict[str, Any], config: KnxConfig,
                         value: bool) -> tuple[Outcome, list[XknxTelegram], bool]:
    seen: list[XknxTelegram] = []
    other = await listener(live, seen)
    try:
        async with KnxGateway(config, DPTS) as gw:
            for _ in range(100):
                if gw.connected:
                    break
                await asyncio.sleep(0.05)
            connected = gw.connected
            (d,) = await gw.send([Telegram(live["group_address"], "1.001", value)])
            outcome = await d.wait(config.ttl_s + 2)
            await asyncio.sleep(0.5)
    finally:
        await other.stop()
    writes = [t for t in seen if isinstance(t.payload, GroupValueWrite)
              and str(t.destination_address) == live["group_address"]]
    return outcome, writes, connected


def test_tcp_tunnel_delivers_a_command(live: dict[str, Any]) -> None:
    config = KnxConfig(type="tunnelling_tcp", host=live["host"], port=int(live["port"]))
    outcome, writes, connected = run(send_and_watch(live, config, True))
    assert connected and outcome == Outcome.SENT
    assert len(writes) == 1 and writes[0].payload.value.value == 1  # DPTBinary 1: on


def test_secure_tunnel_from_keyring_delivers_a_command(live: dict[str, Any],
                                                       tmp_path: Path) -> None:
    s = secure_section(live)
    keyring = keyring_for(live, tmp_path, s["user_password"])
    config = KnxConfig(type="tunnelling_tcp", host=live["host"], port=int(live["port"]),
                       individual_address=s["tunnel_address"],
                       secure={"keyring": keyring, "password": KEYRING_PASSWORD})
    outcome, writes, connected = run(send_and_watch(live, config, False))
    assert connected and outcome == Outcome.SENT
    assert len(writes) == 1 and writes[0].payload.value.value == 0


def test_secure_tunnel_with_a_wrong_password_sends_nothing(
    live: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edgeasr.knx")
    s = secure_section(live)
    keyring = keyring_for(live, tmp_path, s["user_password"] + "-wrong")
    config = KnxConfig(type="tunnelling_tcp", host=live["host"], port=int(live["port"]),
                       individual_address=s["tunnel_address"], ttl_s=1.0,
                       backoff_initial_s=0.2, backoff_max_s=0.5,
                       secure={"keyring": keyring, "password": KEYRING_PASSWORD})
    outcome, writes, connected = run(send_and_watch(live, config, True))
    assert not connected and outcome == Outcome.EXPIRED and writes == []
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and f"{live['host']}:{live['port']} refused us" in errors[0], errors
    assert "export the keyring from ETS again" in errors[0]
    assert s["user_password"] not in "\n".join(r.getMessage() for r in caplog.records)
