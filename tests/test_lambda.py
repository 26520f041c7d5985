"""The Lambda entry (ocrservice/lambda_handler.py) with the real engine (tiny profile).

Events are built by hand the way API Gateway REST (v1, binary media types on), HTTP API (v2)
and Function URLs (v2) deliver them, multipart bodies base64-encoded, and passed to the real
``handler(event, context)``. Presigned uploads go to moto's S3 server on 127.0.0.1. The numba
part runs the handler in a fresh process as an unprivileged user against a read-only baked
cache, as on Lambda, and checks that no kernel compiles.
"""

from __future__ import annotations

import base64
import difflib
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import httpx
import numpy as np
import pytest

from ocrcore.synth import render_line, render_page
from tests.helpers import jpeg_bytes, moto_server, png_bytes

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "ocr-uploads-test"
REGION = "us-east-1"
PAGE_ORIGIN = "https://d111111abcdef8.cloudfront.net"
MAX_BYTES = 1_500_000  # OCR_MAX_BYTES for these tests (the template's default is 4 MiB)


# --------------------------------------------------------------------------- events


def multipart(data: bytes, filename: str = "page.png", ctype: str = "image/png", field: str = "image") -> tuple[bytes, str]:
    boundary = f"----lambdatest{uuid.uuid4().hex}"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
        f"Content-Type: {ctype}\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _body(body: bytes | str | None, b64: bool) -> tuple[str | None, bool]:
    if body is None:
        return None, False
    if b64:
        return base64.b64encode(body if isinstance(body, bytes) else body.encode()).decode(), True
    return (body.decode() if isinstance(body, bytes) else body), False


def rest_v1_event(method, path, body=None, content_type=None, query=None, b64=True, stage="prod") -> dict:
    """API Gateway REST API, Lambda proxy integration on /{proxy+}, binary media types configured."""
    headers = {
        "Accept": "*/*",
        "Host": "abc123.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "pytest",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    if content_type:
        headers["Content-Type"] = content_type
    text, is_b64 = _body(body, b64)
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "a1b2c3",
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "extendedRequestId": "Xy1Z2abcIAMFv0w=",
            "requestTime": "25/Nov/2026:18:00:00 +0000",
            "path": f"/{stage}{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "abc123",
            "requestTimeEpoch": int(time.time() * 1000),
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "pytest", "accountId": None, "caller": None},
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "apiId": "abc123",
        },
        "body": text,
        "isBase64Encoded": is_b64,
    }


def v2_event(method, path, body=None, content_type=None, query="", b64=True, function_url=False) -> dict:
    """HTTP API (payload 2.0) on ANY /{proxy+}, or a Function URL (same format, routeKey $default)."""
    domain = "abcdefghij.lambda-url.us-east-1.on.aws" if function_url else "abc123.execute-api.us-east-1.amazonaws.com"
    headers = {
        "accept": "*/*",
        "host": domain,
        "user-agent": "pytest",
        "x-amzn-trace-id": "Root=1-5e1b4151-5ac6c58f5e2d7c3b8c1a2b3c",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        "origin": PAGE_ORIGIN,
    }
    if content_type:
        headers["content-type"] = content_type
    if body is not None:
        headers["content-length"] = str(len(body))
    route = "$default" if function_url else "ANY /{proxy+}"
    text, is_b64 = _body(body, b64)
    event = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012" if not function_url else "anonymous",
            "apiId": "abcdefghij" if function_url else "abc123",
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "pytest"},
            "requestId": str(uuid.uuid4()),
            "routeKey": route,
            "stage": "$default",
            "time": "25/Nov/2026:18:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": is_b64,
    }
    if query:
        event["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&"))
    if not function_url:
        event["pathParameters"] = {"proxy": path.lstrip("/")}
    if text is not None:
        event["body"] = text
    return event


class FakeContext:
    function_name = "ocr-OcrFunction"
    memory_limit_in_mb = 3008
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def response_json(resp: dict) -> dict:
    assert resp["isBase64Encoded"] is False  # JSON goes back as text, not base64
    return json.loads(resp["body"])


