"""Tests of the benchmark harness (bench/): a real ``bench.peers --quick`` run of our tiny engine
(and Tesseract when installed) with every optional section, the kernel micro-benchmark in quick
mode, the first-start model tree, and the pure pieces (statistics, speed ratios, tables, specs)."""

from __future__ import annotations

import json
import os
import shutil
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
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _row(stdout: str, first_cell: str) -> list[str]:
    line = next(ln for ln in stdout.splitlines() if ln.startswith(f"| {first_cell} |"))
    return [c.strip() for c in line.split("|")[1:-1]]


@pytest.mark.timeout(120)
@pytest.mark.skipif(not _models_built(), reason="models not built (make setup)")
def test_peers_quick_run_has_real_figures(tmp_path):
    """bench.peers end to end on the generated page (plus one eval image and crop when the sets
    are there) with --stages --profile --cold-fresh: every column a real figure."""
    from bench import peers

    specs = ["ours-tiny"] + (["tesseract"] if shutil.which("tesseract") else [])
    out = tmp_path / "peers.json"
    proc = _run(["-m", "bench.peers", "--quick", "--engines", ",".join(specs), "--threads", "1", "--stages", "--profile",
                 "--cold-fresh", "--sets", "zh_smoke_full,zh_smoke_lines", "--limit", "1", "--out", str(out)], timeout=115)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for heading in ("### Peers, 1 thread(s)", "### Accuracy per eval set", "### Where the time goes", "### Cold start split",
                    "### Profile", "### Speed against rapidocr-small"):
        assert heading in proc.stdout, heading
    rep = json.loads(out.read_text())
    from ocrcore.host import cpu_info

    assert f"CPU: {cpu_info().model} ({cpu_info().isa_label})" in proc.stdout
    assert rep["config"]["engines"] == specs and rep["config"]["repeats"] == 1
    for spec in specs:
        median_ms, p95_ms, per_min, cold_s, rss_mib = (float(c) for c in _row(proc.stdout, spec)[2:7])
        assert 0 < median_ms <= p95_ms < 60_000 and per_min > 0 and 0 < cold_s < 60, spec
        assert 20 < rss_mib < 4000, spec
        synth = rep["latency"]["summary"][spec]["images"]["synth:0"]
        assert synth["lines"] >= 5 and synth["f1"] > (0.8 if spec.startswith("ours") else 0.5), (spec, synth)
        assert rep["throughput"]["engines"][spec]["images"] >= 2 * rep["throughput"]["workers"]
        for name, by in rep["accuracy"].items():  # the sets, when the eval directory is there
            r = by[spec]
            assert r["count"] == 1 and 0 <= r.get("page_f1", r.get("char_accuracy")) <= 1, (name, r)
        # stages add up to the wall time (ours: detect and recognize really measured)
        detect, cls, recognize, other, wall = (float(c) for c in _row(proc.stdout.split("### Where the time goes")[1], spec)[1:6])
        assert detect + cls + recognize + other == pytest.approx(wall, abs=2.5)
        cold = rep["cold"]["summary"][spec]
        assert sum(cold["split_median"].values()) <= cold["cold_start_median"] + 0.05
    stages = rep["latency"]["summary"]["ours-tiny"]["set"]["stages"]
    assert stages["detect"] > 0 and stages["recognize"] > 0
    first = rep["cold"]["summary"]["ours-tiny (first start: empty precision cache)"]
    assert first["n"] == 1 and first["precision_source"] == "nothing to measure"  # tiny ships FP32 only
    assert rep["profile"]["engine"] == "ours-tiny"
    assert any("onnxruntime" in r["func"] for r in rep["profile"]["top"][:3])  # where our time goes
    if "tesseract" in specs:
        cold = rep["cold"]["summary"]["tesseract"]
        assert cold["spawner_rss_mib"] < cold["rss_peak_mib"]  # tesseract's own RSS, not its spawner's
        assert rep["engine_info"]["tesseract"]["tesseract"].startswith("tesseract 5")
    assert peers.markdown(rep) == rep["markdown"]  # --report-only re-prints the same tables


def test_first_start_model_dir_has_no_precision_cache():
    """--cold-fresh: the temporary tree has the same models and no cache, so ``auto`` measures
    there (and caches there), while the repository's cache is left alone."""
    from bench.coldstart import fresh_model_dir
    from bench.engines import MODEL_DIR
    from ocrcore.host import CPUInfo
    from ocrcore.models import profile_files

    if not (MODEL_DIR / "small" / "build.json").exists():
        pytest.skip("models not built")
    cpu = CPUInfo("test cpu", "x86_64", ("avx2", "avx512_vnni"), 1)
    calls: list[dict] = []

    def timer(paths, shape, threads):
        calls.append(dict(paths))
        return {p: 1.0 for p in paths}

    host = MODEL_DIR / "small" / "host"
    before = sorted(host.iterdir()) if host.exists() else []
    with fresh_model_dir("small") as root:
        assert (root / "small" / "det.fp32.onnx").resolve() == (MODEL_DIR / "small" / "det.fp32.onnx").resolve()
        assert not (root / "small" / "host").exists()
        first = profile_files("small", "auto", root, cpu=cpu, timer=timer)
        again = profile_files("small", "auto", root, cpu=cpu, timer=timer)
        assert bool(list((root / "small" / "host").glob("*.json"))) == bool(calls)
    measured = bool(calls)  # a build whose auto lists one precision per model measures nothing
    assert first.choice.source == "measured" and again.choice.source == ("cache" if measured else "measured")
    assert len(calls) == len(first.choice.timings_ms)  # measured once, then read from the cache
    assert (sorted(host.iterdir()) if host.exists() else []) == before


