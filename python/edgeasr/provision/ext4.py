"""Write and read an ext4 file system inside a partition of an image, without mounting it.

Why ext4 (e2fsprogs) and not FAT (mtools): the tree has secrets that must be root-only
(0600/0700), which FAT cannot express; ``mke2fs -d`` builds the whole file system from a
directory in one pass, so re-provisioning never leaves a mix of old and new files; and
e2fsprogs is in every OpenSTLinux image (e2fsck at boot). The partition is addressed by byte
offset inside the whole image or disk (``mke2fs -E offset=``, ``debugfs 'image?offset=N'``), so
the same code works on an image file and on ``/dev/sdX``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from edgeasr.provision.gpt import Partition

BLOCK = 4096
EXT4_MAGIC = b"\x53\xef"


class Ext4Error(RuntimeError):
    """An e2fsprogs command failed."""


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/sbin:/usr/sbin")
    if path is None:
        raise Ext4Error(f"{name} (e2fsprogs) is not installed")
    return path


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise Ext4Error(f"{Path(args[0]).name} failed ({res.returncode}): "
                        f"{(res.stderr or res.stdout).strip()[-500:]}")
    return res


def _spec(target: Path, part: Partition) -> str:
    return f"{target}?offset={part.offset}"


def has_ext4(target: Path, part: Partition) -> bool:
    with target.open("rb") as f:
        f.seek(part.offset + 1024 + 56)
        return f.read(2) == EXT4_MAGIC


def write_tree(target: Path, part: Partition, tree: Path, label: str) -> None:
    """Replace the partition's content with a new ext4 file system holding ``tree``."""
    blocks = part.size // BLOCK
    if blocks < 256:
        raise Ext4Error(f"partition {part.name} is {part.size} bytes; at least 1 MiB is needed")
    # No journal: the device mounts this file system read-only; -E nodiscard keeps mke2fs
    # from discarding outside our range; root_owner: the tree belongs to root on the device
    # whoever runs this (per-file ownership is fixed below).
    _run([_tool("mke2fs"), "-q", "-F", "-t", "ext4", "-b", str(BLOCK), "-L", label,
          "-O", "^has_journal", "-m", "0",
          "-E", f"offset={part.offset},nodiscard,root_owner=0:0", "-d", str(tree),
          str(target), str(blocks)])
    # mke2fs -d copies the staging files' owners: make every inode root's.
    cmds = []
    for p in sorted(tree.rglob("*")):
        rel = "/" + p.relative_to(tree).as_posix()
        cmds += [f'sif "{rel}" uid 0', f'sif "{rel}" gid 0']
    if cmds:
        with tempfile.NamedTemporaryFile("w", suffix=".debugfs") as f:
            f.write("\n".join(cmds) + "\n")
            f.flush()
            _run([_tool("debugfs"), "-w", "-f", f.name, _spec(target, part)])
    _run([_tool("e2fsck"), "-fn", _spec(target, part)])


def read_tree(target: Path, part: Partition, out: Path) -> None:
    """Copy the partition's files into ``out`` (an empty directory) with their modes."""
    if not has_ext4(target, part):
        raise Ext4Error(f"partition {part.name} holds no ext4 file system (not provisioned)")
    _run([_tool("debugfs"), "-R", f'rdump / "{out}"', _spec(target, part)])
