"""The runtime gives the same results on aarch64 (qemu user-mode, arm64 wheels) as the host
with TFLite's reference kernels: bit for bit.

Builds the arm64 root of scripts/aarch64-root.sh on first use (about a minute; cached in
~/.cache/edgeasr/aarch64), then runs the check of ``bench.aarch64`` (about a minute).
"""

from __future__ import annotations

import shutil

import pytest

from bench import aarch64


def test_runtime_on_aarch64_matches_host(shipped_model: object) -> None:
    missing = [t for t in ("debootstrap", "qemu-aarch64-static", "dpkg-deb")
               if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: scripts/setup.sh installs them")
    c = aarch64.check(n_clips=aarch64.DEFAULT_CLIPS)
    assert c.n_clips >= 20
    assert c.target["machine"] == "aarch64" and c.host["machine"] != "aarch64"
    # aarch64's optimized int8 kernels compute exactly what TFLite's reference kernels compute
    # here. (x86's optimized CONV_2D does not: c.host_optimized, reported by bench.aarch64.)
    assert c.same_text == c.same_intent == c.same_telegrams == c.n_clips, c.mismatches
    assert c.frames_compared > 0 and c.max_logit_lsb == 0, c.mismatches
    assert c.equal
    assert set(c.host_optimized) == {"same_text", "same_telegrams", "max_logit_lsb"}
