"""The environment meta-edgeasr's systemd unit gives `edgeasr serve`, for the benchmarks and
tests that run the service as the board does.

The unit (`edgeasr.service`, its `Environment=` lines) is the one place it is written; on the
board the image ships the optimised bytecode that `PYTHONOPTIMIZE=2` reads
(`edgeasr-image.bb`), and `precompile` writes the same here, so that a measured run does not
compile modules at start-up (which the board never does).
"""

from __future__ import annotations

import functools
import os
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "meta-edgeasr" / "recipes-edgeasr" / "edgeasr-service" / "files" / "edgeasr.service"


def unit_environment(unit: Path = UNIT) -> dict[str, str]:
    """The variables of the unit's `Environment=` lines (systemd's quoting rules are shell-like
    for the plain assignments the unit uses)."""
    env: dict[str, str] = {}
    for line in unit.read_text().splitlines():
        if line.startswith("Environment="):
            for item in shlex.split(line.split("=", 1)[1]):
                key, sep, value = item.partition("=")
                if not sep:
                    raise ValueError(f"{unit}: {item!r} in Environment= is not NAME=VALUE")
                env[key] = value
    return env


def service_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the unit's variables on top."""
    return {**(os.environ if base is None else base), **unit_environment()}


_PRECOMPILE = """
import compileall, importlib, py_compile, sys
from pathlib import Path
for name in sys.argv[1:]:
    importlib.import_module(name)
tops, files = set(), set()
for mod in list(sys.modules.values()):
    path = getattr(mod, "__file__", None) or ""
    if not path.endswith(".py"):
        continue
    top = sys.modules.get(mod.__name__.split(".")[0])
    top_file = getattr(top, "__file__", None) or ""
    package = top_file.endswith("__init__.py")
    if package and ("site-packages" in top_file or mod.__name__.startswith("edgeasr")):
        tops.add(str(Path(top_file).parent))  # a package: all of it (lazy submodules too)
    else:
        files.add(path)  # the standard library: what was imported
for d in sorted(tops):
    compileall.compile_dir(d, quiet=1, optimize=2)
for f in sorted(files):
    try:
        py_compile.compile(f, optimize=2, doraise=True)
    except (OSError, py_compile.PyCompileError):
        pass  # a read-only installation: that module compiles at start, as before
"""


@functools.cache  # once per process: make latency runs it, then bench.memory
def precompile(modules: tuple[str, ...] = ("edgeasr.cli", "edgeasr.service",
                                           "edgeasr.recognizer")) -> None:
    """Write the `.opt-2.pyc` files of the packages ``modules`` import (and of the standard
    library modules they load), as the image does for the board."""
    env = {k: v for k, v in service_env().items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("PYTHONOPTIMIZE", None)
    subprocess.run([sys.executable, "-c", _PRECOMPILE, *modules], check=True, env=env,
                   cwd=REPO, stdout=subprocess.DEVNULL)
