SUMMARY = "EdgeASR: OpenSTLinux image for the STM32MP25 with the voice-to-KNX service"
DESCRIPTION = "A console image (no Weston) built the way ST's st-image-core is: core-image \
               plus the STM32MP partition images and flash layouts that the machine configuration adds to \
               every image, with EdgeASR, TFLite and the NPU delegate from X-LINUX-AI, ALSA, Wi-Fi and \
               Bluetooth. Production by default (read-only root, no login services); the 'edgeasr-dev' \
               image feature (kas/feature/dev.yml) makes a developer image instead."
SECTION = "images"
LICENSE = "Apache-2.0"
# (no source of its own: the licence text is OE-Core's, as for its own images and packagegroups)
# nooelint: oelint.var.licenseremotefile
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

inherit core-image python3-dir

IMAGE_LINGUAS = "en-us"

# The dev/prod switch: EXTRA_IMAGE_FEATURES += "edgeasr-dev" (kas/feature/dev.yml).
IMAGE_FEATURES[validitems] += "edgeasr-dev"
EDGEASR_DEV_IMAGE_FEATURES ?= "ssh-server-dropbear tools-debug allow-empty-password \
                               allow-root-login empty-root-password post-install-logging package-management"
EDGEASR_PROD_IMAGE_FEATURES ?= "read-only-rootfs"
EDGEASR_DEV_INSTALL ?= "packagegroup-framework-tools-base"
EDGEASR_DEV = "${@bb.utils.contains('EXTRA_IMAGE_FEATURES', 'edgeasr-dev', '1', '0', d)}"

IMAGE_FEATURES += "${@oe.utils.conditional('EDGEASR_DEV', '1', d.getVar('EDGEASR_DEV_IMAGE_FEATURES'), d.getVar('EDGEASR_PROD_IMAGE_FEATURES'), d)}"

# core-image already installs packagegroup-base-extended: Wi-Fi, Bluetooth and ALSA per
# COMBINED_FEATURES, plus the machine's MACHINE_EXTRA_RRECOMMENDS (GPU/NPU driver,
# alsa-state, Wi-Fi/BT firmware).
# packagegroup-framework-core-base (ST): mounts bootfs/vendorfs/userfs; the NPU userland
# libraries live on vendorfs.
CORE_IMAGE_EXTRA_INSTALL += "\
    packagegroup-framework-core-base \
    packagegroup-edgeasr \
    ${@bb.utils.contains('COMBINED_FEATURES', 'optee', 'packagegroup-optee-core', '', d)} \
    ${@oe.utils.conditional('EDGEASR_DEV', '1', d.getVar('EDGEASR_DEV_INSTALL'), '', d)} \
"

# edgeasr.service runs Python with PYTHONOPTIMIZE=2 (about 3.6 MB less resident), which reads
# .opt-2.pyc files: OE-Core's python3 deletes them and PEP 517 recipes compile level 0 only,
# so without this step every start would compile the modules from source (the unit forbids
# writing bytecode). Compiled once here with the native Python of the same version; paths
# inside the .pyc files are the target's. Costs rootfs space; a product that does not use
# PYTHONOPTIMIZE sets EDGEASR_PYC_OPT2 = "0".
EDGEASR_PYC_OPT2 ?= "1"
do_rootfs[depends] += "${@oe.utils.conditional('EDGEASR_PYC_OPT2', '1', 'python3-native:do_populate_sysroot', '', d)}"
ROOTFS_POSTPROCESS_COMMAND += "${@oe.utils.conditional('EDGEASR_PYC_OPT2', '1', 'edgeasr_compile_pyc_opt2', '', d)}"

edgeasr_compile_pyc_opt2[doc] = "Compiles the .opt-2.pyc files that PYTHONOPTIMIZE=2 reads"
edgeasr_compile_pyc_opt2() {
    nativepython3 -OO -m compileall -q -j 0 -x '/(test|tests|idlelib)/' \
        -s ${IMAGE_ROOTFS} -p / ${IMAGE_ROOTFS}${libdir}/python${PYTHON_BASEVERSION}
}
