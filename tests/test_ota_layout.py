"""The A/B flash layout and the OTA/provisioning pieces of meta-edgeasr agree with each other,
and the layout makes a real GPT that edgeasr-provision can write into (sgdisk, sfdisk,
e2fsprogs on a sparse image file of the full card size)."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from test_layer import bb_vars

from edgeasr.provision.gpt import find_partition

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "meta-edgeasr"
TSV = LAYER / "files/flashlayouts/FlashLayout_sdcard_stm32mp257f-dk-optee-ab.tsv"
WKS = LAYER / "wic/edgeasr-sdcard-stm32mp257f-dk-ab.wks.in"
SYSTEM_CONF = LAYER / "recipes-core/edgeasr-rauc-conf/files/system.conf"
FW_ENV = LAYER / "recipes-core/edgeasr-rauc-conf/files/fw_env.config"
BOOT_BB = LAYER / "recipes-bsp/edgeasr-boot/edgeasr-boot_1.0.bb"
BOOT_CMD = LAYER / "recipes-bsp/edgeasr-boot/files/boot.cmd.in"
SERVICE_BB = LAYER / "recipes-edgeasr/edgeasr-service/edgeasr-service_0.1.0.bb"
OTA_INC = LAYER / "recipes-edgeasr/include/edgeasr-ota.inc"
BUNDLE_BB = LAYER / "recipes-core/bundles/edgeasr-bundle_0.1.0.bb"
UNITS = LAYER / "recipes-edgeasr/edgeasr-service/files"
SIZE = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def tsv_rows() -> list[dict[str, str]]:
    lines = [line.split("\t") for line in TSV.read_text().splitlines() if line]
    header = [h.lstrip("#") for h in lines[0]]
    assert header == ["Opt", "Id", "Name", "Type", "IP", "Offset", "Binary"]
    assert all(len(row) == 7 for row in lines), "every TSV line has 7 tab-separated fields"
    return [dict(zip(header, row, strict=True)) for row in lines[1:]]


def wks_parts() -> list[tuple[str, int]]:
    parts = []
    for line in WKS.read_text().splitlines():
        if line.startswith("part "):
            name = re.search(r"--part-name=(\S+)", line).group(1)
            num, unit = re.search(r"--fixed-size (\d+)([KMG])", line).groups()
            parts.append((name, int(num) * SIZE[unit]))
    return parts


def test_tsv_and_wks_describe_the_same_card() -> None:
    on_card = [r for r in tsv_rows() if r["IP"] == "mmc0"]
    parts = wks_parts()
    assert [r["Name"] for r in on_card] == [n for n, _ in parts]
    offset = 17 * 1024  # after the primary GPT, as ST's layouts (wks --align 17)
    for row, (name, size) in zip(on_card, parts, strict=True):
        assert int(row["Offset"], 16) == offset, f"{name}: TSV offset {row['Offset']}"
        offset += size
    ids = [int(r["Id"], 16) for r in tsv_rows()]
    assert len(set(ids)) == len(ids), "TSV partition ids are unique"
    names = [n for n, _ in parts]
    assert {"rootfs-a", "rootfs-b", "provision", "userfs", "u-boot-env", "bootfs"} <= set(names)
    assert "vendorfs" not in names  # /vendor lives in each slot (ST_VENDORFS = "0")
    empty = {r["Name"] for r in on_card if r["Binary"] == "none"}
    assert "provision" in empty and "rootfs-b" not in empty  # both slots start bootable


def test_slots_partitions_and_placeholders_agree() -> None:
    names = {n for n, _ in wks_parts()}
    conf = configparser.ConfigParser()
    conf.read_string(SYSTEM_CONF.read_text())
    slots = {conf[s]["bootname"]: conf[s]["device"] for s in conf.sections()
             if s.startswith("slot.")}
    assert set(slots) == {"A", "B"} and conf["system"]["bootloader"] == "uboot"
    boot = bb_vars(OTA_INC, BOOT_BB)
    assert slots["A"] == f"/dev/disk/by-partlabel/{boot['EDGEASR_SLOT_A_PARTLABEL']}"
    assert slots["B"] == f"/dev/disk/by-partlabel/{boot['EDGEASR_SLOT_B_PARTLABEL']}"
    for dev in slots.values():
        assert dev.rsplit("/", 1)[1] in names
    for line in FW_ENV.read_text().splitlines():
        if line and not line.startswith("#"):
            assert line.split()[0].rsplit("/", 1)[1] in names
    service = bb_vars(SERVICE_BB)
    assert service["EDGEASR_PROVISION_PARTLABEL"] in names
    # every @PLACEHOLDER@ of a file is filled in by the recipe that installs it
    for template, recipe in [(BOOT_CMD, BOOT_BB)] + [(u, SERVICE_BB) for u in UNITS.iterdir()]:
        used = set(re.findall(r"@([A-Z_]+)@", template.read_text())) - {"..."}
        filled = set(re.findall(r"s[,;]@([A-Z_]+)@[,;]", recipe.read_text()))
        assert used <= filled, f"{template.name}: {used - filled} not filled by {recipe.name}"
    conf_bb = (LAYER / "recipes-core/edgeasr-rauc-conf/edgeasr-rauc-conf_1.0.bb").read_text()
    assert set(re.findall(r"@([A-Z_]+)@", SYSTEM_CONF.read_text())) <= set(
        re.findall(r"s,@([A-Z_]+)@,", conf_bb))
    # the image is limited to the slot size (KiB)
    kas = yaml.safe_load((ROOT / "kas/feature/ota.yml").read_text())
    local_conf = "".join(kas["local_conf_header"].values())
    limit = re.search(r'IMAGE_ROOTFS_MAXSIZE:pn-edgeasr-image = "(\d+)"', local_conf)
    assert limit and int(limit.group(1)) * 1024 == dict(wks_parts())["rootfs-a"]
    # the bundle is signed with the names scripts/ota-dev-keys.sh writes by default
    ota = bb_vars(OTA_INC)
    keys_sh = (ROOT / "scripts/ota-dev-keys.sh").read_text()
    assert f"name=${{2:-{ota['EDGEASR_OTA_SIGNER']}}}" in keys_sh
    assert "ca.cert.pem" in bb_vars(OTA_INC, BUNDLE_BB)["RAUC_KEYRING_FILE"]


@pytest.mark.skipif(not (shutil.which("sgdisk") and shutil.which("sfdisk")
                         and shutil.which("mke2fs", path="/usr/sbin:/sbin")),
                    reason="sgdisk (gdisk), sfdisk (fdisk), e2fsprogs not installed")
def test_layout_as_a_real_gpt_takes_provisioning(tmp_path: Path) -> None:
    parts = wks_parts()
    img = tmp_path / "sdcard.raw"
    end = 17 * 1024 + sum(size for _, size in parts) + (1 << 20)
    with img.open("wb") as f:
        f.truncate(end)  # sparse: nothing is written but the tables and the provision fs
    args = ["sgdisk", "-o", "-a", "1"]
    offset = 17 * 1024
    for i, (name, size) in enumerate(parts, 1):
        first = offset // 512
        args += [f"-n{i}:{first}:{first + size // 512 - 1}", f"-c{i}:{name}"]
        offset += size
    subprocess.run([*args, str(img)], check=True, capture_output=True)
    prov = find_partition(img, "provision")
    assert prov.size == dict(parts)["provision"]
    a, b = find_partition(img, "rootfs-a"), find_partition(img, "rootfs-b")
    assert a.size == b.size and a.offset == int(next(
        r["Offset"] for r in tsv_rows() if r["Name"] == "rootfs-a"), 16)
    keys = tmp_path / "keys"
    subprocess.run([str(ROOT / "scripts/ota-dev-keys.sh"), str(keys)], check=True,
                   capture_output=True)
    from edgeasr.provision import cli
    rc = cli.main(["write", str(img), "--serial", "DK-0001", "--individual-address", "1.1.250",
                   "--building", str(ROOT / "examples/demo-building.yaml"),
                   "--ota-ca", str(keys / "ca.cert.pem")])
    assert rc == 0
    assert img.stat().st_blocks * 512 < 64 << 20  # only the provisioning fs was written