def header(resp: dict, name: str) -> str | None:
    return {k.lower(): v for k, v in (resp.get("headers") or {}).items()}.get(name)


def similarity(lines: list[dict], truth) -> float:
    norm = lambda xs: "".join(xs).lower().replace(" ", "")
    return difflib.SequenceMatcher(None, norm(x["text"] for x in lines), norm(t.text for t in truth)).ratio()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lam():
    """ocrservice.lambda_handler imported with the environment the template sets, S3 in moto."""
    with pytest.MonkeyPatch.context() as mp, moto_server() as endpoint:
        env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_S3": endpoint,
            "OCR_PROFILE": "tiny",
            "OCR_WORKERS": "1",
            "OCR_CACHE": "0",
            "OCR_MAX_BYTES": str(MAX_BYTES),
            "OCR_UPLOAD_BUCKET": BUCKET,
            "OCR_UPLOAD_PREFIX": "uploads/",
            "OCR_UPLOAD_EXPIRES": "600",
            "CORS_ORIGINS": PAGE_ORIGIN,
            "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR") or str(ROOT / ".cache" / "numba"),
            "OCR_NUMBA_CACHE_COPY": tempfile.mkdtemp(prefix="numba-copy-"),
        }
        for k, v in env.items():
            mp.setenv(k, v)
        boto3.client("s3", endpoint_url=endpoint, region_name=REGION).create_bucket(Bucket=BUCKET)
        if "ocrservice.lambda_handler" in sys.modules:
            mod = importlib.reload(sys.modules["ocrservice.lambda_handler"])
        else:
            mod = importlib.import_module("ocrservice.lambda_handler")
        mod.endpoint = endpoint
        yield mod


@pytest.fixture(scope="module")
def page():
    img, truth = render_page(21, (800, 600), n_lines=5)
    return png_bytes(img), truth


# --------------------------------------------------------------------------- HTTP events


def test_rest_api_multipart_base64(lam, page):
    data, truth = page
    body, ctype = multipart(data)
    resp = lam.handler(rest_v1_event("POST", "/api/ocr", body, ctype), FakeContext())
    assert resp["statusCode"] == 200, resp["body"]
    assert header(resp, "content-type") == "application/json"
    out = response_json(resp)
    assert out["success"] is True and (out["width"], out["height"]) == (800, 600)
    assert len(out["text"]) == len(truth) and similarity(out["text"], truth) > 0.85
    assert out["timings"]["total"] > 0 and out["cached"] is False


def test_rest_api_query_parameters_and_stage_path(lam):
    line = render_line("invoice total 42.50", height=40)
    body, ctype = multipart(jpeg_bytes(line), "line.jpg", "image/jpeg")
    event = rest_v1_event("POST", "/api/ocr", body, ctype, query={"detect": "false"}, stage="v1")
    resp = lam.handler(event, FakeContext())
    assert resp["statusCode"] == 200, resp["body"]
    out = response_json(resp)
    assert len(out["text"]) == 1  # detect=false: the whole image is one line
    assert out["text"][0]["text"].replace(" ", "").lower() == "invoicetotal42.50"


def test_http_api_multipart_base64(lam, page):
    data, truth = page
    body, ctype = multipart(data)
    resp = lam.handler(v2_event("POST", "/api/ocr", body, ctype), FakeContext())
    assert resp["statusCode"] == 200, resp["body"]
    out = response_json(resp)
    assert similarity(out["text"], truth) > 0.85
    assert header(resp, "access-control-allow-origin") == PAGE_ORIGIN


def test_function_url_json_and_raw_binary(lam, page):
    data, truth = page
    assert truth
    as_json = json.dumps({"image_base64": base64.b64encode(data).decode()})
    resp = lam.handler(v2_event("POST", "/api/ocr", as_json, "application/json", b64=False, function_url=True), FakeContext())
    assert resp["statusCode"] == 200, resp["body"]
    first = response_json(resp)["text"]
    # the raw image as the body: binary, so the Function URL base64-encodes it
    resp = lam.handler(v2_event("POST", "/api/ocr", data, "image/png", function_url=True), FakeContext())
    assert resp["statusCode"] == 200, resp["body"]
    assert [x["text"] for x in response_json(resp)["text"]] == [x["text"] for x in first]


