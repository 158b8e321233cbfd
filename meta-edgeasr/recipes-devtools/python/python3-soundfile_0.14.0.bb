SUMMARY = "Audio library based on libsndfile, CFFI and NumPy"
DESCRIPTION = "python-soundfile reads and writes sound files through libsndfile, which it \
               loads at run time with CFFI (ABI mode). Not provided by meta-openembedded or ST's layers \
               for scarthgap."
HOMEPAGE = "https://github.com/bastibe/python-soundfile"
SECTION = "devel/python"
LICENSE = "BSD-3-Clause"
LIC_FILES_CHKSUM = "file://LICENSE;md5=50c87fd45f9555bc1ffe01fe22be78d2"

SRC_URI[sha256sum] = "ba1c1a2d618bca5c406647c83b89f07cc8810fa506a50622a6993ba130c1de11"

inherit pypi python_setuptools_build_meta

# soundfile_build.py generates the CFFI module at build time.
DEPENDS += "python3-cffi-native"

# libsndfile1 is dlopen()ed (found with ctypes.util.find_library, hence python3-ctypes).
RDEPENDS:${PN} = "\
    libsndfile1 \
    python3-cffi \
    python3-core \
    python3-ctypes \
    python3-numpy \
    python3-typing-extensions \
"
