SUMMARY = "RAUC system configuration and keyring of EdgeASR units"
DESCRIPTION = "system.conf (two root slots rootfs-a/rootfs-b chosen by U-Boot through RAUC's \
               uboot backend), the keyring (the CA certificate from EDGEASR_OTA_KEY_DIR) and \
               fw_env.config for libubootenv. Replaces meta-rauc's example rauc-conf through \
               PREFERRED_RPROVIDER_virtual-rauc-conf (kas/feature/ota.yml)."
HOMEPAGE = "https://rauc.readthedocs.io/en/latest/reference.html#system-configuration-file"
SECTION = "base"
LICENSE = "Apache-2.0"
# nooelint: oelint.var.licenseremotefile
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

require recipes-edgeasr/include/edgeasr-ota.inc

# ca.cert.pem comes from the key directory named at build time, never from this layer: the
# recipe's own file search path is extended by that directory (a recipe, not a bbappend, so
# that meta-rauc's example rauc-conf stays untouched).
# nooelint: oelint.vars.fileextrapaths,oelint.vars.outofcontext
FILESEXTRAPATHS:prepend := "${EDGEASR_OTA_KEY_DIR}:"
SRC_URI = "\
    file://system.conf \
    file://fw_env.config \
    file://ca.cert.pem \
"
S = "${WORKDIR}"

# Linux block devices of the two slots and of the U-Boot environment. The DK has one card:
# GPT names. On the EV1 the eMMC is mmcblk1 (ST's kernel device tree stm32mp257f-ev1.dts:
# aliases mmc0 = &sdmmc1 (microSD), mmc1 = &sdmmc2 (eMMC)), and a microSD card in its slot
# may carry the same GPT names (meta-st-ota's README, "Limitations", reports exactly that),
# so the slots are named by number: GPT entries in the order of
# files/flashlayouts/FlashLayout_emmc_stm32mp257f-ev1-optee-ab.tsv (eMMC boot areas are no
# GPT entries). tests/test_ota_layout.py checks both against the layouts.
EDGEASR_RAUC_SLOT_A_DEVICE ?= "/dev/disk/by-partlabel/${EDGEASR_SLOT_A_PARTLABEL}"
EDGEASR_RAUC_SLOT_B_DEVICE ?= "/dev/disk/by-partlabel/${EDGEASR_SLOT_B_PARTLABEL}"
EDGEASR_UBOOT_ENV_DEVICE ?= "/dev/disk/by-partlabel/u-boot-env"
EDGEASR_RAUC_SLOT_A_DEVICE:stm32mp25-eval ?= "/dev/mmcblk1p7"
EDGEASR_RAUC_SLOT_B_DEVICE:stm32mp25-eval ?= "/dev/mmcblk1p8"
EDGEASR_UBOOT_ENV_DEVICE:stm32mp25-eval ?= "/dev/mmcblk1p5"

# The content depends on MACHINE (compatible string, slot devices).
PACKAGE_ARCH = "${MACHINE_ARCH}"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${sysconfdir}/rauc
    sed -e 's,@COMPATIBLE@,${EDGEASR_RAUC_COMPATIBLE},' \
        -e 's,@ATTEMPTS@,${EDGEASR_BOOT_ATTEMPTS},' \
        -e 's,@SLOT_A_DEVICE@,${EDGEASR_RAUC_SLOT_A_DEVICE},' \
        -e 's,@SLOT_B_DEVICE@,${EDGEASR_RAUC_SLOT_B_DEVICE},' \
        ${WORKDIR}/system.conf > ${D}${sysconfdir}/rauc/system.conf
    chmod 0644 ${D}${sysconfdir}/rauc/system.conf
    install -m 0644 ${WORKDIR}/ca.cert.pem ${D}${sysconfdir}/rauc/ca.cert.pem
    sed -e 's,@ENV_DEVICE@,${EDGEASR_UBOOT_ENV_DEVICE},' \
        ${WORKDIR}/fw_env.config > ${D}${sysconfdir}/fw_env.config
    chmod 0644 ${D}${sysconfdir}/fw_env.config
}

FILES:${PN} += "${sysconfdir}/rauc ${sysconfdir}/fw_env.config"
# RAUC's uboot backend runs fw_printenv/fw_setenv (oe-core's libubootenv).
RDEPENDS:${PN} += "libubootenv-bin"
RPROVIDES:${PN} += "virtual-rauc-conf"
