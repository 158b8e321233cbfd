#!/usr/bin/env bash
# A real, offline `bitbake -p` of the EdgeASR image with the kas configuration, from local
# checkouts of the upstream layers. For a developer machine; CI skips it (tests/test_layer.py).
#
#   scripts/bitbake-parse.sh LAYERS_DIR [WORK_DIR]
#
# LAYERS_DIR holds checkouts named like the repos of kas/edgeasr.yml (scripts/layer-clone.sh
# makes them, from the network or from local mirrors):
#   required: bitbake openembedded-core meta-openembedded meta-st-stm32mp meta-st-x-linux-ai
#   optional: meta-st-openstlinux  (absent: a parse-only stand-in that only declares the
#                                   st-openstlinux layer collection, and DISTRO = nodistro
#                                   because ST's distros live in that layer)
#             meta-rauc            (needed with EDGEASR_PARSE_FEATURES=ota)
# Each checkout is parsed at the commit it is at; the log lists those commits next to the
# ones kas/edgeasr.yml pins. WORK_DIR (default ~/edgeasr-parse) gets a copy of this
# repository's working tree, the kas build directory and parse.log. Nothing is downloaded:
# BB_NO_NETWORK = "1".
#
# Runs as a normal user (bitbake refuses root). Needs kas (pip install kas) and the host
# tools bitbake's sanity check asks for (docs/build.md). Environment:
#   EDGEASR_PARSE_MACHINE   kas/machine/<name>.yml to use (default stm32mp257f-dk)
#   EDGEASR_PARSE_FEATURES  kas/feature/<name>.yml to add, space separated (default none)
#   EDGEASR_PARSE_GRAPH     recipes whose run-time dependencies `bitbake -g` must resolve
#                           (default packagegroup-edgeasr; "" skips that step)
#   KAS                     the kas command (default: kas)
# Exit status: bitbake's; 77 when a prerequisite is missing (nothing was run).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
layers=${1:-}
work=${2:-$HOME/edgeasr-parse}
machine=${EDGEASR_PARSE_MACHINE:-stm32mp257f-dk}
features=${EDGEASR_PARSE_FEATURES:-}
graph=${EDGEASR_PARSE_GRAPH-packagegroup-edgeasr}
kas=${KAS:-kas}

skip() { echo "bitbake-parse: SKIPPED: $*" >&2; exit 77; }

[[ -n $layers ]] || skip "no LAYERS_DIR given (usage: scripts/bitbake-parse.sh LAYERS_DIR [WORK_DIR])"
[[ -d $layers ]] || skip "LAYERS_DIR $layers does not exist: make the checkouts with scripts/layer-clone.sh"
layers=$(cd "$layers" && pwd)
for name in bitbake openembedded-core meta-openembedded meta-st-stm32mp meta-st-x-linux-ai; do
    [[ -d $layers/$name/.git ]] || skip "no checkout $layers/$name (scripts/layer-clone.sh makes it)"
done
for f in $features; do
    [[ -f $repo/kas/feature/$f.yml ]] || { echo "bitbake-parse: no kas/feature/$f.yml" >&2; exit 2; }
    if [[ $f == ota ]]; then
        [[ -d $layers/meta-rauc/.git ]] || skip "feature ota needs a checkout $layers/meta-rauc"
    fi
done
[[ -f $repo/kas/machine/$machine.yml ]] || { echo "bitbake-parse: no kas/machine/$machine.yml" >&2; exit 2; }
[[ $(id -u) != 0 ]] || skip "bitbake refuses to run as root: run this as a normal user"
command -v "$kas" >/dev/null || skip "kas not found (pip install kas, or set KAS)"

git_() { git -c safe.directory='*' "$@"; }

# 1. A copy of this repository as it is in the working tree (committed or not): kas needs
#    the configuration in a repository of its own, and the EdgeASR recipes fetch the
#    committed sources from it (branch below).
rm -rf "$work"
mkdir -p "$work"
git_ clone -q "$repo" "$work/edgeasr"
(cd "$repo" && git_ ls-files -z --cached --others --exclude-standard) \
    | (cd "$repo" && xargs -0 -r cp --parents -t "$work/edgeasr" 2>/dev/null || true)
branch=$(git_ -C "$work/edgeasr" rev-parse --abbrev-ref HEAD)

# 2. The upstream checkouts, where kas expects them (KAS_WORK_DIR/<repo name>).
overlay=$work/edgeasr/kas/parse-overlay.yml
repos_overlay=""
add_repo() {  # name dir: parse this checkout at its HEAD, under its own origin URL
    local name=$1 dir=$2
    ln -sfn "$dir" "$work/$name"
    repos_overlay+="  $name:
    url: $(git_ -C "$dir" remote get-url origin)
    tag: null
    branch: null
    commit: $(git_ -C "$dir" rev-parse HEAD)
"
}
for name in bitbake openembedded-core meta-openembedded meta-st-stm32mp meta-st-x-linux-ai \
        meta-st-openstlinux; do
    if [[ -d $layers/$name/.git ]]; then add_repo "$name" "$layers/$name"; fi