@pytest.mark.timeout(60)
def test_kernel_microbench_quick(tmp_path):
    out = tmp_path / "kernels.json"
    proc = _run(["-m", "bench.kernels", "--quick", "--out", str(out)])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rep = json.loads(out.read_text())
    from numba.core.dispatcher import Dispatcher

    from ocrcore import ctc_kernels, kernels

    assert {r["kernel"] for r in rep["results"]} == {n for m in (kernels, ctc_kernels) for n, o in vars(m).items()
                                                      if isinstance(o, Dispatcher) and not n.startswith("_")}
    for r in rep["results"]:
        assert r["agree"], r
        assert r["kernel_s"] > 0 and r["ref_s"] > 0
        assert r["speedup"] == pytest.approx(r["ref_s"] / r["kernel_s"])
    assert "| sauvola_binarize |" in proc.stdout and f"CPU: {rep['cpu']} ({rep['isa']})" in proc.stdout


def test_set_summary_and_table():
    from bench import stats
    from bench.report import table

    s = stats.summarise_set({"a": [1.0, 1.1, 0.9], "b": [1.0, 0.5, 1.0]})
    assert s["total"] == pytest.approx(2.0) and s["median"] == pytest.approx(1.0) and s["images"] == 2 and s["n"] == 6
    assert stats.p95([1.0] * 19 + [3.0]) == pytest.approx(1.1)
    assert table(["a", "b"], [[1, "x"]]) == ["| a | b |", "|---|---|", "| 1 | x |"]


def _fake_report(rapid_f1: float) -> dict:
    def lat(per_image: dict[str, float]) -> dict:
        return {"images": {k: {"median": v} for k, v in per_image.items()}}

    images = {"synth:0": 1.0, "zh_real_dev/a.jpg": 0.9, "zh_real_dev/b.jpg": 0.3, "zh_real_dev/c.jpg": 0.6, "pages/p.png": 2.0}
    return {"config": {"engines": ["ours-small", "ours-small-fp32", "ours-tiny", "rapidocr-small"],
                       "sets_timed": ["pages", "zh_real_dev"]},
            "latency": {"images": list(images), "summary": {
                "rapidocr-small": lat(images),
                "ours-small": lat({k: v / 2 for k, v in images.items()}),
                "ours-small-fp32": lat(images),
                "ours-tiny": lat({k: v / 4 for k, v in images.items()})}},
            "accuracy": {"zh_real_dev": {"rapidocr-small": {"page_f1": rapid_f1, "line_accuracy": 0.9},
                                         "ours-small": {"page_f1": 0.9, "line_accuracy": 0.9},
                                         "ours-tiny": {"page_f1": 0.8, "line_accuracy": 0.95}},
                         "pages": {s: {"page_f1": 0.95, "line_accuracy": None} for s in ("rapidocr-small", "ours-small", "ours-tiny")}}}


def test_speed_ratios_per_set():
    from bench.peers import speed_ratios

    rows = speed_ratios(_fake_report(rapid_f1=0.85))
    assert [r["set"] for r in rows] == ["pages", "zh_real_dev"] and rows[1]["images"] == 3
    zh = rows[1]
    assert zh["rapidocr-small"]["median"] == pytest.approx(0.6)  # median of the per-image medians
    assert zh["ours-small"]["ratio"] == pytest.approx(2.0) and zh["ours-small"]["goal"]
    assert zh["ours-tiny"]["ratio"] == pytest.approx(4.0) and not zh["ours-tiny"]["goal"]  # fast, but lower F1
    assert "ours-small-fp32" not in zh  # only the shipped precision is held to the goal
    assert not speed_ratios(_fake_report(rapid_f1=0.95))[1]["ours-small"]["goal"]  # RapidOCR more accurate there
    del_rapid = _fake_report(0.85)
    del_rapid["config"]["engines"].remove("rapidocr-small")
    assert speed_ratios(del_rapid) == []


def test_eval_dir_rule(monkeypatch, tmp_path):
    from bench import images

    monkeypatch.setenv("OCR_EVAL_DIR", str(tmp_path))
    assert images.eval_dir() == tmp_path
    monkeypatch.delenv("OCR_EVAL_DIR")
    beside = REPO.parent / "shared" / "eval"
    assert images.eval_dir() == (beside if beside.is_dir() else None)


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
    assert parse_tsv("\n".join(rows)) == [("hello world", ((10, 5), (90, 5), (90, 25), (10, 25)))]


def test_in_order_counts_lines_found_in_their_order() -> None:
    from bench.scroll import in_order

    truth = ["Hello there", "see you at 5", "ok 👍", "last line"]
    assert in_order(truth, truth) == 4
    assert in_order(["Hello there", "ok", "see you at 5", "last line"], truth) == 3  # one out of order, one garbled
    assert in_order(["Hello there", "last line"], truth) == 2
    assert in_order([], truth) == 0


@pytest.mark.skipif(not _models_built(), reason="models not built (make models)")
def test_scroll_bench_reads_a_tall_screenshot_through_the_cli() -> None:
    """bench.scroll end to end on a short scroll: the CLI process, every line in order, CPU named."""
    out = _run(["-m", "bench.scroll", "--profile", "tiny", "--height", "2400", "--lines", "20"], timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "20/20 drawn lines found in order" in out.stdout
    assert "CPU " in out.stdout and "cores" in out.stdout
