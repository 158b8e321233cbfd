"""edgeasr-provision on real partitioned image files: sfdisk (GPT), mke2fs/debugfs/e2fsck
(e2fsprogs), openssl (the OTA CA) and a real ETS-format keyring checked by xknx."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_knx_gateway import make_keyring

from edgeasr.provision import cli
from edgeasr.provision.gpt import find_partition
from edgeasr.service import load_service_config, service_config_for_building

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("sfdisk", "mke2fs", "debugfs", "e2fsck", "openssl")
missing = [t for t in TOOLS if not (shutil.which(t) or shutil.which(t, path="/usr/sbin:/sbin"))]
pytestmark = pytest.mark.skipif(bool(missing), reason=f"not installed: {missing} "
                                "(scripts/setup.sh installs fdisk, e2fsprogs, openssl)")

PASSWORD = "Kr4kenSecret-pw-93817"
PSK = "wifi-Pa55phrase-48213"
LAYOUT = ("label: gpt\nsize=8MiB, name=rootfsA\nsize=8MiB, name=rootfsB\n"
          "size=4MiB, name=data\nsize=4MiB, name=provision\n")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("keys")
    subprocess.run([str(ROOT / "scripts/ota-dev-keys.sh"), str(d)], check=True,
                   capture_output=True)
    return d


@pytest.fixture
def image(tmp_path: Path) -> Path:
    img = tmp_path / "sdcard.img"
    with img.open("wb") as f:
        f.truncate(32 << 20)
    subprocess.run(["sfdisk", "-q", str(img)], input=LAYOUT, text=True, check=True)
    a = find_partition(img, "rootfsA")
    with img.open("r+b") as f:  # something to prove the other partitions stay untouched
        f.seek(a.offset)
        f.write(os.urandom(a.size))
    return img


@pytest.fixture
def inputs(tmp_path: Path, keys: Path) -> dict[str, Path]:
    (tmp_path / "knx-pw").write_text(PASSWORD + "\n")
    (tmp_path / "psk").write_text(PSK + "\n")
    return {"keyring": make_keyring(tmp_path / "house.knxkeys", PASSWORD, bytes(range(16))),
            "knx_pw": tmp_path / "knx-pw", "psk": tmp_path / "psk",
            "ca": keys / "ca.cert.pem", "signer": keys / "development-1.cert.pem",
            "building": ROOT / "examples/demo-building.yaml"}


def provision(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edgeasr.provision.cli", *map(str, args)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT / "python"), **(env or {})})


def full_args(img: Path, inp: dict[str, Path], serial: str = "EA-0001",
              ia: str = "1.1.250") -> list[str | Path]:
    return ["write", img, "--serial", serial, "--individual-address", ia,
            "--building", inp["building"], "--ota-ca", inp["ca"], "--keyring", inp["keyring"],
            "--knx-type", "routing",
            "--knx-password-file", inp["knx_pw"], "--wifi-ssid", "Building-IoT",
            "--wifi-psk-file", inp["psk"]]


def provision_here(capsys: pytest.CaptureFixture, *args: str | Path,
                   ) -> subprocess.CompletedProcess:
    """The same command in this process (faster for the many rejected inputs)."""
    capsys.readouterr()
    rc = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, rc, out.out, out.err)


def debugfs(img: Path, cmd: str) -> str:
    part = find_partition(img, "provision")
    res = subprocess.run(["debugfs", "-R", cmd, f"{img}?offset={part.offset}"],
                         capture_output=True, text=True, check=True)
    return res.stdout


def test_write_read_back_and_verify_independently(image: Path, inputs: dict[str, Path],
                                                  tmp_path: Path) -> None:
    rootfs_a = find_partition(image, "rootfsA")
    before_a = image.read_bytes()[rootfs_a.offset:rootfs_a.offset + rootfs_a.size]
    res = provision(*full_args(image, inputs))
    assert res.returncode == 0, res.stderr
    assert "verified by read-back" in res.stdout
    # Checked with e2fsprogs directly, not through the tool's own reader.
    part = find_partition(image, "provision")
    subprocess.run(["e2fsck", "-fn", f"{image}?offset={part.offset}"], check=True,
                   capture_output=True)
    assert debugfs(image, "cat /secrets/edgeasr/knx-password") == PASSWORD + "\n"
    assert debugfs(image, "cat /edgeasr/knx.knxkeys") == inputs["keyring"].read_text()
    assert debugfs(image, "cat /ota/ca.cert.pem") == inputs["ca"].read_text()
    wpa = debugfs(image, "cat /secrets/wifi/wpa_supplicant.conf")
    assert 'ssid="Building-IoT"' in wpa and f'psk="{PSK}"' in wpa
    stat = debugfs(image, "stat /secrets/edgeasr/knx-password")
    assert "Mode:  0600" in stat and "User:     0   Group:     0" in stat
    assert "Mode:  0700" in debugfs(image, "stat /secrets")
    # the other partitions are untouched
    assert image.read_bytes()[rootfs_a.offset:rootfs_a.offset + rootfs_a.size] == before_a
    # what the service makes of it: device.yaml merged over the image's service.yaml
    etc = tmp_path / "etc-edgeasr"
    etc.mkdir()
    shutil.copy(ROOT / "examples/service.yaml", etc / "service.yaml")
    (etc / "device.yaml").write_text(debugfs(image, "cat /edgeasr/device.yaml"))
    cfg = load_service_config(etc / "service.yaml", building=inputs["building"])
    assert cfg.knx.individual_address == "1.1.250"
    assert cfg.knx.type == "routing"  # the unit's, over the image's tunnelling
    assert cfg.knx.ttl_s == 3.0  # from the image's service.yaml
    assert cfg.knx.secure is not None
    assert str(cfg.knx.secure.keyring) == "/etc/edgeasr/knx.knxkeys"
    assert str(cfg.knx.secure.password_file) == \
        "/run/credentials/edgeasr.service/edgeasr_knx-password"
    # `edgeasr serve --config /etc/edgeasr/building.yaml` (the recipe's default) merges it too
    (etc / "building.yaml").write_text(debugfs(image, "cat /edgeasr/building.yaml"))
    plain = service_config_for_building(etc / "building.yaml")
    assert plain.knx.individual_address == "1.1.250" and plain.knx.type == "routing"
    assert plain.knx.secure is not None and plain.building == etc / "building.yaml"


def test_unprovisioned_service_config_is_the_image_default(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples/service.yaml", tmp_path / "service.yaml")
    cfg = load_service_config(tmp_path / "service.yaml",
                              building=ROOT / "examples/demo-building.yaml")
    assert cfg.knx.secure is None and cfg.knx.individual_address == "1.1.250"
    assert service_config_for_building(ROOT / "examples/demo-building.yaml").knx.secure is None
    (tmp_path / "device.yaml").write_text("service: [1, 2]\n")
    with pytest.raises(ValueError, match="device.yaml: 'service' must be a mapping"):
        load_service_config(tmp_path / "service.yaml")


def test_idempotent_then_reprovision_replaces_everything(image: Path,
                                                         inputs: dict[str, Path]) -> None:
    assert provision(*full_args(image, inputs)).returncode == 0
    first = sha(image)
    again = provision(*full_args(image, inputs))
    assert again.returncode == 0 and "unchanged" in again.stdout
    assert sha(image) == first  # not even rewritten
    # re-provision: another address, no keyring and no Wi-Fi -> their files are gone
    res = provision("write", image, "--serial", "EA-0002", "--individual-address", "1.1.251",
                    "--building", inputs["building"], "--ota-ca", inputs["ca"])
    assert res.returncode == 0, res.stderr
    assert "EA-0002" in res.stdout and sha(image) != first
    listing = debugfs(image, "ls -p /secrets/edgeasr") + debugfs(image, "ls -p /edgeasr")
    assert "knx-password" not in listing and "knx.knxkeys" not in listing
    assert "individual_address: 1.1.251" in debugfs(image, "cat /edgeasr/device.yaml")
    shown = provision("show", image)
    assert shown.returncode == 0 and '"serial": "EA-0002"' in shown.stdout


BAD = {
    "--individual-address": (["--individual-address", "1.1.256"], {}),
    "--keyring wrong format": (["--keyring", "building"], {}),
    "--keyring wrong password": ([], {"knx_pw_text": "not-the-password"}),
    "--building missing": (["--building", "/nonexistent/building.yaml"], {}),
    "--ota-ca not a CA": (["--ota-ca", "signer"], {}),
    "--serial": (["--serial", "EA 0001/../x"], {}),
    "Wi-Fi passphrase": ([], {"psk_text": "short"}),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_rejected_naming_the_field(case: str, image: Path, inputs: dict[str, Path],
                                                capsys: pytest.CaptureFixture) -> None:
    change, files = BAD[case]
    args = full_args(image, inputs)
    for i in range(0, len(change), 2):
        value = change[i + 1]
        args[args.index(change[i]) + 1] = inputs.get(value, value) if isinstance(value, str) \
            else value
    if "knx_pw_text" in files:
        inputs["knx_pw"].write_text(files["knx_pw_text"])
    if "psk_text" in files:
        inputs["psk"].write_text(files["psk_text"])
    before = sha(image)
    res = provision_here(capsys, *args)
    assert res.returncode == 2, res.stdout + res.stderr
    field = case.split(" ")[0] if case.startswith("--") else case
    assert f"edgeasr-provision: {field}" in res.stderr, res.stderr
    assert sha(image) == before  # validated before anything is written


def test_missing_building_config_is_an_error(image: Path, inputs: dict[str, Path],
                                            capsys: pytest.CaptureFixture) -> None:
    args = full_args(image, inputs)
    i = args.index("--building")
    del args[i:i + 2]
    before = sha(image)
    res = provision_here(capsys, *args)
    assert res.returncode == 2 and "--building: the building configuration is required" \
        in res.stderr
    assert sha(image) == before


def test_invalid_building_config_names_the_problem(image: Path, inputs: dict[str, Path],
                                                   tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "building.yaml"
    bad.write_text(inputs["building"].read_text().replace("\nbuilding:", "\nbilding:", 1))
    args = full_args(image, inputs)
    args[args.index("--building") + 1] = bad
    before = sha(image)
    res = provision_here(capsys, *args)
    assert res.returncode == 2 and "--building:" in res.stderr and "bilding" in res.stderr
    assert sha(image) == before


def test_image_without_provision_partition(tmp_path: Path, inputs: dict[str, Path],
                                           capsys: pytest.CaptureFixture) -> None:
    img = tmp_path / "plain.img"
    with img.open("wb") as f:
        f.truncate(16 << 20)
    subprocess.run(["sfdisk", "-q", str(img)], input="label: gpt\nname=rootfs\n", text=True,
                   check=True)
    res = provision_here(capsys, *full_args(img, inputs))
    assert res.returncode == 2
    assert "no GPT partition named 'provision' (has: rootfs)" in res.stderr


def test_secrets_never_appear_in_output_or_logs(image: Path, inputs: dict[str, Path],
                                                tmp_path: Path) -> None:
    outputs = []
    ok = provision("-v", *full_args(image, inputs))  # debug logging on
    assert ok.returncode == 0
    outputs += [ok.stdout, ok.stderr]
    outputs += [provision("-v", "show", image).stdout]
    # secrets from the environment instead of files
    args = [a for a in full_args(image, inputs, serial="EA-0003")]
    for opt in ("--knx-password-file", "--wifi-psk-file"):
        i = args.index(opt)
        del args[i:i + 2]
    env = provision("-v", *args, env={"EDGEASR_KNX_PASSWORD": PASSWORD, "EDGEASR_WIFI_PSK": PSK})
    assert env.returncode == 0, env.stderr
    outputs += [env.stdout, env.stderr]
    # failures: a wrong password, and a right password with a bad Wi-Fi passphrase
    inputs["knx_pw"].write_text(PASSWORD + "x\n")
    wrong = provision("-v", *full_args(image, inputs))
    assert wrong.returncode == 2
    inputs["knx_pw"].write_text(PASSWORD + "\n")
    inputs["psk"].write_text('"' + PSK + "\n")
    bad_psk = provision("-v", *full_args(image, inputs))
    assert bad_psk.returncode == 2
    outputs += [wrong.stdout, wrong.stderr, bad_psk.stdout, bad_psk.stderr]
    text = "\n".join(outputs)
    assert "DEBUG" in text  # the logs were really on
    for secret in (PASSWORD, PSK):
        assert secret not in text
        assert hashlib.sha256(secret.encode()).hexdigest() not in text
