"""The layer's A/B boot script in real U-Boot: Debian's u-boot-qemu (qemu_arm64) under
qemu-system-aarch64, booting a GPT disk image laid out like the card (bootfs with
boot.scr.uimg made by mkimage, rootfs-a / rootfs-b each with its own /boot/Image).

U-Boot's own hush runs the script: slot choice from BOOT_ORDER, one attempt taken per boot,
fallback after the attempts are used up, `part number` finding the slot by GPT name and the
kernel loaded from that slot. Only the environment is kept in RAM between the "boots" (each
boot = one `source` of the script in the same U-Boot session), because QEMU's flash does not
take U-Boot's saveenv writes here; tests/test_ota.py covers the saved environment with
libubootenv and RAUC.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOT_CMD = ROOT / "meta-edgeasr/recipes-bsp/edgeasr-boot/files/boot.cmd.in"
UBOOT = Path("/usr/lib/u-boot/qemu_arm64/u-boot.bin")
QEMU = shutil.which("qemu-system-aarch64")
pytestmark = pytest.mark.skipif(
    not (QEMU and UBOOT.is_file() and shutil.which("mkimage")),
    reason="qemu-system-aarch64 (qemu-system-arm), u-boot-qemu or mkimage (u-boot-tools) "
           "not installed (scripts/setup.sh installs them)")
MiB = 1 << 20


class UBoot:
    """One U-Boot session on the serial console of a QEMU virt machine."""

    def __init__(self, tmp: Path, disk: Path) -> None:
        flash = tmp / "flash0.img"
        flash.write_bytes(UBOOT.read_bytes())
        os.truncate(flash, 64 * MiB)
        self.proc = subprocess.Popen(
            [QEMU, "-machine", "virt", "-cpu", "cortex-a57", "-m", "256", "-nographic",
             "-no-reboot", "-nic", "none",
             "-drive", f"if=pflash,file={flash},format=raw,unit=0",
             "-drive", f"if=none,file={disk},format=raw,id=d0",
             "-device", "virtio-blk-device,drive=d0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.out = b""

    def read_until(self, pattern: bytes, timeout: float = 60) -> bytes:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.out):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"no {pattern!r} from U-Boot:\n"
                                     + self.out[-3000:].decode(errors="replace"))
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                self.out += os.read(self.proc.stdout.fileno(), 65536)
        m = re.search(pattern, self.out)
        assert m is not None
        before, self.out = self.out[:m.end()], self.out[m.end():]
        return before

    def run(self, command: str, timeout: float = 60) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()
        return self.read_until(rb"\n=> ", timeout).decode(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def make_disk(tmp: Path) -> Path:
    script = tmp / "boot.cmd"
    script.write_text(BOOT_CMD.read_text().replace("@ATTEMPTS@", "3")
                      .replace("@PART_A@", "rootfs-a").replace("@PART_B@", "rootfs-b")
                      .replace("@KERNEL@", "/boot/Image"))
    bootfs = tmp / "bootfs"
    bootfs.mkdir()
    subprocess.run(["mkimage", "-A", "arm64", "-O", "linux", "-T", "script", "-C", "none",
                    "-n", "EdgeASR A/B", "-d", str(script), str(bootfs / "boot.scr.uimg")],
                   check=True, capture_output=True)
    disk = tmp / "disk.img"
    with disk.open("wb") as f:
        f.truncate(48 * MiB)
    subprocess.run(["sfdisk", "-q", str(disk)], check=True, text=True, input=(
        "label: gpt\nsize=8MiB, name=bootfs\nsize=16MiB, name=rootfs-a\n"
        "size=16MiB, name=rootfs-b\n"))
    trees = {"bootfs": bootfs}
    for slot in ("a", "b"):
        tree = tmp / f"rootfs-{slot}"
        (tree / "boot").mkdir(parents=True)
        (tree / "boot/Image").write_bytes(f"KERNEL-{slot.upper()}".encode())
        (tree / "boot/x.dtb").write_bytes(b"dtb")
        trees[f"rootfs-{slot}"] = tree
    start = 1 * MiB
    for name, size in (("bootfs", 8), ("rootfs-a", 16), ("rootfs-b", 16)):
        subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(trees[name]), "-E",
                        f"offset={start}", str(disk), f"{size}M"], check=True,
                       capture_output=True)
        start += size * MiB
    return disk


def boot(ub: UBoot) -> tuple[str, str, dict[str, str]]:
    """One boot: the script as U-Boot's distro boot runs it; (slot, kernel loaded, env)."""
    out = ub.run("setenv devtype virtio; setenv devnum 0; setenv fdtfile x.dtb; "
                 "load virtio 0:1 ${scriptaddr} boot.scr.uimg && source ${scriptaddr}; "
                 "md.b ${kernel_addr_r} 8; printenv BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT")
    slot = re.search(r"EdgeASR: slot (\w)", out)
    kernel = re.search(r"KERNEL-(\w)", out)
    env = dict(re.findall(r"^(BOOT_\w+)=(.*?)\r?$", out, re.M))
    return (slot.group(1) if slot else out, kernel.group(1) if kernel else "", env)


def test_boot_script_in_u_boot(tmp_path: Path) -> None:
    ub = UBoot(tmp_path, make_disk(tmp_path))
    try:
        ub.read_until(rb"\n=> ", timeout=120)  # after U-Boot's own autoboot attempts
        # state right after RAUC installed slot B
        ub.run('setenv BOOT_ORDER "B A"; setenv BOOT_A_LEFT 3; setenv BOOT_B_LEFT 3; '
               "setenv kernel_addr_r 0x40400000")
        seen = [boot(ub) for _ in range(5)]
        assert [s[0] for s in seen] == ["B", "B", "B", "A", "A"], seen
        assert [s[1] for s in seen] == ["B", "B", "B", "A", "A"]  # that slot's own kernel
        assert [s[2]["BOOT_B_LEFT"] for s in seen] == ["2", "1", "0", "0", "0"]
        assert [s[2]["BOOT_A_LEFT"] for s in seen] == ["3", "3", "3", "2", "1"]
        # `rauc status mark-good` on A sets BOOT_A_LEFT back; then A keeps booting
        ub.run("setenv BOOT_A_LEFT 3")
        assert boot(ub)[0] == "A"
        # nothing left anywhere: counters reset and the board resets (QEMU exits)
        ub.run("setenv BOOT_A_LEFT 0; setenv BOOT_B_LEFT 0")
        assert ub.proc.stdin is not None
        ub.proc.stdin.write(b"load virtio 0:1 ${scriptaddr} boot.scr.uimg && "
                            b"source ${scriptaddr}\n")
        ub.proc.stdin.flush()
        text = ub.read_until(rb"resetting", timeout=60).decode(errors="replace")
        assert "no slot has boot attempts left" in text
        ub.proc.wait(30)  # -no-reboot: the reset ends QEMU
    finally:
        ub.close()
