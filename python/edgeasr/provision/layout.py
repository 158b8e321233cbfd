"""The file tree of the provisioning partition (what the device reads at boot).

::

    /edgeasr/            overlaid on /etc/edgeasr by edgeasr-config.service
        building.yaml    the building configuration
        device.yaml      serial + the service settings of this unit (merged into service.yaml)
        knx.knxkeys      the ETS keyring (encrypted with its password)
    /secrets/            0700: root only, never overlaid
        edgeasr/knx-password          handed to edgeasr.service by LoadCredential=
        wifi/wpa_supplicant.conf      the Wi-Fi network (wpa_supplicant format)
    /ota/ca.cert.pem     RAUC's trust anchor (bind-mounted over /etc/rauc/ca.cert.pem)
    /manifest.json       format, serial and the SHA-256 of every other file

The password reaches the service as the systemd credential ``edgeasr_knx-password``
(``LoadCredential=edgeasr:<mount>/secrets/edgeasr``), so no service user ever reads the
partition's secrets directly.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from edgeasr.provision.inputs import DeviceData

FORMAT = 1
CONFIG_DIR = "/etc/edgeasr"
CREDENTIAL_DIR = "/run/credentials/edgeasr.service"
KNX_PASSWORD_CREDENTIAL = "edgeasr_knx-password"
DIR_MODES = {"": 0o755, "edgeasr": 0o755, "secrets": 0o700, "secrets/edgeasr": 0o700,
             "secrets/wifi": 0o700, "ota": 0o755}
SECRET_FILES = ("secrets/edgeasr/knx-password", "secrets/wifi/wpa_supplicant.conf")


@dataclass(frozen=True)
class File:
    data: bytes
    mode: int


def render(d: DeviceData) -> dict[str, File]:
    """Relative path -> content and mode of every file of the partition."""
    knx: dict[str, object] = dict(d.knx)
    files = {
        "edgeasr/building.yaml": File(d.building_yaml, 0o644),
        "ota/ca.cert.pem": File(d.ota_ca_pem, 0o644),
    }
    if d.keyring is not None and d.knx_password is not None:
        files["edgeasr/knx.knxkeys"] = File(d.keyring, 0o644)
        files["secrets/edgeasr/knx-password"] = File(
            d.knx_password.get_secret_value().encode() + b"\n", 0o600)
        knx["secure"] = {"keyring": f"{CONFIG_DIR}/knx.knxkeys",
                         "password_file": f"{CREDENTIAL_DIR}/{KNX_PASSWORD_CREDENTIAL}"}
    if d.wifi_ssid is not None and d.wifi_psk is not None:
        conf = ("ctrl_interface=/run/wpa_supplicant\nupdate_config=0\n\nnetwork={\n"
                f'\tssid="{d.wifi_ssid}"\n\tpsk="{d.wifi_psk.get_secret_value()}"\n'
                "\tkey_mgmt=WPA-PSK\n}\n")
        files["secrets/wifi/wpa_supplicant.conf"] = File(conf.encode(), 0o600)
    device = {"serial": d.serial, "service": {"knx": knx}}
    files["edgeasr/device.yaml"] = File(
        ("# Written by edgeasr-provision: this unit's settings, merged over service.yaml.\n"
         + yaml.safe_dump(device, sort_keys=False)).encode(), 0o644)
    manifest = {"format": FORMAT, "serial": d.serial,
                "files": {p: hashlib.sha256(f.data).hexdigest() for p, f in sorted(files.items())}}
    files["manifest.json"] = File((json.dumps(manifest, indent=1) + "\n").encode(), 0o644)
    return files


def directories(files: dict[str, File]) -> dict[str, int]:
    """Every directory the files need (and the fixed ones), with its mode."""
    # secrets/edgeasr always exists: edgeasr.service loads it as a credential directory
    dirs = {"": DIR_MODES[""], "secrets": DIR_MODES["secrets"],
            "secrets/edgeasr": DIR_MODES["secrets/edgeasr"]}
    for path in files:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            dirs[sub] = DIR_MODES.get(sub, 0o755)
    return dirs


def stage(files: dict[str, File], root: Path) -> None:
    """Write the tree under ``root`` (an empty directory) with its modes."""
    for sub, mode in sorted(directories(files).items()):
        (root / sub).mkdir(exist_ok=True)
        (root / sub).chmod(mode)
    for path, f in files.items():
        target = root / path
        target.write_bytes(f.data)
        target.chmod(f.mode)


def scan(root: Path) -> tuple[dict[str, File], dict[str, int]]:
    """Read a tree back: files and directories (relative paths) with their modes."""
    files: dict[str, File] = {}
    dirs: dict[str, int] = {"": root.stat().st_mode & 0o7777}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if rel == "lost+found" or rel.startswith("lost+found/"):
            continue
        if p.is_dir():
            dirs[rel] = p.stat().st_mode & 0o7777
        else:
            files[rel] = File(p.read_bytes(), p.stat().st_mode & 0o7777)
    return files, dirs


def differences(want: dict[str, File], got: dict[str, File],
                got_dirs: dict[str, int]) -> list[str]:
    """What differs between the wanted tree and one read back (paths only, never contents)."""
    out = [f"{p}: missing" for p in sorted(set(want) - set(got))]
    out += [f"{p}: unexpected file" for p in sorted(set(got) - set(want))]
    for p in sorted(set(want) & set(got)):
        if want[p].data != got[p].data:
            out.append(f"{p}: content differs")
        if want[p].mode != got[p].mode:
            out.append(f"{p}: mode {got[p].mode:o}, expected {want[p].mode:o}")
    for d, mode in directories(want).items():
        if not d:
            continue  # the root's mode is not read back (debugfs rdump fills a given directory)
        if d not in got_dirs:
            out.append(f"{d or '/'}: directory missing")
        elif got_dirs[d] != mode:
            out.append(f"{d or '/'}: mode {got_dirs[d]:o}, expected {mode:o}")
    return out
