"""``edgeasr-provision``: write one unit's data into the provision partition of an image.

    edgeasr-provision write IMAGE --serial S --individual-address 1.1.250 \\
        --building building.yaml --ota-ca ca.cert.pem \\
        [--keyring house.knxkeys --knx-password-file F] [--wifi-ssid S --wifi-psk-file F]
    edgeasr-provision show IMAGE

IMAGE is a raw disk image or a block device (e.g. /dev/sdX after STM32_Programmer_CLI or dd).
Secrets come from files or the environment (EDGEASR_KNX_PASSWORD, EDGEASR_WIFI_PSK), never
from the command line, and are never printed or logged. Exit status: 0 written (or already
identical), 1 write/verify failure, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from pydantic import SecretStr

from edgeasr.provision import ext4, layout
from edgeasr.provision.gpt import PartitionError, find_partition, mounted_from
from edgeasr.provision.inputs import ProvisionError, validate

log = logging.getLogger("edgeasr.provision")
DEFAULT_PARTITION = "provision"


def _secret(path: Path | None, env: str, field: str) -> SecretStr | None:
    if path is not None:
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise ProvisionError([(field, f"cannot read {path}: {exc.strerror}")]) from None
        if not lines or not lines[0]:
            raise ProvisionError([(field, f"{path} is empty (the secret is its first line)")])
        return SecretStr(lines[0])
    value = os.environ.get(env)
    return SecretStr(value) if value else None


def _read_back(target: Path, part) -> tuple[dict[str, layout.File], dict[str, int]] | None:
    if not ext4.has_ext4(target, part):
        return None
    with tempfile.TemporaryDirectory(prefix="edgeasr-provision-") as tmp:
        ext4.read_tree(target, part, Path(tmp))
        return layout.scan(Path(tmp))


def cmd_write(args: argparse.Namespace) -> int:
    data = validate(
        serial=args.serial, individual_address=args.individual_address, building=args.building,
        knx_type=args.knx_type, knx_host=args.knx_host,
        ota_ca=args.ota_ca, keyring=args.keyring,
        knx_password=_secret(args.knx_password_file, "EDGEASR_KNX_PASSWORD", "--knx-password-file"),
        wifi_ssid=args.wifi_ssid,
        wifi_psk=_secret(args.wifi_psk_file, "EDGEASR_WIFI_PSK", "--wifi-psk-file"),
    )
    part = find_partition(args.image, args.partition)
    if busy := mounted_from(args.image):
        raise PartitionError(f"{args.image} is mounted on {', '.join(busy)}: unmount it first")
    want = layout.render(data)
    log.info("%s: partition %s at %d, %d bytes; serial %s", args.image, part.name, part.offset,
             part.size, data.serial)
    before = _read_back(args.image, part)
    if before is not None and not layout.differences(want, *before):
        print(f"{args.image}: {part.name} already holds this data for {data.serial}: unchanged")
        return 0
    with tempfile.TemporaryDirectory(prefix="edgeasr-provision-") as tmp:
        layout.stage(want, Path(tmp))
        ext4.write_tree(args.image, part, Path(tmp), args.partition)
    after = _read_back(args.image, part)
    problems = layout.differences(want, *after) if after else ["no file system after writing"]
    if problems:
        print(f"edgeasr-provision: read-back of {args.image} differs: " + "; ".join(problems),
              file=sys.stderr)
        return 1
    secrets = [p for p in layout.SECRET_FILES if p in want]
    print(f"{args.image}: provisioned {data.serial} into {part.name} "
          f"({len(want)} files, verified by read-back; secrets: "
          f"{', '.join(secrets) or 'none'})")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    part = find_partition(args.image, args.partition)
    got = _read_back(args.image, part)
    if got is None:
        print(f"{args.image}: {part.name} is not provisioned (no file system)")
        return 3
    files, _ = got
    manifest = json.loads(files["manifest.json"].data) if "manifest.json" in files else {}
    summary = {
        "serial": manifest.get("serial"),
        "format": manifest.get("format"),
        # secrets: only whether they are there, never their content or a hash of it
        "files": {p: (f"{f.mode:o} secret" if p in layout.SECRET_FILES else f"{f.mode:o} "
                      f"{len(f.data)} bytes") for p, f in sorted(files.items())},
        "device.yaml": files["edgeasr/device.yaml"].data.decode()
        if "edgeasr/device.yaml" in files else None,
    }
    print(json.dumps(summary, indent=1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    # (__doc__ is None under PYTHONOPTIMIZE=2, as the service unit runs Python)
    p = argparse.ArgumentParser(prog="edgeasr-provision",
                                description=(__doc__ or "").split("\n")[0])
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write", help="validate, write and verify one unit's data")
    w.add_argument("image", type=Path, help="raw disk image or block device")
    w.add_argument("--partition", default=DEFAULT_PARTITION, help="GPT partition name")
    w.add_argument("--serial", required=True)
    w.add_argument("--individual-address", required=True, help="KNX address, e.g. 1.1.250")
    w.add_argument("--knx-type", choices=["tunnelling", "tunnelling_tcp", "routing"],
                   help="KNX connection of this unit (default: the image's service.yaml)")
    w.add_argument("--knx-host", help="KNX IP interface address (tunnelling)")
    w.add_argument("--building", type=Path, help="building configuration YAML")
    w.add_argument("--ota-ca", type=Path, help="RAUC trust anchor: CA certificate (PEM)")
    w.add_argument("--keyring", type=Path, help="KNX IP Secure keyring (.knxkeys from ETS)")
    w.add_argument("--knx-password-file", type=Path,
                   help="file whose first line is the keyring password "
                        "(or EDGEASR_KNX_PASSWORD in the environment)")
    w.add_argument("--wifi-ssid")
    w.add_argument("--wifi-psk-file", type=Path,
                   help="file whose first line is the Wi-Fi passphrase "
                        "(or EDGEASR_WIFI_PSK in the environment)")
    w.set_defaults(func=cmd_write)
    s = sub.add_parser("show", help="print what a partition holds (never the secrets)")
    s.add_argument("image", type=Path)
    s.add_argument("--partition", default=DEFAULT_PARTITION)
    s.set_defaults(func=cmd_show)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except ProvisionError as exc:
        for field, msg in exc.problems:
            print(f"edgeasr-provision: {field}: {msg}", file=sys.stderr)
        return 2
    except PartitionError as exc:
        print(f"edgeasr-provision: {exc}", file=sys.stderr)
        return 2
    except ext4.Ext4Error as exc:
        print(f"edgeasr-provision: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
