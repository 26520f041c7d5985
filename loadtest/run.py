"""Start the server, run locust headless against it, and gate on latency, throughput, failures (and memory).

    .venv/bin/python -m loadtest.run                          # make loadtest: 60 s, 2 users, small profile
    .venv/bin/python -m loadtest.run --soak                   # make soak: 5 min, plus the RSS-growth check
    .venv/bin/python -m loadtest.run --profile tiny -u 4 -t 60
    .venv/bin/python -m loadtest.run --url http://127.0.0.1:8080   # an already running server

Exit status: 0 the gate passed, 1 the gate failed, 2 the run itself broke (server never became
healthy, locust crashed or wrote no JSON).

The server is ``python -m handler.serve`` on 127.0.0.1 and a free port, with ``OCR_PROFILE`` /
``OCR_THREADS`` from ``--profile`` / ``--threads``. Before the timed run one request per sample
category warms it up (first-call costs are not what the gate is about). Locust runs as a separate
process (this process never imports locust, so gevent's monkey-patching cannot break ssl for
boto3 or anything else here). Final figures come from locust's ``--json-file`` output (its
``_stats.csv`` lags the last reporting interval); percentiles are recomputed from the raw
per-millisecond histogram, throughput is successful replies per minute from the first user's
start to the last reply. The server's RSS (process tree) is sampled every few seconds; in soak
mode the gate also fails when a linear fit over the second half still rises faster than
``--max-rss-slope`` MB/min.

Reports land in ``reports/loadtest/<name>*``: locust's CSV (``_stats``, ``_stats_history``,
``_failures``, ``_exceptions``), HTML (``.html``) and JSON (``.json``), plus ``_summary.json``
(figures, gate, RSS series, settings), ``_samples.json`` (the posted mix) and the server's and
locust's logs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "loadtest" / "locustfile.py"
DEFAULT_OUT = ROOT / "reports" / "loadtest"

EXIT_PASS, EXIT_GATE_FAILED, EXIT_BROKEN = 0, 1, 2


# ------------------------------------------------------------------------------ pure gate logic


@dataclass(frozen=True)
class Thresholds:
    """The gate. Latencies are upper bounds (strict: a median of exactly 1 s fails)."""

    max_median_s: float = 1.0
    max_p95_s: float = 1.0
    min_images_per_min: float = 60.0
    max_failures: int = 0
    max_rss_slope_mb_per_min: float | None = None  # None: memory not gated (the soak sets 20)
    max_peak_rss_mb: float | None = None  # the server's VmHWM in MiB; None: not gated


@dataclass(frozen=True)
class Summary:
    requests: int
    failures: int
    median_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    duration_s: float
    images_per_min: float
    per_category: dict[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    name: str
    value: float | None
    limit: float
    ok: bool
    text: str


@dataclass(frozen=True)
class GateResult:
    passed: bool
    checks: tuple[Check, ...]

    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def percentile(hist: dict, q: float) -> float:
    """Locust's percentile rule on a ``{response_ms: count}`` histogram (keys may be strings,
    as in its JSON), so the figures match its HTML report: the largest recorded time t with at
    most int(n * q) requests faster than t (for an even split, the upper median)."""
    items = sorted((float(k), int(v)) for k, v in hist.items())
    n = sum(c for _, c in items)
    if n == 0:
        return 0.0
    keep = int(n * q)
    seen = 0
    for value, count in reversed(items):
        seen += count
        if n - seen <= keep:
            return value
    return items[0][0]


def summarize(entries: list[dict], *, start: float | None = None, end: float | None = None) -> Summary:
    """Aggregate locust's ``--json-file`` entries (one per request name) into one summary.

    ``start`` is when the users started (the locustfile records it); without it, the earliest
    entry ``start_time`` (the first reply, so a slight overestimate of throughput). ``end``
    defaults to the last reply's timestamp.
    """
    hist: dict[float, int] = {}
    per_category: dict[str, dict] = {}
    requests = failures = 0
    total_ms = 0.0
    max_ms = 0.0
    first = min((e["start_time"] for e in entries if e.get("start_time")), default=None)
    last = max((e["last_request_timestamp"] for e in entries if e.get("last_request_timestamp")), default=None)
    for e in entries:
        n, f = int(e["num_requests"]), int(e["num_failures"])
        requests += n
        failures += f
        total_ms += float(e.get("total_response_time") or 0)
        max_ms = max(max_ms, float(e.get("max_response_time") or 0))
        for k, v in (e.get("response_times") or {}).items():
            hist[float(k)] = hist.get(float(k), 0) + int(v)
        name = e.get("name", "?")
        cat = name[name.index("[") + 1: name.rindex("]")] if "[" in name and "]" in name else name
        timed = n - int(e.get("num_none_requests") or 0)
        per_category[cat] = {
            "requests": n,
            "failures": f,
            "median_ms": percentile(e.get("response_times") or {}, 0.5),
            "p95_ms": percentile(e.get("response_times") or {}, 0.95),
            "mean_ms": round(float(e.get("total_response_time") or 0) / timed, 1) if timed else 0.0,
        }
    t0 = start if start is not None else first
    t1 = end if end is not None else last
    duration = max(0.0, (t1 - t0)) if (t0 is not None and t1 is not None) else 0.0
    timed_total = sum(hist.values())
    return Summary(
        requests=requests,
        failures=failures,
        median_ms=percentile(hist, 0.5),
        p95_ms=percentile(hist, 0.95),
        p99_ms=percentile(hist, 0.99),
        max_ms=max_ms,
        mean_ms=round(total_ms / timed_total, 1) if timed_total else 0.0,
        duration_s=round(duration, 3),
        images_per_min=round((requests - failures) * 60.0 / duration, 2) if duration > 0 else 0.0,
        per_category=dict(sorted(per_category.items())),
    )


def rss_slope_mb_per_min(samples: list[tuple[float, float]], from_fraction: float = 0.5) -> float | None:
    """Least-squares slope (MB/min) of ``[(seconds, rss_mb), ...]`` over the samples from
    ``from_fraction`` of the run's time span on; None with fewer than 4 such samples."""
    if not samples:
        return None
    t_first, t_last = samples[0][0], samples[-1][0]
    cut = t_first + (t_last - t_first) * from_fraction
    tail = [(t, m) for t, m in samples if t >= cut]
    if len(tail) < 4:
        return None
    n = len(tail)
    mt = sum(t for t, _ in tail) / n
    mm = sum(m for _, m in tail) / n
    var = sum((t - mt) ** 2 for t, _ in tail)
    if var == 0:
        return None
    cov = sum((t - mt) * (m - mm) for t, m in tail)
    return cov / var * 60.0


