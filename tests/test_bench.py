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
    from numba.core.dispatcher import Dispatcher

    from ocrcore import kernels

    assert names == {n for n, o in vars(kernels).items() if isinstance(o, Dispatcher)}  # every kernel
    for r in rep["results"]:
        assert r["agree"], r
        assert r["kernel_s"] > 0 and r["ref_s"] > 0
        assert r["speedup"] == pytest.approx(r["ref_s"] / r["kernel_s"])
    assert "| sauvola_binarize |" in proc.stdout


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


@pytest.mark.timeout(90)
@pytest.mark.skipif(not _models_built(), reason="models not built (make setup)")
def test_peers_quick_run_has_real_figures(tmp_path):
    """bench.peers end to end on the generated page (plus one eval image and crop when the
    sets are there): every column filled with a real figure, for ours and for Tesseract."""
    import shutil

    specs = ["ours-tiny"] + (["tesseract"] if shutil.which("tesseract") else [])
    out = tmp_path / "peers.json"
    proc = _run(["-m", "bench.peers", "--quick", "--engines", ",".join(specs), "--threads", "1",
                 "--sets", "zh_smoke_full,zh_smoke_lines", "--limit", "1", "--out", str(out)], timeout=85)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "### Peers, 1 thread(s)" in proc.stdout
    assert "### Accuracy per eval set" in proc.stdout
    rep = json.loads(out.read_text())
    assert rep["config"]["engines"] == specs and rep["config"]["repeats"] == 1
    for spec in specs:
        row = next(line for line in proc.stdout.splitlines() if line.startswith(f"| {spec} |"))
        median_ms, p95_ms, per_min, cold_s, rss_mib = (float(c) for c in row.split("|")[3:8])
        assert 0 < median_ms <= p95_ms < 60_000 and per_min > 0 and 0 < cold_s < 60, row
        assert 20 < rss_mib < 4000, row
        synth = rep["latency"]["summary"][spec]["images"]["synth:0"]
        assert synth["lines"] >= 5 and synth["f1"] > (0.8 if spec.startswith("ours") else 0.5), (spec, synth)
        assert rep["throughput"]["engines"][spec]["images"] >= 2 * rep["throughput"]["workers"]
        for name, by in rep["accuracy"].items():  # the sets, when /work/shared/eval is there
            r = by[spec]
            assert r["count"] == 1 and 0 <= r.get("page_f1", r.get("char_accuracy")) <= 1, (name, r)
    if "tesseract" in specs:
        cold = rep["cold"]["summary"]["tesseract"]
        assert cold["spawner_rss_mib"] < cold["rss_peak_mib"]  # tesseract's own RSS, not its spawner's
        assert rep["engine_info"]["tesseract"]["tesseract"].startswith("tesseract 5")


def test_engine_specs_are_generic():
    from bench.engines import Spec, check_spec, parse_spec

    assert parse_spec("ours-small") == Spec("ours", "small", "auto")
    assert parse_spec("ours-tiny-int8") == Spec("ours", "tiny", "int8")
    assert parse_spec("rapidocr-tiny").kind == "rapidocr"
    assert parse_spec("tesseract") == Spec("tesseract")
    for bad in ("ours", "paddle", "ours-huge", "ours-small-int4"):
        with pytest.raises(ValueError):
            check_spec(bad)


def test_tesseract_tsv_lines():
    from bench.engines import parse_tsv

    rows = [
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
        "1\t1\t0\t0\t0\t0\t0\t0\t100\t50\t-1\t",
        "4\t1\t1\t1\t1\t0\t10\t5\t80\t20\t-1\t",
        "5\t1\t1\t1\t1\t1\t10\t5\t30\t20\t91.5\thello",
        "5\t1\t1\t1\t1\t2\t50\t5\t40\t20\t90.1\tworld",
        "4\t1\t1\t1\t2\t0\t10\t30\t80\t20\t-1\t",  # a line whose only word is blank
        "5\t1\t1\t1\t2\t1\t10\t30\t30\t20\t-1\t ",
    ]
    tsv = "\n".join(rows)
    assert parse_tsv(tsv) == [("hello world", ((10, 5), (90, 5), (90, 25), (10, 25)))]