def test_binary_bodies_round_trip_byte_for_byte(lam):
    """Every byte value survives base64 + multipart: a PNG whose pixels are all 256 byte values."""
    noise = np.random.default_rng(1).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    data = png_bytes(noise)
    assert len(set(data)) == 256
    body, ctype = multipart(data)
    resp = lam.handler(v2_event("POST", "/api/ocr", body, ctype, query="detect=false"), FakeContext())
    assert resp["statusCode"] == 200, resp["body"]
    assert (response_json(resp)["width"], response_json(resp)["height"]) == (96, 64)


def test_healthz_and_errors_are_json(lam):
    resp = lam.handler(v2_event("GET", "/healthz", function_url=True), FakeContext())
    health = response_json(resp)
    assert resp["statusCode"] == 200 and health["ready"] is True and health["profile"] == "tiny"
    assert health["uploads"] is True and health["workers"] == 1

    body, ctype = multipart(b"\x89PNG\r\n\x1a\n but then garbage")
    resp = lam.handler(rest_v1_event("POST", "/api/ocr", body, ctype), FakeContext())
    err = response_json(resp)
    assert resp["statusCode"] == 400 and err["success"] is False and err["error"]["code"] == "invalid_image"

    resp = lam.handler(v2_event("POST", "/api/ocr", b"x" * (MAX_BYTES + 1), "image/png"), FakeContext())
    assert resp["statusCode"] == 413 and response_json(resp)["error"]["code"] == "image_too_large"


def test_large_image_through_a_presigned_upload(lam):
    """Over the synchronous limit: POST /api/uploads, PUT to S3 (moto), then OCR by s3_key."""
    img, truth = render_page(33, (1400, 1000), n_lines=6)
    noisy = np.clip(img.astype(np.int16) + np.random.default_rng(3).integers(-6, 7, img.shape), 0, 255).astype(np.uint8)
    data = png_bytes(noisy)
    assert len(data) > MAX_BYTES  # too big for the request body

    req = json.dumps({"content_type": "image/png", "filename": "scan.png", "size": len(data)})
    resp = lam.handler(v2_event("POST", "/api/uploads", req, "application/json", b64=False), FakeContext())
    assert resp["statusCode"] == 200, resp["body"]
    up = response_json(resp)
    assert up["method"] == "PUT" and up["s3_key"].startswith("uploads/") and up["expires_in"] == 600
    assert up["upload_url"].startswith(lam.endpoint + f"/{BUCKET}/uploads/")

    put = httpx.put(up["upload_url"], content=data, headers=up["headers"], timeout=30)
    assert put.status_code == 200, put.text

    req = json.dumps({"s3_key": up["s3_key"]})
    resp = lam.handler(rest_v1_event("POST", "/api/ocr", req, "application/json", b64=False), FakeContext())
    assert resp["statusCode"] == 200, resp["body"]
    out = response_json(resp)
    assert (out["width"], out["height"]) == (1400, 1000) and similarity(out["text"], truth) > 0.85

    resp = lam.handler(v2_event("POST", "/api/ocr", json.dumps({"s3_key": up["s3_key"].rsplit("/", 1)[0] + "/nope.png"}), "application/json", b64=False), None)
    assert resp["statusCode"] == 404


