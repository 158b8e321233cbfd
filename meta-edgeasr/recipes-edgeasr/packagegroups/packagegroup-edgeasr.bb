SUMMARY = "EdgeASR runtime, model and service with TFLite, the NPU delegate and ALSA"
DESCRIPTION = "Everything EdgeASR needs on an STM32MP2 image, for adding EdgeASR to an \
               existing OpenSTLinux image: IMAGE_INSTALL:append = \" packagegroup-edgeasr\"."
SECTION = "base"
LICENSE = "Apache-2.0"
# (no source of its own: the licence text is OE-Core's, as for its own images and packagegroups)
# nooelint: oelint.var.licenseremotefile
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

# The NPU delegate and the GPU/NPU driver depend on the machine.
PACKAGE_ARCH = "${MACHINE_ARCH}"

inherit packagegroup

# The VX delegate (X-LINUX-AI) runs the model on the STM32MP25 NPU. It only exists on
# stm32mp2 machines with the 'gpu' machine feature, which ST's machine configurations set
# only when ACCEPT_EULA_<MACHINE> = "1"; without it EdgeASR runs the model on the CPU.
EDGEASR_NPU_PACKAGES ?= ""
EDGEASR_NPU_PACKAGES:stm32mp2common ?= "${@bb.utils.contains('MACHINE_FEATURES', 'gpu', 'tflite-vx-delegate gcnano-driver-stm32mp', '', d)}"

RDEPENDS:${PN} = "\
    ${EDGEASR_NPU_PACKAGES} \
    alsa-utils \
    edgeasr-model \
    edgeasr-service \
    python3-edgeasr \
    python3-tensorflow-lite \
    tensorflow-lite \
"
