"""The A/B flash layouts (STM32MP257F-DK SD card, STM32MP257F-EV1 eMMC) and the OTA/provisioning
pieces of meta-edgeasr agree with each other and with docs/flash.md, and each layout makes a
real GPT that edgeasr-provision can write into (sgdisk, sfdisk, e2fsprogs on a sparse image
file of the full size)."""

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
EMMC_TSV = LAYER / "files/flashlayouts/FlashLayout_emmc_stm32mp257f-ev1-optee-ab.tsv"
RAUC_CONF_BB = LAYER / "dynamic-layers/rauc/recipes-core/edgeasr-rauc-conf/edgeasr-rauc-conf_1.0.bb"
FLASH_MD = ROOT / "docs/flash.md"
WKS = LAYER / "wic/edgeasr-sdcard-stm32mp257f-dk-ab.wks.in"
SYSTEM_CONF = LAYER / "dynamic-layers/rauc/recipes-core/edgeasr-rauc-conf/files/system.conf"
FW_ENV = LAYER / "dynamic-layers/rauc/recipes-core/edgeasr-rauc-conf/files/fw_env.config"
BOOT_BB = LAYER / "recipes-bsp/edgeasr-boot/edgeasr-boot_1.0.bb"
BOOT_CMD = LAYER / "recipes-bsp/edgeasr-boot/files/boot.cmd.in"
SERVICE_BB = LAYER / "recipes-edgeasr/edgeasr-service/edgeasr-service_0.1.0.bb"
OTA_INC = LAYER / "recipes-edgeasr/include/edgeasr-ota.inc"
BUNDLE_BB = LAYER / "dynamic-layers/rauc/recipes-core/bundles/edgeasr-bundle_0.1.0.bb"
UNITS = LAYER / "recipes-edgeasr/edgeasr-service/files"
SIZE = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
# meta-st-stm32mp (scarthgap) conf/machine/include/st-machine-storage-device-stm32mp.inc:
# DEVICE_STORAGE "EMMC:mmc1", DEVICE_START_OFFSET:EMMC 0x00080000, DEVICE_ALIGNMENT_SIZE:EMMC
# 0x00080000, DEVICE_MAX_OFFSET:EMMC 0x100000000 (the EV1's 32 Gbit eMMC).
EMMC_START = EMMC_ALIGN = 0x80000
EMMC_MAX = 0x100000000
FIRMWARE = ["metadata1", "metadata2", "fip-a", "fip-b", "u-boot-env"]


def tsv_rows(tsv: Path = TSV) -> list[dict[str, str]]:
    lines = [line.split("\t") for line in tsv.read_text().splitlines() if line]
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


def doc_table(heading: str) -> list[tuple[int, str, int, int]]:
    """(GPT number, name, offset, size in bytes) of the partition table under ``heading`` in
    docs/flash.md; a row may name several partitions of one size ("`a`, `b`", "256 each")."""
    text = FLASH_MD.read_text()
    assert heading in text, f"docs/flash.md has no section {heading!r}"
    rows = []
    for line in text.split(heading, 1)[1].split("\n### ", 1)[0].splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cols) < 4 or not cols[0][:1].isdigit():
            continue  # header, separator, eMMC boot areas (no GPT entry)
        first = int(re.split(r"\D", cols[0])[0])
        offset, size = int(cols[2], 16), int(cols[3].split()[0]) * 1024
        for k, name in enumerate(re.findall(r"`([^`]+)`", cols[1])):
            rows.append((first + k, name, offset + k * size, size))
    assert rows, f"no partition rows under {heading!r}"
    return rows


def machine_var(recipes: tuple[Path, ...], name: str, machine: str) -> str:
    """``name`` as bitbake sees it for MACHINE ``machine`` (``name:machine`` wins), expanded."""
    variables = bb_vars(*recipes)
    value = variables.get(f"{name}:{machine}", variables[name])
    for _ in range(5):
        value = re.sub(r"\$\{([A-Z_]+)\}", lambda m: variables[m.group(1)], value)
    return value


def emmc_user_area() -> list[tuple[str, int]]:
    """(name, offset) of the GPT partitions of the EV1 eMMC, in TSV (= GPT entry) order."""
    return [(r["Name"], int(r["Offset"], 16)) for r in tsv_rows(EMMC_TSV)
            if r["IP"] == "mmc1" and not r["Offset"].startswith("boot")]


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


