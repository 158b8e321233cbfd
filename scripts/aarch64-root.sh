#!/usr/bin/env bash
# Build, once, an arm64 Debian root in which the edgeasr runtime runs under qemu-aarch64
# user-mode emulation: Debian bookworm's python3 (3.11, the Python of the board's image) plus
# the manylinux aarch64 wheels of the package's runtime dependencies (numpy<2, tflite-runtime
# 2.14, ...). Nothing is configured and nothing arm64 is executed while building, so neither
# binfmt_misc nor a chroot is needed: debootstrap's first stage downloads the packages and
# dpkg-deb unpacks them; pip picks the aarch64 wheels with --platform.
#
#   scripts/aarch64-root.sh [ROOT]        (default ~/.cache/edgeasr/aarch64; prints ROOT)
#
# Needs the Debian packages debootstrap and qemu-user-static (scripts/setup.sh installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-${EDGEASR_AARCH64_ROOT:-$HOME/.cache/edgeasr/aarch64}}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
pip=${PIP:-$here/.venv/bin/pip}
stamp="$root/.edgeasr-ready"
# Rebuild when the dependency list changes.
want=$(sha256sum "$here/python/pyproject.toml" "$0" | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$root"; exit 0
fi
for tool in debootstrap dpkg-deb qemu-aarch64-static; do
  command -v "$tool" >/dev/null || { echo "aarch64-root: $tool is missing (run scripts/setup.sh)" >&2; exit 2; }
done
t0=$(date +%s)
tmp="$root.tmp"
rm -rf "$tmp"
mkdir -p "$(dirname "$root")"
echo "aarch64-root: debootstrap (first stage) of bookworm arm64 into $tmp" >&2
debootstrap --foreign --arch=arm64 --variant=minbase --include=python3 \
  bookworm "$tmp" "$mirror" >&2
# The first stage unpacks only the essential set; unpack python3 and the rest of what it pulled.
for deb in "$tmp"/var/cache/apt/archives/*.deb; do
  dpkg-deb -x "$deb" "$tmp"
done
rm -f "$tmp"/var/cache/apt/archives/*.deb
# The runtime's dependencies ([project] of pyproject.toml), pinned to the versions installed
# in this checkout's venv, so that x86-64 and aarch64 run the same library versions.
mapfile -t deps < <("$here/.venv/bin/python" - "$here/python/pyproject.toml" <<'PY'
import sys, tomllib
from importlib.metadata import version
from packaging.requirements import Requirement
for spec in tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]:
    req = Requirement(spec)
    if req.marker is None or req.marker.evaluate({"python_version": "3.11"}):
        print(f"{req.name}=={version(req.name)}")
PY
)
plats=()
for v in 17 24 26 27 28 29 30 31 32 33 34 35 36; do plats+=(--platform "manylinux_2_${v}_aarch64"); done
binary=(--python-version 3.11 --implementation cp --abi cp311 --only-binary=:all: "${plats[@]}")
site="$tmp/opt/edgeasr-site"
wheels=()
for dep in "${deps[@]}"; do
  if "$pip" download -q --no-deps -d "$tmp/.probe" "${binary[@]}" "$dep" >/dev/null 2>&1; then
    wheels+=("$dep")
  else
    # No wheel at all (sdnotify ships only an sdist): build it here; it must be pure Python.
    echo "aarch64-root: $dep has no wheel; installing its sdist (pure Python)" >&2
    "$pip" install -q --no-cache-dir --target "$site" --no-deps "$dep" >&2
  fi
done
rm -rf "$tmp/.probe"
echo "aarch64-root: aarch64 wheels of: ${wheels[*]}" >&2
"$pip" install -q --no-cache-dir --target "$site" "${binary[@]}" "${wheels[@]}" >&2
# Every compiled extension must be aarch64 (ELF e_machine 183), none built for this host.
"$here/.venv/bin/python" - "$site" <<'PY'
import pathlib, sys
libs = [p for p in pathlib.Path(sys.argv[1]).rglob("*.so*")
        if p.is_file() and (p.name.endswith(".so") or ".so." in p.name)]
bad = [p for p in libs if p.read_bytes()[:4] == b"\x7fELF"
       and int.from_bytes(p.read_bytes()[18:20], "little") != 183]
sys.exit(f"aarch64-root: not aarch64: {bad}" if bad else 0)
PY
rm -rf "$root"
mv "$tmp" "$root"
echo "$want" > "$stamp"
echo "$(( $(date +%s) - t0 ))" > "$root/.edgeasr-build-seconds"
echo "aarch64-root: ready in $(cat "$root/.edgeasr-build-seconds") s" >&2
echo "$root"
