"""The HTTP contract, fuzzed from the service's OpenAPI document with schemathesis against the real server.

The document is the one ``GET {server}/openapi.json`` serves (checked equal to the app's own, which
schemathesis' pytest integration needs at collection time); every request goes to the real server
(the session ``server`` fixture: uvicorn on 127.0.0.1 with the real models). Each response must pass:

- ``not_a_server_error`` (schemathesis): no 5xx. The one 5xx the API documents, ``501
  uploads_not_configured`` when ``OCR_UPLOAD_BUCKET`` is unset, passes where the operation declares 501;
- ``status_code_conformance``: the status is one the operation declares;
- ``content_type_conformance``: the Content-Type is the one declared for that status;
- ``response_schema_conformance``: the body validates against the declared schema (OCRResponse,
  ErrorResponse, HealthResponse, UploadResponse);
- ``unsupported_method`` (generated requests only): an undeclared method gets 405 with ``Allow``;
- ``error_shape`` (this file): every 4xx/5xx is JSON ``{"success": false, "error": {"code",
  "message"}, "request_id"}`` with a non-empty ``request_id`` equal to the ``X-Request-ID`` header.

Operations: ``POST /api/ocr`` (multipart ``image``, JSON ``image_base64`` / ``s3_key``, ``image/*``
raw bodies, ``detect`` / ``cls`` query), ``POST /api/uploads`` (501 here: uploads off), ``GET
/healthz``, ``GET /metrics``. Schemathesis' ``image/*`` and ``format: binary`` values are small (1x1
PNG/JPEG/WebP/GIF files or a few random bytes), so the OCR engine is never the bottleneck.

The five bugs this fuzzing found (500 on deeply nested JSON and on over-long JSON integers,
undeclared 404/501/502 on ``POST /api/ocr`` and 400/413 on ``POST /api/uploads``, 400 instead of 413
for a chunked oversized uploads body) are fixed; each has a regression test at the end.

Examples: fixed seed (``OCR_FUZZ_SEED``, default below; another value explores other requests), no
example database; counts in each test's docstring. About 350 requests; the file takes ~15-30 s.

pytest 9.2 vs schemathesis 4.32: ``schemathesis.pytest.from_fixture`` (the lazy loader, which would
load the schema from the server fixture) fails (it sets ``Function._nodeid``, gone from pytest), hence
the schema from the app at import time plus the equality check; and pytest drops the ``[METHOD path]``
suffix from the node ids of ``schema.parametrize()`` items, hence one test function per operation.
"""

from __future__ import annotations

import base64
import io
import os

import cv2
import httpx
import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from ocrservice.app import create_app

FUZZ_SEED = int(os.environ.get("OCR_FUZZ_SEED", "20261130"))
REQUEST_TIMEOUT_S = 60
FUZZED = {("POST", "/api/ocr"), ("POST", "/api/uploads"), ("GET", "/healthz"), ("GET", "/metrics")}
FUZZ_EXAMPLES = 100
FUZZ = settings(deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])


