#!/usr/bin/env bash
# Make local checkouts of the upstream layers for scripts/bitbake-parse.sh.
#
#   scripts/layer-clone.sh DEST NAME=SOURCE@COMMIT [NAME=SOURCE@COMMIT ...]
#
# SOURCE is anything `git clone` takes (a URL, or a local repository such as a mirror
# brought by a fetch tool); DEST/NAME becomes a checkout of COMMIT. Some mirrors leave out
# their largest files (patches, firmware blobs): those files become empty placeholders,
# listed in DEST/NAME/.layer-clone-placeholders. That is enough to parse recipes, never to
# build them. Re-running with the same COMMIT leaves an existing checkout alone.
#
# Example (names as kas/edgeasr.yml uses them):
#   scripts/layer-clone.sh ~/edgeasr-layers \
#     bitbake=https://git.openembedded.org/bitbake@7375d32e8c1af20c51abec4eb3b072b4ca58b239
set -euo pipefail

if (($# < 2)); then
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
dest=$1
shift
mkdir -p "$dest"

# Mirrors may belong to another user; reading them is all that is done.
git_() { git -c safe.directory='*' -c advice.detachedHead=false "$@"; }

for spec in "$@"; do
    name=${spec%%=*}
    rest=${spec#*=}
    src=${rest%@*}
    commit=${rest##*@}
    if [[ -z $name || -z $src || -z $commit || $spec != *=*@* ]]; then
        echo "layer-clone: bad spec '$spec' (want NAME=SOURCE@COMMIT)" >&2
        exit 2
    fi
    dir=$dest/$name
    if [[ -d $dir/.git ]] && [[ $(git_ -C "$dir" rev-parse -q --verify HEAD 2>/dev/null) == "$commit"* ]]; then
        echo "layer-clone: $name already at $commit"
        continue
    fi
    rm -rf "$dir"
    git_ clone -q --no-checkout "$src" "$dir"
    full=$(git_ -C "$dir" rev-parse --verify "$commit^{commit}")
    git_ -C "$dir" update-ref --no-deref HEAD "$full"
    git_ -C "$dir" read-tree "$full"
    # Index entries whose blob the source lacks: skip them in the checkout, leave a placeholder.
    missing=$dir/.layer-clone-placeholders
    git_ -C "$dir" ls-files -s -z \
        | python3 -c '
import subprocess, sys
entries = [e for e in sys.stdin.buffer.read().split(b"\0") if e]
paths = {}
for e in entries:
    meta, path = e.split(b"\t", 1)
    mode, oid, _stage = meta.split()
    if mode != b"160000":  # submodules have no blob
        paths.setdefault(oid, []).append(path)
out = subprocess.run(["git", "-c", "safe.directory=*", "-C", sys.argv[1], "cat-file", "--batch-check"],
                     input=b"\n".join(paths) + b"\n", capture_output=True, check=True).stdout
for line in out.splitlines():
    if line.endswith(b" missing"):
        for p in paths[line.split()[0]]:
            sys.stdout.buffer.write(p + b"\n")
' "$dir" >"$missing"
    if [[ -s $missing ]]; then
        tr '\n' '\0' <"$missing" | git_ -C "$dir" update-index -z --skip-worktree --stdin
    fi
    git_ -C "$dir" checkout-index -a
    while IFS= read -r path; do
        mkdir -p "$(dirname "$dir/$path")"
        : >"$dir/$path"
    done <"$missing"
    n=$(wc -l <"$missing")
    echo "layer-clone: $name at $full ($n placeholder file(s) for blobs the source lacks)"
done
