"""HTTP API against a real uvicorn server with the real models (fixtures in conftest.py)."""

from __future__ import annotations

import base64
import difflib
import io
import json
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image

TIMEOUT = httpx.Timeout(120.0)
NO_CACHE = {"Cache-Control": "no-cache"}


def post_image(url: str, data: bytes, *, name: str = "image", filename: str = "x.png", params=None, headers=None):
    return httpx.post(
        f"{url}/api/ocr", files={name: (filename, data, "application/octet-stream")},
        params=params, headers=headers, timeout=TIMEOUT,
    )


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def assert_error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["success"] is False
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["request_id"] == r.headers["x-request-id"]
    return body


def assert_contract(body: dict) -> None:
    assert body["success"] is True
    assert isinstance(body["processing_time"], float) and 0 < body["processing_time"] < 60
    assert isinstance(body["request_id"], str) and body["request_id"]
    w, h = body["width"], body["height"]
    assert w > 0 and h > 0
    for line in body["text"]:
        assert {"text", "confidence", "box"} <= set(line) <= {"text", "confidence", "box", "block", "words", "constraint", "pattern_fallback", "page"}
        assert isinstance(line["text"], str) and line["text"]
        assert 0.0 <= line["confidence"] <= 1.0
        assert len(line["box"]) == 4
        for x, y in line["box"]:
            assert isinstance(x, int) and isinstance(y, int)
            assert -2 <= x <= w + 2 and -2 <= y <= h + 2


# ---------------------------------------------------------------------- fixtures: bad inputs


