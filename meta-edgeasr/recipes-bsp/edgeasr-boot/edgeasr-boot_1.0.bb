SUMMARY = "EdgeASR A/B boot script for U-Boot (RAUC boot selection with a boot counter)"
DESCRIPTION = "boot.scr.uimg for the bootfs partition: picks rootfs-a or rootfs-b from the \
               BOOT_ORDER / BOOT_A_LEFT / BOOT_B_LEFT variables RAUC maintains in the U-Boot \
               environment, takes one boot attempt from it and boots that slot's own kernel and \
               device tree; after EDGEASR_BOOT_ATTEMPTS boots without mark-good it falls back."
HOMEPAGE = "https://rauc.readthedocs.io/en/latest/integration.html#u-boot"
SECTION = "bootloaders"
LICENSE = "Apache-2.0"
# nooelint: oelint.var.licenseremotefile
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

require recipes-edgeasr/include/edgeasr-ota.inc

DEPENDS += "u-boot-tools-native"

SRC_URI = "file://boot.cmd.in"
S = "${WORKDIR}"

inherit deploy

# The kernel inside each slot (slot GPT names: edgeasr-ota.inc).
EDGEASR_SLOT_KERNEL ?= "/boot/${KERNEL_IMAGETYPE}"

do_configure[noexec] = "1"

do_compile() {
    sed -e 's,@ATTEMPTS@,${EDGEASR_BOOT_ATTEMPTS},g' \
        -e 's,@PART_A@,${EDGEASR_SLOT_A_PARTLABEL},g' \
        -e 's,@PART_B@,${EDGEASR_SLOT_B_PARTLABEL},g' \
        -e 's,@KERNEL@,${EDGEASR_SLOT_KERNEL},g' \
        ${WORKDIR}/boot.cmd.in > ${B}/boot.cmd
    mkimage -A arm64 -O linux -T script -C none -n "EdgeASR A/B" -d ${B}/boot.cmd ${B}/boot.scr.uimg
}

do_install() {
    install -d ${D}/boot
    install -m 0644 ${B}/boot.scr.uimg ${D}/boot/boot.scr.uimg
}

do_deploy() {
    install -m 0644 ${B}/boot.scr.uimg ${DEPLOYDIR}/boot.scr.uimg
}
addtask deploy after do_compile before do_build

FILES:${PN} += "/boot/boot.scr.uimg"
