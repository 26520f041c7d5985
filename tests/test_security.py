"""Safe to expose (issue 14): the token check, the rate limit, CORS and presigned-upload scope.

One real server (tiny profile) with a token, a tokens file, a rate limit, a CORS origin and an
upload bucket on moto's S3 server. Every test talks to it from its own loopback address
(127.0.0.x, see :func:`client`), so the per-client rate limit of one test does not throttle the
next. Timing is never measured: the constant-time comparison is checked by construction (the
checker calls ``hmac.compare_digest`` once per configured token whatever is presented).
"""

from __future__ import annotations

import contextlib
import hmac
import http.server
import threading
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from ocrcore.config import ConfigError
from ocrservice import auth
from ocrservice.auth import TokenChecker, bearer_token, caller_identity, token_identity
from ocrservice.config import load_settings
from ocrservice.ratelimit import RateLimiter, parse_limits

TOKEN = "tok-" + "a1b2c3d4" * 4
FILE_TOKEN = "file-" + "9z8y7x6w" * 4
ORIGIN = "https://ocr.example.com"
RATE = "5 per 10 seconds"
TIMEOUT = httpx.Timeout(120.0)


@pytest.fixture(scope="module")
def moto_endpoint():
    pytest.importorskip("moto.server")
    import boto3

    from tests.helpers import moto_server

    with moto_server() as endpoint:
        boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
                     region_name="us-east-1").create_bucket(Bucket="ocr-uploads-test")
        yield endpoint


@pytest.fixture(scope="module")
def srv(tmp_path_factory, moto_endpoint):
    from tests.conftest import run_server

    tmp = tmp_path_factory.mktemp("secure")
    tokens = tmp / "tokens"
    tokens.write_text(f"# one per line\n{FILE_TOKEN}\n\n")
    env = {
        "OCR_PROFILE": "tiny", "OCR_API_TOKEN": TOKEN, "OCR_API_TOKENS_FILE": str(tokens),
        "OCR_RATE_LIMIT": RATE, "CORS_ORIGINS": ORIGIN,
        "OCR_UPLOAD_BUCKET": "ocr-uploads-test", "AWS_ENDPOINT_URL_S3": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "OCR_UPLOAD_EXPIRES": "120", "OCR_UPLOAD_MAX_BYTES": "3000000",
    }
    with run_server(log_dir=tmp, **env) as server:
        yield server


_next_address = iter(range(2, 250))


