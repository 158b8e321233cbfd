SUMMARY = "eSpeak NG speech synthesizer: spells words as phonemes"
DESCRIPTION = "eSpeak NG, a compact formant speech synthesizer. EdgeASR runs the espeak-ng \
               program (espeak-ng -q --ipa) for the pronunciation of words that the CMU \
               dictionary lacks (python/edgeasr/lexicon.py). No scarthgap layer provides it: \
               meta-oe only has the older espeak 1.48. Only the dictionaries named in \
               ESPEAK_NG_DICTS (default English) are compiled and installed."
HOMEPAGE = "https://github.com/espeak-ng/espeak-ng"
SECTION = "sound"
# COPYING: GPL-3.0-or-later (the program, the library and its data). COPYING.UCD: the
# Unicode data tables compiled into the library (src/ucd-tools). COPYING.BSD2 (getopt.c)
# and COPYING.APACHE only concern Windows and Android builds, not built here.
LICENSE = "GPL-3.0-or-later & Unicode-DFS-2016"
LIC_FILES_CHKSUM = "\
    file://COPYING;md5=d32239bcb673463ab874e80d47fae504 \
    file://COPYING.UCD;md5=9bc437a2583c6de495e5c4acd7c2c787 \
"

# The phoneme tables, intonations and dictionaries are compiled by running espeak-ng
# itself. When cross-compiling, the target program cannot run on the build host: the
# native espeak-ng of this recipe (BBCLASSEXTEND below) compiles them instead.
DEPENDS:append:class-target = " espeak-ng-native"

# Tag 1.52.0 (2024-12-12).
SRC_URI = "git://github.com/espeak-ng/espeak-ng.git;protocol=https;branch=master"
SRCREV = "4870adfa25b1a32b4361592f1be8a40337c58d6c"

S = "${WORKDIR}/git"

# The data is built in the source tree (the Makefile runs espeak-ng with
# ESPEAK_DATA_PATH=<top directory>), so build in it.
inherit autotools-brokensep pkgconfig

# Dictionaries to compile and install (dictsource/<name>_rules, _list), one per language.
# English (en_dict) is 168 kB; with the phoneme tables (680 kB) and the voice files the
# data is about 0.9 MB (scripts/espeak-ng-hostcheck.sh, docs/build.md).
ESPEAK_NG_DICTS ?= "en"

# No audio output library (EdgeASR only asks for phonemes; espeak-ng -w still writes WAV
# files), no MBROLA voices, no extended Russian/Chinese dictionaries.
EXTRA_OECONF = "\
    --disable-rpath \
    --without-extdict-cmn \
    --without-extdict-ru \
    --without-extdict-yue \
    --without-mbrola \
    --without-pcaudiolib \
    --without-sonic \
"

do_configure:prepend() {
    # automake's GNU strictness wants these files; upstream's autogen.sh makes them so.
    touch ${S}/AUTHORS ${S}/ChangeLog
    ln -sf ChangeLog.md ${S}/NEWS
    ln -sf README.md ${S}/README
}

# Only the library and the espeak-ng program: the Makefile's "all" also compiles the data,
# and every dictionary, by running the espeak-ng it has just built; speak-ng (the same
# program linked statically, 1.5 MB) is not needed.
do_compile() {
    oe_runmake src/espeak-ng
}

# The compiled data holds integers in the byte order of the program that wrote it: the
# native espeak-ng writes it for a little-endian target (x86-64/arm64 build hosts).
do_compile:append:class-target() {
    if [ "${SITEINFO_ENDIANNESS}" != "le" ]; then
        bbfatal "espeak-ng data compiled on the build host is little-endian; ${TARGET_ARCH} is not"
    fi
    cd ${S}/phsource
    ESPEAK_DATA_PATH=${S} espeak-ng --compile-intonations
    ESPEAK_DATA_PATH=${S} espeak-ng --compile-phonemes
    cd ${S}/dictsource
    for dict in ${ESPEAK_NG_DICTS}; do
        ESPEAK_DATA_PATH=${S} espeak-ng --compile=$dict
    done
}

do_install() {
    oe_runmake DESTDIR=${D} bin_PROGRAMS=src/espeak-ng \
        install-binPROGRAMS \
        install-espeak_includeHEADERS \
        install-espeak_ng_includeHEADERS \
        install-libLTLIBRARIES \
        install-pkgconfigDATA
}

do_install:append:class-target() {
    data=${D}${datadir}/espeak-ng-data
    install -d $data
    for f in intonations phondata phondata-manifest phonindex phontab; do
        install -m 0644 ${S}/espeak-ng-data/$f $data/
    done
    for dict in ${ESPEAK_NG_DICTS}; do
        install -m 0644 ${S}/espeak-ng-data/${dict}_dict $data/
    done
    # The voice definitions of every language and the voice variants (text, about 80 kB);
    # not the MBROLA voices (voices/mb), which need MBROLA.
    install -d $data/voices
    cp -R --no-preserve=ownership ${S}/espeak-ng-data/lang $data/
    cp -R --no-preserve=ownership ${S}/espeak-ng-data/voices/!v $data/voices/
}

FILES:${PN} += "${datadir}/espeak-ng-data"

BBCLASSEXTEND = "native"
