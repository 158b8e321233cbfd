"""bench.benchmarks end to end on a tiny subset: worker processes, report, plots, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import benchmarks


def test_tiny_benchmark_run_writes_consistent_report(tmp_path: Path, shipped_model: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pocketsphinx")
    out, js = tmp_path / "docs", tmp_path / "bench.json"
    args = ["--clips", "2,1", "--snrs", "6,24", "--noises", "tv,fan", "--engines",
            "edgeasr,pocketsphinx", "--skip-aarch64", "--out", str(out), "--json", str(js)]
    code = benchmarks.main(args)
    assert code == 0
    data = json.loads(js.read_text())
    conds = ["clean", "tv-snr6", "tv-snr24", "fan-snr6", "fan-snr24"]
    for engine in ("edgeasr", "pocketsphinx"):
        assert sorted(data["results"][engine]) == sorted(conds)
        for c in conds:
            r = data["results"][engine][c]
            assert (r["n_commands"], r["n_non_commands"]) == (2, 1)
            assert r["correct"] + r["wrong"] + r["rejected"] == 2
        recs = data["records"][engine]
        assert len(recs) == 3 * len(conds)
        cost = data["cost"][engine]
        assert cost["peak_rss_mb"] > cost["engine_rss_mb"] >= 0 and cost["model_mb"] > 0
    assert set(data["stages"]["edgeasr"]) >= {"features", "model", "decoder", "intent"}
    assert data["npu"]["all_npu_ready"] is True
    md = (out / "benchmarks.md").read_text()
    assert "| EdgeASR |" in md and "| pocketsphinx |" in md and "NPU readiness" in md
    for png in ("img/accuracy-vs-snr.png", "img/cost.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # After a model change: EdgeASR runs again, pocketsphinx's results are the last run's.
    assert benchmarks.main([*args, "--reuse", "pocketsphinx"]) == 0
    second = json.loads(js.read_text())
    assert second["records"]["pocketsphinx"] == data["records"]["pocketsphinx"]
    assert second["cost"]["pocketsphinx"] == data["cost"]["pocketsphinx"]
    assert second["reused"] == {"pocketsphinx": data["date"]}
    assert second["records"]["edgeasr"] != data["records"]["edgeasr"]  # timed again
    assert "reused from the run of" in (out / "benchmarks.md").read_text()

    # Refused where the earlier run heard something else, naming what differs.
    with pytest.raises(SystemExit):
        benchmarks.main([*args[:1], "1,1", *args[2:], "--reuse", "pocketsphinx"])
    assert "other clips or conditions" in capsys.readouterr().err
    # A run saved without its audio's digest: only if no WAV was made since it.
    undigested = {k: v for k, v in second.items() if k != "clips_sha256"}
    js.write_text(json.dumps({**undigested, "date": "2000-01-01 00:00 UTC"}))
    with pytest.raises(SystemExit):
        benchmarks.main([*args, "--reuse", "pocketsphinx"])
    assert "WAVs were made since" in capsys.readouterr().err
    js.write_text(json.dumps({**undigested, "date": "2100-01-01 00:00 UTC"}))
    assert benchmarks.main([*args, "--reuse", "pocketsphinx"]) == 0
    assert json.loads(js.read_text())["reused"] == {"pocketsphinx": data["date"]}



def test_memory_breakdown_measures_each_layer_in_a_fresh_process(shipped_model: Path) -> None:
    """bench.memory (and the section make latency adds to docs/latency.md): resident size
    after each import layer, the recogniser and some decodes, in a process of its own."""
    import shutil

    from bench import memory

    if shutil.which("flite") is None:
        pytest.skip("flite is not installed")
    root = Path(__file__).resolve().parents[1]
    result = memory.measure(root / "examples" / "demo-building.yaml", "flite:awb", 2)
    names = [name for name, _ in result["steps"]]
    assert names[1:5] == ["+ numpy", "+ pydantic", "+ xknx (and cryptography for IP Secure)",
                          "+ the service's own modules (edgeasr.service)"]
    assert names[-1] == "after decoding 2 commands"
    rss = [r for _, (r, _) in result["steps"]]
    hwm = [h for _, (_, h) in result["steps"]]
    assert all(h >= r > 0 for r, h in zip(rss, hwm, strict=True)) and hwm == sorted(hwm)
    assert result["decode_transient_mb"] > 0 and result["longest_clip_s"] > 0.8
    assert "| + numpy |" in memory.render(result)
    with pytest.raises(ValueError, match="flite:nobody"):
        memory.measure(root / "examples" / "demo-building.yaml", "flite:nobody", 1)


def test_aarch64_section_renders_results_saved_with_or_without_the_optimized_comparison(
) -> None:
    """`bench.benchmarks --render` reads back results of earlier runs, some saved before the
    host's optimized kernels were compared with aarch64."""
    from bench import aarch64

    env = {"machine": "x86_64", "python": "3.11.7", "numpy": "1.26.4"}
    saved = {"n_clips": 24, "same_text": 24, "same_intent": 24, "same_telegrams": 24,
             "max_logit_lsb": 0, "frames_compared": 4800, "host_s": 1.6, "emulated_s": 25.5,
             "root_s": 0.1, "root": "/cache", "root_build_s": 85.0, "host": env,
             "target": {**env, "machine": "aarch64"}, "mismatches": [], "equal": True,
             "max_lsb_allowed": 0}
    old = "\n".join(aarch64.markdown(saved))
    assert "**same results**" in old and "optimized" not in old
    new = "\n".join(aarch64.markdown({**saved, "host_optimized": {
        "same_text": 22, "same_telegrams": 23, "max_logit_lsb": 9}}))
    assert "transcripts equal on 22/24, telegrams on 23/24, int8 outputs up to 9" in new
