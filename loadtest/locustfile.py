"""Locust users that post images to ``POST /api/ocr`` (multipart field ``image``), and the gate.

Run by ``python -m loadtest.run``; by hand: ``.venv/bin/python -m locust -f loadtest/locustfile.py
--headless -u 2 -r 2 -t 60s --host http://127.0.0.1:8080 [--requests 500] [--gate-file g.json]``.

Closed-loop users, no think time (``-u N``: N requests in flight), one shared schedule over the
categories and their images in turn, so every run posts the same mix. A request fails unless the
reply is HTTP 200 with ``{"success": true, "text": [...]}`` computed for it: each sends
``Cache-Control: no-cache`` and a reply marked ``"cached": true`` fails. Stats are named
``/api/ocr [<category>]``. ``--requests N`` posts exactly N and quits (``-t`` is then a cap). At
quit the gate is decided from ``environment.stats`` (:mod:`loadtest.gate`), written to
``--gate-file`` and made the exit code (0 passed, 1 failed). Only locust imports this file.
"""

from __future__ import annotations

import itertools
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

import gevent
import locust.stats
from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # locust puts only this file's directory on sys.path
    sys.path.insert(0, str(ROOT))

from loadtest import gate
from loadtest.samples import DEFAULT_OUT, build, load_manifest

ENDPOINT = "/api/ocr"
SCHEDULE: list[tuple[str, str, bytes, str]] = []  # (category, file name, bytes, content type)
_ISSUED, _ANSWERED = itertools.count(), itertools.count(1)


def _bucket_ms(response_time: float) -> int:
    """Keep response times to the millisecond up to 10 s. Locust's default buckets round
    100-999 ms to 10 ms and 1-10 s to 100 ms, too coarse for a gate at exactly 1 s."""
    return round(response_time) if response_time < 10_000 else int(round(response_time, -2))


locust.stats.bucket_response_time = _bucket_ms  # documented hook (customizing-response-time-bucketing)


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument("--manifest", default="", help="samples manifest (default: build the mix in .cache)")
    parser.add_argument("--requests", type=int, default=0, help="stop after this many requests (0: -t decides)")
    parser.add_argument("--max-median", type=float, default=1.0, help="gate: seconds, median below this")
    parser.add_argument("--max-p95", type=float, default=1.0, help="gate: seconds, p95 below this")
    parser.add_argument("--min-images-per-min", type=float, default=60.0, help="gate: successful replies per minute")
    parser.add_argument("--max-failures", type=int, default=0, help="gate: failed requests + task errors allowed")
    parser.add_argument("--gate-file", default="", help="write the gate's figures and checks here (JSON)")


@events.init.add_listener
def _load_schedule(environment, **_kw) -> None:
    """Round-robin over categories, then over each category's images: one full cycle visits
    every image of the largest category once."""
    manifest = environment.parsed_options.manifest if environment.parsed_options else ""
    by_cat: dict[str, list] = {}
    for s in load_manifest(Path(manifest)) if manifest else build(DEFAULT_OUT):
        by_cat.setdefault(s.category, []).append(s)
    if not by_cat:
        raise RuntimeError("no load-test samples")
    for i in range(max(len(v) for v in by_cat.values())):
        for cat, items in by_cat.items():
            s = items[i % len(items)]
            SCHEDULE.append((cat, Path(s.path).name, Path(s.path).read_bytes(), s.content_type))


@events.quitting.add_listener
def _gate(environment, **_kw) -> None:
    """Decide the gate from locust's own statistics and make it the exit code."""
    opts = environment.parsed_options
    errors = sum(e["count"] for e in environment.runner.exceptions.values()) if environment.runner else 0
    summary = gate.summarize(environment.stats, errors)
    thresholds = gate.Thresholds(opts.max_median, opts.max_p95, opts.min_images_per_min, opts.max_failures)
    checks = gate.traffic_checks(summary, thresholds)
    passed = all(c.ok for c in checks)
    environment.process_exit_code = 0 if passed else 1
    for c in checks:
        logging.getLogger(__name__).info("gate: [%s] %s", "ok" if c.ok else "FAIL", c.text)
    if opts.gate_file:
        Path(opts.gate_file).write_text(json.dumps({"passed": passed, "summary": asdict(summary),
                                                    "thresholds": asdict(thresholds),
                                                    "checks": [asdict(c) for c in checks]}, indent=1))


class OCRUser(FastHttpUser):
    wait_time = constant(0)
    connection_timeout = 30.0
    network_timeout = 120.0

    @task
    def ocr(self) -> None:
        limit = self.environment.parsed_options.requests
        i = next(_ISSUED)
        if limit and i >= limit:
            raise StopUser()  # all N handed out; the one that answers the last quits the run
        try:
            self._post(*SCHEDULE[i % len(SCHEDULE)])
        finally:
            if limit and next(_ANSWERED) == limit:
                gevent.spawn(self.environment.runner.quit)  # not from this user's own greenlet

    def _post(self, category: str, filename: str, body: bytes, content_type: str) -> None:
        with self.client.post(ENDPOINT, files={"image": (filename, body, content_type)},
                              headers={"Cache-Control": "no-cache"}, name=f"{ENDPOINT} [{category}]",
                              catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")
                return
            try:
                payload = json.loads(resp.content)
            except ValueError:
                resp.failure("reply is not JSON")
                return
            if not isinstance(payload, dict) or payload.get("success") is not True or not isinstance(payload.get("text"), list):
                resp.failure(f"unexpected reply: {str(payload)[:200]}")
            elif payload.get("cached"):
                resp.failure("served from the result cache: the load test would measure nothing")
            else:
                resp.success()
