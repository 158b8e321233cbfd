"""The runtime gives the same results on aarch64 (qemu user-mode, arm64 wheels) as on the host.

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
    # With the log-mel model (v5) every clip agreed exactly. v8-hybrid's frozen front network
    # rounds differently on arm's int8 kernels (up to 9 codes), and on borderline clips that
    # changes the decoded sentence: 0 to 3 of 24 clips, telegrams of up to 2, in three runs
    # (e.g. "ninety percent" vs "ninety two percent"). A known gap for the board (see
    # docs/model-alternatives.md); this still fails if the arm path drifts further.
    allowed = c.n_clips // 6
    assert c.n_clips - c.same_telegrams <= allowed, c.mismatches
    assert c.n_clips - c.same_text <= allowed, c.mismatches
    assert c.frames_compared > 0 and c.max_logit_lsb <= aarch64.MAX_LSB, c.mismatches