def client(token: str | None = None) -> httpx.Client:
    """An HTTP client from a fresh loopback address (its own rate-limit budget)."""
    transport = httpx.HTTPTransport(local_address=f"127.0.0.{next(_next_address)}")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(transport=transport, headers=headers, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def small_png(synth_png) -> bytes:
    return synth_png(5, size=(320, 120), n_lines=1)[0]


def assert_401(r: httpx.Response, error: str | None) -> None:
    assert r.status_code == 401, r.text
    body = r.json()
    assert body["success"] is False and body["error"]["code"] == "unauthorized" and body["request_id"]
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    assert (f'error="{error}"' in challenge) if error else ("error=" not in challenge)


# --------------------------------------------------------------------------- the checker itself


def test_checker_compares_with_every_token_by_compare_digest(monkeypatch):
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    checker = TokenChecker(["first-token-000", "second-token-00", "third-token-000"])
    near_miss = "first-token-001"  # same length as the first, last byte differs
    for presented, expected in [("first-token-000", token_identity("first-token-000")),
                                ("third-token-000", token_identity("third-token-000")),
                                (near_miss, None), ("x", None), ("", None)]:
        calls.clear()
        assert checker.check(presented) == expected
        # no early exit: all three tokens are compared whether the first, the last or none matches
        assert [a for a, _ in calls] == [b"first-token-000", b"second-token-00", b"third-token-000"]
        assert all(b == presented.encode() for _, b in calls)
    assert checker.check(None) is None


def test_checker_sources_and_identities(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("# comment\n  one  \n\ntwo\n")
    checker = TokenChecker.from_settings(load_settings({"OCR_API_TOKEN": "zero", "OCR_API_TOKENS_FILE": str(path)}))
    assert len(checker) == 3 and all(checker.check(t) for t in ("zero", "one", "two"))
    assert checker.check("# comment") is None
    assert token_identity("one") != token_identity("two") and "one" not in token_identity("one")
    assert not TokenChecker.from_settings(load_settings({})).enabled
    (tmp_path / "empty").write_text("# nothing\n")
    with pytest.raises(ConfigError, match="holds no token"):
        TokenChecker.from_settings(load_settings({"OCR_API_TOKENS_FILE": str(tmp_path / "empty")}))
    with pytest.raises(ConfigError, match="cannot read"):
        TokenChecker.from_settings(load_settings({"OCR_API_TOKENS_FILE": str(tmp_path / "missing")}))
    assert "zero" not in repr(load_settings({"OCR_API_TOKEN": "zero"}))  # a SecretStr: never printed


def test_checker_reads_a_secrets_manager_secret(monkeypatch):
    """AuthMode=token on Lambda: the token is a Secrets Manager secret read at init (moto's server)."""
    pytest.importorskip("moto.server")
    import boto3

    from tests.helpers import moto_server

    with moto_server() as endpoint:
        for name, value in {"AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                            "AWS_SECRET_ACCESS_KEY": "testing"}.items():
            monkeypatch.setenv(name, value)
        arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="ocr-token", SecretString="s3cr3t-token-value")["ARN"]
        checker = TokenChecker.from_settings(load_settings({"OCR_API_TOKEN_SECRET": arn}))
        assert checker.check("s3cr3t-token-value") == token_identity("s3cr3t-token-value")
        assert checker.check("s3cr3t-token-valuf") is None
        with pytest.raises(ConfigError, match="OCR_API_TOKEN_SECRET"):
            TokenChecker.from_settings(load_settings({"OCR_API_TOKEN_SECRET": "no-such-secret"}))


def test_bearer_parsing_and_iam_identity():
    assert bearer_token("Bearer abc") == "abc" and bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None and bearer_token("") is None and bearer_token("Bearer ") is None
    event = {"requestContext": {"authorizer": {"iam": {"userArn": "arn:aws:iam::1:user/u"}}}}
    assert caller_identity({"aws.event": event}) == "iam:arn:aws:iam::1:user/u"
    assert caller_identity({"state": {"identity": "token:x"}, "aws.event": event}) == "token:x"
    assert caller_identity({}) == "anonymous"


def test_cors_default_follows_who_serves_the_page(tmp_path):
    """CORS_ORIGINS unset: no other origin when the app serves the page (same origin needs no CORS),
    ``*`` only for an API-only server; a configured list is taken as it is."""
    assert load_settings({}).cors_origins == ()  # the repository's web/ is served
    assert load_settings({"OCR_WEB_DIR": str(tmp_path)}).cors_origins == ("*",)  # no index.html there
    (tmp_path / "index.html").write_text("<!doctype html>")
    assert load_settings({"OCR_WEB_DIR": str(tmp_path)}).cors_origins == ()
    assert load_settings({"CORS_ORIGINS": ORIGIN}).cors_origins == (ORIGIN,)


def test_rate_limiter_unit():
    limiter = RateLimiter(parse_limits("2 per 1 second"))
    assert limiter.hit("a") is None and limiter.hit("a") is None
    wait = limiter.hit("a")
    assert wait is not None and 0 < wait <= 1
    assert limiter.hit("b") is None  # per client
    with pytest.raises(ValueError):
        load_settings({"OCR_RATE_LIMIT": "lots"})


# --------------------------------------------------------------------------- the real server


def test_token_required_on_api_and_metrics_not_on_health_or_page(srv, small_png):
    with client() as c:
        assert c.get(f"{srv.url}/healthz").status_code == 200
        assert c.get(f"{srv.url}/").status_code == 200
        assert_401(c.post(f"{srv.url}/api/ocr", files={"image": ("x.png", small_png)}), None)
        assert_401(c.post(f"{srv.url}/api/uploads", json={}), None)
        assert_401(c.get(f"{srv.url}/metrics"), None)
        assert_401(c.post(f"{srv.url}/api/ocr", files={"image": ("x.png", small_png)},
                          headers={"Authorization": f"Basic {TOKEN}"}), None)


def test_an_oversized_body_from_a_stranger_is_refused_unread(srv):
    """A stranger declaring a huge body gets the 401 (not the 413 that reads and discards up to
    64 MiB first): the server reads nothing of a body it will not use."""
    import socket

    host, port = srv.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(b"POST /api/ocr HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                     b"Content-Length: 999999999\r\n\r\n" + bytes(1024))
        answer = b""
        while b'"unauthorized"' not in answer and b"payload_too_large" not in answer and len(answer) < 65536:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 401") and b'"unauthorized"' in answer, answer


def test_wrong_and_near_miss_tokens_are_refused(srv, small_png):
    near_miss = TOKEN[:-1] + ("0" if TOKEN[-1] != "0" else "1")  # equal length, last byte differs
    for bad in ("wrong", near_miss, TOKEN + "x", TOKEN.upper()):
        with client(bad) as c:
            assert_401(c.post(f"{srv.url}/api/ocr", files={"image": ("x.png", small_png)}), "invalid_token")


def test_right_tokens_are_served(srv, small_png):
    for token in (TOKEN, FILE_TOKEN):
        with client(token) as c:
            r = c.post(f"{srv.url}/api/ocr", files={"image": ("x.png", small_png)})
            assert r.status_code == 200, r.text
            assert r.json()["success"] is True and r.json()["text"]
            assert c.get(f"{srv.url}/metrics").status_code == 200
    lines = [x for x in srv.log_text().splitlines() if '"unauthorized"' in x]
    assert lines and TOKEN not in srv.log_text()  # refusals are logged; the token never is


def test_cors_allows_the_configured_origin_with_authorization(srv):
    with client() as c:
        r = c.options(f"{srv.url}/api/ocr", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                                      "Access-Control-Request-Headers": "authorization"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
        assert "authorization" in r.headers["access-control-allow-headers"].lower()
        r = c.options(f"{srv.url}/api/ocr", headers={"Origin": "https://evil.example",
                                                      "Access-Control-Request-Method": "POST"})
        assert r.status_code == 400 and "access-control-allow-origin" not in r.headers


def test_rate_limit_gives_429_then_recovers(srv, small_png):
    limit = parse_limits(RATE)[0]
    with client(TOKEN) as c, client(TOKEN) as other:
        statuses = [c.post(f"{srv.url}/api/ocr", files={"image": ("x.png", small_png)}).status_code
                    for _ in range(limit.amount)]
        assert statuses == [200] * limit.amount
        r = c.post(f"{srv.url}/api/ocr", files={"image": ("x.png", small_png)})
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        retry = int(r.headers["retry-after"])
        assert 1 <= retry <= limit.get_expiry()
        assert other.post(f"{srv.url}/api/ocr", files={"image": ("x.png", small_png)}).status_code == 200  # per client
        assert c.get(f"{srv.url}/healthz").status_code == 200  # only /api/* is limited
        assert c.post(f"{srv.url}/api/ocr", files={"image": ("x.png", small_png)}).status_code == 429  # still
        time.sleep(retry + 0.2)
        assert c.post(f"{srv.url}/api/ocr", files={"image": ("x.png", small_png)}).status_code == 200


# --------------------------------------------------------------------------- presigned uploads


def _sigv4_query_signature(url: str, method: str, headers: dict[str, str]) -> str:
    """The SigV4 query signature S3 computes for ``url`` (its X-Amz-* parameters, minus the
    signature) sent with ``headers``: botocore's own signer, at the URL's timestamp. moto 5 does not
    verify presigned signatures, so this is the check that S3 would refuse a tampered request."""
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    date, expires = query["X-Amz-Date"], int(query["X-Amz-Expires"])
    region = query["X-Amz-Credential"].split("/")[2]
    bare = urlunsplit(parts._replace(query=urlencode({k: v for k, v in query.items() if not k.startswith("X-Amz-")})))
    signer = S3SigV4QueryAuth(Credentials("testing", "testing"), "s3", region, expires=expires)
    request = AWSRequest(method=method, url=bare, headers=headers)
    request.context["timestamp"] = date
    signer._modify_request_before_signing(request)
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request)


def test_presigned_upload_is_scoped_to_its_key_its_size_and_its_uploader(srv, synth_png):
    data, _ = synth_png(44, size=(900, 500), n_lines=3)
    with client(TOKEN) as owner, client(FILE_TOKEN) as stranger:
        too_big = owner.post(f"{srv.url}/api/uploads", json={"content_type": "image/png", "size": 3_000_001})
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "image_too_large"
        no_size = owner.post(f"{srv.url}/api/uploads", json={"content_type": "image/png"})
        assert no_size.status_code == 422 and no_size.json()["error"]["code"] == "missing_field"

        r = owner.post(f"{srv.url}/api/uploads", json={"content_type": "image/png", "size": len(data)})
        assert r.status_code == 200, r.text
        up = r.json()
        assert up["size"] == len(data) and up["expires_in"] == 120
        key, url = up["s3_key"], up["upload_url"]
        theirs = stranger.post(f"{srv.url}/api/uploads", json={"content_type": "image/png", "size": 10}).json()["s3_key"]
        assert key.split("/")[1] != theirs.split("/")[1]  # per-uploader prefix
        assert len(key.rsplit("/", 1)[1].split(".")[0]) == 32  # 128 random bits

        query = dict(parse_qsl(urlsplit(url).query))
        assert query["X-Amz-SignedHeaders"].split(";") == ["content-length", "content-type", "host"]
        assert query["X-Amz-Expires"] == "120"  # OCR_UPLOAD_EXPIRES is what S3 is told, not only the answer
        host = urlsplit(url).netloc
        signed = {"Content-Length": str(len(data)), "Content-Type": "image/png", "Host": host}
        assert _sigv4_query_signature(url, "PUT", signed) == query["X-Amz-Signature"]  # the recomputation is right
        larger = dict(signed, **{"Content-Length": str(len(data) + 1)})
        assert _sigv4_query_signature(url, "PUT", larger) != query["X-Amz-Signature"]
        other_key = url.replace(key, theirs)
        assert _sigv4_query_signature(other_key, "PUT", signed) != query["X-Amz-Signature"]
        assert _sigv4_query_signature(url, "GET", signed) != query["X-Amz-Signature"]

        put = httpx.put(url, content=data, headers=up["headers"], timeout=60)  # moto's S3
        assert put.status_code == 200, put.text
        r = stranger.post(f"{srv.url}/api/ocr", json={"s3_key": key})  # another token's upload
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_s3_key"
        r = owner.post(f"{srv.url}/api/ocr", json={"s3_key": key})
        assert r.status_code == 200 and r.json()["text"], r.text


# --------------------------------------------------------------------------- the page with a token


def test_page_asks_for_the_token_and_keeps_it_in_the_tab_only(srv, small_png, tmp_path):
    from tests.test_web import CHROMIUM_ARGS, chromium_path, open_page

    exe = chromium_path()  # skips without Debian's chromium (fails on CI), as tests/test_web.py
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

    image = tmp_path / "line.png"
    image.write_bytes(small_png)
    for name in ("index.html", "app.js", "config.js"):  # nothing secret in what the page ships
        assert TOKEN not in httpx.get(f"{srv.url}/{name}", timeout=10).text
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            # Dismissing the prompt: a clear, localized error.
            context, page = open_page(browser, f"{srv.url}/", locale="en-US")
            page.on("dialog", lambda d: d.dismiss())
            page.set_input_files("#file-input", str(image))
            page.wait_for_function("document.getElementById('preview-img').naturalWidth > 0")
            page.click("#run-btn")
            page.wait_for_selector("#error:not([hidden])")
            assert page.locator("#error-title").inner_text() == "Access token needed"
            assert "unauthorized" in page.locator("#error-detail").inner_text()
            context.close()

            # Entering it: the request is repeated with it, and it stays in sessionStorage only.
            context, page = open_page(browser, f"{srv.url}/", locale="en-US")
            prompts: list[str] = []

            def answer(dialog):
                prompts.append(dialog.message)
                dialog.accept(TOKEN)

            page.on("dialog", answer)
            page.set_input_files("#file-input", str(image))
            page.wait_for_function("document.getElementById('preview-img').naturalWidth > 0")
            page.click("#run-btn")
            page.wait_for_selector("#lines .line")
            assert len(prompts) == 1 and "token" in prompts[0] and srv.url in prompts[0]  # names whom it goes to
            assert page.evaluate(f"sessionStorage.getItem('ocr.token@{srv.url}')") == TOKEN
            assert TOKEN not in page.evaluate("JSON.stringify(Object.assign({}, localStorage))")
            assert TOKEN not in page.url and not page.js_errors, page.js_errors

            # The same tab sent to ?api=<another server> (a crafted link): the token entered for this
            # API is not sent there, and the prompt that server's 401 triggers names that server.
            with _recording_server() as (other_url, seen):
                prompts.clear()
                page.remove_listener("dialog", answer)
                page.on("dialog", lambda d: (prompts.append(d.message), d.dismiss()))
                page.goto(f"{srv.url}/?api={other_url}")
                page.set_input_files("#file-input", str(image))
                page.wait_for_function("document.getElementById('preview-img').naturalWidth > 0")
                page.click("#run-btn")
                page.wait_for_selector("#error:not([hidden])")
                assert any(path.startswith("/api/ocr") for _, path, _ in seen), seen  # the page did call it
                assert not any(TOKEN in headers for _, _, headers in seen)
                assert not any("authorization" in headers.lower() for _, _, headers in seen)
                assert len(prompts) == 1 and other_url in prompts[0] and srv.url not in prompts[0]
            context.close()
        finally:
            browser.close()


@contextlib.contextmanager
def _recording_server():
    """Another server on loopback that answers everything 401 (CORS open) and records each request's
    method, path and headers: what a link's ``?api=`` could point the page to."""
    seen: list[tuple[str, str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append((self.command, self.path, str(self.headers)))
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            body = b'{"success": false, "error": {"code": "unauthorized", "message": "token?"}}'
            self.send_response(204 if self.command == "OPTIONS" else 401)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Headers", "*")
            self.send_header("Access-Control-Allow-Methods", "GET, POST")
            if self.command != "OPTIONS":
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "OPTIONS":
                self.wfile.write(body)

        do_GET = do_POST = do_OPTIONS = _answer

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_edge_box_defaults_require_a_token_and_limit_rates(tmp_path):
    """infra/edge/ocr.env: the settings load, a tokens file is required and the rate limit is on."""
    from tests.helpers import ROOT

    env = dict(line.split("=", 1) for line in (ROOT / "infra" / "edge" / "ocr.env").read_text().splitlines()
               if line and not line.startswith("#"))
    assert env["OCR_API_TOKENS_FILE"] == "/etc/ocr/tokens" and env["HOST"] == "0.0.0.0"
    assert "CORS_ORIGINS" not in env  # the page the box serves is the only browser origin
    tokens = tmp_path / "tokens"
    tokens.write_text("edge-token\n")
    settings = load_settings({**env, "OCR_API_TOKENS_FILE": str(tokens)})
    assert [str(x) for x in parse_limits(settings.rate_limit)] == ["30 per 1 minute", "600 per 1 hour"]
    assert settings.cors_origins == ()
    assert TokenChecker.from_settings(settings).check("edge-token") == token_identity("edge-token")
    install = (ROOT / "infra" / "edge" / "install.sh").read_text()
    assert "secrets.token_urlsafe(32)" in install and 'chmod 0640 "$ETC_DIR/tokens"' in install