def test_token_mode_reads_the_secret_at_init_and_checks_every_event(lam, monkeypatch):
    """AuthMode=token as deployed: OCR_API_TOKEN_SECRET names a Secrets Manager secret (moto), the
    app built at init reads it, and HTTP API and Function URL events need the bearer token."""
    from mangum import Mangum

    from ocrservice.app import create_app
    from ocrservice.config import load_settings

    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", lam.endpoint)
    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=f"ocr-token-{uuid.uuid4().hex[:8]}", SecretString="lambda-token-1\nlambda-token-2")["ARN"]
    app = create_app(load_settings(OCR_API_TOKEN_SECRET=arn), engine=lam.ENGINE)
    handler = Mangum(app, lifespan="off")
    line = png_bytes(render_line("total 42.50", height=40))

    def call(path, body, ctype, token=None, function_url=False):
        event = v2_event("POST", path, body, ctype, query="detect=false" if path == "/api/ocr" else "",
                         b64=isinstance(body, bytes), function_url=function_url)
        if token:
            event["headers"]["authorization"] = f"Bearer {token}"
        return handler(event, FakeContext())

    for function_url in (False, True):
        refused = call("/api/ocr", line, "image/png", function_url=function_url)
        assert refused["statusCode"] == 401 and response_json(refused)["error"]["code"] == "unauthorized"
        assert header(refused, "www-authenticate").startswith("Bearer")
        assert call("/api/ocr", line, "image/png", token="lambda-token-3", function_url=function_url)["statusCode"] == 401
        ok = call("/api/ocr", line, "image/png", token="lambda-token-2", function_url=function_url)
        assert ok["statusCode"] == 200 and response_json(ok)["text"], ok["body"]
    health = handler(v2_event("GET", "/healthz"), FakeContext())
    assert health["statusCode"] == 200


def test_iam_callers_cannot_ocr_each_others_uploads(lam):
    """AuthMode=iam: API Gateway authenticated the caller; its ARN (requestContext.authorizer.iam)
    scopes the upload key, so another principal gets 403 for it."""
    data = png_bytes(render_line("scoped upload", height=40))

    def as_caller(arn, path, payload):
        event = v2_event("POST", path, json.dumps(payload), "application/json", b64=False)
        event["requestContext"]["authorizer"] = {"iam": {"userArn": arn, "accountId": "123456789012"}}
        return lam.handler(event, FakeContext())

    alice, bob = "arn:aws:iam::123456789012:role/alice", "arn:aws:iam::123456789012:role/bob"
    up = response_json(as_caller(alice, "/api/uploads", {"content_type": "image/png", "size": len(data)}))
    put = httpx.put(up["upload_url"], content=data, headers=up["headers"], timeout=30)
    assert put.status_code == 200, put.text
    theirs = as_caller(bob, "/api/ocr", {"s3_key": up["s3_key"]})
    assert theirs["statusCode"] == 403 and response_json(theirs)["error"]["code"] == "forbidden_s3_key"
    mine = as_caller(alice, "/api/ocr", {"s3_key": up["s3_key"]})
    assert mine["statusCode"] == 200, mine["body"]
def test_pdf_through_a_presigned_upload_and_back_as_a_searchable_pdf(lam):
    """A scanned PDF over the synchronous limit: uploaded as application/pdf, OCRed by s3_key (JSON
    with pages), then the searchable PDF by s3_key: binary, base64-encoded in the Lambda response."""
    import io

    import pypdfium2 as pdfium
    from PIL import Image

    rng = np.random.default_rng(5)
    images, truths = [], []
    for seed in (41, 42, 43):
        img, truth = render_page(seed, (1300, 900), n_lines=4)
        noisy = np.clip(img.astype(np.int16) + rng.integers(-12, 13, img.shape), 0, 255).astype(np.uint8)
        images.append(Image.fromarray(np.ascontiguousarray(noisy[:, :, ::-1])))
        truths.append(truth)
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], resolution=150, quality=95)
    data = buf.getvalue()
    assert len(data) > MAX_BYTES  # too big for the request body

    req = json.dumps({"content_type": "application/pdf", "filename": "scan.pdf", "size": len(data)})
    resp = lam.handler(v2_event("POST", "/api/uploads", req, "application/json", b64=False), FakeContext())
    assert resp["statusCode"] == 200, resp["body"]
    up = response_json(resp)
    assert up["s3_key"].endswith(".pdf") and up["headers"]["Content-Type"] == "application/pdf"
    assert httpx.put(up["upload_url"], content=data, headers=up["headers"], timeout=30).status_code == 200

    req = json.dumps({"s3_key": up["s3_key"]})
    resp = lam.handler(v2_event("POST", "/api/ocr", req, "application/json", b64=False, query="pages=1-2"), FakeContext())
    assert resp["statusCode"] == 200, resp["body"]
    out = response_json(resp)
    assert out["kind"] == "pdf" and out["page_count"] == 3 and [p["page"] for p in out["pages"]] == [1, 2]
    for page, truth in zip(out["pages"], truths[:2], strict=True):
        assert similarity(page["text"], truth) > 0.8

    resp = lam.handler(v2_event("POST", "/api/ocr", req, "application/json", b64=False, query="output=pdf"), FakeContext())
    assert resp["statusCode"] == 200, resp["body"][:300]
    assert header(resp, "content-type") == "application/pdf" and resp["isBase64Encoded"] is True
    pdf = pdfium.PdfDocument(base64.b64decode(resp["body"]))
    layer = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    pdf.close()
    assert len(layer) == 3
    norm = lambda s: "".join(s.split()).lower()
    for text, truth in zip(layer, truths, strict=True):
        assert difflib.SequenceMatcher(None, norm(text), norm("".join(t.text for t in truth))).ratio() > 0.7


