"""Signed OTA updates with RAUC and A/B rollback, on this host with the real tools.

rauc (bundle, info, service, install, status mark-good), openssl (scripts/ota-dev-keys.sh),
squashfs-tools, libubootenv's fw_setenv/fw_printenv on a file-backed redundant environment,
mkenvimage, and the layer's own U-Boot boot script run under /bin/sh (tests/ota_harness.py).
Installs use the 'plain' bundle format: this host's kernel has no device-mapper, which
'verity' bundles need at install time; verity bundles are built and verified with rauc info.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from ota_harness import ATTEMPTS, Device, build_bundle, make_rootfs, sha

ROOT = Path(__file__).resolve().parents[1]
BOOT_CMD = ROOT / "meta-edgeasr/recipes-bsp/edgeasr-boot/files/boot.cmd.in"
TOOLS = ("rauc", "openssl", "mksquashfs", "fw_setenv", "fw_printenv", "mkenvimage", "mke2fs",
         "dbus-daemon", "debugfs")
missing = [t for t in TOOLS if not (shutil.which(t) or shutil.which(t, path="/usr/sbin:/sbin"))]
pytestmark = pytest.mark.skipif(bool(missing), reason=f"not installed: {missing} (scripts/"
                                "setup.sh installs rauc, squashfs-tools, libubootenv-tool, "
                                "u-boot-tools, dbus, e2fsprogs, openssl)")
WRITE_POINTS = 28  # SIGKILLs aimed inside the slot write
SPREAD_POINTS = 8  # and spread over a whole install (before the write, after the switch)


def _can_loop_mount() -> str | None:
    """Why rauc install cannot work here (it loop-mounts the squashfs bundle), or None."""
    if missing:
        return f"not installed: {missing}"
    if os.geteuid() != 0:
        return "rauc install mounts the bundle (loop + squashfs): needs root"
    with tempfile.TemporaryDirectory() as tmp:
        src, img, mnt = Path(tmp, "src"), Path(tmp, "probe.sqfs"), Path(tmp, "mnt")
        src.mkdir()
        mnt.mkdir()
        (src / "f").write_text("x")
        subprocess.run(["mksquashfs", str(src), str(img), "-quiet"], capture_output=True)
        res = subprocess.run(["mount", "-o", "loop,ro", "-t", "squashfs", str(img), str(mnt)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            return f"this kernel/container cannot loop-mount squashfs: {res.stderr.strip()}"
        subprocess.run(["umount", str(mnt)], capture_output=True)
    return None


MOUNT_PROBLEM = _can_loop_mount()
needs_mount = pytest.mark.skipif(MOUNT_PROBLEM is not None, reason=MOUNT_PROBLEM or "")


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ota")


@pytest.fixture(scope="module")
def keys(work: Path) -> Path:
    subprocess.run([str(ROOT / "scripts/ota-dev-keys.sh"), str(work / "keys")], check=True,
                   capture_output=True)
    return work / "keys"


@pytest.fixture(scope="module")
def other_keys(work: Path) -> Path:
    """Another vendor's (or an attacker's) CA and signer: valid, but not trusted."""
    subprocess.run([str(ROOT / "scripts/ota-dev-keys.sh"), str(work / "other")], check=True,
                   capture_output=True)
    return work / "other"


@pytest.fixture(scope="module")
def rootfs(work: Path) -> dict[str, Path]:
    return {"old": make_rootfs(work / "old.ext4", "0.1.0", size_mb=24, payload_kb=512),
            "new": make_rootfs(work / "new.ext4", "0.2.0", size_mb=24, payload_kb=16 * 1024),
            "small": make_rootfs(work / "small.ext4", "0.2.1", size_mb=8, payload_kb=256)}


def sha_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def flip_byte(src: Path, dst: Path, where: float | str) -> Path:
    """Copy ``src`` with one bit flipped: at a fraction of the payload, or in the signature
    (a RAUC bundle ends with the CMS signature and its size as a 64-bit big-endian number)."""
    data = bytearray(src.read_bytes())
    if where == "signature":
        size = int.from_bytes(data[-8:], "big")
        data[len(data) - 8 - size // 2] ^= 0x01
    else:
        assert isinstance(where, float)
        data[int(len(data) * where)] ^= 0x01
    dst.write_bytes(bytes(data))
    return dst


@pytest.fixture(scope="module")
def bundles(work: Path, keys: Path, other_keys: Path, rootfs: dict[str, Path]) -> dict[str, Path]:
    good = build_bundle(work / "good.raucb", rootfs["new"], keys)
    unsigned_dir = work / "unsigned.d"
    unsigned_dir.mkdir()
    shutil.copy(rootfs["small"], unsigned_dir / "rootfs.ext4")
    (unsigned_dir / "manifest.raucm").write_text(
        "[update]\ncompatible=edgeasr-stm32mp25-test\nversion=0.2.0\n\n"
        "[bundle]\nformat=plain\n\n[image.rootfs]\nfilename=rootfs.ext4\n")
    subprocess.run(["mksquashfs", str(unsigned_dir), str(work / "unsigned.raucb"), "-quiet",
                    "-all-root", "-noappend"], check=True, capture_output=True)
    return {
        "good": good,
        "verity": build_bundle(work / "verity.raucb", rootfs["small"], keys, fmt="verity"),
        # one byte flipped in the payload (the root file system image) ...
        "tampered payload": flip_byte(good, work / "tampered-payload.raucb", 0.4),
        # ... in the manifest/signature at the end, ...
        "tampered signature": flip_byte(good, work / "tampered-sig.raucb", "signature"),
        "unsigned": work / "unsigned.raucb",
        "other key": build_bundle(work / "other.raucb", rootfs["small"], other_keys,
                                  keyring=False),
        "other hardware": build_bundle(work / "other-hw.raucb", rootfs["small"], keys,
                                       compatible="someone-elses-board"),
    }


REJECTED_BY_INFO = {
    "tampered payload": "signature verification failed",
    "tampered signature": "signature",
    "unsigned": "Signature size is 0",
    "other key": "signature verification failed",
}
REJECTED_BY_INSTALL = {**REJECTED_BY_INFO, "other hardware": "Compatible mismatch"}


def rauc_info(bundle: Path, ca: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["rauc", "info", f"--keyring={ca}", str(bundle)],
                          capture_output=True, text=True, timeout=60)


def test_bundles_verify_against_the_keyring(bundles: dict[str, Path], keys: Path) -> None:
    for name in ("good", "verity"):
        res = rauc_info(bundles[name], keys / "ca.cert.pem")
        assert res.returncode == 0, res.stderr
        assert "Compatible: \t'edgeasr-stm32mp25-test'" in res.stdout
        assert "Verified" in res.stderr and "EdgeASR bundle signer" in res.stderr
    assert "Bundle Format: \tverity" in rauc_info(bundles["verity"], keys / "ca.cert.pem").stdout


@pytest.mark.parametrize("name", sorted(REJECTED_BY_INFO))
def test_rauc_info_rejects(name: str, bundles: dict[str, Path], keys: Path) -> None:
    res = rauc_info(bundles[name], keys / "ca.cert.pem")
    assert res.returncode != 0
    assert REJECTED_BY_INFO[name] in res.stdout + res.stderr, res.stdout + res.stderr


@pytest.fixture(scope="module")
def device(work: Path, keys: Path, rootfs: dict[str, Path]):
    dev = Device(work / "device", keys / "ca.cert.pem", rootfs["old"])
    dev.start_bus()
    yield dev
    dev.close()


def boot_script(tmp: Path) -> Path:
    out = tmp / "boot.cmd"
    out.write_text(BOOT_CMD.read_text().replace("@ATTEMPTS@", str(ATTEMPTS))
                   .replace("@PART_A@", "rootfs-a").replace("@PART_B@", "rootfs-b")
                   .replace("@KERNEL@", "/boot/Image"))
    return out


@needs_mount
def test_valid_bundle_installs_into_the_inactive_slot_and_flips_boot(
        device: Device, bundles: dict[str, Path], rootfs: dict[str, Path], work: Path) -> None:
    device.reset()
    device.start_service("A")
    a_before = sha(device.slot["A"])
    res = device.rauc("install", str(bundles["good"]))
    assert "succeeded" in res.stdout + res.stderr
    assert sha(device.slot["A"]) == a_before  # the running slot is untouched
    assert sha(device.slot["B"]) == sha(rootfs["new"])
    env = device.printenv()
    assert env["BOOT_ORDER"] == "B A" and env["BOOT_B_LEFT"] == str(ATTEMPTS)
    assert device.boot(boot_script(work)) == "B"


@needs_mount
@pytest.mark.parametrize("name", sorted(REJECTED_BY_INSTALL))
def test_bad_bundles_are_rejected_and_the_system_stays(
        name: str, device: Device, bundles: dict[str, Path]) -> None:
    device.reset()
    device.start_service("A")
    before = (sha(device.slot["A"]), sha(device.slot["B"]), device.printenv())
    res = device.rauc("install", str(bundles[name]), check=False)
    assert res.returncode != 0
    assert REJECTED_BY_INSTALL[name] in res.stdout + res.stderr, res.stdout + res.stderr
    assert (sha(device.slot["A"]), sha(device.slot["B"]), device.printenv()) == before


def _kill_install(device: Device, bundle: Path, until: Callable[[], bool]) -> None:
    """Start an install, wait until ``until()`` is true, then SIGKILL the rauc service (a
    power cut, as far as rauc and the slots are concerned)."""
    device.reset()
    device.start_service("A")
    client = subprocess.Popen(["rauc", f"--conf={device.conf}", "install", str(bundle)],
                              env=device.proc_env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not until() and client.poll() is None:
        assert time.monotonic() < deadline, "the install never got there"
    device.stop_service(signal.SIGKILL)
    client.kill()
    client.wait(10)


def _written_past(slot: Path, offset: int, want: bytes) -> Callable[[], bool]:
    """True once the slot holds the new image's block at ``offset`` (rauc writes in order)."""
    def check() -> bool:
        with slot.open("rb") as f:
            f.seek(offset)
            return f.read(len(want)) == want
    return check


