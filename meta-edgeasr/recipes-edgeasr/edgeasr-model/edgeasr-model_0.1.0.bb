# nooelint: oelint.var.mandatoryvar.HOMEPAGE
# (EdgeASR has no public home page yet: set HOMEPAGE here when it has one.)
SUMMARY = "EdgeASR int8 acoustic model, its calibration and its model card"
DESCRIPTION = "Installs one model of the repository's models/ directory: the int8 TFLite \
               acoustic model (and its embedder, the frozen front network, when it is split \
               in two), the JSON next to it (calibration and metadata, read by the runtime \
               from the model's path with the .json suffix) and the model card, under \
               EDGEASR_MODEL_DIR, and links them where the edgeasr package looks for its \
               default model."
SECTION = "multimedia"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=89aea4e17d99a7cacdbeed46a0096b10"

require recipes-edgeasr/include/edgeasr-source.inc

inherit python3-dir

# The variant: models/${EDGEASR_MODEL_VARIANT}.tflite and .json of the repository. Whatever
# the variant, it is installed as edgeasr.tflite/edgeasr.json so configurations need not
# change; the variant's name is written to VARIANT next to them.
EDGEASR_MODEL_VARIANT ?= "edgeasr"
EDGEASR_MODEL_CARD ?= "MODEL_CARD.md"
# The documented place of the model on the target (docs/build.md).
EDGEASR_MODEL_DIR ?= "${datadir}/edgeasr/models"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${EDGEASR_MODEL_DIR} ${D}${PYTHON_SITEPACKAGES_DIR}/edgeasr/data
    install -m 0644 ${S}/models/${EDGEASR_MODEL_VARIANT}.tflite ${D}${EDGEASR_MODEL_DIR}/edgeasr.tflite
    install -m 0644 ${S}/models/${EDGEASR_MODEL_VARIANT}.json ${D}${EDGEASR_MODEL_DIR}/edgeasr.json
    # A split model's front network (its JSON says "embedder": true), read from beside it.
    if [ -e ${S}/models/${EDGEASR_MODEL_VARIANT}.embedder.tflite ]; then
        install -m 0644 ${S}/models/${EDGEASR_MODEL_VARIANT}.embedder.tflite ${D}${EDGEASR_MODEL_DIR}/edgeasr.embedder.tflite
        ln -s ${EDGEASR_MODEL_DIR}/edgeasr.embedder.tflite ${D}${PYTHON_SITEPACKAGES_DIR}/edgeasr/data/edgeasr.embedder.tflite
    fi
    install -m 0644 ${S}/models/${EDGEASR_MODEL_CARD} ${D}${EDGEASR_MODEL_DIR}/MODEL_CARD.md
    echo "${EDGEASR_MODEL_VARIANT}" > ${D}${EDGEASR_MODEL_DIR}/VARIANT
    # edgeasr.acoustic.DEFAULT_MODEL: <package>/data/edgeasr.tflite, calibration beside it.
    ln -s ${EDGEASR_MODEL_DIR}/edgeasr.tflite ${D}${PYTHON_SITEPACKAGES_DIR}/edgeasr/data/edgeasr.tflite
    ln -s ${EDGEASR_MODEL_DIR}/edgeasr.json ${D}${PYTHON_SITEPACKAGES_DIR}/edgeasr/data/edgeasr.json
}

FILES:${PN} += "${EDGEASR_MODEL_DIR} ${PYTHON_SITEPACKAGES_DIR}/edgeasr/data"
