"""Find a partition by its GPT name in a raw image file or on a block device (sfdisk --json)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


class PartitionError(ValueError):
    """The target has no usable GPT partition of that name."""


@dataclass(frozen=True)
class Partition:
    name: str
    offset: int  # bytes from the start of the disk / image
    size: int  # bytes
    uuid: str


def find_partition(target: Path, name: str) -> Partition:
    """The GPT partition named ``name`` on ``target`` (read only; nothing is mounted)."""
    sfdisk = shutil.which("sfdisk")
    if sfdisk is None:
        raise PartitionError("sfdisk (util-linux fdisk package) is not installed")
    if not target.exists():
        raise PartitionError(f"{target}: no such image file or block device")
    res = subprocess.run([sfdisk, "--json", str(target)], capture_output=True, text=True,
                         timeout=30)
    if res.returncode != 0 or not res.stdout.strip():
        raise PartitionError(f"{target}: no partition table ({res.stderr.strip()})")
    table = json.loads(res.stdout)["partitiontable"]
    if table.get("label") != "gpt":
        raise PartitionError(f"{target}: partition table is {table.get('label')}, expected GPT "
                             "(partitions are found by their GPT name)")
    sector = int(table.get("sectorsize", 512))
    hits = [p for p in table.get("partitions", []) if p.get("name") == name]
    if not hits:
        names = ", ".join(p.get("name", "?") for p in table.get("partitions", []))
        raise PartitionError(f"{target}: no GPT partition named {name!r} (has: {names})")
    if len(hits) > 1:
        raise PartitionError(f"{target}: {len(hits)} GPT partitions are named {name!r}")
    p = hits[0]
    return Partition(name=name, offset=int(p["start"]) * sector, size=int(p["size"]) * sector,
                     uuid=p.get("uuid", ""))


def mounted_from(target: Path) -> list[str]:
    """Mount points whose source is ``target`` or one of its partitions (block devices)."""
    if not target.is_block_device():
        return []
    dev = str(target.resolve())
    points = []
    for line in Path("/proc/mounts").read_text().splitlines():
        src, point = line.split()[:2]
        if src == dev or (src.startswith(dev) and src[len(dev):].lstrip("p").isdigit()):
            points.append(point)
    return points
