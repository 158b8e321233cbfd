#!/usr/bin/env bash
# One-time set-up for a fresh Debian machine: Debian tools (when root), then a venv with the
# edgeasr package and its development/factory extras. Safe to run again; it only adds what
# is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PKGS=(espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
          sox libsndfile1 knxd knxd-tools python3-venv
          # OTA and provisioning tests: RAUC, its bundle and U-Boot environment tools, a
          # private D-Bus for rauc service, GPT and ext4 tools, openssl for the keys.
          rauc squashfs-tools libubootenv-tool u-boot-tools dbus-daemon fdisk gdisk e2fsprogs
          openssl
          # the A/B boot script in real U-Boot (tests/test_uboot_script.py)
          qemu-system-arm u-boot-qemu
          qemu-user-static debootstrap)  # the aarch64 check (tests/test_aarch64.py)
missing=()
for p in "${DEB_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # knxd's package enables a system daemon; the demo and tests start their own.
    systemctl disable --now knxd.service knxd.socket >/dev/null 2>&1 || true
  else
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run as root, or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: Python >= 3.11 is needed ($PY is $("$PY" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.edgeasr-installed
if [ ! -f "$stamp" ] || [ python/pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages into .venv (first time: a few minutes)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e "python[dev,factory]"
  touch "$stamp"
fi
