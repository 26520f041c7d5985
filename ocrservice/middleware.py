"""The outer ASGI layer every request passes: request id, body cap, metrics, one log line, last-resort 500.

Pure ASGI (no BaseHTTPMiddleware) so the body cap works on the stream: a request that declares
too large a ``Content-Length`` is refused on the app's first read of the body (so the token check
and the rate limit, which never read it, answer first), one that streams past the cap is stopped
as it goes. Either way the rest of the body is drained (up to a bound) before the
413 is sent, so ordinary clients read the error instead of a connection reset.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import BodyTooLarge, error_bytes
from .metrics import Metrics

access_log = logging.getLogger("ocr.access")
error_log = logging.getLogger("ocr.error")

_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
ROUTES = ("/api/ocr", "/api/uploads", "/healthz", "/metrics", "/docs", "/openapi.json", "/redoc")
DRAIN_LIMIT = 64 * 1024 * 1024  # read and discard at most this much of an oversized body
DRAIN_SECONDS = 10.0


def route_label(path: str) -> str:
    if path in ROUTES:
        return path
    if path == "/" or path.endswith((".html", ".js", ".css", ".svg", ".png", ".ico", ".json", ".txt")):
        return "static"
    return "other"


async def _drain(receive: Receive, already: int) -> None:
    """Read and discard the rest of an oversized body (so the client reads the 413), at most
    ``DRAIN_LIMIT`` bytes and ``DRAIN_SECONDS``: a client that declares a large body and never
    sends it does not hold the connection."""
    try:
        await asyncio.wait_for(_discard(receive, already), DRAIN_SECONDS)
    except TimeoutError:
        pass


async def _discard(receive: Receive, already: int) -> None:
    seen = already
    while seen <= DRAIN_LIMIT:
        msg = await receive()
        if msg["type"] != "http.request":
            return
        seen += len(msg.get("body", b""))
        if not msg.get("more_body", False):
            return


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body: int) -> None:
        self.app, self.metrics, self.max_body = app, metrics, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = headers.get("x-request-id", "")
        if not _ID_RE.match(rid):
            rid = uuid.uuid4().hex[:16]
        state = scope.setdefault("state", {})
        state["request_id"], state["t0"], state["log"] = rid, t0, {}
        path, method = scope.get("path", ""), scope.get("method", "")
        route = route_label(path)
        status = [0]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", rid)
            await send(message)

        async def send_error(code: int, err: str, msg: str) -> None:
            body = error_bytes(err, msg, rid)
            await send_wrapper({
                "type": "http.response.start",
                "status": code,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            })
            await send_wrapper({"type": "http.response.body", "body": body})

        self.metrics.in_flight.inc()
        try:
            declared = headers.get("content-length", "")
            declared_too_large = declared.isdigit() and int(declared) > self.max_body
            received = [0]

            async def limited_receive() -> Message:
                # A declared oversized body is refused when the app first reads the body, not here:
                # the rate limit and the token check (which never read it) answer before any drain.
                if declared_too_large:
                    await _drain(receive, 0)
                    raise BodyTooLarge(self.max_body)
                message = await receive()
                if message["type"] == "http.request":
                    received[0] += len(message.get("body", b""))
                    if received[0] > self.max_body:
                        if message.get("more_body", False):
                            await _drain(receive, received[0])
                        raise BodyTooLarge(self.max_body)
                return message

            await self.app(scope, limited_receive, send_wrapper)
        except Exception as exc:
            error_log.exception("unhandled error in request %s %s %s", rid, method, path)
            state["log"]["error"] = "internal_error"
            self.metrics.errors.labels(code="internal_error").inc()
            if not status[0]:
                await send_error(500, "internal_error", f"internal server error ({type(exc).__name__}); request id {rid}")
        finally:
            self.metrics.in_flight.dec()
            elapsed = time.perf_counter() - t0
            code = str(status[0] or 500)
            self.metrics.requests.labels(method=method, route=route, status=str(code)).inc()
            self.metrics.latency.labels(route=route).observe(elapsed)
            important = route.startswith("/api/") or code == "500"
            if important or access_log.isEnabledFor(logging.DEBUG):
                fields = {"event": "request", "id": rid, "method": method, "path": path, "status": int(code),
                          "time": round(elapsed, 4)}
                fields.update(state.get("log", {}))
                level = logging.INFO if important else logging.DEBUG
                access_log.log(level, json.dumps(fields, ensure_ascii=False, separators=(",", ":")))
