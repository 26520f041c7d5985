"""The load-test gate (pure logic on synthetic stats), the samples, a short real load run, and the
edge-install files' static checks.

Locust itself is never imported here (its gevent monkey-patching would leak into the other
tests); the real runs spawn ``python -m loadtest.run``, which spawns locust.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from loadtest import samples as samples_mod
from loadtest.run import (
    EXIT_GATE_FAILED,
    EXIT_PASS,
    Summary,
    Thresholds,
    evaluate,
    percentile,
    rss_slope_mb_per_min,
    summarize,
)

ROOT = Path(__file__).resolve().parent.parent
EDGE = ROOT / "infra" / "edge"


# ------------------------------------------------------------------------------ percentile / summarize


def test_percentile_follows_locusts_rule():
    """Locust's rule (what its HTML report shows): the largest recorded time t with at most
    int(n * q) requests faster than t; with an even split that is the upper median."""
    hist = {"100": 50, "200": 45, "900": 4, "1500": 1}  # JSON keys are strings
    assert percentile(hist, 0.5) == 200
    assert percentile({"100": 51, "200": 49}, 0.5) == 100
    assert percentile(hist, 0.95) == 900
    assert percentile(hist, 0.99) == 1500
    assert percentile(hist, 1.0) == 1500
    assert percentile({}, 0.5) == 0
    assert percentile({str(v): 1 for v in range(1, 11)}, 0.5) == 6
    assert percentile({str(v): 1 for v in range(1, 12)}, 0.5) == 6
    assert percentile({str(v): 1 for v in range(1, 11)}, 0.95) == 10


def _entry(name: str, times: dict[int, int], failures: int = 0, start: float = 1000.0, last: float = 1060.0) -> dict:
    n = sum(times.values())
    return {
        "name": name, "method": "POST", "start_time": start, "last_request_timestamp": last,
        "num_requests": n, "num_none_requests": 0, "num_failures": failures,
        "total_response_time": sum(k * v for k, v in times.items()),
        "max_response_time": max(times), "min_response_time": min(times), "total_content_length": 0,
        "response_times": {str(k): v for k, v in times.items()}, "num_reqs_per_sec": {}, "num_fail_per_sec": {},
    }


def test_summarize_aggregates_categories_and_uses_the_recorded_start():
    entries = [
        _entry("/api/ocr [document]", {400: 30, 600: 10}, start=1001.0, last=1059.0),
        _entry("/api/ocr [sign]", {200: 38, 950: 2}, failures=1, start=1000.5, last=1060.0),
    ]
    s = summarize(entries, start=1000.0)
    assert s.requests == 80 and s.failures == 1
    assert s.duration_s == 60.0
    assert s.images_per_min == 79.0  # successful replies per minute
    assert s.median_ms == 400 and s.p95_ms == 600 and s.max_ms == 950
    assert set(s.per_category) == {"document", "sign"}
    assert s.per_category["sign"]["failures"] == 1 and s.per_category["document"]["median_ms"] == 400
    # without a recorded start: the earliest entry start_time (first reply)
    assert summarize(entries).duration_s == 59.5


# ------------------------------------------------------------------------------ the gate


def _summary(**kw) -> Summary:
    base = {"requests": 120, "failures": 0, "median_ms": 450.0, "p95_ms": 800.0, "p99_ms": 900.0, "max_ms": 950.0,
            "mean_ms": 480.0, "duration_s": 60.0, "images_per_min": 120.0}
    base.update(kw)
    return Summary(**base)


def test_gate_passes_good_figures():
    gate = evaluate(_summary(), Thresholds())
    assert gate.passed and not gate.failed()
    assert [c.name for c in gate.checks] == ["median", "p95", "throughput", "failures"]


@pytest.mark.parametrize(
    "figures, failing",
    [
        ({"median_ms": 1000.0, "p95_ms": 1200.0}, {"median", "p95"}),  # exactly 1 s is not "under a second"
        ({"p95_ms": 1000.0}, {"p95"}),
        ({"images_per_min": 59.9}, {"throughput"}),
        ({"failures": 1}, {"failures"}),
        ({"requests": 0, "median_ms": 0.0, "p95_ms": 0.0, "images_per_min": 0.0}, {"median", "p95", "throughput", "failures"}),
    ],
)
def test_gate_fails_each_threshold(figures, failing):
    gate = evaluate(_summary(**figures), Thresholds())
    assert not gate.passed
    assert {c.name for c in gate.failed()} == failing


def test_gate_thresholds_are_parameters():
    s = _summary(median_ms=1500.0, p95_ms=2500.0, images_per_min=30.0, failures=2)
    assert evaluate(s, Thresholds(max_median_s=2, max_p95_s=3, min_images_per_min=20, max_failures=2)).passed
    assert not evaluate(_summary(), Thresholds(max_median_s=0.001)).passed


def test_rss_slope_and_memory_gate():
    flat = [(t, 800 + (3 if t % 10 else -3)) for t in range(0, 300, 5)]
    growing = [(t, 800 + t * 0.5) for t in range(0, 300, 5)]  # 30 MB/min
    warming = [(t, 800 + min(t, 120) * 2) for t in range(0, 300, 5)]  # grows, then settles
    assert abs(rss_slope_mb_per_min(flat)) < 2
    assert rss_slope_mb_per_min(growing) == pytest.approx(30.0)
    assert abs(rss_slope_mb_per_min(warming)) < 1e-9
    assert rss_slope_mb_per_min(growing[:5]) is None  # too few samples in the second half
    th = Thresholds(max_rss_slope_mb_per_min=20)
    assert evaluate(_summary(), th, rss_slope_mb_per_min(flat)).passed
    assert evaluate(_summary(), th, rss_slope_mb_per_min(warming)).passed
    bad = evaluate(_summary(), th, rss_slope_mb_per_min(growing))
    assert {c.name for c in bad.failed()} == {"rss_slope"}
    assert not evaluate(_summary(), th, None).passed  # memory asked for but not measured
    assert evaluate(_summary(), Thresholds(), None).passed  # memory not asked for


# ------------------------------------------------------------------------------ samples


def test_synthetic_samples_cover_the_four_kinds(tmp_path):
    from PIL import Image

    samples = samples_mod.build(tmp_path, per_category=2, use_eval=False)
    assert {s.category for s in samples} == set(samples_mod.SYNTH_CATEGORIES)
    assert len(samples) == 8
    for s in samples:
        with Image.open(s.path) as im:
            assert im.size == (s.width, s.height)
    receipt = next(s for s in samples if s.category == "receipt")
    assert receipt.height > 1.5 * receipt.width  # narrow and tall
    assert samples_mod.load_manifest(tmp_path / "manifest.json") == samples
    # deterministic
    again = samples_mod.build(tmp_path / "again", per_category=2, use_eval=False)
    assert [Path(s.path).read_bytes() for s in again] == [Path(s.path).read_bytes() for s in samples]


# ------------------------------------------------------------------------------ real short runs


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loadtest.run", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.mark.timeout(300)
def test_short_load_run_passes_the_gate_and_writes_reports(tmp_path):
    """~25 s, 2 users, the project's synthetic samples, the real server, the default gate.

    The tiny profile: it meets the gate on two cores with a wide margin (0.25 CPU-s per image),
    so a failure here means the service or the harness broke. The small profile, as built now,
    does not meet p95 < 1 s on two cores (docs/performance.md); ``make loadtest`` reports that."""
    out = tmp_path / "reports"
    proc = _run(["--profile", "tiny", "-t", "25", "-u", "2", "--no-eval", "--out", str(out), "--name", "ci"], timeout=280)
    print(proc.stdout[-4000:], proc.stderr[-4000:])
    for suffix in (".html", ".json", "_stats.csv", "_stats_history.csv", "_failures.csv", "_summary.json"):
        assert (out / f"ci{suffix}").is_file(), f"missing report ci{suffix}"
    report = json.loads((out / "ci_summary.json").read_text())
    assert report["settings"]["server"]["profile"] == "tiny"
    summary = report["summary"]
    assert summary["requests"] >= 10 and summary["failures"] == 0
    assert set(summary["per_category"]) == set(samples_mod.SYNTH_CATEGORIES)
    assert report["passed"] == (proc.returncode == EXIT_PASS)
    if proc.returncode != EXIT_PASS:
        load = report["machine"]["loadavg_before"][0]
        cpus = report["machine"]["cpus"] or 1
        if load > 1.5 * cpus:  # someone else is using the cores: the figures say nothing about ours
            pytest.skip(f"gate failed on an overloaded machine (load average {load:.1f} on {cpus} CPUs): {summary}")
    assert proc.returncode == EXIT_PASS, proc.stdout[-3000:]


@pytest.mark.timeout(240)
def test_impossible_threshold_fails_the_run(server_proc, tmp_path):
    """A median under 1 ms cannot be met: run.py must exit 1. Against the shared test server
    (``--url``; it keeps its result cache, which the load test bypasses with no-cache)."""
    proc = _run(["--url", server_proc.url, "--server-pid", str(server_proc.proc.pid), "-t", "6", "-u", "1", "--no-eval",
                 "--max-median", "0.001", "--out", str(tmp_path), "--name", "strict"], timeout=220)
    assert proc.returncode == EXIT_GATE_FAILED, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "[FAIL] median" in proc.stdout and "GATE FAILED" in proc.stdout
    report = json.loads((tmp_path / "strict_summary.json").read_text())
    assert report["passed"] is False and report["summary"]["requests"] > 0 and report["summary"]["failures"] == 0
    assert "median" in {c["name"] for c in report["checks"] if not c["ok"]}


# ------------------------------------------------------------------------------ edge install files


def test_install_script_parses():
    subprocess.run(["bash", "-n", str(EDGE / "install.sh")], check=True)
    assert os.access(EDGE / "install.sh", os.X_OK)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (apt-get install shellcheck)")
def test_install_script_is_shellcheck_clean():
    proc = subprocess.run(["shellcheck", "-x", str(EDGE / "install.sh")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout


def test_install_script_refuses_32bit_arm_and_old_glibc(tmp_path):
    """The platform checks run before anything is installed (``--check-only``); ``uname`` and
    ``getconf`` are faked through PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()

    def check(machine: str, glibc: str) -> subprocess.CompletedProcess:
        (bin_dir / "uname").write_text(f'#!/bin/sh\n[ "$1" = -m ] && echo {machine} || echo Linux\n')
        (bin_dir / "getconf").write_text(f'#!/bin/sh\n[ "$1" = GNU_LIBC_VERSION ] && echo "glibc {glibc}"\n')
        for f in ("uname", "getconf"):
            (bin_dir / f).chmod(0o755)
        env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", PYTHON=sys.executable)
        return subprocess.run(["bash", str(EDGE / "install.sh"), "--check-only"], capture_output=True, text=True, env=env, check=False)

    ok = check("aarch64", "2.36")
    assert ok.returncode == 0, ok.stderr
    assert check("x86_64", "2.28").returncode == 0
    for arm32 in ("armv7l", "armv6l"):
        bad = check(arm32, "2.36")
        assert bad.returncode != 0 and "32-bit ARM" in bad.stderr
    old = check("aarch64", "2.24")
    assert old.returncode != 0 and "glibc" in old.stderr
    assert check("riscv64", "2.36").returncode != 0


def test_systemd_unit_has_the_required_settings():
    unit = (EDGE / "ocr.service").read_text()
    for needle in ("Restart=on-failure", "MemoryMax=", "EnvironmentFile=", "ExecStart="):
        assert needle in unit
    env = (EDGE / "ocr.env").read_text()
    assert "OCR_PROFILE=" in env and "OCR_THREADS=" in env


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not available")
def test_systemd_unit_verifies(tmp_path):
    unit = tmp_path / "ocr.service"
    # point ExecStart at a binary that exists here, so verify checks the unit and not the install
    text = (EDGE / "ocr.service").read_text().replace("/opt/ocr/venv/bin/python", sys.executable)
    unit.write_text(text)
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Unknown key" not in proc.stderr and "ignoring" not in proc.stderr, proc.stderr
