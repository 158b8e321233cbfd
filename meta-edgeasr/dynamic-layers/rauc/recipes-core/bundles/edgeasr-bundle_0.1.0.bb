SUMMARY = "EdgeASR update bundle: the edgeasr-image root file system, signed for RAUC"
DESCRIPTION = "A RAUC bundle in the verity format holding the edgeasr-image ext4 root file \
               system for one of the two root slots. Signed with EDGEASR_OTA_SIGNER from \
               EDGEASR_OTA_KEY_DIR; a unit installs it only if the signature chains to its keyring \
               and its compatible string matches (docs/ota.md). Build: kas build \
               kas/edgeasr.yml:kas/machine/stm32mp257f-dk.yml:kas/feature/ota.yml --target edgeasr-bundle. Without EDGEASR_OTA_KEY_DIR (or PKCS#11 URIs in \
               RAUC_KEY_FILE / RAUC_CERT_FILE) bundle.bbclass stops with 'RAUC_KEY_FILE not set'."
HOMEPAGE = "https://rauc.readthedocs.io/en/latest/integration.html#yocto"
SECTION = "base"
LICENSE = "Apache-2.0"
# (no source of its own: the licence text is OE-Core's, as for images)
# nooelint: oelint.var.licenseremotefile
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

require recipes-edgeasr/include/edgeasr-ota.inc

# Nothing to fetch: the bundle is made from the edgeasr-image build output.
SRC_URI = ""

inherit bundle

RAUC_BUNDLE_FORMAT = "verity"
RAUC_BUNDLE_COMPATIBLE = "${EDGEASR_RAUC_COMPATIBLE}"
RAUC_BUNDLE_VERSION ?= "${PV}"
RAUC_BUNDLE_DESCRIPTION = "EdgeASR ${RAUC_BUNDLE_VERSION} for ${MACHINE}"
RAUC_BUNDLE_SLOTS = "rootfs"
RAUC_SLOT_rootfs ?= "edgeasr-image"
RAUC_SLOT_rootfs[fstype] = "ext4"

RAUC_KEY_FILE ?= "${EDGEASR_OTA_KEY_DIR}/${EDGEASR_OTA_SIGNER}.key.pem"
RAUC_CERT_FILE ?= "${EDGEASR_OTA_KEY_DIR}/${EDGEASR_OTA_SIGNER}.cert.pem"
RAUC_KEYRING_FILE ?= "${EDGEASR_OTA_KEY_DIR}/ca.cert.pem"

