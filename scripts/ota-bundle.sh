#!/usr/bin/env bash
# Build a signed RAUC update bundle from a root file system image, outside Yocto (the layer's
# edgeasr-bundle recipe does the same inside the build).
#
#   scripts/ota-bundle.sh --rootfs IMG.ext4 --compatible STR --version VER \
#       --cert SIGNER.cert.pem --key SIGNER.key.pem [--keyring CA.cert.pem] \
#       [--format verity|plain] OUT.raucb
#
# verity (the default, as ST's meta-st-ota): the signature covers the manifest, which holds
# the dm-verity root hash of the payload; the device checks every block as it reads it.
# plain: the signature covers the whole payload (needed where the kernel has no dm-verity).
# --keyring checks the new bundle against the CA right away.
set -euo pipefail

format=verity keyring="" rootfs="" compatible="" version="" cert="" key=""
while [ $# -gt 1 ]; do
    case "$1" in
    --rootfs) rootfs=$2 ;;
    --compatible) compatible=$2 ;;
    --version) version=$2 ;;
    --cert) cert=$2 ;;
    --key) key=$2 ;;
    --keyring) keyring=$2 ;;
    --format) format=$2 ;;
    *) echo "ota-bundle: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done
out=${1:-}
for v in rootfs compatible version cert key out; do
    if [ -z "${!v}" ]; then echo "ota-bundle: --$v is required (see the header)" >&2; exit 2; fi
done
case "$format" in verity|plain) ;; *) echo "ota-bundle: --format: verity or plain" >&2; exit 2 ;; esac
for f in "$rootfs" "$cert" "$key" ${keyring:+"$keyring"}; do
    [ -r "$f" ] || { echo "ota-bundle: cannot read $f" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp --sparse=always "$rootfs" "$work/rootfs.ext4"
cat > "$work/manifest.raucm" <<MANIFEST
[update]
compatible=$compatible
version=$version
build=$(date -u +%Y%m%d%H%M%S)

[bundle]
format=$format

[image.rootfs]
filename=rootfs.ext4
MANIFEST
rm -f "$out"
rauc bundle --cert="$cert" --key="$key" ${keyring:+--keyring="$keyring"} "$work" "$out"
