"""The service's Prometheus metrics (prometheus-client), one registry per app.

Label sets are bounded by the app (route templates, status codes, stage names, error codes).
The registry also carries prometheus-client's process collector (CPU seconds, resident and
virtual memory, open file descriptors, start time) and platform collector (Python version).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE  # noqa: F401 - re-exported for the route
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

disable_created_metrics()  # no `*_created` series: timestamps of the counters' creation, noise here

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
SIZE_BUCKETS = (1e4, 3e4, 1e5, 3e5, 1e6, 3e6, 1e7, 3e7)


class Metrics:
    """The service's metrics. One instance per app (own registry, so several apps in one
    process, as in the tests, do not collide). ``queue_depth`` feeds ``ocr_jobs_in_flight``."""

    def __init__(self, queue_depth: Callable[[], float] | None = None) -> None:
        r = self.registry = CollectorRegistry()
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.requests = Counter("ocr_http_requests", "HTTP requests by method, route and status.",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("ocr_http_request_duration_seconds", "HTTP request latency by route.", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("ocr_http_requests_in_flight", "HTTP requests being served now.", registry=r)
        self.jobs = Gauge("ocr_jobs_in_flight", "OCR jobs admitted (running or waiting for a worker).", registry=r)
        if queue_depth is not None:
            self.jobs.set_function(queue_depth)
        self.stage = Histogram("ocr_stage_duration_seconds", "Engine time per stage for computed results.", ["stage"],
                               buckets=LATENCY_BUCKETS, registry=r)
        self.image_bytes = Histogram("ocr_image_bytes", "Size of images received.", buckets=SIZE_BUCKETS, registry=r)
        self.lines = Counter("ocr_lines", "Text lines returned.", registry=r)
        self.cache = Counter("ocr_cache_requests", "Result cache lookups by outcome (hit/miss).", ["outcome"], registry=r)
        self.rejected = Counter("ocr_rejected", "Requests refused because the queue was full.", registry=r)
        self.errors = Counter("ocr_errors", "Error responses by error code.", ["code"], registry=r)

    def render(self) -> bytes:
        """Exposition format of everything in the registry."""
        return generate_latest(self.registry)