def test_bulk_entry_point(lam):
    """The second handler of the image: an SQS batch of S3 events -> results/ JSON."""
    s3 = boto3.client("s3", endpoint_url=lam.endpoint, region_name=REGION)
    img, _ = render_page(8, (480, 320), n_lines=2)
    s3.put_object(Bucket=BUCKET, Key="input/a b.png", Body=png_bytes(img))
    record = {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
              "s3": {"bucket": {"name": BUCKET}, "object": {"key": "input/a+b.png", "size": 1}}}
    event = {"Records": [{"messageId": "m1", "receiptHandle": "r", "body": json.dumps({"Records": [record]}),
                          "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs",
                          "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bulk", "awsRegion": REGION}]}
    assert lam.bulk_handler(event, FakeContext()) == {"batchItemFailures": []}
    doc = json.loads(s3.get_object(Bucket=BUCKET, Key="results/input/a b.png.json")["Body"].read())
    assert len(doc["text"]) == 2 and doc["source"]["key"] == "input/a b.png"


def test_lifespan_is_off_and_the_engine_was_loaded_at_import(lam):
    assert lam.handler.lifespan == "off"
    assert lam.app.state.service.ready  # before any request: loaded in the init phase
    assert lam.INIT_TIMINGS["engine"] > 0


# --------------------------------------------------------------------------- numba cache on a read-only image


def test_prepare_numba_cache_copies_a_read_only_cache(tmp_path, lam):
    baked = tmp_path / "opt" / "numba-cache"
    (baked / "ocrcore_abc").mkdir(parents=True)
    (baked / "ocrcore_abc" / "kernels.f-1.py311.nbi").write_bytes(b"index")
    target = tmp_path / "tmp" / "numba_cache"
    env = {"NUMBA_CACHE_DIR": str(baked)}
    out = lam.prepare_numba_cache(env, copy_to=str(target), writable=lambda p: False)
    assert out == str(target) and env["NUMBA_CACHE_DIR"] == str(target)
    assert (target / "ocrcore_abc" / "kernels.f-1.py311.nbi").read_bytes() == b"index"
    assert env["NUMBA_CPU_NAME"] == "generic"

    env = {"NUMBA_CACHE_DIR": str(baked), "NUMBA_CPU_NAME": "generic"}  # writable: used in place
    assert lam.prepare_numba_cache(env, copy_to=str(target)) == str(baked) and env["NUMBA_CACHE_DIR"] == str(baked)

    env = {}  # nothing baked: a fresh cache in /tmp
    assert lam.prepare_numba_cache(env, copy_to=str(tmp_path / "fresh")) == str(tmp_path / "fresh")
    assert (tmp_path / "fresh").is_dir()