def evaluate(summary: Summary, thresholds: Thresholds, rss_slope: float | None = None,
             peak_rss_mb: float | None = None) -> GateResult:
    """Apply the gate. No requests at all fails every latency check (there is nothing to pass)."""
    th = thresholds
    none = summary.requests == 0
    checks = [
        Check("median", summary.median_ms / 1000, th.max_median_s, not none and summary.median_ms / 1000 < th.max_median_s,
              f"median {summary.median_ms / 1000:.3f} s < {th.max_median_s:g} s"),
        Check("p95", summary.p95_ms / 1000, th.max_p95_s, not none and summary.p95_ms / 1000 < th.max_p95_s,
              f"p95 {summary.p95_ms / 1000:.3f} s < {th.max_p95_s:g} s"),
        Check("throughput", summary.images_per_min, th.min_images_per_min, summary.images_per_min >= th.min_images_per_min,
              f"throughput {summary.images_per_min:.1f} images/min >= {th.min_images_per_min:g}"),
        Check("failures", summary.failures, th.max_failures, not none and summary.failures <= th.max_failures,
              f"failures {summary.failures} of {summary.requests} <= {th.max_failures}"),
    ]
    if th.max_peak_rss_mb is not None:
        ok = peak_rss_mb is not None and peak_rss_mb <= th.max_peak_rss_mb
        shown = "n/a" if peak_rss_mb is None else f"{peak_rss_mb:.0f} MiB"
        checks.append(Check("peak_rss", peak_rss_mb, th.max_peak_rss_mb, ok,
                            f"server peak RSS (VmHWM) {shown} <= {th.max_peak_rss_mb:g} MiB"))
    if th.max_rss_slope_mb_per_min is not None:
        ok = rss_slope is not None and rss_slope <= th.max_rss_slope_mb_per_min
        shown = "n/a (too few samples)" if rss_slope is None else f"{rss_slope:+.1f} MB/min"
        checks.append(Check("rss_slope", rss_slope, th.max_rss_slope_mb_per_min, ok,
                            f"RSS trend over the second half {shown} <= {th.max_rss_slope_mb_per_min:g} MB/min"))
    return GateResult(all(c.ok for c in checks), tuple(checks))


