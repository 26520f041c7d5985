"""Prometheus text-format metrics without a dependency: counters, gauges and histograms.

Small on purpose: label sets are bounded by the app (route templates, status codes, stage
names), every update takes one lock, and :meth:`Metrics.render` writes exposition format 0.0.4.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
SIZE_BUCKETS = (1e4, 3e4, 1e5, 3e5, 1e6, 3e6, 1e7, 3e7)

LabelKey = tuple[tuple[str, str], ...]


def _fmt_labels(key: LabelKey, extra: tuple[tuple[str, str], ...] = ()) -> str:
    items = key + extra
    if not items:
        return ""
    esc = (str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"') for _, v in items)
    return "{" + ",".join(f'{k}="{v}"' for (k, _), v in zip(items, esc)) + "}"


def _fmt_num(v: float) -> str:
    if v == float("inf"):
        return "+Inf"
    if float(v).is_integer():
        return str(int(v))
    return repr(float(v))


class _Metric:
    kind = ""

    def __init__(self, name: str, help_: str, lock: threading.Lock) -> None:
        self.name, self.help, self._lock = name, help_, lock

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_: str, lock: threading.Lock) -> None:
        super().__init__(name, help_, lock)
        self._values: dict[LabelKey, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> list[str]:
        lines = self.header()
        if not self._values:
            lines.append(f"{self.name} 0")
        for key, v in sorted(self._values.items()):
            lines.append(f"{self.name}{_fmt_labels(key)} {_fmt_num(v)}")
        return lines


class Gauge(_Metric):
    kind = "gauge"

    def __init__(self, name: str, help_: str, lock: threading.Lock, fn: Callable[[], float] | None = None) -> None:
        super().__init__(name, help_, lock)
        self._value = 0.0
        self._fn = fn

    def inc(self, amount: float = 1.0) -> None:
        with self._lock:
            self._value += amount

    def dec(self, amount: float = 1.0) -> None:
        with self._lock:
            self._value -= amount

    def set(self, value: float) -> None:
        with self._lock:
            self._value = value

    @property
    def value(self) -> float:
        return float(self._fn()) if self._fn else self._value

    def render(self) -> list[str]:
        return self.header() + [f"{self.name} {_fmt_num(self.value)}"]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name: str, help_: str, lock: threading.Lock, buckets: tuple[float, ...]) -> None:
        super().__init__(name, help_, lock)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[LabelKey, tuple[list[int], list[float]]] = {}  # counts per bucket(+Inf), [sum]

    def observe(self, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        i = bisect.bisect_left(self.buckets, value)
        with self._lock:
            counts, total = self._series.setdefault(key, ([0] * (len(self.buckets) + 1), [0.0]))
            counts[i] += 1
            total[0] += value

    def count(self, **labels: str) -> int:
        s = self._series.get(tuple(sorted(labels.items())))
        return sum(s[0]) if s else 0

    def render(self) -> list[str]:
        lines = self.header()
        for key, (counts, total) in sorted(self._series.items()):
            running = 0
            for le, c in zip(self.buckets + (float("inf"),), counts):
                running += c
                lines.append(f"{self.name}_bucket{_fmt_labels(key, (('le', _fmt_num(le)),))} {running}")
            lines.append(f"{self.name}_sum{_fmt_labels(key)} {_fmt_num(total[0])}")
            lines.append(f"{self.name}_count{_fmt_labels(key)} {running}")
        return lines


class Metrics:
    """The service's metrics. One instance per app."""

    def __init__(self, queue_depth: Callable[[], float] | None = None) -> None:
        lock = threading.Lock()
        self._all: list[_Metric] = []

        def add(m):
            self._all.append(m)
            return m

        self.requests = add(Counter("ocr_http_requests_total", "HTTP requests by method, route and status.", lock))
        self.latency = add(
            Histogram("ocr_http_request_duration_seconds", "HTTP request latency by route.", lock, LATENCY_BUCKETS)
        )
        self.in_flight = add(Gauge("ocr_http_requests_in_flight", "HTTP requests being served now.", lock))
        self.jobs = add(
            Gauge("ocr_jobs_in_flight", "OCR jobs admitted (running or waiting for a worker).", lock, queue_depth)
        )
        self.stage = add(
            Histogram("ocr_stage_duration_seconds", "Engine time per stage for computed results.", lock, LATENCY_BUCKETS)
        )
        self.image_bytes = add(Histogram("ocr_image_bytes", "Size of images received.", lock, SIZE_BUCKETS))
        self.lines = add(Counter("ocr_lines_total", "Text lines returned.", lock))
        self.cache = add(Counter("ocr_cache_requests_total", "Result cache lookups by outcome (hit/miss).", lock))
        self.rejected = add(Counter("ocr_rejected_total", "Requests refused because the queue was full.", lock))
        self.errors = add(Counter("ocr_errors_total", "Error responses by error code.", lock))

    def render(self) -> str:
        out: list[str] = []
        for m in self._all:
            out.extend(m.render())
        return "\n".join(out) + "\n"
