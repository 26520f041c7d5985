"""Shared fixtures: a real OCR server (uvicorn subprocess on 127.0.0.1), eval data, generated images.

Fixtures
--------
``server``          session-scoped base URL (``"http://127.0.0.1:PORT"``) of ``python -m handler.serve``
                    with the real models, started once, ready (``/healthz`` 200) before any test
                    uses it, stopped at the end. Profile: ``$OCR_PROFILE`` or ``small``.
``server_proc``     the :class:`ServerProcess` behind ``server`` (``.url``, ``.log_text()``, ``.env``).
``start_server``    factory for extra servers with their own environment, e.g.
                    ``start_server(OCR_MAX_QUEUE="1", OCR_PROFILE="tiny")``; each is stopped at the
                    end of the test (function scope). ``require_ready=False`` returns as soon as
                    ``/healthz`` answers. For a module-wide one use :func:`run_server`.
``moto_s3``         moto's S3 server with a bucket; its value is the env for ``start_server(**moto_s3)``.
``eval_dir``        ``/work/shared/eval`` (``Path(__file__).parents[2]/"shared"/"eval"``); skips if absent.
``synth_png``       ``synth_png(seed, **render_page_kwargs) -> (png_bytes, truth_lines)``.

Outside pytest, ``with run_server(OCR_PROFILE="tiny") as srv: ...`` does the same.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"
STARTUP_TIMEOUT = float(os.environ.get("OCR_TEST_STARTUP_TIMEOUT", "180"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``python -m handler.serve`` in a subprocess on 127.0.0.1 and a free port, logging to a file."""

    def __init__(self, env: dict[str, str] | None = None, *, log_dir: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        base = dict(os.environ)
        base.setdefault("OCR_PROFILE", "small")
        base.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache" / "numba"))
        base.setdefault("LOG_LEVEL", "info")
        base.update({k: str(v) for k, v in (env or {}).items()})
        base.update(HOST="127.0.0.1", PORT=str(self.port), PYTHONUNBUFFERED="1")
        self.env = base
        log_dir = log_dir or Path(tempfile.mkdtemp(prefix="ocr-server-"))
        self.log_path = log_dir / f"server-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = STARTUP_TIMEOUT, *, require_ready: bool = True) -> ServerProcess:
        """Start and wait for ``/healthz`` to say ready (or just to answer, ``require_ready=False``)."""
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "handler.serve"],
            cwd=REPO, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_text()[-4000:]}")
            try:
                r = httpx.get(f"{self.url}/healthz", timeout=2)
                if not require_ready or (r.status_code == 200 and r.json().get("ready")):
                    return self
                last = f"{r.status_code} {r.text[:300]}"
                if r.json().get("status") == "error":
                    break
            except (httpx.HTTPError, ValueError) as exc:
                last = repr(exc)
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout:.0f}s (last: {last}):\n{self.log_text()[-4000:]}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if getattr(self, "_log", None):
            self._log.close()


@contextlib.contextmanager
def run_server(log_dir: Path | None = None, **env: str) -> Iterator[ServerProcess]:
    srv = ServerProcess(env, log_dir=log_dir).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def server_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with run_server(log_dir=tmp_path_factory.mktemp("server")) as srv:
        yield srv


@pytest.fixture(scope="session")
def server(server_proc: ServerProcess) -> str:
    """Base URL of a running OCR server (see the module docstring)."""
    return server_proc.url


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(*, require_ready: bool = True, **env: str) -> ServerProcess:
        srv = ServerProcess(env, log_dir=tmp_path).start(require_ready=require_ready)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    if not EVAL_DIR.is_dir():
        pytest.skip(f"evaluation data not found at {EVAL_DIR}")
    return EVAL_DIR


@pytest.fixture(scope="session")
def synth_png() -> Callable[..., tuple[bytes, list[str]]]:
    import cv2

    from ocrcore.synth import render_page

    def make(seed: int, **kwargs) -> tuple[bytes, list[str]]:
        img, truth = render_page(seed, **kwargs)
        ok, buf = cv2.imencode(".png", img)
        assert ok
        return buf.tobytes(), [line.text for line in truth]

    return make


@pytest.fixture
def moto_s3() -> Iterator[dict[str, str]]:
    """moto's S3 server on 127.0.0.1 with a bucket; yields the server environment that uses it
    (``OCR_UPLOAD_BUCKET``, ``AWS_ENDPOINT_URL_S3``, fake credentials): ``start_server(**moto_s3)``."""
    boto3 = pytest.importorskip("boto3")
    pytest.importorskip("moto.server")
    from tests.helpers import moto_server

    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    with moto_server() as endpoint:
        boto3.client("s3", endpoint_url=endpoint, **creds).create_bucket(Bucket="ocr-uploads-test")
        yield {
            "OCR_UPLOAD_BUCKET": "ocr-uploads-test",
            "AWS_ENDPOINT_URL_S3": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "OCR_UPLOAD_EXPIRES": "300",
        }
