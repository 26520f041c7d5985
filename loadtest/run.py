"""Start the server, run locust headless against it, and gate on latency, throughput, failures (and memory).

    .venv/bin/python -m loadtest.run                          # make loadtest: 60 s, 2 users, small profile
    .venv/bin/python -m loadtest.run --soak                   # 5 min, plus the RSS-trend check
    .venv/bin/python -m loadtest.run --soak --requests 10000  # make soak: a fixed number of requests
    .venv/bin/python -m loadtest.run --profile tiny -u 4 -t 60
    .venv/bin/python -m loadtest.run --url http://127.0.0.1:8080   # an already running server

Exit status: 0 passed, 1 the gate failed, 2 the run broke (server never ready, locust crashed).

The server (:class:`loadtest.server.ServerProcess`, result cache off, ``--profile``/``--threads``)
gets one warm-up request per category. Locust runs in its own process (gevent's monkey-patching
stays out of this one) and decides the traffic gate from its own statistics when it quits
(``locustfile.py``, ``gate.py``). This process samples the server tree's RSS and CPU every
``--rss-interval`` s, reads its VmHWM and adds the memory checks: ``--max-peak-rss`` and, in soak
mode, the slope of a linear fit from ``--rss-fit-from`` of the run on (after warm-up) and the
rise of that fit over its span (``--max-rss-growth``), which does not loosen as the run gets longer.

Reports in ``reports/loadtest/<name>*``: locust's CSV, HTML and JSON, its gate (``_gate.json``),
``_summary.json`` (figures, checks, RSS series, settings), ``_samples.json`` (the mix), the logs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from contextlib import ExitStack, suppress
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil

from loadtest import gate
from loadtest import samples as samples_mod
from loadtest.server import ServerProcess, wait_ready

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "loadtest" / "locustfile.py"
DEFAULT_OUT = ROOT / "reports" / "loadtest"
EXIT_PASS, EXIT_GATE_FAILED, EXIT_BROKEN = 0, 1, 2
STOP_TIMEOUT_S = 60


def tree_usage(pid: int) -> tuple[float, float] | None:
    """(RSS MB, CPU seconds user + system) summed over a process and its children; None if gone."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    rss = cpu = 0.0
    for p in procs:
        with suppress(psutil.Error):
            rss += p.memory_info().rss
            cpu += sum(p.cpu_times()[:2])
    return rss / 2**20, cpu