# ------------------------------------------------------------------------------ process plumbing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, timeout: float, proc: subprocess.Popen | None = None) -> dict:
    """Poll ``/healthz`` until it answers 200 (the engine is loaded); return its JSON."""
    import httpx

    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode} before it became healthy")
        try:
            r = httpx.get(f"{url}/healthz", timeout=5)
            if r.status_code == 200:
                try:
                    return r.json()
                except ValueError:
                    return {}
            last = f"HTTP {r.status_code}"
        except httpx.HTTPError as e:
            last = type(e).__name__
        time.sleep(0.5)
    raise RuntimeError(f"{url}/healthz not healthy after {timeout:.0f} s ({last})")


def warm_up(url: str, manifest: Path) -> None:
    """One request per category, not counted in the stats."""
    import httpx

    from loadtest.samples import load_manifest

    seen: set[str] = set()
    for s in load_manifest(manifest):
        if s.category in seen:
            continue
        seen.add(s.category)
        p = Path(s.path)
        r = httpx.post(f"{url}/api/ocr", files={"image": (p.name, p.read_bytes(), s.content_type)},
                       headers={"Cache-Control": "no-cache"}, timeout=120)
        if r.status_code != 200:
            raise RuntimeError(f"warm-up request ({s.category}) failed: HTTP {r.status_code} {r.text[:200]}")


def listening_pid(port: int) -> int | None:
    import psutil

    try:
        for c in psutil.net_connections(kind="tcp"):
            if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN and c.pid:
                return c.pid
    except (psutil.AccessDenied, PermissionError):
        return None
    return None