done
if [[ " $features " == *" ota "* ]]; then add_repo meta-rauc "$layers/meta-rauc"; fi
distro=""
distro_features=""
if [[ ! -d $layers/meta-st-openstlinux/.git ]]; then
    standin=$work/standin-meta-st-openstlinux
    mkdir -p "$standin/conf"
    cat >"$standin/conf/layer.conf" <<'EOF'
# PARSE-ONLY STAND-IN for STMicroelectronics/meta-st-openstlinux (not readable here): it
# declares the layer collection that meta-st-x-linux-ai and meta-edgeasr depend on, and
# nothing else. Never part of a product.
BBPATH .= ":${LAYERDIR}"
BBFILE_COLLECTIONS += "st-openstlinux"
BBFILE_PATTERN_st-openstlinux := "^${LAYERDIR}/"
BBFILE_PRIORITY_st-openstlinux = "5"
LAYERSERIES_COMPAT_st-openstlinux = "scarthgap"
EOF
    git_ -C "$standin" init -q -b scarthgap
    git_ -C "$standin" add -A
    git_ -C "$standin" -c user.name=parse -c user.email=parse@localhost commit -qm stand-in
    git_ -C "$standin" remote add origin "$standin"
    git_ -C "$standin" fetch -q origin
    add_repo meta-st-openstlinux "$standin"
    distro="distro: nodistro"
    # The distro features of ST's openstlinux-eglfs (whose configuration lives in
    # meta-st-openstlinux) that decide providers: no Wayland/X11 selects ST's GPU/NPU userland.
    distro_features='DISTRO_FEATURES:append = " opengl optee"
    DISTRO_FEATURES:remove = "wayland x11"'
fi

cat >"$overlay" <<EOF
# Written by scripts/bitbake-parse.sh for one parse; not part of the product.
header:
  version: 23
$distro
env:
  EDGEASR_ACCEPT_ST_EULA: "1"
repos:
$repos_overlay
local_conf_header:
  zz-parse: |
    BB_NO_NETWORK = "1"
    CONNECTIVITY_CHECK_URIS = ""
    INIT_MANAGER = "systemd"
    EDGEASR_GIT_BRANCH = "$branch"
    # st-image-ai requires st-image-weston.bb, which lives in meta-st-openstlinux.
    BBMASK += "${distro:+meta-st-x-linux-ai/recipes-st/images/}"
    $distro_features
EOF

configs=edgeasr/kas/edgeasr.yml:edgeasr/kas/machine/$machine.yml
for f in $features; do configs+=:edgeasr/kas/feature/$f.yml; done
configs+=:edgeasr/kas/parse-overlay.yml

steps='bitbake-layers show-layers && bitbake -p'
if [[ -n $graph ]]; then
    steps+=" && bitbake -g $graph && echo \"bitbake -g $graph: run-time dependencies resolved\""
fi
steps+=" && python3 $work/edgeasr/scripts/layer-getvars.py"
steps+=" edgeasr-image=DISTRO,MACHINE,MACHINE_FEATURES,IMAGE_FEATURES,IMAGE_INSTALL"
steps+=" packagegroup-edgeasr=RDEPENDS:packagegroup-edgeasr"
steps+=" python3-edgeasr=SRC_URI,PV,@srcrev"

log=$work/parse.log
{
    echo "== scripts/bitbake-parse.sh $(date -u +%Y-%m-%dT%H:%MZ) machine=$machine features=${features:-none}"
    echo "== kas $("$kas" --version 2>&1 | head -1); config $configs"
    echo "== layers parsed (commit | kas/edgeasr.yml pins):"
    for name in bitbake openembedded-core meta-openembedded meta-st-stm32mp meta-st-openstlinux \
            meta-st-x-linux-ai meta-rauc; do
        [[ -e $work/$name ]] || continue
        head=$(git_ -C "$work/$name/" rev-parse HEAD)
        pin=$(awk -v n="  $name:" '$0 == n {on = 1; next} /^  [^ #]/ {on = 0}
            on && /^ +(commit|tag):/ {printf "%s ", $0}' "$repo/kas/edgeasr.yml" \
            "$repo"/kas/feature/*.yml | tr -s ' ')
        ph=""
        [[ -s $work/$name/.layer-clone-placeholders ]] \
            && ph=" ($(wc -l <"$work/$name/.layer-clone-placeholders") placeholder files)"
        [[ $name == meta-st-openstlinux && -n $distro ]] && ph=" (PARSE-ONLY STAND-IN)"
        echo "   $name $head$ph | ${pin:-none}"
    done
    echo "== meta-edgeasr: working tree of $(git_ -C "$repo" rev-parse HEAD) (branch $branch)"
} | tee "$log"

set +e
start=$SECONDS
(cd "$work" && KAS_WORK_DIR=$work KAS_BUILD_DIR=$work/build "$kas" shell \
    --skip repos_checkout "$configs" -c "$steps") 2>&1 | tee -a "$log"
rc=${PIPESTATUS[0]}
echo "== exit status $rc after $((SECONDS - start)) s; log: $log" | tee -a "$log"
exit "$rc"
