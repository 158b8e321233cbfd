SUMMARY = "KNX/IP library for Python (asyncio)"
DESCRIPTION = "xknx: tunnelling, routing and KNX IP Secure, group telegrams and DPT \
               encoding. Not provided by meta-openembedded or ST's layers for scarthgap. 3.14.0 is the \
               newest release whose pyproject.toml builds with scarthgap's setuptools 69; later releases \
               declare their licence the PEP 639 way, which needs setuptools 77."
HOMEPAGE = "https://xknx.io/"
SECTION = "devel/python"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://LICENSE;md5=838c366f69b72c5df05c96dff79b35f2"

SRC_URI[sha256sum] = "1d076cd33dd2e79af217ed0b497ec177bff40344e7bb9f7e99fa196420660c21"

inherit pypi python_setuptools_build_meta

# Third-party: cryptography (KNX IP Secure), ifaddr (interface discovery). The rest are the
# python3 split packages of the standard library modules xknx imports (async_timeout and
# typing_extensions are only imported on Python < 3.11).
RDEPENDS:${PN} = "\
    python3-asyncio \
    python3-core \
    python3-cryptography \
    python3-datetime \
    python3-ifaddr \
    python3-io \
    python3-logging \
    python3-math \
    python3-netclient \
    python3-xml \
"