class RSSSampler(threading.Thread):
    """Sum of RSS (MB) over a process and its children, every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, float]] = []
        self.cpu_s: list[float] = []
        self._stop_event = threading.Event()
        self._t0 = time.monotonic()

    def sample(self) -> tuple[float, float] | None:
        """(RSS MB, CPU seconds user+system) summed over the process tree."""
        import psutil

        try:
            proc = psutil.Process(self.pid)
            procs = [proc, *proc.children(recursive=True)]
        except psutil.Error:
            return None
        rss = cpu = 0.0
        for p in procs:
            try:
                rss += p.memory_info().rss
                t = p.cpu_times()
                cpu += t.user + t.system
            except psutil.Error:
                pass
        return rss / 2**20, cpu

    def high_water_mb(self) -> float | None:
        """The kernel's own peak RSS of the server process (VmHWM, MB): exact, whatever the
        sampling interval; ``None`` where /proc is not available."""
        try:
            with open(f"/proc/{self.pid}/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def run(self) -> None:
        while not self._stop_event.is_set():
            got = self.sample()
            if got is not None:
                self.samples.append((round(time.monotonic() - self._t0, 2), round(got[0], 1)))
                self.cpu_s.append(got[1])
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=self.interval + 5)
        got = self.sample()  # a last sample at the end of the run
        if got is not None:
            self.samples.append((round(time.monotonic() - self._t0, 2), round(got[0], 1)))
            self.cpu_s.append(got[1])

    @property
    def cpu_used(self) -> float | None:
        return self.cpu_s[-1] - self.cpu_s[0] if len(self.cpu_s) >= 2 else None


def start_server(port: int, env: dict, log_path: Path, wrap: str = "") -> subprocess.Popen:
    log = log_path.open("wb")
    return subprocess.Popen(
        [*shlex.split(wrap), sys.executable, "-m", "handler.serve"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so workers stop with it
    )


def stop_process_group(proc: subprocess.Popen, grace: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def locust_command(url: str, users: int, spawn_rate: float, run_time_s: int, prefix: Path, stop_timeout: int) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "-u", str(users), "-r", str(spawn_rate), "--run-time", f"{run_time_s}s", "--host", url,
        "--csv", str(prefix), "--html", f"{prefix}.html", "--json-file", str(prefix),
        "--only-summary", "--stop-timeout", str(stop_timeout), "--loglevel", "WARNING",
        "--exit-code-on-error", "0",  # the gate, not locust, decides
    ]


# ------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--soak", action="store_true", help="several minutes, and fail when the server's RSS keeps growing")
    ap.add_argument("-u", "--users", type=int, default=2, help="concurrent users (closed loop, no think time); default 2")
    ap.add_argument("-r", "--spawn-rate", type=float, default=None, help="users started per second (default: all at once)")
    ap.add_argument("-t", "--run-time", type=int, default=None, help="seconds (default 60; 300 with --soak)")
    ap.add_argument("--profile", default=os.environ.get("OCR_PROFILE", "small"), help="OCR_PROFILE for the server (small|tiny)")
    ap.add_argument("--threads", type=int, default=None, help="OCR_THREADS for the server (default: the server's own)")
    ap.add_argument("--server-wrap", default="", metavar="CMD",
                    help='prefix for the server command, e.g. "taskset -c 0" or "prlimit --as=2147483648"')
    ap.add_argument("--url", default=None, help="test this running server instead of starting one")
    ap.add_argument("--server-pid", type=int, default=None, help="with --url: the pid whose RSS to sample (default: the listener's)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report directory (default reports/loadtest)")
    ap.add_argument("--name", default=None, help="report file prefix (default <load|soak>-<profile>-u<users>)")
    ap.add_argument("--no-eval", action="store_true", help="post only the project's synthetic samples")
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("--max-median", type=float, default=1.0, help="seconds; the median must be below this (default 1)")
    ap.add_argument("--max-p95", type=float, default=1.0, help="seconds; p95 must be below this (default 1)")
    ap.add_argument("--min-throughput", type=float, default=60.0, help="images/min, at least (default 60)")
    ap.add_argument("--max-failures", type=int, default=0, help="failed requests allowed (default 0)")
    ap.add_argument("--max-rss-slope", type=float, default=None,
                    help="MB/min over the second half (default: 20 with --soak, not checked otherwise)")
    ap.add_argument("--max-peak-rss", type=float, default=None,
                    help="fail when the server's peak RSS (VmHWM) exceeds this many MiB (default: not gated)")
    ap.add_argument("--rss-interval", type=float, default=None, help="seconds between RSS samples (default 2; 1 with --soak)")
    ap.add_argument("--startup-timeout", type=float, default=180.0)
    args = ap.parse_args(argv)
    if args.run_time is None:
        args.run_time = 300 if args.soak else 60
    if args.spawn_rate is None:
        args.spawn_rate = args.users
    if args.max_rss_slope is None and args.soak:
        args.max_rss_slope = 20.0
    if args.rss_interval is None:
        args.rss_interval = 1.0 if args.soak else 2.0
    if args.name is None:
        args.name = f"{'soak' if args.soak else 'load'}-{args.profile}-u{args.users}"
    return args


def print_report(summary: Summary, gate: GateResult, rss: list[tuple[float, float]], slope: float | None, args,
                 hwm: float | None = None) -> None:
    print(f"\n== load test {args.name}: {summary.requests} requests in {summary.duration_s:.1f} s, {args.users} users ==")
    print(f"{'category':<12} {'requests':>8} {'fail':>5} {'median ms':>10} {'p95 ms':>8} {'mean ms':>8}")
    for cat, c in summary.per_category.items():
        print(f"{cat:<12} {c['requests']:>8} {c['failures']:>5} {c['median_ms']:>10.0f} {c['p95_ms']:>8.0f} {c['mean_ms']:>8.0f}")
    print(f"{'all':<12} {summary.requests:>8} {summary.failures:>5} {summary.median_ms:>10.0f} {summary.p95_ms:>8.0f} {summary.mean_ms:>8.0f}"
          f"   p99 {summary.p99_ms:.0f} ms, max {summary.max_ms:.0f} ms, {summary.images_per_min:.1f} images/min")
    if rss:
        print(f"server RSS MB: start {rss[0][1]:.0f}, peak {max(m for _, m in rss):.0f}, end {rss[-1][1]:.0f}"
              + (f", high-water mark (VmHWM) {hwm:.0f}" if hwm is not None else "")
              + (f", second-half trend {slope:+.1f} MB/min" if slope is not None else ""))
        if args.soak:
            print("RSS series (s, MB): " + " ".join(f"{t:.0f}:{m:.0f}" for t, m in rss))
    for c in gate.checks:
        print(f"  [{'ok' if c.ok else 'FAIL'}] {c.text}")
    print(f"GATE {'PASSED' if gate.passed else 'FAILED'}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from loadtest import samples as samples_mod

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    prefix = out / args.name
    for old in out.glob(f"{args.name}[._]*"):
        old.unlink()
    thresholds = Thresholds(args.max_median, args.max_p95, args.min_throughput, args.max_failures, args.max_rss_slope,
                            args.max_peak_rss)

    manifest = Path(f"{prefix}_samples.json")  # per run: concurrent runs may differ in --no-eval
    samples = samples_mod.build(samples_mod.DEFAULT_OUT, use_eval=not args.no_eval, manifest=manifest)
    print(f"[loadtest] {len(samples)} samples: " + ", ".join(f"{k} {v['count']}" for k, v in samples_mod.summary(samples).items()), flush=True)

    server: subprocess.Popen | None = None
    sampler: RSSSampler | None = None
    try:
        if args.url:
            url = args.url.rstrip("/")
            port = int(url.rsplit(":", 1)[1].split("/")[0]) if url.count(":") >= 2 else 80
            pid = args.server_pid or listening_pid(port)
        else:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            env = dict(os.environ, HOST="127.0.0.1", PORT=str(port), OCR_PROFILE=args.profile, OCR_CACHE="0")
            if args.threads is not None:
                env["OCR_THREADS"] = str(args.threads)
            print(f"[loadtest] starting python -m handler.serve on {url} (OCR_PROFILE={args.profile}"
                  + (f", OCR_THREADS={args.threads}" if args.threads is not None else "") + ")", flush=True)
            t = time.monotonic()
            server = start_server(port, env, Path(f"{prefix}_server.log"), args.server_wrap)
            pid = server.pid
        health = wait_healthy(url, args.startup_timeout, server)
        if server is not None:
            print(f"[loadtest] server healthy after {time.monotonic() - t:.1f} s: profile {health.get('profile')} "
                  f"{health.get('precisions')}, {health.get('workers')} workers sharing {health.get('threads')} cores on {health.get('cpu')} [{health.get('isa')}]",
                  flush=True)
        if not args.no_warmup:
            warm_up(url, manifest)
        if pid:
            sampler = RSSSampler(pid, args.rss_interval)
            sampler.start()
        elif args.max_rss_slope is not None or args.max_peak_rss is not None:
            print("[loadtest] cannot find the server's pid: pass --server-pid", file=sys.stderr)
            return EXIT_BROKEN

        meta_path = Path(f"{prefix}_meta.json")
        stop_timeout = 60
        cmd = locust_command(url, args.users, args.spawn_rate, args.run_time, prefix, stop_timeout)
        print("[loadtest] " + " ".join(cmd[1:]), flush=True)
        load_before = os.getloadavg()
        with Path(f"{prefix}_locust.log").open("wb") as log:
            lproc = subprocess.run(
                cmd, check=False, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env=dict(os.environ, LOADTEST_MANIFEST=str(manifest), LOADTEST_META=str(meta_path)),
                timeout=args.run_time + stop_timeout + 120,
            )
        load_after = os.getloadavg()
        hwm = sampler.high_water_mb() if sampler is not None else None
        if sampler is not None:
            sampler.stop()
        json_path = Path(f"{prefix}.json")
        if not json_path.exists():
            print(f"[loadtest] locust exited with {lproc.returncode} and wrote no {json_path}; see {prefix}_locust.log",
                  file=sys.stderr)
            return EXIT_BROKEN
        if server is not None and server.poll() is not None:
            print(f"[loadtest] the server died during the run (status {server.returncode}); see {prefix}_server.log", file=sys.stderr)
        entries = json.loads(json_path.read_text())
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        summary = summarize(entries, start=meta.get("test_start"))
        rss = sampler.samples if sampler is not None else []
        slope = rss_slope_mb_per_min(rss)
        gate = evaluate(summary, thresholds, slope, hwm)
        cpu_used = sampler.cpu_used if sampler is not None else None
        done = summary.requests - summary.failures
        cpu_per_image = round(cpu_used / done, 3) if cpu_used and done else None
        print_report(summary, gate, rss, slope, args, hwm)
        if cpu_per_image:
            print(f"server CPU {cpu_used:.1f} s = {cpu_per_image:.3f} CPU-s per image; load average "
                  f"{load_before[0]:.1f} before, {load_after[0]:.1f} after, on {os.cpu_count()} CPUs", flush=True)
        report = {
            "name": args.name,
            "passed": gate.passed,
            "summary": asdict(summary),
            "thresholds": asdict(thresholds),
            "checks": [asdict(c) for c in gate.checks],
            "server_cpu": {"cpu_s": cpu_used, "cpu_s_per_image": cpu_per_image},
            "rss_mb": {"series": rss, "second_half_slope_mb_per_min": slope,
                       "peak": max((m for _, m in rss), default=None), "high_water_mark": hwm},
            "settings": {"users": args.users, "spawn_rate": args.spawn_rate, "run_time_s": args.run_time,
                         "profile": args.profile, "threads": args.threads, "url": url, "soak": args.soak,
                         "server_wrap": args.server_wrap, "env": {k: v for k, v in os.environ.items() if k.startswith(("OCR_", "MALLOC_", "GLIBC_"))},
                         "server": {k: health.get(k) for k in ("profile", "precisions", "workers", "threads", "cpu", "isa", "precision_reasons", "cache")},
                         "samples": samples_mod.summary(samples), "locust_command": cmd[1:]},
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "loadavg_before": load_before, "loadavg_after": load_after},
            "locust_exit_code": lproc.returncode,
        }
        Path(f"{prefix}_summary.json").write_text(json.dumps(report, indent=1))
        print(f"[loadtest] reports: {prefix}.html, {prefix}.json, {prefix}_stats.csv, {prefix}_summary.json", flush=True)
        return EXIT_PASS if gate.passed else EXIT_GATE_FAILED
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
        print(f"[loadtest] {e}", file=sys.stderr)
        return EXIT_BROKEN
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        if server is not None:
            stop_process_group(server)


if __name__ == "__main__":
    raise SystemExit(main())