def high_water_mb(pid: int) -> float | None:
    """The kernel's peak RSS of one process (VmHWM, MiB): exact whatever the sampling interval;
    None where /proc is not available."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            return next((int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:")), None)
    except OSError:
        return None


def run_sampled(cmd: list[str], log: Path, pid: int | None, interval_s: float, timeout_s: float | None
                ) -> tuple[int, list[tuple[float, float]], list[float]]:
    """Run ``cmd`` (output to ``log``); every ``interval_s`` seconds until it exits (and once
    more after), sample the tree of ``pid``. Returns (exit code, [(s, RSS MB)], [CPU s])."""
    rss: list[tuple[float, float]] = []
    cpu: list[float] = []
    t0 = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        while True:
            got = tree_usage(pid) if pid else None
            if got is not None:
                rss.append((round(time.monotonic() - t0, 2), round(got[0], 1)))
                cpu.append(got[1])
            if proc.returncode is not None:
                return proc.returncode, rss, cpu
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=interval_s)
            if proc.returncode is None and timeout_s is not None and time.monotonic() - t0 > timeout_s:
                raise subprocess.TimeoutExpired(cmd, timeout_s)
    finally:  # after a timeout or Ctrl-C: SIGTERM lets locust write its reports, then SIGKILL
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT_S + 10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def listening_pid(port: int) -> int | None:
    """The pid listening on TCP ``port`` on this machine, if visible."""
    try:
        return next((c.pid for c in psutil.net_connections(kind="tcp")
                     if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN and c.pid), None)
    except (psutil.AccessDenied, PermissionError):
        return None


def warm_up(url: str, samples: list[samples_mod.Sample]) -> None:
    """One request per category, before locust starts (so not in its statistics)."""
    for s in {s.category: s for s in reversed(samples)}.values():
        r = httpx.post(f"{url}/api/ocr", files={"image": (Path(s.path).name, Path(s.path).read_bytes(), s.content_type)},
                       headers={"Cache-Control": "no-cache"}, timeout=120)
        if r.status_code != 200:
            raise RuntimeError(f"warm-up request ({s.category}) failed: HTTP {r.status_code} {r.text[:200]}")


def locust_command(args: argparse.Namespace, url: str, prefix: Path, manifest: Path) -> list[str]:
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url,
           "-u", str(args.users), "-r", str(args.spawn_rate), "--stop-timeout", str(STOP_TIMEOUT_S),
           "--csv", str(prefix), "--html", f"{prefix}.html", "--json-file", str(prefix),
           "--only-summary", "--loglevel", "WARNING", "--manifest", str(manifest), "--gate-file", f"{prefix}_gate.json",
           "--max-median", str(args.max_median), "--max-p95", str(args.max_p95),
           "--min-images-per-min", str(args.min_throughput), "--max-failures", str(args.max_failures)]
    if args.run_time:
        cmd += ["--run-time", f"{args.run_time}s"]
    if args.requests:
        cmd += ["--requests", str(args.requests)]
    return cmd


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = ap.add_argument
    add("--soak", action="store_true", help="longer (300 s unless -t/--requests), and fail when the server's RSS keeps growing")
    add("-u", "--users", type=int, default=2, help="concurrent users (closed loop, no think time); default 2")
    add("-r", "--spawn-rate", type=float, default=None, help="users started per second (default: all at once)")
    add("-t", "--run-time", type=int, default=None, help="seconds (default 60, 300 with --soak; with --requests only a cap)")
    add("-n", "--requests", type=int, default=0, help="stop after exactly this many requests (default: by time)")
    add("--profile", default=os.environ.get("OCR_PROFILE", "small"), help="OCR_PROFILE for the server (small|tiny)")
    add("--threads", type=int, default=None, help="OCR_THREADS for the server (default: the server's own)")
    add("--server-wrap", default="", metavar="CMD",
        help='prefix for the server command, e.g. "taskset -c 0" or "prlimit --as=2147483648"')
    add("--url", default=None, help="test this running server instead of starting one")
    add("--server-pid", type=int, default=None, help="with --url: the pid whose RSS to sample (default: the listener's)")
    add("--out", type=Path, default=DEFAULT_OUT, help="report directory (default reports/loadtest)")
    add("--name", default=None, help="report file prefix (default <load|soak>-<profile>-u<users>)")
    add("--no-eval", action="store_true", help="post only the project's synthetic samples")
    add("--no-warmup", action="store_true")
    add("--max-median", type=float, default=1.0, help="seconds; the median must be below this (default 1)")
    add("--max-p95", type=float, default=1.0, help="seconds; p95 must be below this (default 1)")
    add("--min-throughput", type=float, default=60.0, help="successful images/min, at least (default 60)")
    add("--max-failures", type=int, default=0, help="failed requests allowed (default 0)")
    add("--max-rss-slope", type=float, default=None, help="MB/min after warm-up (default: 20 with --soak, else not checked)")
    add("--max-rss-growth", type=float, default=None,
        help="MB the RSS trend may rise over the fitted span (default: 50 with --soak, else not checked)")
    add("--rss-fit-from", type=float, default=0.5, help="warm-up: fit the RSS trend from this fraction of the run on (default 0.5)")
    add("--max-peak-rss", type=float, default=None, help="fail when the server's peak RSS (VmHWM) exceeds this many MiB")
    add("--rss-interval", type=float, default=None, help="seconds between RSS samples (default 2; 1 with --soak)")
    add("--startup-timeout", type=float, default=180.0, help="seconds for the server to become ready")
    args = ap.parse_args(argv)
    if args.run_time is None and not args.requests:
        args.run_time = 300 if args.soak else 60
    args.spawn_rate = args.spawn_rate or args.users
    if args.max_rss_slope is None and args.soak:
        args.max_rss_slope = 20.0
    if args.max_rss_growth is None and args.soak:
        args.max_rss_growth = 50.0
    args.rss_interval = args.rss_interval or (1.0 if args.soak else 2.0)
    args.name = args.name or f"{'soak' if args.soak else 'load'}-{args.profile}-u{args.users}"
    return args


def print_report(name: str, s: gate.Summary, checks: list[gate.Check], rss: list[tuple[float, float]],
                 slope: float | None, hwm: float | None, users: int, series: bool) -> None:
    print(f"\n== load test {name}: {s.requests} requests in {s.duration_s:.1f} s, {users} users ==")
    print(f"{'category':<12} {'requests':>8} {'fail':>5} {'median ms':>10} {'p95 ms':>8} {'mean ms':>8}")
    for cat, row in {**s.per_category, "all": asdict(s)}.items():
        print(f"{cat:<12} {row['requests']:>8} {row['failures']:>5} {row['median_ms']:>10.0f} {row['p95_ms']:>8.0f} "
              f"{row['mean_ms']:>8.0f}")
    print(f"p99 {s.p99_ms:.0f} ms, max {s.max_ms:.0f} ms; {s.images_per_min:.1f} images/min, {s.requests_per_min:.1f} requests/min")
    if rss:
        print(f"server RSS MB: start {rss[0][1]:.0f}, peak {max(m for _, m in rss):.0f}, end {rss[-1][1]:.0f}"
              + (f", high-water mark (VmHWM) {hwm:.0f}" if hwm is not None else "")
              + (f", trend after warm-up {slope:+.2f} MB/min" if slope is not None else ""))
        if series:  # at most ~60 points on screen; all of them in _summary.json
            print("RSS series (s:MB): " + " ".join(f"{t:.1f}:{m:.0f}" for t, m in rss[::max(1, len(rss) // 60)]))
    for c in checks:
        print(f"  [{'ok' if c.ok else 'FAIL'}] {c.text}")
    print(f"GATE {'PASSED' if all(c.ok for c in checks) else 'FAILED'}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    prefix = args.out / args.name
    for old in args.out.glob(f"{args.name}[._]*"):
        old.unlink()
    thresholds = gate.Thresholds(args.max_median, args.max_p95, args.min_throughput, args.max_failures,
                                 args.max_rss_slope, args.max_peak_rss, args.max_rss_growth)
    manifest = Path(f"{prefix}_samples.json")  # per run: concurrent runs may differ in --no-eval
    samples = samples_mod.build(samples_mod.DEFAULT_OUT, use_eval=not args.no_eval, manifest=manifest)
    mix = samples_mod.summary(samples)
    print(f"[loadtest] {len(samples)} samples: " + ", ".join(f"{k} {v['count']}" for k, v in mix.items()), flush=True)

    with ExitStack() as cleanup:
        try:
            if args.url:
                url = args.url.rstrip("/")
                health = wait_ready(url, args.startup_timeout)
                pid = args.server_pid or listening_pid(urlsplit(url).port or 80)
            else:
                env = {"OCR_PROFILE": args.profile, "OCR_CACHE": "0"}
                if args.threads is not None:
                    env["OCR_THREADS"] = str(args.threads)
                srv = ServerProcess(env, log_path=Path(f"{prefix}_server.log"), wrap=shlex.split(args.server_wrap))
                print(f"[loadtest] starting {' '.join(srv.command[-3:])} on {srv.url} ({env})", flush=True)
                t = time.monotonic()
                cleanup.enter_context(srv)
                url, health, pid = srv.url, srv.health, srv.pid
                print(f"[loadtest] server ready after {time.monotonic() - t:.1f} s: profile {health.get('profile')} "
                      f"{health.get('precisions')}, {health.get('workers')} workers sharing {health.get('threads')} "
                      f"cores on {health.get('cpu')} [{health.get('isa')}]", flush=True)
            if not args.no_warmup:
                warm_up(url, samples)
            if not pid and (args.max_rss_slope is not None or args.max_peak_rss is not None or args.max_rss_growth is not None):
                raise RuntimeError("cannot find the server's pid: pass --server-pid")
            cmd = locust_command(args, url, prefix, manifest)
            print("[loadtest] " + shlex.join(cmd[1:]), flush=True)
            load_before = os.getloadavg()
            code, rss, cpu = run_sampled(cmd, Path(f"{prefix}_locust.log"), pid, args.rss_interval,
                                         args.run_time + STOP_TIMEOUT_S + 120 if args.run_time else None)
            load_after = os.getloadavg()
            hwm = high_water_mb(pid) if pid else None
            gate_path = Path(f"{prefix}_gate.json")
            if not gate_path.exists():
                raise RuntimeError(f"locust exited with {code} and wrote no {gate_path}; see {prefix}_locust.log")
        except (RuntimeError, subprocess.TimeoutExpired, OSError, httpx.HTTPError, KeyboardInterrupt) as e:
            print(f"[loadtest] {str(e) or type(e).__name__}", file=sys.stderr)
            return EXIT_BROKEN
        if not args.url and srv.proc and srv.proc.poll() is not None:
            print(f"[loadtest] the server died during the run (status {srv.proc.returncode}); see {srv.log_path}",
                  file=sys.stderr)

    decided = json.loads(gate_path.read_text())
    summary = gate.Summary(**decided["summary"])
    slope = gate.rss_slope_mb_per_min(rss, args.rss_fit_from)
    growth = gate.rss_growth_mb(rss, args.rss_fit_from)
    checks = [gate.Check(**c) for c in decided["checks"]] + gate.memory_checks(thresholds, slope, hwm, growth)
    if args.requests:  # a -t cap that ends the run early leaves a soak unfinished
        checks.append(gate.Check("requests", summary.requests, args.requests, summary.requests >= args.requests,
                                 f"requests {summary.requests} of the {args.requests} asked for"))
    passed = all(c.ok for c in checks)
    cpu_used = cpu[-1] - cpu[0] if len(cpu) >= 2 else None
    done = summary.requests - summary.failures
    cpu_per_image = round(cpu_used / done, 3) if cpu_used and done else None
    print_report(args.name, summary, checks, rss, slope, hwm, args.users, args.soak)
    if cpu_per_image:
        print(f"server CPU {cpu_used:.1f} s = {cpu_per_image:.3f} CPU-s per image; load average "
              f"{load_before[0]:.1f} before, {load_after[0]:.1f} after, on {os.cpu_count()} CPUs", flush=True)
    report = {
        "name": args.name, "passed": passed, "summary": asdict(summary), "thresholds": asdict(thresholds),
        "checks": [asdict(c) for c in checks], "locust_exit_code": code,
        "server_cpu": {"cpu_s": cpu_used, "cpu_s_per_image": cpu_per_image},
        "rss_mb": {"series": rss, "fit_from": args.rss_fit_from, "slope_after_warmup_mb_per_min": slope,
                   "growth_after_warmup_mb": growth,
                   "peak": max((m for _, m in rss), default=None), "high_water_mark": hwm},
        "settings": {"users": args.users, "spawn_rate": args.spawn_rate, "run_time_s": args.run_time,
                     "requests": args.requests, "profile": args.profile, "threads": args.threads, "url": url,
                     "soak": args.soak, "server_wrap": args.server_wrap,
                     "env": {k: v for k, v in os.environ.items() if k.startswith(("OCR_", "MALLOC_", "GLIBC_"))},
                     "server": {k: health.get(k) for k in ("profile", "precisions", "workers", "threads", "cpu", "isa",
                                                           "precision_reasons", "cache")},
                     "samples": mix, "locust_command": cmd[1:]},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_before": load_before, "loadavg_after": load_after},
    }
    Path(f"{prefix}_summary.json").write_text(json.dumps(report, indent=1))
    print(f"[loadtest] reports: {prefix}.html, {prefix}.json, {prefix}_stats.csv, {prefix}_summary.json", flush=True)
    if (code == 0) != decided["passed"]:
        print(f"[loadtest] locust exited with {code} but its gate says passed={decided['passed']}",
              file=sys.stderr)
        return EXIT_BROKEN
    return EXIT_PASS if passed else EXIT_GATE_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