_CHILD = r"""
import json, os, sys
import ocrservice.lambda_handler as lh
from numba.core.dispatcher import Dispatcher
from ocrcore import kernels

def stats():
    return {n: {"sigs": len(o.signatures), "hits": sum(o.stats.cache_hits.values()),
                "misses": sum(o.stats.cache_misses.values())}
            for n, o in vars(kernels).items() if isinstance(o, Dispatcher)}

init = stats()
event = json.load(open(sys.argv[1]))
resp = lh.handler(event, None)
print(json.dumps({"cache_dir": os.environ["NUMBA_CACHE_DIR"], "cpu": os.environ.get("NUMBA_CPU_NAME"),
                  "uid": os.geteuid(), "init": init, "after": stats(), "status": resp["statusCode"],
                  "lines": len(json.loads(resp["body"]).get("text", []))}))
"""


def test_read_only_baked_cache_is_copied_to_tmp_and_no_kernel_compiles(tmp_path):
    """As on Lambda: the image's cache is read-only and the process is not its owner."""
    as_user: list[str] = []
    if os.geteuid() == 0:  # root writes anywhere: run the handler as nobody instead
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot make the baked cache read-only")
        as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        probe = subprocess.run([*as_user, sys.executable, "-c", "import ocrservice.bulk, mangum, onnxruntime, cv2"],
                               check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
        if probe.returncode != 0:
            pytest.skip(f"cannot run the repository as an unprivileged user here: {probe.stderr[-300:]}")
    work = Path(tempfile.mkdtemp(prefix="lambda-ro-"))
    try:
        work.chmod(0o755)
        baked = work / "opt" / "numba-cache"
        build_env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "OCR_"))}
        build_env.update(NUMBA_CACHE_DIR=str(baked), NUMBA_CPU_NAME="generic")
        built = subprocess.run(
            [sys.executable, str(ROOT / "infra" / "build_numba_cache.py"), "--profile", "tiny", "--no-verify"],
            check=False, cwd=ROOT, env=build_env, capture_output=True, text=True, timeout=300,
        )
        assert built.returncode == 0, built.stdout + built.stderr
        for p in [baked, *baked.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        (work / "opt").chmod(0o555)
        tmp = work / "tmp"
        tmp.mkdir(mode=0o777)
        tmp.chmod(0o777)
        img, _ = render_page(4, (640, 400), n_lines=3)
        event_path = work / "event.json"
        event_path.write_text(json.dumps(v2_event("POST", "/api/ocr", png_bytes(img), "image/png", function_url=True)))
        event_path.chmod(0o644)

        run_env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "OCR_", "AWS_"))}
        run_env.update(
            NUMBA_CACHE_DIR=str(baked),  # the Dockerfile's ENV; NUMBA_CPU_NAME left to the handler
            OCR_NUMBA_CACHE_COPY=str(tmp / "numba_cache"),
            OCR_PROFILE="tiny",
            OCR_ENHANCE="binarize",  # the one mode that runs a numba kernel (ocrcore.kernels)
            OCR_WORKERS="1",
            HOME=str(tmp),
            PYTHONDONTWRITEBYTECODE="1",
        )
        child = subprocess.run(
            [*as_user, sys.executable, "-c", _CHILD, str(event_path)],
            check=False, cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=300,
        )
        assert child.returncode == 0, child.stderr[-4000:]
        report = json.loads(child.stdout.strip().splitlines()[-1])
        assert report["uid"] != 0 or not as_user
        assert report["cache_dir"] == str(tmp / "numba_cache") and report["cpu"] == "generic"
        assert any((tmp / "numba_cache").rglob("*.nbi")), "the baked cache was copied to /tmp"
        assert report["status"] == 200 and report["lines"] == 3
        used = {k: v for k, v in report["after"].items() if v["sigs"]}
        assert {"sauvola_binarize"} <= set(used)
        for name, st in used.items():
            assert st["misses"] == 0 and st["hits"] >= 1, f"{name} compiled instead of loading the cache: {st}"
            assert st["sigs"] == report["init"][name]["sigs"], f"{name} compiled a new signature during the request"
    finally:
        for p in [work, *work.rglob("*")]:
            try:
                p.chmod(0o755 if p.is_dir() else 0o644)
            except OSError:
                pass
        shutil.rmtree(work, ignore_errors=True)