def huge_png(width: int = 60_000, height: int = 60_000) -> bytes:
    """A valid PNG header claiming huge dimensions, with a tiny body: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def page_png(synth_png) -> tuple[bytes, list[str]]:
    return synth_png(11, size=(800, 500), n_lines=5)


@pytest.fixture(scope="module")
def jpeg_bytes(page_png) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(page_png[0])).convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


# ---------------------------------------------------------------------- service endpoints


def test_healthz(server):
    r = httpx.get(f"{server}/healthz", timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["ready"] is True and body["status"] == "ok"
    assert body["profile"] in ("small", "tiny")
    assert body["version"]


def test_openapi_docs(server):
    assert httpx.get(f"{server}/docs", timeout=10).status_code == 200
    spec = httpx.get(f"{server}/openapi.json", timeout=10).json()
    assert "/api/ocr" in spec["paths"] and "/api/uploads" in spec["paths"]
    content = spec["paths"]["/api/ocr"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in content and "application/json" in content


def test_web_page_served(server):
    r = httpx.get(f"{server}/", timeout=10)
    assert r.status_code == 200 and "开始高精度识别" in r.text
    assert httpx.get(f"{server}/app.js", timeout=10).status_code == 200


def test_cors_default_is_the_pages_own_origin(server):
    """The app serves the page, so by default no other origin may call the API from a browser
    (CORS_ORIGINS unset); tests/test_security.py checks a configured origin."""
    r = httpx.options(
        f"{server}/api/ocr",
        headers={"Origin": "https://ocr.example.com", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers


# ---------------------------------------------------------------------- the contract on real images


def test_contract_chinese_real_image(server, eval_dir):
    path = eval_dir / "zh_real_dev" / "images" / "paddle_00009282.jpg"
    r = post_image(server, path.read_bytes(), filename=path.name, headers={**NO_CACHE, "X-Request-ID": "zh-contract-1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert_contract(body)
    assert body["request_id"] == "zh-contract-1" == r.headers["x-request-id"]
    assert (body["width"], body["height"]) == Image.open(path).size
    texts = [line["text"] for line in body["text"]]
    labels = json.loads((eval_dir / "zh_real_dev" / "labels.jsonl").read_text().splitlines()[0])
    truth = [ln["text"] for ln in labels["lines"] if not ln["ignore"]]
    profile = httpx.get(f"{server}/healthz", timeout=10).json()["profile"]
    found = sum(1 for t in truth if any(similarity(t, x) > 0.8 for x in texts))
    assert found >= (0.8 if profile == "small" else 0.5) * len(truth), texts
    if profile == "small":
        for must in ("洗涤说明", "常规程序", "不可漂白", "常规干洗"):
            assert must in texts, texts
    assert set(body["timings"]) >= {"decode", "detect", "recognize", "total"}


def test_contract_english_generated(server, page_png):
    data, truth = page_png
    r = post_image(server, data, headers=NO_CACHE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert_contract(body)
    assert (body["width"], body["height"]) == (800, 500)
    got = "\n".join(line["text"] for line in body["text"])
    assert similarity(got.replace(" ", ""), "\n".join(truth).replace(" ", "")) > 0.85, (got, truth)


def test_english_page_photo(server, eval_dir):
    path = eval_dir / "tesseract_en_pages" / "images" / "phototest.png"
    r = post_image(server, path.read_bytes(), filename=path.name)
    assert r.status_code == 200, r.text
    text = " ".join(line["text"] for line in r.json()["text"]).lower()
    assert "quick brown" in text or "quickbrown" in text.replace(" ", "")


def test_json_base64_and_raw_body_match_multipart(server, jpeg_bytes):
    a = post_image(server, jpeg_bytes, headers=NO_CACHE).json()
    b = httpx.post(
        f"{server}/api/ocr", json={"image_base64": base64.b64encode(jpeg_bytes).decode()}, headers=NO_CACHE, timeout=TIMEOUT
    ).json()
    data_url = "data:image/jpeg;base64," + base64.b64encode(jpeg_bytes).decode()
    c = httpx.post(f"{server}/api/ocr", json={"image_base64": data_url}, timeout=TIMEOUT).json()
    d = httpx.post(
        f"{server}/api/ocr", content=jpeg_bytes, headers={"Content-Type": "image/jpeg"}, timeout=TIMEOUT
    ).json()
    assert a["text"] and a["text"] == b["text"] == c["text"] == d["text"]


def test_detect_false_reads_one_line(server):
    import cv2

    from ocrcore.synth import render_line

    _, buf = cv2.imencode(".png", render_line("Invoice total 1234.50", height=48))
    r = post_image(server, buf.tobytes(), params={"detect": "false", "cls": "0"})
    assert r.status_code == 200, r.text
    lines = r.json()["text"]
    assert len(lines) == 1
    assert similarity(lines[0]["text"].replace(" ", ""), "Invoicetotal1234.50") > 0.85, lines


def test_cache_makes_repeats_cheap(server, synth_png):
    data, _ = synth_png(21, size=(640, 400), n_lines=3)
    first = post_image(server, data).json()
    second = post_image(server, data).json()
    assert first["cached"] is False and second["cached"] is True
    assert second["text"] == first["text"]
    assert second["processing_time"] < max(0.05, first["processing_time"] / 5)
    # Options are part of the key; no-cache forces a recomputation.
    assert post_image(server, data, params={"cls": "true"}).json()["cached"] is False  # default is off
    assert post_image(server, data, headers=NO_CACHE).json()["cached"] is False


# ---------------------------------------------------------------------- errors, each with a real bad input


def test_error_text_file(server):
    assert_error(post_image(server, b"hello, this is not an image\n" * 20, filename="notes.txt"), 400, "invalid_image")


def test_error_truncated_jpeg(server, jpeg_bytes):
    assert_error(post_image(server, jpeg_bytes[: len(jpeg_bytes) // 2], filename="cut.jpg"), 400, "invalid_image")


def test_error_zero_bytes(server):
    assert_error(post_image(server, b"", filename="empty.png"), 400, "invalid_image")


def test_error_huge_dimensions(server):
    body = assert_error(post_image(server, huge_png(), filename="bomb.png"), 413, "image_too_large")
    assert "pixels" in body["error"]["message"]


def test_error_unsupported_format(server):
    buf = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(buf, "GIF")
    assert_error(post_image(server, buf.getvalue(), filename="a.gif"), 415, "unsupported_media_type")
    # a PDF is read as a document now (tests/test_api_pdf.py); a broken one is a PDF error
    assert_error(post_image(server, b"%PDF-1.7\n%...", filename="a.pdf"), 422, "pdf_invalid")


def test_error_wrong_field_name(server, jpeg_bytes):
    body = assert_error(post_image(server, jpeg_bytes, name="file"), 422, "missing_field")
    assert "'image'" in body["error"]["message"] and "'file'" in body["error"]["message"]
    text_field = httpx.post(f"{server}/api/ocr", data={"image": "abc"}, files={"other": ("a", b"x")}, timeout=TIMEOUT)
    assert_error(text_field, 422, "missing_field")
    assert_error(httpx.post(f"{server}/api/ocr", json={"img": "abc"}, timeout=TIMEOUT), 422, "missing_field")


def test_error_bad_json_and_base64(server):
    r = httpx.post(f"{server}/api/ocr", content=b"{not json", headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
    assert_error(r, 400, "invalid_json")
    assert_error(httpx.post(f"{server}/api/ocr", json={"image_base64": "@@@not base64@@@"}, timeout=TIMEOUT), 400, "invalid_base64")


def test_error_unsupported_request_type(server):
    r = httpx.post(f"{server}/api/ocr", content=b"hello", headers={"Content-Type": "text/plain"}, timeout=TIMEOUT)
    assert_error(r, 415, "unsupported_media_type")


def test_error_bad_query_parameter(server, jpeg_bytes):
    assert_error(post_image(server, jpeg_bytes, params={"detect": "perhaps"}), 422, "invalid_parameter")


def test_error_oversized_image(server):
    limit = httpx.get(f"{server}/healthz", timeout=10).json()["max_bytes"]
    big = b"\xff\xd8\xff\xe0" + bytes(limit + 1024)
    body = assert_error(post_image(server, big, filename="big.jpg"), 413, "image_too_large")
    assert f"{limit:,}" in body["error"]["message"]


def test_error_oversized_body(server):
    limit = httpx.get(f"{server}/healthz", timeout=10).json()["max_bytes"]
    huge = bytes(2 * limit)  # past the body cap (base64 room included): refused from Content-Length
    assert_error(post_image(server, huge, filename="huge.jpg"), 413, "payload_too_large")

    def chunks():  # no Content-Length: stopped while streaming
        for _ in range(2 * limit // 65536 + 1):
            yield bytes(65536)

    r = httpx.post(f"{server}/api/ocr", content=chunks(), headers={"Content-Type": "image/jpeg"}, timeout=TIMEOUT)
    assert_error(r, 413, "payload_too_large")


def test_not_found_is_json(server):
    assert_error(httpx.get(f"{server}/api/nothing", timeout=10), 404, "not_found")


def test_uploads_not_configured(server):
    if httpx.get(f"{server}/healthz", timeout=10).json()["uploads"]:
        pytest.skip("this server has an upload bucket configured")
    assert_error(httpx.post(f"{server}/api/uploads", json={}, timeout=10), 501, "uploads_not_configured")
    assert_error(httpx.post(f"{server}/api/ocr", json={"s3_key": "uploads/x.png"}, timeout=10), 501, "uploads_not_configured")


def test_survives_a_burst_of_bad_inputs(server, jpeg_bytes, synth_png):
    bad = [b"", b"GIF89a" + bytes(100), jpeg_bytes[:200], huge_png(), b"\x89PNG\r\n\x1a\n" + bytes(50), bytes(5000)]
    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda d: post_image(server, d).status_code, bad * 3))
    assert all(400 <= s < 500 for s in statuses), statuses
    health = httpx.get(f"{server}/healthz", timeout=10).json()
    assert health["ready"] and health["in_progress"] == 0
    data, _ = synth_png(5, size=(400, 300), n_lines=2)
    assert post_image(server, data, headers=NO_CACHE).status_code == 200


# ---------------------------------------------------------------------- concurrency


def test_concurrent_equals_serial(server, synth_png):
    images = [synth_png(100 + i, size=(640, 420), n_lines=4)[0] for i in range(6)]
    serial = [post_image(server, d, headers=NO_CACHE).json()["text"] for d in images]
    barrier = threading.Barrier(len(images))

    def one(d: bytes):
        barrier.wait()
        r = post_image(server, d, headers=NO_CACHE)
        assert r.status_code == 200, r.text
        return r.json()["text"]

    with ThreadPoolExecutor(len(images)) as pool:
        concurrent = list(pool.map(one, images))
    assert all(serial)
    assert concurrent == serial


# ---------------------------------------------------------------------- observability


def test_metrics_and_log_line(server, server_proc, synth_png):
    data, _ = synth_png(31, size=(500, 300), n_lines=2)
    r = post_image(server, data, headers={"X-Request-ID": "log-check-31"})
    assert r.status_code == 200
    from prometheus_client.parser import text_string_to_metric_families

    resp = httpx.get(f"{server}/metrics", timeout=10)
    assert resp.headers["content-type"].startswith("text/plain")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(resp.text) for s in fam.samples}
    assert samples[("ocr_http_requests_total", (("method", "POST"), ("route", "/api/ocr"), ("status", "200")))] >= 1
    assert samples[("ocr_http_request_duration_seconds_bucket", (("le", "+Inf"), ("route", "/api/ocr")))] >= 1
    assert samples[("ocr_stage_duration_seconds_count", (("stage", "detect"),))] >= 1
    assert ("ocr_http_requests_in_flight", ()) in samples and ("ocr_jobs_in_flight", ()) in samples
    assert samples[("process_resident_memory_bytes", ())] > 50e6  # process metrics come with the library

    lines = [json.loads(x) for x in server_proc.log_text().splitlines() if x.startswith("{") and "log-check-31" in x]
    assert len(lines) == 1, server_proc.log_text()[-2000:]
    entry = lines[0]
    assert entry["status"] == 200 and entry["bytes"] == len(data) and entry["lines"] == len(r.json()["text"])
    for stage in ("decode", "detect", "recognize", "time"):
        assert isinstance(entry[stage], float)


def test_models_missing_is_a_clear_503(start_server, tmp_path):
    srv = start_server(OCR_MODEL_DIR=str(tmp_path / "no-models"), require_ready=False)
    for _ in range(100):
        health = httpx.get(f"{srv.url}/healthz", timeout=10)
        if health.json()["status"] != "loading":
            break
        time.sleep(0.1)
    assert health.status_code == 503 and health.json()["status"] == "error"
    assert "make setup" in health.json()["error"]
    assert_error(post_image(srv.url, b"x"), 503, "engine_unavailable")


# ---------------------------------------------------------------------- saturation: 503 past the queue bound


def test_503_when_saturated(start_server, synth_png):
    srv = start_server(OCR_PROFILE="tiny", OCR_MAX_QUEUE="1", OCR_WORKERS="1", OCR_CACHE="0")
    images = [synth_png(200 + i, size=(900, 700))[0] for i in range(5)]
    barrier = threading.Barrier(len(images))

    def one(d: bytes) -> httpx.Response:
        barrier.wait()
        return post_image(srv.url, d)

    with ThreadPoolExecutor(len(images)) as pool:
        responses = list(pool.map(one, images))
    codes = sorted(r.status_code for r in responses)
    assert 200 in codes and 503 in codes, codes
    for r in responses:
        if r.status_code == 503:
            assert_error(r, 503, "server_busy")
            assert r.headers["retry-after"] == "1"
    # It keeps serving once the burst is over.
    assert post_image(srv.url, images[0]).status_code == 200
    metrics = httpx.get(f"{srv.url}/metrics", timeout=10).text
    assert 'status="503"' in metrics and "ocr_rejected_total" in metrics


# ---------------------------------------------------------------------- large images through S3 (moto)


def test_presigned_upload_then_ocr_by_key(start_server, moto_s3, synth_png):
    srv = start_server(OCR_PROFILE="tiny", OCR_MAX_BYTES="200000", **moto_s3)
    data, truth = synth_png(41, size=(1400, 1000), n_lines=6)
    assert len(data) > 200_000  # over this server's sync limit ...
    too_big = post_image(srv.url, data)
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] in ("image_too_large", "payload_too_large")

    r = httpx.post(f"{srv.url}/api/uploads", json={"content_type": "image/png", "filename": "scan.png", "size": len(data)},
                   timeout=30)
    assert r.status_code == 200, r.text
    up = r.json()
    assert up["success"] is True and up["expires_in"] == 300 and up["s3_key"].endswith(".png")
    assert up["upload_url"].startswith(moto_s3["AWS_ENDPOINT_URL_S3"])
    put = httpx.put(up["upload_url"], content=data, headers=up["headers"], timeout=60)
    assert put.status_code == 200, put.text

    # ... so it goes through S3 instead.
    r = httpx.post(f"{srv.url}/api/ocr", json={"s3_key": up["s3_key"]}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    body = r.json()
    assert_contract(body)
    assert (body["width"], body["height"]) == (1400, 1000)
    got = " ".join(line["text"] for line in body["text"])
    assert similarity(got.replace(" ", ""), "".join(truth).replace(" ", "")) > 0.7, (got, truth)

    missing = up["s3_key"].rsplit("/", 1)[0] + "/" + "0" * 32 + ".png"
    assert_error(httpx.post(f"{srv.url}/api/ocr", json={"s3_key": missing}, timeout=30), 404, "s3_key_not_found")
    assert_error(httpx.post(f"{srv.url}/api/ocr", json={"s3_key": "secrets/passwd"}, timeout=30), 400, "invalid_s3_key")
    assert_error(httpx.post(f"{srv.url}/api/ocr", json={"s3_key": "uploads/../x"}, timeout=30), 400, "invalid_s3_key")
    assert_error(httpx.post(f"{srv.url}/api/uploads", json={"content_type": "text/plain", "size": 10}, timeout=30), 415, "unsupported_media_type")



def test_an_upload_is_read_with_one_bounded_ranged_get(moto_s3, monkeypatch):
    """Issue #10: the size was checked with HEAD, then the object read with an unbounded GET (an
    object replaced in between was downloaded whole). Now one GET of at most limit + 1 bytes:
    the calls botocore makes are recorded on moto's real S3 server."""
    from ocrservice.config import load_settings
    from ocrservice.errors import ApiError
    from ocrservice.uploads import Uploads

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # boto3 reads them from the process
        monkeypatch.setenv(var, moto_s3[var])
    uploads = Uploads(load_settings({**moto_s3, "OCR_UPLOAD_MAX_BYTES": "1000"}))
    s3 = uploads.client()
    s3.put_object(Bucket=moto_s3["OCR_UPLOAD_BUCKET"], Key="uploads/x/big.png", Body=b"\x89PNG" + b"\0" * 5000)
    s3.put_object(Bucket=moto_s3["OCR_UPLOAD_BUCKET"], Key="uploads/x/ok.png", Body=b"\x89PNG" + b"\0" * 996)
    calls: list[tuple[str, str | None]] = []
    s3.meta.events.register("before-call.s3", lambda model, params, **_: calls.append((model.name, params["headers"].get("Range"))))
    with pytest.raises(ApiError) as refused:
        uploads.fetch("uploads/x/big.png")
    assert (refused.value.status, refused.value.code) == (413, "image_too_large")
    assert len(uploads.fetch("uploads/x/ok.png")) == 1000  # exactly the limit passes
    assert calls == [("GetObject", "bytes=0-1000")] * 2

def test_the_readme_example_works(server):
    """README: `curl -F image=@docs/sample.png http://127.0.0.1:8080/api/ocr`."""
    from .helpers import ROOT

    r = httpx.post(f"{server}/api/ocr", files={"image": ("sample.png", (ROOT / "docs" / "sample.png").read_bytes())},
                   headers={"Cache-Control": "no-cache"}, timeout=60)
    assert r.status_code == 200
    texts = [line["text"] for line in r.json()["text"]]
    assert texts[0] == "北京市朝阳区建国路88号"
    assert any("Total" in t for t in texts) and any("82.50" in t for t in texts)
