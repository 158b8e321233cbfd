"""Factory provisioning: per-device data written into the ``provision`` partition of an image.

The data (serial number, KNX individual address, KNX IP Secure keyring and password, Wi-Fi
credentials, building configuration, OTA trust anchor) is validated first
(:mod:`.inputs`), laid out as a file tree (:mod:`.layout`), and written as an ext4 file
system into the GPT partition found by name (:mod:`.gpt`, :mod:`.ext4`) of a raw image file or
block device, without mounting anything. ``edgeasr-provision`` (:mod:`.cli`) is the command.
See docs/provisioning.md.
"""

from edgeasr.provision.inputs import DeviceData, ProvisionError

__all__ = ["DeviceData", "ProvisionError"]