def _after(seconds: float) -> Callable[[], bool]:
    end = time.monotonic() + seconds
    return lambda: time.monotonic() >= end


@needs_mount
def test_interrupted_installs_leave_a_bootable_system(
        device: Device, bundles: dict[str, Path], rootfs: dict[str, Path], work: Path) -> None:
    """Kill rauc at WRITE_POINTS points through the slot write (each as soon as the write has
    passed a chosen block of the image) and at SPREAD_POINTS times over a whole install;
    every time, the running slot is untouched and the slot the boot script then picks holds
    a complete system."""
    script = boot_script(work)
    image = rootfs["new"].read_bytes()
    old, new = sha(rootfs["old"]), sha_bytes(image)
    blocks = [o for o in range(0, len(image), 4096) if any(image[o:o + 4096])]
    targets = [blocks[int(len(blocks) * (0.02 + 0.85 * i / (WRITE_POINTS - 1)))]
               for i in range(WRITE_POINTS)]
    device.reset()
    device.start_service("A")
    t0 = time.monotonic()
    device.rauc("install", str(bundles["good"]))
    duration = time.monotonic() - t0
    plan = ([_written_past(device.slot["B"], o, image[o:o + 4096]) for o in targets]
            + [_after(duration * 2 * i / (SPREAD_POINTS - 1)) for i in range(SPREAD_POINTS)])
    outcomes = {"before the write": 0, "during the write": 0, "written, not switched": 0,
                "after the switch": 0}
    for i, until in enumerate(plan):
        _kill_install(device, bundles["good"], until)
        b = device.slot["B"].read_bytes()
        booted = device.boot(script)
        assert sha(device.slot["A"]) == old, f"point {i}: the running slot was written"
        assert booted in ("A", "B"), f"point {i}: boot script: {booted}"
        assert sha(device.slot[booted]) == (old if booted == "A" else new), \
            f"point {i}: boot script picked {booted}, which is incomplete"
        key = ("after the switch" if booted == "B" else
               "written, not switched" if sha_bytes(b) == new else
               "before the write" if b.count(0) == len(b) else "during the write")
        outcomes[key] += 1
    report = (f"{len(plan)} interruptions ({WRITE_POINTS} through the slot write, "
              f"{SPREAD_POINTS} over the {duration:.2f} s install): {outcomes}")
    print("\n" + report)
    assert sum(outcomes.values()) == len(plan)
    assert outcomes["during the write"] >= 20, report


@needs_mount
def test_boot_counter_falls_back_and_mark_good_keeps_the_new_slot(
        device: Device, bundles: dict[str, Path], work: Path) -> None:
    script = boot_script(work)
    # an update that never becomes healthy: ATTEMPTS boots of B, then back to A for good
    device.reset()
    device.start_service("A")
    device.rauc("install", str(bundles["good"]))
    seen = [device.boot(script) for _ in range(ATTEMPTS + 2)]
    assert seen == ["B"] * ATTEMPTS + ["A", "A"]
    assert device.printenv()["BOOT_B_LEFT"] == "0"
    device.start_service("A")  # the old system runs again and says so
    device.rauc("status", "mark-good")
    assert device.printenv()["BOOT_A_LEFT"] == str(ATTEMPTS)
    # a healthy update: B boots, edgeasr-health passes, rauc-mark-good marks it good: B stays
    device.reset()
    device.start_service("A")
    device.rauc("install", str(bundles["good"]))
    for _ in range(ATTEMPTS + 2):
        assert device.boot(script) == "B"
        device.start_service("B")
        device.rauc("status", "mark-good")
        assert device.printenv()["BOOT_B_LEFT"] == str(ATTEMPTS)
