"""Validate every provisioning input before anything is written.

All problems are collected and reported together, each naming the command-line option it
came from. Secrets (the keyring password, the Wi-Fi passphrase) are held as
:class:`pydantic.SecretStr`, never formatted into a message, and read from a file or the
environment only (a command line is visible to every user in ``ps``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from pydantic import SecretStr, ValidationError
from xknx.exceptions import InvalidSecureConfiguration
from xknx.secure.keyring import sync_load_keyring

from edgeasr.building import ConfigError, load_building
from edgeasr.knx.gateway import KnxConfig

SERIAL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class ProvisionError(ValueError):
    """Inputs that cannot be provisioned: one ``(field, message)`` per problem."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {msg}" for field, msg in problems))


@dataclass(frozen=True)
class DeviceData:
    """Validated per-device data, ready to be laid out (contents, not paths)."""

    serial: str
    knx: dict[str, str]  # KnxConfig settings of this unit (individual_address, type, host)
    building_yaml: bytes
    ota_ca_pem: bytes
    keyring: bytes | None = None
    knx_password: SecretStr | None = None
    wifi_ssid: str | None = None
    wifi_psk: SecretStr | None = None


def _read(path: Path, field: str, problems: list[tuple[str, str]]) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError as exc:
        problems.append((field, f"cannot read {path}: {exc.strerror}"))
        return None


def _check_keyring(path: Path, password: SecretStr,
                   problems: list[tuple[str, str]]) -> bytes | None:
    data = _read(path, "--keyring", problems)
    if data is None:
        return None
    try:
        sync_load_keyring(path, password.get_secret_value())
    except (InvalidSecureConfiguration, ValueError) as exc:
        # xknx's messages name the file and the check, never the password.
        problems.append(("--keyring", f"{path} is not an ETS .knxkeys keyring that opens with "
                         f"the given password ({type(exc).__name__}: signature check failed "
                         "or malformed XML)"))
        return None
    except Exception as exc:  # noqa: BLE001 - any parser error means "not a keyring"
        problems.append(("--keyring", f"{path} is not an ETS .knxkeys keyring "
                         f"({type(exc).__name__})"))
        return None
    return data


def _check_ca(path: Path, problems: list[tuple[str, str]]) -> bytes | None:
    data = _read(path, "--ota-ca", problems)
    if data is None:
        return None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        problems.append(("--ota-ca", f"{path} is not a PEM X.509 certificate"))
        return None
    now = dt.datetime.now(dt.UTC)
    for cert in certs:
        if cert.not_valid_after_utc < now:
            problems.append(("--ota-ca", f"{path}: certificate {cert.subject.rfc4514_string()} "
                             f"expired on {cert.not_valid_after_utc:%Y-%m-%d}"))
        try:
            ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            ca = False
        if not ca:
            problems.append(("--ota-ca", f"{path}: {cert.subject.rfc4514_string()} is not a CA "
                             "certificate (basicConstraints CA:TRUE): RAUC's keyring must hold "
                             "the CA that signs the update bundles' signing certificates"))
    return data


def _check_wifi(ssid: str, psk: SecretStr, problems: list[tuple[str, str]]) -> None:
    if not 1 <= len(ssid.encode()) <= 32:
        problems.append(("--wifi-ssid", "must be 1 to 32 bytes long"))
    if any(c in ssid for c in '"\n\r\\'):
        problems.append(("--wifi-ssid", "must not contain quotes, backslashes or line breaks"))
    value = psk.get_secret_value()
    hex64 = re.fullmatch(r"[0-9a-fA-F]{64}", value) is not None
    passphrase = 8 <= len(value) <= 63 and all(" " <= c <= "~" for c in value)
    if not (hex64 or passphrase) or '"' in value:
        problems.append(("Wi-Fi passphrase", "must be 8 to 63 printable ASCII characters "
                         "without '\"', or 64 hex digits (WPA2-PSK)"))


def validate(
    *,
    serial: str,
    individual_address: str,
    building: Path | None,
    knx_type: str | None = None,
    knx_host: str | None = None,
    ota_ca: Path | None,
    keyring: Path | None = None,
    knx_password: SecretStr | None = None,
    wifi_ssid: str | None = None,
    wifi_psk: SecretStr | None = None,
) -> DeviceData:
    """Check everything; raise :class:`ProvisionError` listing every problem found."""
    problems: list[tuple[str, str]] = []
    if not SERIAL_RE.fullmatch(serial):
        problems.append(("--serial", f"{serial!r} must be 1 to 64 of A-Z a-z 0-9 . _ - "
                         "(starting with a letter or digit)"))
    knx: dict[str, str] = {"individual_address": individual_address}
    if knx_type is not None:
        knx["type"] = knx_type
    if knx_host is not None:
        knx["host"] = knx_host
    # the whole combination as the service will see it (a keyring needs a secure type)
    secure = {"keyring": "k.knxkeys", "password_file": "p"} if keyring is not None else None
    if keyring is not None and knx_type is None:
        problems.append(("--knx-type", "required with --keyring: 'routing' (secure routing) "
                         "or 'tunnelling_tcp' (secure tunnelling)"))
    else:
        try:
            checked = KnxConfig.model_validate({**knx, "secure": secure})
            knx["individual_address"] = checked.individual_address or ""
        except ValidationError as exc:
            for err in exc.errors():
                where = str(err["loc"][0]) if err["loc"] else "type"
                field = {"individual_address": "--individual-address", "host": "--knx-host",
                         }.get(where, "--knx-type")
                problems.append((field, err["msg"].removeprefix("Value error, ")))

    building_yaml = None
    if building is None:
        problems.append(("--building", "the building configuration is required"))
    else:
        building_yaml = _read(building, "--building", problems)
        if building_yaml is not None:
            try:
                load_building(building)
            except ConfigError as exc:
                problems.append(("--building", str(exc)))
                building_yaml = None

    ca_pem = None
    if ota_ca is None:
        problems.append(("--ota-ca", "the OTA trust anchor (CA certificate, PEM) is required"))
    else:
        ca_pem = _check_ca(ota_ca, problems)

    keyring_data = None
    if (keyring is None) != (knx_password is None):
        problems.append(("--keyring", "give the keyring and its password together "
                         "(--knx-password-file or EDGEASR_KNX_PASSWORD), or neither"))
    elif keyring is not None and knx_password is not None:
        keyring_data = _check_keyring(keyring, knx_password, problems)

    if (wifi_ssid is None) != (wifi_psk is None):
        problems.append(("--wifi-ssid", "give the SSID and the passphrase together "
                         "(--wifi-psk-file or EDGEASR_WIFI_PSK), or neither"))
    elif wifi_ssid is not None and wifi_psk is not None:
        _check_wifi(wifi_ssid, wifi_psk, problems)

    if problems:
        raise ProvisionError(problems)
    assert building_yaml is not None and ca_pem is not None
    return DeviceData(serial=serial, knx=knx, building_yaml=building_yaml,
                      ota_ca_pem=ca_pem, keyring=keyring_data, knx_password=knx_password,
                      wifi_ssid=wifi_ssid, wifi_psk=wifi_psk)
