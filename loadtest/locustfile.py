"""Locust users that post images to ``POST /api/ocr`` (multipart field ``image``).

Run through ``python -m loadtest.run`` (which starts the server, builds the samples, applies the
gate); by hand:

    .venv/bin/python -m loadtest.samples          # writes .cache/loadtest-samples/manifest.json
    .venv/bin/python -m locust -f loadtest/locustfile.py --headless -u 2 -r 2 -t 60s \
        --host http://127.0.0.1:8080 --json-file reports/loadtest/manual

Users are closed-loop with no think time, so ``-u N`` is N requests in flight. All users share
one schedule that takes the categories in turn (document, receipt, sign, screenshot and, when the
shared evaluation sets exist, scene, zh-photo, scan) and each category's images in turn, so every
run posts the same mix whatever the number of users. A request fails unless the reply is HTTP 200
with JSON ``{"success": true, "text": [...]}`` computed for this request: every request sends
``Cache-Control: no-cache`` (the server's result cache is keyed by the image bytes, and the mix
repeats), and a reply marked ``"cached": true`` counts as a failure. Stats are named ``/api/ocr [<category>]``.

This file is only ever imported by locust, in its own process (gevent monkey-patches the
standard library there); ``loadtest.run`` never imports it.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
import uuid
from pathlib import Path

import locust.stats
from locust import FastHttpUser, constant, events, task

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # locust puts only this file's directory on sys.path
    sys.path.insert(0, str(ROOT))

from loadtest.samples import DEFAULT_OUT, build, load_manifest

ENDPOINT = os.environ.get("LOADTEST_ENDPOINT", "/api/ocr")


def _bucket_ms(response_time: float) -> int:
    """Keep response times to the millisecond up to 10 s. Locust's default buckets round
    100-999 ms to 10 ms and 1-10 s to 100 ms, too coarse for a gate at exactly 1 s."""
    return round(response_time) if response_time < 10_000 else int(round(response_time, -2))


locust.stats.bucket_response_time = _bucket_ms  # documented hook (customizing-response-time-bucketing)


@events.test_start.add_listener
def _record_start(environment, **_kw) -> None:
    """Stats entries are created at their first reply, so their ``start_time`` is late; write
    the real start (users spawn at once: ``-r`` = ``-u``) for loadtest.run's throughput."""
    _write_meta(test_start=time.time())


@events.test_stop.add_listener
def _record_stop(environment, **_kw) -> None:
    _write_meta(test_stop=time.time())


def _write_meta(**values: float) -> None:
    path = os.environ.get("LOADTEST_META")
    if not path:
        return
    p = Path(path)
    data = json.loads(p.read_text()) if p.exists() else {}
    data.update(values)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data))


def _multipart(path: Path, content_type: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{path.name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n").encode()
    body = head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _load_schedule() -> list[tuple[str, bytes, str]]:
    manifest = os.environ.get("LOADTEST_MANIFEST")
    samples = load_manifest(Path(manifest)) if manifest else build(DEFAULT_OUT)
    if not samples:
        raise RuntimeError("no load-test samples")
    by_cat: dict[str, list] = {}
    for s in samples:
        by_cat.setdefault(s.category, []).append(s)
    # round-robin over categories, then over each category's images: one full cycle visits
    # every image of the largest category once
    longest = max(len(v) for v in by_cat.values())
    schedule = []
    for i in range(longest):
        for cat, items in by_cat.items():
            s = items[i % len(items)]
            body, ctype = _multipart(Path(s.path), s.content_type)
            schedule.append((cat, body, ctype))
    return schedule


SCHEDULE = _load_schedule()
_NEXT = itertools.count()


class OCRUser(FastHttpUser):
    wait_time = constant(0)
    connection_timeout = 30.0
    network_timeout = 120.0

    @task
    def ocr(self) -> None:
        category, body, ctype = SCHEDULE[next(_NEXT) % len(SCHEDULE)]
        with self.client.post(ENDPOINT, data=body, headers={"Content-Type": ctype, "Cache-Control": "no-cache"},
                              name=f"{ENDPOINT} [{category}]", catch_response=True) as resp:
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
                return
            if payload.get("cached"):
                resp.failure("served from the result cache: the load test would measure nothing")
                return
            resp.success()
