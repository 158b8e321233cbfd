#!/usr/bin/env python3
"""Print variables of recipes as bitbake resolves them, in one bitbake session.

    layer-getvars.py RECIPE=VAR,VAR,... [RECIPE=VAR,...]

The pseudo variable @srcrev is the source revision the fetcher resolves (an AUTOREV is
looked up in the repository, as a build would); VAR[flag] reads a flag, e.g.
do_rootfs[depends].

Run inside a bitbake build environment (scripts/bitbake-parse.sh does, via kas shell).
Unlike `bitbake -e <image>`, this only parses the recipes and does not need every run-time
dependency of an image to have a provider.
"""

from __future__ import annotations

import os
import shutil
import sys


def main(argv: list[str]) -> int:
    bitbake = shutil.which("bitbake")
    if not bitbake or len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(bitbake)), "..", "lib"))
    import bb.tinfoil

    with bb.tinfoil.Tinfoil() as tinfoil:
        tinfoil.prepare(config_only=False, quiet=2)
        for spec in argv[1:]:
            recipe, _, names = spec.partition("=")
            d = tinfoil.parse_recipe(recipe)
            for name in names.split(","):
                if name == "@srcrev":
                    import bb.fetch2

                    value = str(bb.fetch2.get_srcrev(d))
                elif name.endswith("]") and "[" in name:
                    var, _, flag = name[:-1].partition("[")
                    value = " ".join((d.getVarFlag(var, flag) or "").split())
                else:
                    value = " ".join((d.getVar(name) or "").split())
                print(f"{recipe}: {name}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