def test_docs_table_is_the_dk_layout() -> None:
    table = doc_table("### The A/B layout (kas/feature/ota.yml)")
    parts = wks_parts()
    assert [name for _, name, _, _ in table] == [n for n, _ in parts]
    assert [num for num, _, _, _ in table] == list(range(1, len(parts) + 1))
    offsets = {r["Name"]: int(r["Offset"], 16) for r in tsv_rows()}
    for (_, name, offset, size), (_, wks_size) in zip(table, parts, strict=True):
        assert (offset, size) == (offsets[name], wks_size), f"docs/flash.md: {name}"


def test_emmc_layout_follows_st_and_the_docs() -> None:
    rows = tsv_rows(EMMC_TSV)
    ids = [int(r["Id"], 16) for r in rows]
    assert len(set(ids)) == len(ids), "TSV partition ids are unique"
    assert {r["IP"] for r in rows} == {"none", "mmc1"}  # RAM-loaded lines and the eMMC only
    # TF-A twice, in the eMMC's two boot areas (ST: DEVICE_START_OFFSET_BOOT0/1:EMMC)
    boot = [(r["Name"], r["Offset"]) for r in rows if r["Offset"].startswith("boot")]
    assert boot == [("fsbla1", "boot1"), ("fsbla2", "boot2")]
    user = emmc_user_area()
    names = [n for n, _ in user]
    assert names[:len(FIRMWARE)] == FIRMWARE  # ST's firmware part: FWU metadata x2, FIP A/B
    assert {"bootfs", "rootfs-a", "rootfs-b", "provision", "userfs"} <= set(names)
    assert len(set(names)) == len(names)
    table = doc_table("### The EV1's eMMC A/B layout")
    assert [(num, name, offset) for num, name, offset, _ in table] == [
        (i, n, o) for i, (n, o) in enumerate(user, 1)], "docs/flash.md table = TSV, in order"
    assert table[0][2] == EMMC_START
    for (_, name, offset, size), nxt in zip(table, [*table[1:], None], strict=True):
        assert offset % EMMC_ALIGN == 0 and size % EMMC_ALIGN == 0, f"{name}: not aligned"
        end = offset + size
        assert (nxt[2] if nxt else end) == end, f"{name}: gap or overlap before the next"
    assert table[-1][2] + table[-1][3] <= EMMC_MAX, "layout larger than the EV1's eMMC"
    sizes = {name: size for _, name, _, size in table}
    dk = dict(wks_parts())
    for name in ("bootfs", "rootfs-a", "rootfs-b", "provision", "userfs", "fip-a", "fip-b"):
        assert sizes[name] == dk[name], f"{name}: same size as on the DK's card"
    empty = {r["Name"] for r in rows if r["Binary"] == "none"}
    assert "provision" in empty and "rootfs-b" not in empty  # both slots start bootable


@pytest.mark.parametrize("machine", ["stm32mp25-disco", "stm32mp25-eval"])
def test_rauc_devices_are_the_layout_partitions(machine: str) -> None:
    recipes = (OTA_INC, RAUC_CONF_BB)
    conf = configparser.ConfigParser()
    conf.read_string(SYSTEM_CONF.read_text())
    placeholders = {conf[s]["bootname"]: conf[s]["device"] for s in conf.sections()
                    if s.startswith("slot.")}
    assert placeholders == {"A": "@SLOT_A_DEVICE@", "B": "@SLOT_B_DEVICE@"}
    devices = {"A": machine_var(recipes, "EDGEASR_RAUC_SLOT_A_DEVICE", machine),
               "B": machine_var(recipes, "EDGEASR_RAUC_SLOT_B_DEVICE", machine),
               "env": machine_var(recipes, "EDGEASR_UBOOT_ENV_DEVICE", machine)}
    labels = {"A": bb_vars(OTA_INC)["EDGEASR_SLOT_A_PARTLABEL"],
              "B": bb_vars(OTA_INC)["EDGEASR_SLOT_B_PARTLABEL"], "env": "u-boot-env"}
    if machine == "stm32mp25-disco":  # one SD card: GPT names
        names = {n for n, _ in wks_parts()}
        for key, dev in devices.items():
            assert dev == f"/dev/disk/by-partlabel/{labels[key]}" and labels[key] in names
    else:  # eMMC next to a microSD slot: GPT entry numbers of the eMMC (see the recipe)
        (ip,) = {r["IP"] for r in tsv_rows(EMMC_TSV)} - {"none"}
        numbers = {n: i for i, (n, _) in enumerate(emmc_user_area(), 1)}
        docs = {name: num for num, name, _, _ in doc_table("### The EV1's eMMC A/B layout")}
        for key, dev in devices.items():
            # ST's U-Boot and kernel device trees both alias mmc1 = &sdmmc2 (the eMMC), so
            # STM32CubeProgrammer's "mmc1" is Linux's mmcblk1
            assert dev == f"/dev/mmcblk{ip.removeprefix('mmc')}p{numbers[labels[key]]}"
            assert docs[labels[key]] == numbers[labels[key]]


