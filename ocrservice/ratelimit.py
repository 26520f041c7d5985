"""Requests per client on ``/api/*``: the ``limits`` library's moving window, in memory.

``OCR_RATE_LIMIT`` takes the library's notation, several limits separated by ``;``, e.g.
``30/minute;300/hour`` (https://limits.readthedocs.io/en/stable/quickstart.html#rate-limit-string-notation).
Empty turns it off (the default; the edge box's ocr.env turns it on). The client is the peer
address uvicorn reports: behind a reverse proxy set uvicorn's ``FORWARDED_ALLOW_IPS`` to the
proxy's address so that is the ``X-Forwarded-For`` client, or every client shares one budget.

A request over any of the limits is answered 429 with the JSON error shape and ``Retry-After``
(seconds until the window frees a slot), before the body is read and before the token check,
so guessing tokens is limited too. One window per process: with several server processes each
counts alone. On Lambda this is off; the HTTP API's stage throttling and the function's
reserved concurrency are the limits there (template.yaml).
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many, storage, strategies
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import send_error
from .metrics import Metrics

LIMITED_PREFIXES = ("/api/",)
NAMESPACE = "ocr-api"


def parse_limits(text: str) -> list[RateLimitItem]:
    """``"30/minute;300/hour"`` -> the library's items; ``ValueError`` names a malformed one."""
    return parse_many(text) if text.strip() else []


class RateLimiter:
    """Moving-window counters per client key (``limits.strategies.MovingWindowRateLimiter``)."""

    def __init__(self, items: list[RateLimitItem]) -> None:
        self.items = items
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())

    def hit(self, key: str) -> float | None:
        """Count one request for ``key``; ``None`` if allowed, else seconds until it would be.

        Nothing is counted for a refused request, so a client that keeps hammering does not
        push its own window further out."""
        for item in self.items:
            if not self._limiter.test(item, NAMESPACE, key):
                reset = self._limiter.get_window_stats(item, NAMESPACE, key).reset_time
                return max(0.0, reset - time.time())
        for item in self.items:
            self._limiter.hit(item, NAMESPACE, key)
        return None


class RateLimitMiddleware:
    """Pure ASGI: 429 + ``Retry-After`` when the client is over ``limiter``'s limits."""

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, metrics: Metrics | None = None) -> None:
        self.app, self.limiter, self.metrics = app, limiter, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") == "OPTIONS" or not scope.get("path", "").startswith(LIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        client = scope.get("client") or ("unknown", 0)
        wait = self.limiter.hit(str(client[0]))
        if wait is not None:
            retry = max(1, math.ceil(wait))
            await send_error(scope, send, 429, "rate_limited",
                             f"too many requests from this client; retry in {retry} s",
                             headers={"Retry-After": str(retry)}, metrics=self.metrics)
            return
        await self.app(scope, receive, send)
