"""Shared fixtures: a real OCR server (uvicorn subprocess on 127.0.0.1), eval data, generated images.

Fixtures
--------
``server``          session-scoped base URL (``"http://127.0.0.1:PORT"``) of ``python -m ocrservice.serve``
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

The servers are :class:`loadtest.server.ServerProcess` (shared with the load runner): each in its
own process group, stopped with it; a failed start raises with the server log's tail. Outside
pytest, ``with run_server(OCR_PROFILE="tiny") as srv: ...`` does the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from loadtest.server import ServerProcess, free_port, run_server  # noqa: F401 - the shared helper, re-exported

if TYPE_CHECKING:
    from ocrcore import OCREngine

REPO = Path(__file__).resolve().parents[1]
EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"


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
def tiny() -> OCREngine:
    """The tiny-profile engine with the real built models, shared by every module (engines are
    stateless per call and thread-safe)."""
    from ocrcore import OCREngine

    return OCREngine(profile="tiny", threads=2)


@pytest.fixture(scope="session")
def small() -> OCREngine:
    """The small-profile engine, shared like :func:`tiny`."""
    from ocrcore import OCREngine

    return OCREngine(profile="small", threads=2)


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