def test_slots_partitions_and_placeholders_agree() -> None:
    names = {n for n, _ in wks_parts()}
    conf = configparser.ConfigParser()
    conf.read_string(SYSTEM_CONF.read_text())
    assert conf["system"]["bootloader"] == "uboot"
    boot = bb_vars(OTA_INC, BOOT_BB)
    assert {boot["EDGEASR_SLOT_A_PARTLABEL"], boot["EDGEASR_SLOT_B_PARTLABEL"]} <= names
    assert {line.split()[0] for line in FW_ENV.read_text().splitlines()
            if line and not line.startswith("#")} == {"@ENV_DEVICE@"}
    service = bb_vars(SERVICE_BB)
    assert service["EDGEASR_PROVISION_PARTLABEL"] in names
    # every @PLACEHOLDER@ of a file is filled in by the recipe that installs it
    for template, recipe in [(BOOT_CMD, BOOT_BB)] + [(u, SERVICE_BB) for u in UNITS.iterdir()]:
        used = set(re.findall(r"@([A-Z_]+)@", template.read_text())) - {"..."}
        filled = set(re.findall(r"s[,;]@([A-Z_]+)@[,;]", recipe.read_text()))
        assert used <= filled, f"{template.name}: {used - filled} not filled by {recipe.name}"
    conf_bb = RAUC_CONF_BB.read_text()
    for template in (SYSTEM_CONF, FW_ENV):
        assert set(re.findall(r"@([A-Z_]+)@", template.read_text())) <= set(
            re.findall(r"s,@([A-Z_]+)@,", conf_bb)), f"{template.name}: placeholder not filled"
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


def layout(board: str) -> list[tuple[str, int, int]]:
    """(GPT name, offset, size) of the partitions of a board's A/B layout, in GPT order."""
    if board == "dk-sdcard":
        offsets = {r["Name"]: int(r["Offset"], 16) for r in tsv_rows()}
        return [(name, offsets[name], size) for name, size in wks_parts()]
    return [(name, offset, size)
            for _, name, offset, size in doc_table("### The EV1's eMMC A/B layout")]


@pytest.mark.skipif(not (shutil.which("sgdisk") and shutil.which("sfdisk")
                         and shutil.which("mke2fs", path="/usr/sbin:/sbin")),
                    reason="sgdisk (gdisk), sfdisk (fdisk), e2fsprogs not installed")
@pytest.mark.parametrize("board", ["dk-sdcard", "ev1-emmc"])
def test_layout_as_a_real_gpt_takes_provisioning(board: str, tmp_path: Path) -> None:
    parts = layout(board)
    img = tmp_path / f"{board}.raw"
    end = parts[-1][1] + parts[-1][2] + (1 << 20)
    with img.open("wb") as f:
        f.truncate(end)  # sparse: nothing is written but the tables and the provision fs
    args = ["sgdisk", "-o", "-a", "1"]
    for i, (name, offset, size) in enumerate(parts, 1):
        first = offset // 512
        args += [f"-n{i}:{first}:{first + size // 512 - 1}", f"-c{i}:{name}"]
    subprocess.run([*args, str(img)], check=True, capture_output=True)
    prov = find_partition(img, "provision")
    assert prov.size == next(size for name, _, size in parts if name == "provision")
    a, b = find_partition(img, "rootfs-a"), find_partition(img, "rootfs-b")
    assert a.size == b.size == 1 << 30
    assert a.offset == next(offset for name, offset, _ in parts if name == "rootfs-a")
    keys = tmp_path / "keys"
    subprocess.run([str(ROOT / "scripts/ota-dev-keys.sh"), str(keys)], check=True,
                   capture_output=True)
    from edgeasr.provision import cli
    rc = cli.main(["write", str(img), "--serial", "DK-0001", "--individual-address", "1.1.250",
                   "--building", str(ROOT / "examples/demo-building.yaml"),
                   "--ota-ca", str(keys / "ca.cert.pem")])
    assert rc == 0
    assert img.stat().st_blocks * 512 < 64 << 20  # only the provisioning fs was written
