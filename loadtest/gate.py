"""The load-test gate: figures from locust's own statistics, the checks, the RSS trend.

No locust import here: the locustfile calls :func:`summarize` and :func:`traffic_checks` on
``environment.stats`` when locust quits (and sets its exit code); ``loadtest.run`` adds
:func:`memory_checks` from its RSS samples; the tests import this module freely.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    """The gate. Latencies are strict upper bounds (a median of exactly 1 s fails)."""

    max_median_s: float = 1.0
    max_p95_s: float = 1.0
    min_images_per_min: float = 60.0
    max_failures: int = 0  # failed requests plus exceptions in the locust task
    max_rss_slope_mb_per_min: float | None = None  # None: not gated (the soak sets 20)
    max_peak_rss_mb: float | None = None  # the server's VmHWM in MiB; None: not gated
    # The fitted trend's rise over the fitted span (MB); None: not gated (the soak sets 50). Unlike
    # the slope it does not loosen as a run gets longer: 20 MB/min would let the last 40 minutes of
    # a 10,000-request soak grow by 800 MB.
    max_rss_growth_mb: float | None = None


@dataclass(frozen=True)
class Summary:
    """Latencies in ms (locust's percentiles, 1 ms buckets up to 10 s), duration in s from the
    first user's start to the last reply, rates per minute over that span."""

    requests: int
    failures: int
    median_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    duration_s: float
    images_per_min: float  # successful replies
    requests_per_min: float = 0.0
    errors: int = 0  # exceptions raised by the locust task itself (not requests)
    per_category: dict[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    name: str
    value: float | None
    limit: float
    ok: bool
    text: str


def summarize(stats: Any, errors: int = 0) -> Summary:
    """Summarize locust's ``RequestStats`` (``environment.stats``). Entries named
    ``/api/ocr [<category>]`` become the per-category rows. Throughput is locust's own
    ``total_rps`` window: from ``stats.total.start_time`` (set when the users start) to the last
    reply's timestamp."""
    t = stats.total
    per_category = {
        (e.name[e.name.index("[") + 1:e.name.rindex("]")] if "[" in e.name else e.name): {
            "requests": e.num_requests, "failures": e.num_failures,
            "median_ms": e.get_response_time_percentile(0.5), "p95_ms": e.get_response_time_percentile(0.95),
            "mean_ms": round(e.avg_response_time, 1)}
        for e in stats.entries.values() if e.num_requests
    }
    return Summary(
        requests=t.num_requests, failures=t.num_failures,
        median_ms=t.get_response_time_percentile(0.5), p95_ms=t.get_response_time_percentile(0.95),
        p99_ms=t.get_response_time_percentile(0.99), max_ms=round(t.max_response_time, 1), mean_ms=round(t.avg_response_time, 1),
        duration_s=round(t.last_request_timestamp - t.start_time, 3) if t.last_request_timestamp else 0.0,
        images_per_min=round((t.total_rps - t.total_fail_per_sec) * 60, 2), requests_per_min=round(t.total_rps * 60, 2),
        errors=errors, per_category=dict(sorted(per_category.items())),
    )


def traffic_checks(s: Summary, th: Thresholds) -> list[Check]:
    """Median, p95, images/min and failures. No requests at all fails every check."""
    some = s.requests > 0
    bad = s.failures + s.errors
    return [
        Check("median", s.median_ms / 1000, th.max_median_s, some and s.median_ms / 1000 < th.max_median_s,
              f"median {s.median_ms / 1000:.3f} s < {th.max_median_s:g} s"),
        Check("p95", s.p95_ms / 1000, th.max_p95_s, some and s.p95_ms / 1000 < th.max_p95_s,
              f"p95 {s.p95_ms / 1000:.3f} s < {th.max_p95_s:g} s"),
        Check("throughput", s.images_per_min, th.min_images_per_min, some and s.images_per_min >= th.min_images_per_min,
              f"throughput {s.images_per_min:.1f} images/min >= {th.min_images_per_min:g}"),
        Check("failures", bad, th.max_failures, some and bad <= th.max_failures,
              f"failures {s.failures} (+{s.errors} task errors) of {s.requests} <= {th.max_failures}"),
    ]


def memory_checks(th: Thresholds, rss_slope: float | None, peak_rss_mb: float | None,
                  rss_growth_mb: float | None = None) -> list[Check]:
    """The checks whose thresholds are set; a value that was not measured fails."""
    checks = []
    if th.max_peak_rss_mb is not None:
        shown = "n/a" if peak_rss_mb is None else f"{peak_rss_mb:.0f} MiB"
        checks.append(Check("peak_rss", peak_rss_mb, th.max_peak_rss_mb,
                            peak_rss_mb is not None and peak_rss_mb <= th.max_peak_rss_mb,
                            f"server peak RSS (VmHWM) {shown} <= {th.max_peak_rss_mb:g} MiB"))
    if th.max_rss_slope_mb_per_min is not None:
        shown = "n/a (too few samples)" if rss_slope is None else f"{rss_slope:+.1f} MB/min"
        checks.append(Check("rss_slope", rss_slope, th.max_rss_slope_mb_per_min,
                            rss_slope is not None and rss_slope <= th.max_rss_slope_mb_per_min,
                            f"RSS trend after warm-up {shown} <= {th.max_rss_slope_mb_per_min:g} MB/min"))
    if th.max_rss_growth_mb is not None:
        shown = "n/a (too few samples)" if rss_growth_mb is None else f"{rss_growth_mb:+.0f} MB"
        checks.append(Check("rss_growth", rss_growth_mb, th.max_rss_growth_mb,
                            rss_growth_mb is not None and rss_growth_mb <= th.max_rss_growth_mb,
                            f"RSS growth after warm-up (trend x span) {shown} <= {th.max_rss_growth_mb:g} MB"))
    return checks


def rss_slope_mb_per_min(samples: list[tuple[float, float]], fit_from: float = 0.5) -> float | None:
    """Least-squares slope (MB/min) of ``[(seconds, rss_mb), ...]`` over the samples from
    ``fit_from`` of the run's time span on (the part after warm-up); None with fewer than 4."""
    tail = _after_warm_up(samples, fit_from)
    if len(tail) < 4:
        return None
    try:
        return statistics.linear_regression([t for t, _ in tail], [m for _, m in tail]).slope * 60.0
    except statistics.StatisticsError:  # all at the same time
        return None


def rss_growth_mb(samples: list[tuple[float, float]], fit_from: float = 0.5) -> float | None:
    """How much the fitted trend rises (MB) over the samples it is fitted on (slope x their time
    span): the whole run's drift after warm-up, whatever its length; None as for the slope."""
    slope = rss_slope_mb_per_min(samples, fit_from)
    if slope is None:
        return None
    tail = _after_warm_up(samples, fit_from)
    return slope * (tail[-1][0] - tail[0][0]) / 60.0


def _after_warm_up(samples: list[tuple[float, float]], fit_from: float) -> list[tuple[float, float]]:
    if not samples:
        return []
    cut = samples[0][0] + (samples[-1][0] - samples[0][0]) * fit_from
    return [(t, m) for t, m in samples if t >= cut]
