"""KnxConfig -> xknx ConnectionConfig for every connection type, and secrets kept out of logs.

CI has no server for TCP tunnelling and secure tunnelling (knxd speaks neither KNXnet/IP over
TCP nor KNX IP Secure), so their mapping is checked here, and against a real server in
tests/test_knx_live.py when one is given (EDGEASR_KNX_LIVE); the UDP tunnel and (secure)
routing also run against real peers in tests/test_knx_gateway.py.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from test_knx_gateway import make_keyring
from xknx.io import ConnectionType
from xknx.secure.keyring import load_keyring

from bench.knxbus import free_port
from edgeasr.knx import KnxConfig, KnxConfigError, KnxGateway, connection_config
from edgeasr.service import load_service_config

PASSWORD = "pw-that-must-never-be-logged"


@pytest.fixture
def keyring_file(tmp_path: Path) -> Path:
    return make_keyring(tmp_path / "house.knxkeys", PASSWORD, bytes(range(16)))


def test_each_connection_type_maps_to_xknx(keyring_file: Path) -> None:
    keyring = asyncio.run(load_keyring(keyring_file, PASSWORD))
    secure = {"keyring": keyring_file, "password": PASSWORD}
    cases = [
        (KnxConfig(host="10.0.0.5", port=3700, individual_address="1.1.250"),
         ConnectionType.TUNNELING, ("10.0.0.5", 3700)),
        (KnxConfig(type="tunnelling_tcp", host=" 10.0.0.5 "),
         ConnectionType.TUNNELING_TCP, ("10.0.0.5", 3671)),
        (KnxConfig(type="tunnelling_tcp", host="10.0.0.5", individual_address="1.1.251",
                   secure={**secure, "user_id": 3}),
         ConnectionType.TUNNELING_TCP_SECURE, ("10.0.0.5", 3671)),
        (KnxConfig(type="routing", local_ip="10.0.0.9"), ConnectionType.ROUTING, None),
        (KnxConfig(type="routing", local_ip="10.0.0.9", multicast_group="239.1.2.3",
                   multicast_port=3672, secure=secure),
         ConnectionType.ROUTING_SECURE, None),
    ]
    for cfg, kind, gateway in cases:
        cc = connection_config(cfg, keyring if cfg.secure else None)
        assert cc.connection_type is kind, cfg
        assert cc.auto_reconnect is False  # our backoff loop reconnects
        assert (cc.gateway_ip, cc.gateway_port) == (gateway or (None, 3671)), cfg
        assert cc.local_ip == cfg.local_ip
        if cfg.individual_address:
            assert str(cc.individual_address) == cfg.individual_address
        if cfg.secure is None:
            assert cc.secure_config is None
        else:
            assert cc.secure_config is not None and cc.secure_config.keyring is keyring
            assert cc.secure_config.user_id == cfg.secure.user_id
        if kind is ConnectionType.ROUTING_SECURE:
            assert (cc.multicast_group, cc.multicast_port) == ("239.1.2.3", 3672)
    with pytest.raises(KnxConfigError, match="keyring was not loaded"):
        connection_config(KnxConfig(type="routing", secure=secure))


def test_secure_settings_errors_name_what_is_missing(tmp_path: Path) -> None:
    service = tmp_path / "service.yaml"
    service.write_text("building: b.yaml\nknx:\n  type: tunnelling_tcp\n  host: 10.0.0.5\n"
                       "  secure: {keyring: house.knxkeys}\n")
    with pytest.raises(ValueError, match="knx.secure: .*exactly one of 'password' or "
                       "'password_file'"):
        load_service_config(service)
    missing = KnxConfig(type="tunnelling_tcp", host="10.0.0.5",
                        secure={"keyring": tmp_path / "gone.knxkeys", "password": PASSWORD})
    with pytest.raises(KnxConfigError, match="gone.knxkeys not found: export it from ETS"):
        asyncio.run(KnxGateway(missing).start())
    no_file = KnxConfig(type="routing", secure={"keyring": tmp_path / "gone.knxkeys",
                                                "password_file": tmp_path / "nope"})
    (tmp_path / "gone.knxkeys").write_text("<Keyring/>")
    with pytest.raises(KnxConfigError, match="cannot read the keyring password file"):
        asyncio.run(KnxGateway(no_file).start())


def test_the_keyring_password_is_never_logged_or_shown(
        keyring_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, xknx's included
    good = KnxConfig(type="routing", local_ip="127.0.0.1", multicast_port=free_port(),
                     secure={"keyring": keyring_file, "password": PASSWORD})
    assert PASSWORD not in repr(good) and PASSWORD not in good.model_dump_json()
    assert PASSWORD not in good.describe()

    async def up_and_down(cfg: KnxConfig) -> None:
        async with KnxGateway(cfg) as gw:
            assert gw.connected

    asyncio.run(up_and_down(good))
    other = make_keyring(tmp_path / "other.knxkeys", "another password", bytes(16))
    wrong = good.model_copy(update={"secure": good.secure.model_copy(  # type: ignore[union-attr]
        update={"keyring": other})})
    with pytest.raises(KnxConfigError) as err:
        asyncio.run(KnxGateway(wrong).start())
    assert PASSWORD not in str(err.value)
    assert "KNX IP Secure keyring" in caplog.text  # the logs were captured...
    assert PASSWORD not in caplog.text  # ...and the password is in none of them
