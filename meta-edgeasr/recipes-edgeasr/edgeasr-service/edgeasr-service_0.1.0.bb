# nooelint: oelint.var.mandatoryvar.HOMEPAGE
# (EdgeASR has no public home page yet: set HOMEPAGE here when it has one.)
SUMMARY = "EdgeASR voice-to-KNX systemd service, its user and its default configuration"
DESCRIPTION = "Runs 'edgeasr serve' (the service entry point of python3-edgeasr) as a \
               hardened Type=notify systemd unit with a watchdog, under a dedicated system user in the \
               audio group. The default configuration lives in EDGEASR_CONFIG_DIR on the read-only root; \
               edgeasr-config.service overlays the provisioning partition's files on top of it at boot."
SECTION = "multimedia"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=89aea4e17d99a7cacdbeed46a0096b10"

require recipes-edgeasr/include/edgeasr-source.inc
require recipes-edgeasr/include/edgeasr-ota.inc

SRC_URI += "\
    file://edgeasr.service \
    file://edgeasr-config.service \
    file://edgeasr-config-overlay \
    file://edgeasr-health.service \
"

inherit allarch systemd useradd

# What a product overrides (local.conf, a bbappend or a kas file).
EDGEASR_USER ?= "edgeasr"
# Supplementary groups of the service user: audio for the microphone (ALSA). The NPU device
# node of the GPU/NPU driver (galcore) is expected to be group video: UNVERIFIED on hardware.
EDGEASR_USER_GROUPS ?= "audio,video"
EDGEASR_CONFIG_DIR ?= "${sysconfdir}/edgeasr"
# The building configuration the service is started with, and the whole argument list of
# `edgeasr serve` (add e.g. "--service ${EDGEASR_CONFIG_DIR}/service.yaml" for the audio
# device, listening mode and KNX connection).
EDGEASR_CONFIG ?= "${EDGEASR_CONFIG_DIR}/building.yaml"
EDGEASR_SERVE_ARGS ?= "--config ${EDGEASR_CONFIG}"
# Default configuration files: "<path in the repository>:<name in EDGEASR_CONFIG_DIR>" ...
EDGEASR_CONFIG_FILES ?= "examples/demo-building.yaml:building.yaml"
EDGEASR_WATCHDOG_SEC ?= "30"
# The provisioning partition (GPT partition label) and the directory in it whose files
# replace the defaults of EDGEASR_CONFIG_DIR, and how it is mounted.
EDGEASR_PROVISION_PARTLABEL ?= "provision"
EDGEASR_PROVISION_SUBDIR ?= "edgeasr"
EDGEASR_PROVISION_MOUNT_OPTIONS ?= "ro,nosuid,nodev,noexec"
# The service only starts on a provisioned unit (device.yaml from edgeasr-provision in
# EDGEASR_CONFIG_DIR): an unprovisioned unit sends nothing to a bus it knows nothing about
# (docs/provisioning.md). "" starts it on the image's defaults instead (demo images).
EDGEASR_START_CONDITION ?= "ConditionPathExists=${EDGEASR_CONFIG_DIR}/device.yaml"
# The provisioned secrets, as systemd credentials ("" together with the condition above on
# images without a provisioning partition: a missing directory would stop the service).
EDGEASR_LOAD_CREDENTIAL ?= "LoadCredential=edgeasr:/run/edgeasr/provision/secrets/edgeasr"
# ${PN}-ota (kas/feature/ota.yml): how long edgeasr-health.service waits for a healthy service.
EDGEASR_HEALTH_WAIT_S ?= "300"

USERADD_PACKAGES = "${PN}"
USERADD_PARAM:${PN} = "--system --no-create-home --home-dir /nonexistent \
                       --shell ${base_sbindir}/nologin --user-group --groups ${EDGEASR_USER_GROUPS} ${EDGEASR_USER}"

PACKAGES =+ "${PN}-ota"
SYSTEMD_PACKAGES = "${PN} ${PN}-ota"
SYSTEMD_SERVICE:${PN} = "edgeasr.service edgeasr-config.service"
SYSTEMD_SERVICE:${PN}-ota = "edgeasr-health.service"
SYSTEMD_AUTO_ENABLE:${PN} ?= "enable"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${systemd_system_unitdir} ${D}${libexecdir}/edgeasr ${D}${EDGEASR_CONFIG_DIR}
    for unit in edgeasr.service edgeasr-config.service edgeasr-health.service; do
        sed -e 's,@BINDIR@,${bindir},g' \
            -e 's,@BASE_BINDIR@,${base_bindir},g' \
            -e 's,@LIBEXECDIR@,${libexecdir},g' \
            -e 's,@CONFIG_DIR@,${EDGEASR_CONFIG_DIR},g' \
            -e 's,@SERVE_ARGS@,${EDGEASR_SERVE_ARGS},g' \
            -e 's,@USER@,${EDGEASR_USER},g' \
            -e 's,@GROUPS@,${@d.getVar("EDGEASR_USER_GROUPS").replace(",", " ")},g' \
            -e 's,@WATCHDOG_SEC@,${EDGEASR_WATCHDOG_SEC},g' \
            -e 's,@PARTLABEL@,${EDGEASR_PROVISION_PARTLABEL},g' \
            -e 's,@START_CONDITION@,${EDGEASR_START_CONDITION},g' \
            -e 's,@LOAD_CREDENTIAL@,${EDGEASR_LOAD_CREDENTIAL},g' \
            -e 's,@ATTEMPTS@,${EDGEASR_BOOT_ATTEMPTS},g' \
            -e 's,@HEALTH_WAIT_S@,${EDGEASR_HEALTH_WAIT_S},g' \
            -e 's,@HEALTH_TIMEOUT_S@,${@int(d.getVar("EDGEASR_HEALTH_WAIT_S")) + 60},g' \
            ${WORKDIR}/$unit > ${D}${systemd_system_unitdir}/$unit
        chmod 0644 ${D}${systemd_system_unitdir}/$unit
    done
    sed -e 's,@CONFIG_DIR@,${EDGEASR_CONFIG_DIR},g' \
        -e 's,@PARTLABEL@,${EDGEASR_PROVISION_PARTLABEL},g' \
        -e 's,@SUBDIR@,${EDGEASR_PROVISION_SUBDIR},g' \
        -e 's;@MOUNT_OPTIONS@;${EDGEASR_PROVISION_MOUNT_OPTIONS};g' \
        ${WORKDIR}/edgeasr-config-overlay > ${D}${libexecdir}/edgeasr/edgeasr-config-overlay
    chmod 0755 ${D}${libexecdir}/edgeasr/edgeasr-config-overlay
    for pair in ${EDGEASR_CONFIG_FILES}; do
        install -m 0644 ${S}/${pair%%:*} ${D}${EDGEASR_CONFIG_DIR}/${pair##*:}
    done
}

FILES:${PN} += "${libexecdir}/edgeasr"
FILES:${PN}-ota += "${systemd_system_unitdir}/edgeasr-health.service"
CONFFILES:${PN} = "${EDGEASR_CONFIG}"

RDEPENDS:${PN} = "edgeasr-model python3-edgeasr util-linux-mount"
RDEPENDS:${PN}-ota = "${PN} rauc rauc-mark-good"