@schemathesis.serializer("application/pdf")
def _pdf_body(ctx, value):
    """A raw ``application/pdf`` body (the schema's ``format: binary``): bytes as they are, text as UTF-8."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return str(value).encode("utf-8")


# --------------------------------------------------------------------------- checks


def _header(response, name: str) -> str | None:
    for key, values in response.headers.items():
        if key.lower() == name.lower():
            return values[0] if isinstance(values, list) else values
    return None


def _error_code(response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    err = body.get("error") if isinstance(body, dict) else None
    return err.get("code") if isinstance(err, dict) else None


def _declared(case, status: int) -> bool:
    responses = case.operation.definition.raw.get("responses", {})
    return str(status) in responses


def server_error(ctx, response, case) -> bool | None:
    """schemathesis' ``not_a_server_error``, except the documented 501 ``uploads_not_configured``
    where the operation declares 501."""
    if response.status_code == 501 and _error_code(response) == "uploads_not_configured" and _declared(case, 501):
        return None
    return not_a_server_error(ctx, response, case)


def error_shape(ctx, response, case) -> bool | None:
    """Every error answer is the one JSON error shape, with the request id of the X-Request-ID header."""
    if response.status_code < 400:
        return None
    ctype = _header(response, "content-type") or ""
    assert ctype.startswith("application/json"), f"error answer {response.status_code} is {ctype!r}, not JSON"
    body = response.json()
    assert isinstance(body, dict) and body.get("success") is False, body
    err = body.get("error")
    assert isinstance(err, dict) and isinstance(err.get("code"), str) and err["code"], body
    assert isinstance(err.get("message"), str) and err["message"], body
    assert isinstance(body.get("request_id"), str) and body["request_id"], body
    assert _header(response, "x-request-id") == body["request_id"], (dict(response.headers), body)
    return None


CHECKS = [server_error, status_code_conformance, content_type_conformance, response_schema_conformance, error_shape]
FUZZ_CHECKS = [*CHECKS, unsupported_method]  # 405 with an Allow header for undeclared methods (coverage phase)


def validate(case, response, checks: list = CHECKS) -> None:
    case.validate_response(response, checks=checks)


# --------------------------------------------------------------------------- the schema

# The document is built from the app in-process at collection (schemathesis' pytest integration needs
# the operations then; its lazy ``from_fixture`` loader is broken under pytest 9.2), and
# test_served_openapi_is_the_fuzzed_one checks it is the very document GET {server}/openapi.json serves.
OPENAPI = create_app().openapi()
CONFIG = schemathesis.Config.from_dict({
    "seed": FUZZ_SEED,
    "generation": {"mode": "all", "database": "none"},
    "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True},
               "stateful": {"enabled": False}},
})
schema = schemathesis.openapi.from_dict(OPENAPI, config=CONFIG)


@pytest.fixture(scope="module")
def api_schema(server: str):
    """The schema as the server serves it, for hand-made cases."""
    return schemathesis.openapi.from_url(f"{server}/openapi.json", config=CONFIG, timeout=30)


def _text_png(text: str = "Hello 2026", w: int = 240, h: int = 48) -> bytes:
    img = np.full((h, w, 3), 255, np.uint8)
    cv2.putText(img, text, (8, 34), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2, cv2.LINE_AA)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def _jpeg(data_png: bytes) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(data_png)).convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _pdf(data_png: bytes, pages: int = 2) -> bytes:
    page = Image.open(io.BytesIO(data_png)).convert("RGB")
    buf = io.BytesIO()
    page.save(buf, "PDF", save_all=True, append_images=[page] * (pages - 1), resolution=96)
    return buf.getvalue()


# --------------------------------------------------------------------------- tests


def test_served_openapi_is_the_fuzzed_one(server: str) -> None:
    """1 request: GET {server}/openapi.json is the document fuzzed here, and it has exactly the
    operations FUZZED, one test_fuzz_* test each (a new operation must get its own)."""
    served = httpx.get(f"{server}/openapi.json", timeout=30).json()
    assert served == OPENAPI
    ops = {(method.upper(), path) for path, item in served["paths"].items() for method in item}
    assert ops == FUZZED


STATUSES: dict[str, dict[int, int]] = {}


def fuzz_one(case, server: str) -> None:
    response = case.call(base_url=server, timeout=REQUEST_TIMEOUT_S)
    tally = STATUSES.setdefault(f"{case.operation.method.upper()} {case.operation.path}", {})
    tally[response.status_code] = tally.get(response.status_code, 0) + 1
    validate(case, response, FUZZ_CHECKS)


# One test function per operation, so each has its own pytest node id (pytest 9.2 drops the
# "[POST /api/ocr]" suffix schemathesis gives the items of a single parametrized function). Each runs
# schemathesis' phases against the real server: examples (the schema's own), coverage (boundary and
# invalid values of every parameter and body field, missing body and Content-Type, undeclared methods
# GET/PUT/PATCH/DELETE/OPTIONS/TRACE/QUERY: a fixed few dozen cases per operation), then fuzzing
# (positive and negative generated requests, at most FUZZ_EXAMPLES = 100 per operation; operations
# without inputs stop after 1). Every response passes FUZZ_CHECKS, except the exact symptom of a known bug.


@schema.include(method="POST", path="/api/ocr").parametrize()
@settings(FUZZ, max_examples=FUZZ_EXAMPLES)
def test_fuzz_post_api_ocr(case, server: str) -> None:
    """POST /api/ocr: ~60 coverage cases + 100 generated (multipart / JSON / image/* bodies, detect and
    cls values, wrong and missing Content-Type, undeclared methods); about 155 requests."""
    fuzz_one(case, server)


@schema.include(method="POST", path="/api/uploads").parametrize()
@settings(FUZZ, max_examples=FUZZ_EXAMPLES)
def test_fuzz_post_api_uploads(case, server: str) -> None:
    """POST /api/uploads (uploads off here, so 501 for a valid body): ~45 coverage cases + 100
    generated; about 130 requests."""
    fuzz_one(case, server)


@schema.include(method="GET", path="/healthz").parametrize()
@settings(FUZZ, max_examples=FUZZ_EXAMPLES)
def test_fuzz_get_healthz(case, server: str) -> None:
    """GET /healthz: no inputs, so ~10 requests (the plain GET and the undeclared methods)."""
    fuzz_one(case, server)


@schema.include(method="GET", path="/metrics").parametrize()
@settings(FUZZ, max_examples=FUZZ_EXAMPLES)
def test_fuzz_get_metrics(case, server: str) -> None:
    """GET /metrics: no inputs, so ~10 requests (the plain GET and the undeclared methods)."""
    fuzz_one(case, server)


def test_fuzz_reached_the_engine() -> None:
    """No request: after the test_fuzz_* tests, POST /api/ocr got some 200s (generated images were OCRed, so
    OCRResponse was validated) and every operation was exercised."""
    if not STATUSES:
        pytest.skip("run together with the test_fuzz_* tests")
    print(STATUSES)
    assert {op for op in STATUSES} == {f"{m} {p}" for m, p in FUZZED}, STATUSES
    assert STATUSES["POST /api/ocr"].get(200, 0) > 0, STATUSES


CASES = {  # name -> (query, media type, body, expected status)
    "multipart_png": ({}, "multipart/form-data", lambda: {"image": _text_png()}, 200),
    "multipart_png_no_detect": ({"detect": "false"}, "multipart/form-data", lambda: {"image": _text_png()}, 200),
    "json_base64_jpeg_cls": ({"cls": "true"}, "application/json",
                             lambda: {"image_base64": base64.b64encode(_jpeg(_text_png())).decode()}, 200),
    "json_data_url": ({}, "application/json",
                      lambda: {"image_base64": "data:image/png;base64," + base64.b64encode(_text_png()).decode()}, 200),
    "raw_png": ({}, "image/png", _text_png, 200),
    "raw_png_again_cached": ({}, "image/png", _text_png, 200),
    "raw_empty": ({}, "image/png", lambda: b"", 400),
    "raw_gif": ({}, "image/gif", lambda: b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", 415),
    "raw_pdf": ({}, "image/png", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", 422),  # a truncated PDF: pdf_invalid
    "raw_pdf_document": ({"pages": "2"}, "application/pdf", lambda: _pdf(_text_png()), 200),
    "multipart_pdf_searchable": ({"output": "pdf"}, "multipart/form-data", lambda: {"image": _pdf(_text_png())}, 200),
    "json_base64_pdf_previews": ({"previews": "true"}, "application/json",
                                 lambda: {"image_base64": base64.b64encode(_pdf(_text_png())).decode()}, 200),
    "raw_pdf_bad_pages": ({"pages": "9"}, "application/pdf", lambda: _pdf(_text_png()), 422),
    "raw_garbage": ({}, "image/jpeg", lambda: b"\xff\xd8\xff" + bytes(range(256)), 400),
    "json_bad_base64": ({}, "application/json", lambda: {"image_base64": "!!!not base64!!!"}, 400),
    "json_empty_object": ({}, "application/json", dict, 422),
    "json_not_object": ({}, "application/json", lambda: [1, 2, 3], 422),
    "multipart_wrong_field": ({}, "multipart/form-data", lambda: {"file": _text_png()}, 422),
    "bad_detect": ({"detect": "maybe"}, "image/png", _text_png, 422),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_explicit_requests_keep_the_contract(api_schema, name: str) -> None:
    """19 hand-written requests (1 each, 2 for the cached repeat), through the same CHECKS: real text
    images in every body form (multipart, JSON base64 with and without a data: URL, raw image/png,
    detect=false, cls=true, a cached repeat) get 200 with a schema-valid OCR answer that found text;
    so does a 2-page PDF (raw with pages=2, base64 with previews; multipart output=pdf gets the
    searchable PDF); classic mistakes (empty, GIF, truncated PDF, garbage, bad base64, {}, a JSON
    array, a misnamed field, detect=maybe, pages out of range) get their documented 4xx."""
    query, media_type, body, expected = CASES[name]
    case = api_schema["/api/ocr"]["POST"].Case(query=query, media_type=media_type, body=body())
    if name == "raw_png_again_cached":
        assert case.call(timeout=REQUEST_TIMEOUT_S).status_code == 200  # fills the cache
    response = case.call(timeout=REQUEST_TIMEOUT_S)
    validate(case, response)
    assert response.status_code == expected, (response.status_code, response.text[:500])
    if expected == 200 and _header(response, "content-type") == "application/pdf":
        assert query.get("output") == "pdf" and response.content.startswith(b"%PDF-")
    elif expected == 200:
        answer = response.json()
        if "pages" in answer:  # a document: every line carries its page, all of the requested pages
            assert {line["page"] for line in answer["text"]} == {p["page"] for p in answer["pages"]}, answer
            assert all(("preview" in p) == ("previews" in query) for p in answer["pages"])
        assert answer["success"] is True and answer["text"], answer
        assert all(0.0 <= line["confidence"] <= 1.0 and len(line["box"]) == 4 for line in answer["text"]), answer
        if name == "raw_png_again_cached":
            assert answer["cached"] is True and answer["timings"] == {}, answer


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"image_base64": ' + b"1" * 5000 + b"}", b"\x00", b'{"x": '],
                         ids=["deep_nesting", "5000_digit_int", "nul", "truncated"])
def test_hostile_json_bodies_leave_the_server_serving(server: str, body: bytes) -> None:
    """4 requests with hostile JSON bodies (100000-deep nesting, a 5000-digit number, NUL, truncated) to
    /api/ocr and /api/uploads each: an answer arrives (any status; the statuses are the test_bug_* tests'
    business) with the JSON error shape, and GET /healthz still says ready afterwards."""
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        for path in ("/api/ocr", "/api/uploads"):
            r = client.post(f"{server}{path}", content=body, headers={"Content-Type": "application/json"})
            assert r.status_code >= 400 and r.json()["success"] is False and r.json()["request_id"], r.text[:300]
        health = client.get(f"{server}/healthz")
        assert health.status_code == 200 and health.json()["ready"] is True


# --------------------------------------------------------------------------- bugs the fuzzing found (fixed; kept as regressions)


def test_ocr_s3_key_statuses_are_declared(api_schema) -> None:
    """1 request: ``POST /api/ocr`` ``{"s3_key": "uploads/2026/11/30/x.png"}`` on a server without
    OCR_UPLOAD_BUCKET must get a status its OpenAPI entry declares."""
    body = {"s3_key": "uploads/2026/11/30/x.png"}
    case = api_schema["/api/ocr"]["POST"].Case(media_type="application/json", body=body)
    response = case.call(timeout=REQUEST_TIMEOUT_S)
    case.validate_response(response, checks=CHECKS)


OVERSIZED = 16_000_000  # over the default body cap, OCR_MAX_BYTES * 4/3 + 1 MiB = 15,029,589 bytes


@pytest.mark.parametrize("body", [
    pytest.param(b"\x00", id="nul"),
    pytest.param(b"[" * 100_000, id="deep_nesting"),
    pytest.param(b" " * OVERSIZED, id="oversized"),
])
def test_uploads_error_statuses_are_declared(api_schema, server: str, body: bytes) -> None:
    """3 requests: ``POST /api/uploads`` with ``Content-Type: application/json`` and a body that is not
    JSON (a NUL byte; 100000 ``[``) or is over the body cap (16 MB, with Content-Length) must get a
    status the operation declares."""
    case = api_schema["/api/uploads"]["POST"].Case(media_type="application/json", body={})
    response = httpx.post(f"{server}/api/uploads", content=body,
                          headers={"Content-Type": "application/json"}, timeout=REQUEST_TIMEOUT_S)
    case.validate_response(response, checks=CHECKS)


def test_uploads_chunked_oversized_body_is_413(server: str) -> None:
    """1 request: a 16 MB JSON body sent chunked (no Content-Length) to ``POST /api/uploads`` gets
    413 ``payload_too_large``, as the same body does on ``POST /api/ocr``."""

    def chunks():
        for _ in range(OVERSIZED // 1_000_000):
            yield b" " * 1_000_000

    r = httpx.post(f"{server}/api/uploads", content=chunks(), headers={"Content-Type": "application/json"},
                   timeout=REQUEST_TIMEOUT_S)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large", (r.status_code, r.text[:300])


@pytest.mark.parametrize("body", [
    pytest.param(b"[" * 100_000, id="deep_nesting"),  # json.loads: RecursionError
    pytest.param(b'{"image_base64": ' + b"1" * 5000 + b"}", id="5000_digit_int"),  # ValueError: int_max_str_digits
])
def test_unparsable_json_is_400(server: str, body: bytes) -> None:
    """2 requests: ``POST /api/ocr`` with ``Content-Type: application/json`` and a body json.loads refuses
    with RecursionError / ValueError must get the documented 400 invalid_json, not a 500."""
    r = httpx.post(f"{server}/api/ocr", content=body, headers={"Content-Type": "application/json"},
                   timeout=REQUEST_TIMEOUT_S)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json", (r.status_code, r.text[:300])
