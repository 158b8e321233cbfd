#!/usr/bin/env bash
# Check meta-edgeasr's espeak-ng recipe on the build host, without bitbake: build a checkout
# of espeak-ng at the recipe's SRCREV with the recipe's configure options and steps, with
# the host program standing in for espeak-ng-native, then run the installed program the
# way python/edgeasr/lexicon.py does, on the installed (English-only) data.
#
#   scripts/espeak-ng-hostcheck.sh ESPEAK_NG_CHECKOUT [WORK_DIR]
#
# ESPEAK_NG_CHECKOUT: e.g. scripts/layer-clone.sh ~/src espeak-ng=https://github.com/espeak-ng/espeak-ng.git@<SRCREV>
# Needs gcc, make, autoconf, automake, libtool. Prints the licence checksums, the sizes of
# what do_install installs and the pronunciations; exit status 1 if a check fails.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
src=${1:?usage: scripts/espeak-ng-hostcheck.sh ESPEAK_NG_CHECKOUT [WORK_DIR]}
work=${2:-$(mktemp -d)}
bb=$(ls "$repo"/meta-edgeasr/recipes-support/espeak-ng/espeak-ng_*.bb)

# Values from the recipe, so that this check follows it.
var() { sed -n "s/^$1 ?*= \"\\(.*\\)\"$/\\1/p" "$bb"; }
srcrev=$(var SRCREV)
dicts=$(var ESPEAK_NG_DICTS)
oeconf=$(awk '/^EXTRA_OECONF = "\\$/ {on = 1; next} on && /^"/ {on = 0} on {print $1}' "$bb")
head=$(git -c safe.directory='*' -C "$src" rev-parse HEAD)
[[ $head == "$srcrev" ]] || { echo "hostcheck: $src is at $head, the recipe wants $srcrev" >&2; exit 1; }

fail=0
echo "== licence files (recipe: LIC_FILES_CHKSUM)"
for f in $(grep -o 'file://[^ ]*' "$bb" | sed 's|file://||'); do
    name=${f%%;*}
    want=${f##*md5=}
    got=$(md5sum "$src/$name" | cut -d' ' -f1)
    echo "   $name md5=$got (recipe $want)"
    [[ $got == "$want" ]] || fail=1
done

echo "== build in $work/build (configure:$(echo " $oeconf" | tr '\n' ' '))"
rm -rf "$work/build" "$work/image"
mkdir -p "$work"
cp -a "$src" "$work/build"
cd "$work/build"
# do_configure:prepend
touch AUTHORS ChangeLog
ln -sf ChangeLog.md NEWS
ln -sf README.md README
autoreconf -fi >"$work/autoreconf.log" 2>&1
# shellcheck disable=SC2086
./configure --prefix=/usr $oeconf >"$work/configure.log"
# do_compile
make -j"$(nproc)" src/espeak-ng >"$work/make.log" 2>&1
# do_compile:append:class-target, the host program in the role of espeak-ng-native
native=$work/build/src/espeak-ng
(cd phsource && ESPEAK_DATA_PATH=$work/build "$native" --compile-intonations \
    && ESPEAK_DATA_PATH=$work/build "$native" --compile-phonemes) >"$work/data.log"
for dict in $dicts; do
    (cd dictsource && ESPEAK_DATA_PATH=$work/build "$native" --compile="$dict") >>"$work/data.log"
done
# do_install and do_install:append:class-target
make DESTDIR="$work/image" bin_PROGRAMS=src/espeak-ng install-binPROGRAMS \
    install-espeak_includeHEADERS install-espeak_ng_includeHEADERS install-libLTLIBRARIES \
    install-pkgconfigDATA >"$work/install.log" 2>&1
data=$work/image/usr/share/espeak-ng-data
install -d "$data/voices"
for f in intonations phondata phondata-manifest phonindex phontab; do
    install -m 0644 "espeak-ng-data/$f" "$data/"
done
for dict in $dicts; do install -m 0644 "espeak-ng-data/${dict}_dict" "$data/"; done
cp -R --no-preserve=ownership espeak-ng-data/lang "$data/"
cp -R --no-preserve=ownership 'espeak-ng-data/voices/!v' "$data/voices/"

echo "== installed (bytes, apparent size)"
(cd "$work/image" && find . -type f -printf '%s %p\n' | sort -k2 \
    | awk '$2 !~ /\/(lang|voices)\// {print "   " $0} $2 ~ /\/(lang|voices)\// {v += $1; n++}
           END {printf "   %d espeak-ng-data/lang and voices/!v (%d text files)\n", v, n}')
printf '   %s total of espeak-ng-data\n' "$(du -sb "$data" | cut -f1)"

echo "== the lexicon's call (espeak-ng -q --ipa -v en-us WORD) on the installed data only"
bin=$work/bin
mkdir -p "$bin"
cat >"$bin/espeak-ng" <<EOF
#!/bin/sh
ESPEAK_DATA_PATH=$work/image/usr/share LD_LIBRARY_PATH=$work/image/usr/lib exec $work/image/usr/bin/espeak-ng "\$@"
EOF
chmod +x "$bin/espeak-ng"
"$bin/espeak-ng" --version
PATH=$bin:/usr/bin:/bin PYTHONPATH=$repo/python "${PYTHON:-$repo/.venv/bin/python}" - <<'EOF' || fail=1
import shutil
from edgeasr.lexicon import espeak_pronunciation

print(f"   espeak-ng: {shutil.which('espeak-ng')}")
for word in ("wohnzimmer", "jalousie", "esszimmer"):
    phones = espeak_pronunciation(word)
    print(f"   {word}: {' '.join(phones)}")
    assert phones, word
EOF
exit "$fail"
