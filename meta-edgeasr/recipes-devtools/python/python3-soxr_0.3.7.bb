SUMMARY = "High quality, one-dimensional sample-rate conversion library for Python"
DESCRIPTION = "python-soxr: a Cython wrapper of libsoxr, built here with the libsoxr \
               sources bundled in the sdist. Not provided by meta-openembedded or ST's layers for \
               scarthgap. 0.3.7 is the newest release that builds with setuptools and Cython; 0.4 and \
               later need scikit-build-core and nanobind, which scarthgap lacks."
HOMEPAGE = "https://github.com/dofuuz/python-soxr"
SECTION = "devel/python"
LICENSE = "LGPL-2.1-or-later"
LIC_FILES_CHKSUM = "\
    file://LICENSE.txt;md5=7ee20017174eaf719dcd702ab8957561 \
    file://COPYING.LGPL;md5=8c2e1ec1540fb3e0beb68361344cba7e \
    file://libsoxr/LICENCE;md5=1f6605fc6dfe53a780959dfef7061f77 \
"

SRC_URI[sha256sum] = "436ddff00c6eb2c75b79c19cfdca7527b1e31b5fad738652f044045ba6258593"

inherit pypi python_setuptools_build_meta

DEPENDS += "\
    python3-cython-native \
    python3-numpy-native \
    python3-setuptools-scm-native \
"

# pyproject.toml asks for oldest-supported-numpy, a PyPI-only meta package that pins numpy
# for wheel builds; the build uses numpy from python3-numpy-native instead.
PEP517_BUILD_OPTS = "--skip-dependency-check"

RDEPENDS:${PN} = "\
    python3-core \
    python3-numpy \
"
