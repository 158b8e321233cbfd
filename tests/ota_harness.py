"""Host harness for RAUC: file-backed A/B slots, a file-backed redundant U-Boot environment
(libubootenv's fw_setenv/fw_printenv) and the real ``rauc service`` on a private D-Bus.

Nothing is faked except the hardware: the slots are image files instead of partitions,
the environment a file instead of the u-boot-env partition, and the booted slot is given
to rauc (``--override-boot-slot``) instead of read from the kernel command line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

ENV_SIZE = 0x4000
ATTEMPTS = 3
COMPATIBLE = "edgeasr-stm32mp25-test"
ROOT = Path(__file__).resolve().parents[1]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_rootfs(path: Path, release: str, size_mb: int = 16, payload_kb: int = 1024) -> Path:
    """A small ext4 root file system image (mke2fs -d) with an incompressible payload."""
    src = path.with_suffix(".d")
    (src / "etc").mkdir(parents=True)
    (src / "etc/edgeasr-release").write_text(release + "\n")
    (src / "payload").write_bytes(os.urandom(payload_kb * 1024))
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "rootfs", "-d", str(src),
                    str(path), f"{size_mb}M"], check=True, capture_output=True)
    return path


def build_bundle(out: Path, rootfs: Path, keys: Path, *, compatible: str = COMPATIBLE,
                 version: str = "0.2.0", fmt: str = "plain", keyring: bool = True) -> Path:
    cmd = [str(ROOT / "scripts/ota-bundle.sh"), "--rootfs", str(rootfs), "--compatible",
           compatible, "--version", version, "--cert", str(keys / "development-1.cert.pem"),
           "--key", str(keys / "development-1.key.pem"), "--format", fmt]
    if keyring:
        cmd += ["--keyring", str(keys / "ca.cert.pem")]
    subprocess.run([*cmd, str(out)], check=True, capture_output=True)
    return out


class Device:
    """The update side of one unit: slots, environment, system.conf, rauc service."""

    def __init__(self, root: Path, ca: Path, old_rootfs: Path) -> None:
        self.root = root
        self.ca = ca
        self.old_rootfs = old_rootfs
        root.mkdir(parents=True, exist_ok=True)
        self.slot = {"A": root / "rootfs-a.img", "B": root / "rootfs-b.img"}
        self.env = root / "uboot.env"
        self.fw_config = root / "fw_env.config"
        self.conf = root / "system.conf"
        self.bin = root / "bin"
        self.bin.mkdir(exist_ok=True)
        # Redundant environment: two copies, libubootenv writes the older one and flips the
        # flag, so a cut during saveenv leaves the previous copy valid.
        self.fw_config.write_text(f"{self.env} 0x0 {ENV_SIZE:#x}\n"
                                  f"{self.env} {ENV_SIZE:#x} {ENV_SIZE:#x}\n")
        for tool in ("fw_setenv", "fw_printenv"):  # rauc runs them from PATH
            wrapper = self.bin / tool
            wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/{tool} -c "{self.fw_config}" "$@"\n')
            wrapper.chmod(0o755)
        self.conf.write_text(
            "[system]\n"
            f"compatible={COMPATIBLE}\n"
            "bootloader=uboot\n"
            f"boot-attempts={ATTEMPTS}\n"
            f"statusfile={root / 'status.raucs'}\n\n"
            f"[keyring]\npath={ca}\n\n"
            f"[slot.rootfs.0]\ndevice={self.slot['A']}\ntype=ext4\nbootname=A\n\n"
            f"[slot.rootfs.1]\ndevice={self.slot['B']}\ntype=ext4\nbootname=B\n")
        self.dbus: subprocess.Popen[str] | None = None
        self.service: subprocess.Popen[bytes] | None = None
        self.env_vars: dict[str, str] = {}
        self.reset()

    # -- state ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Factory state: A holds the old system, B is empty, the environment boots A."""
        self.stop_service()
        for f in (self.slot["A"],):
            f.write_bytes(self.old_rootfs.read_bytes())
        with self.slot["B"].open("wb") as f:
            f.truncate(self.old_rootfs.stat().st_size)
        (self.root / "status.raucs").unlink(missing_ok=True)
        txt = self.root / "env.txt"
        txt.write_text(f"BOOT_ORDER=A B\nBOOT_A_LEFT={ATTEMPTS}\nBOOT_B_LEFT={ATTEMPTS}\n")
        one = self.root / "env.one"
        subprocess.run(["mkenvimage", "-r", "-s", hex(ENV_SIZE), "-o", str(one), str(txt)],
                       check=True, capture_output=True)
        self.env.write_bytes(one.read_bytes() + b"\xff" * ENV_SIZE)

    def printenv(self) -> dict[str, str]:
        res = subprocess.run([str(self.bin / "fw_printenv")], capture_output=True, text=True,
                             check=True)
        return dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)

    def setenv(self, **values: str) -> None:
        script = "".join(f"{k}={v}\n" for k, v in values.items())  # libubootenv's format
        subprocess.run([str(self.bin / "fw_setenv"), "-s", "-"], input=script, text=True,
                       check=True, capture_output=True)

    # -- rauc service ----------------------------------------------------------------------

    @property
    def proc_env(self) -> dict[str, str]:
        assert self.dbus_address
        return {**os.environ, "PATH": f"{self.bin}:{os.environ['PATH']}",
                "DBUS_STARTER_BUS_TYPE": "session",
                "DBUS_SESSION_BUS_ADDRESS": self.dbus_address}

    def start_bus(self) -> None:
        self.dbus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1", "--nopidfile"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.dbus.stdout is not None
        self.dbus_address = self.dbus.stdout.readline().strip()

    def start_service(self, booted: str) -> None:
        self.stop_service()
        log = (self.root / "service.log").open("ab")
        self.service = subprocess.Popen(
            ["rauc", "service", f"--conf={self.conf}", f"--override-boot-slot={booted}",
             f"--mount={self.root / 'mnt'}"],
            env=self.proc_env, stdout=log, stderr=log)
        (self.root / "mnt").mkdir(exist_ok=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.rauc("status", check=False).returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("rauc service did not come up: "
                           + (self.root / "service.log").read_text()[-2000:])

    def stop_service(self, sig: int = signal.SIGTERM) -> None:
        if self.service is not None and self.service.poll() is None:
            self.service.send_signal(sig)
            self.service.wait(10)
        self.service = None
        self.unmount_bundles()

    def unmount_bundles(self) -> None:
        """A killed rauc leaves its bundle mounted (as a power cut would not): unmount it,
        which also frees the loop device (rauc sets it to auto-clear)."""
        prefix = str(self.root / "mnt") + "/"
        for _ in range(100):
            points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                      if line.split()[1].startswith(prefix)]
            if not points:
                break
            subprocess.run(["umount", max(points, key=len)], check=True, capture_output=True)
        else:
            raise RuntimeError(f"cannot unmount the bundles under {prefix}")
        # killed between setting up the loop device and mounting it: detach it
        res = subprocess.run(["losetup", "--list", "--json"], capture_output=True, text=True)
        for dev in json.loads(res.stdout or '{"loopdevices": []}')["loopdevices"]:
            if (dev.get("back-file") or "").startswith(str(self.root.parent) + "/"):
                subprocess.run(["losetup", "-d", dev["name"]], capture_output=True)

    def close(self) -> None:
        self.stop_service()
        if self.dbus is not None:
            self.dbus.terminate()
            self.dbus.wait(10)

    def rauc(self, *args: str, check: bool = True, timeout: float = 60,
             ) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(["rauc", f"--conf={self.conf}", *args], env=self.proc_env,
                             capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"rauc {' '.join(args)}: {res.stdout}{res.stderr}")
        return res

    # -- the boot loader -------------------------------------------------------------------

    def boot(self, script: Path) -> str:
        """Run the layer's U-Boot boot script against the environment: the slot it boots."""
        shim = (
            'setenv() { n=$1; shift; eval "$n=\\"\\$*\\""; }\n'
            'setexpr() { eval "$1=\\$(( $2 $3 $4 ))"; }\n'
            f'saveenv() {{ printf "BOOT_ORDER=%s\\nBOOT_A_LEFT=%s\\nBOOT_B_LEFT=%s\\n" '
            f'"$BOOT_ORDER" "$BOOT_A_LEFT" "$BOOT_B_LEFT" | "{self.bin}/fw_setenv" -s -; }}\n'
            'reset() { echo RESET; exit 0; }\n'
            'part() { eval "$5=1"; }\n'
            'load() { :; }\n'
            'booti() { echo "BOOTED $rauc_slot $rauc_part $bootargs"; exit 0; }\n'
        )
        env = self.printenv()
        preset = "".join(f"{k}='{v}'\n" for k, v in env.items() if re.fullmatch(r"BOOT_\w+", k))
        res = subprocess.run(["sh", "-eu", "-c", shim + preset + "devtype=mmc devnum=0\n"
                              "kernel_addr_r=0 fdt_addr_r=0 fdtfile=x.dtb bootargs=\n"
                              + script.read_text()], capture_output=True, text=True,
                             check=True)
        m = re.search(r"^BOOTED (\w) ", res.stdout, re.M)
        if m is None:
            return "RESET" if "RESET" in res.stdout else res.stdout
        return m.group(1)
