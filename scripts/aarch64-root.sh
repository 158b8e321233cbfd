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
# The runtime's dependencies as the arm64 interpreter sees them (pyproject's [project]).
mapfile -t deps < <("$here/.venv/bin/python" - "$here/python/pyproject.toml" <<'PY'
import sys, tomllib
print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))
PY
)
plats=()
for v in 17 24 26 27 28 29 30 31 32 33 34 35 36; do plats+=(--platform "manylinux_2_${v}_aarch64"); done
echo "aarch64-root: aarch64 wheels of: ${deps[*]}" >&2
site="$tmp/opt/edgeasr-site"
for dep in "${deps[@]}"; do
  if ! "$pip" install -q --no-cache-dir --target "$site" --upgrade "${plats[@]}" \
      --python-version 3.11 --implementation cp --abi cp311 --only-binary=:all: "$dep" \
      2>/dev/null; then
    # No wheel at all (e.g. sdnotify ships only an sdist): build it here; it must be pure Python.
    "$pip" install -q --no-cache-dir --target "$site" --upgrade --no-deps "$dep" >&2
  fi
done
if find "$site" -name '*.so' -exec file {} + | grep -q x86-64; then
  echo "aarch64-root: an x86-64 extension slipped into $site" >&2; exit 1
fi
rm -rf "$root"
mv "$tmp" "$root"
echo "$want" > "$stamp"
echo "aarch64-root: ready in $(( $(date +%s) - t0 )) s" >&2
echo "$root"
