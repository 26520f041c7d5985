"""Smoke tests of the benchmark harness (bench/): a real --quick run of one engine on one
generated page, the kernel micro-benchmark in quick mode, and the ratio arithmetic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytest.importorskip("ocrcore")


def _models_built() -> bool:
    return (REPO / "models" / "build" / "tiny" / "build.json").exists()


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache" / "numba"))
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.timeout(60)
@pytest.mark.skipif(not _models_built(), reason="models not built (make setup)")
def test_quick_run_prints_table_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = _run(["-m", "bench.run", "--quick", "--no-rapidocr", "--threads", "1", "--engines", "ours-tiny", "--out", str(out)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the markdown table is on stdout
    assert "### Per-image latency, 1 thread(s)" in proc.stdout
    assert "| synth:0 (1024x768) |" in proc.stdout
    assert "### Cold start" in proc.stdout
    rep = json.loads(out.read_text())
    assert rep["config"]["engines"] == ["ours-tiny"]
    assert rep["config"]["repeats"] == 2
    phase = rep["threads"]["1"]
    row = phase["doc"]["ours-tiny"]["images"]["synth:0"]
    assert row["n"] == 2
    assert 0 < row["median"] <= row["p95"] < 60
    assert row["lines"] >= 5 and row["f1"] > 0.8, row  # it really read the page
    stages = row["stages"]
    assert stages["detect"] > 0 and stages["recognize"] > 0
    assert sum(stages.values()) == pytest.approx(row["mean"], rel=0.05)
    assert phase["doc_ratios"] == {}  # no RapidOCR, no fp32 reference: nothing to compare
    cold = rep["cold"]["summary"]["ours-tiny"]
    assert cold["n"] == 1 and 0 < cold["cold_start_median"] < 60
    assert 50 < cold["rss_peak_mib"] < 4000
    split = cold["split_median"]
    assert sum(split.values()) <= cold["cold_start_median"] + 0.05


@pytest.mark.timeout(60)
def test_kernel_microbench_quick(tmp_path):
    out = tmp_path / "kernels.json"
    proc = _run(["-m", "bench.kernels", "--quick", "--out", str(out)])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rep = json.loads(out.read_text())
    names = {r["kernel"] for r in rep["results"]}
    assert names == {"ctc_greedy_decode", "quad_mean_score", "normalize_to_chw", "percentile_range", "sauvola_binarize"}
    for r in rep["results"]:
        assert r["agree"], r
        assert r["kernel_s"] > 0 and r["ref_s"] > 0
        assert r["speedup"] == pytest.approx(r["ref_s"] / r["kernel_s"])
    assert "| ctc_greedy_decode |" in proc.stdout


def test_ratio_arithmetic():
    from bench import stats

    base = {"a": [2.0, 2.2, 1.8], "b": [1.0, 1.0, 1.2]}
    ours = {"a": [1.0, 1.1, 0.9], "b": [1.0, 0.5, 1.0]}
    r = stats.ratios(base, ours)
    assert r["per_image"] == {"a": pytest.approx(2.0), "b": pytest.approx(1.0)}
    assert r["total"] == pytest.approx(3.0 / 2.0)
    assert r["geomean"] == pytest.approx(2.0**0.5)
    s = stats.summarise_set(ours)
    assert s["total"] == pytest.approx(2.0) and s["images"] == 2 and s["n"] == 6
    assert stats.p95([1.0] * 19 + [3.0]) == pytest.approx(1.1)


def test_char_f1():
    from bench.images import char_f1

    assert char_f1("ab c", "abc") == 1.0
    assert char_f1("", "abc") == 0.0
    assert char_f1("ＡＢ", "AB") == 1.0  # NFKC folds full width
    assert 0 < char_f1("abx", "abc") < 1
