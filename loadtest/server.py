"""Start ``python -m ocrservice.serve``, wait until it is ready, stop it: shared by the test fixtures
(tests/conftest.py) and the load runner (loadtest/run.py).

    with ServerProcess({"OCR_PROFILE": "tiny"}) as srv:     # started, /healthz says ready
        httpx.post(f"{srv.url}/api/ocr", files={"image": ...})
    # stopped: SIGTERM to its whole process group, SIGKILL after a grace period
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Self

import httpx

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = float(os.environ.get("OCR_TEST_STARTUP_TIMEOUT", "180"))


class ServerError(RuntimeError):
    """The server exited, reported a load error or did not become ready in time."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_ready(url: str, timeout_s: float = STARTUP_TIMEOUT_S, *, require_ready: bool = True,
               proc: subprocess.Popen | None = None) -> dict:
    """Poll ``url/healthz`` every 0.2 s until it answers 200 with ``"ready": true`` (or answers at
    all, ``require_ready=False``); return its JSON (``{}`` if not JSON). Raises :class:`ServerError`
    when ``proc`` exits, the server reports ``"status": "error"`` or ``timeout_s`` seconds pass."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServerError(f"the server exited with status {proc.returncode} before it was ready")
        try:
            r = httpx.get(f"{url}/healthz", timeout=5)
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            if not require_ready or (r.status_code == 200 and body.get("ready", True)):
                return body
            last = f"HTTP {r.status_code} {r.text[:300]}"
            if body.get("status") == "error":
                raise ServerError(f"the server failed to load: {last}")
        except (httpx.HTTPError, ValueError) as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise ServerError(f"{url}/healthz not ready after {timeout_s:.0f} s (last: {last})")


class ServerProcess:
    """The server on 127.0.0.1 and a free port (``.port``, ``.url``), in its own process group,
    stdout and stderr to ``log_path`` (default ``log_dir``, else a temporary directory, ``/server-PORT.log``).

    ``env`` overrides this process's environment (defaults: ``OCR_PROFILE=small``, the repository's
    numba cache, ``LOG_LEVEL=info``); ``wrap`` prefixes the command (``["taskset", "-c", "0"]``).
    After :meth:`start`: ``.health`` (the ``/healthz`` JSON), ``.pid`` (also the group id)."""

    def __init__(self, env: Mapping[str, str] | None = None, *, log_dir: Path | None = None,
                 log_path: Path | None = None, wrap: Sequence[str] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {"OCR_PROFILE": "small", "NUMBA_CACHE_DIR": str(ROOT / ".cache" / "numba"), "LOG_LEVEL": "info",
                    **os.environ, **{k: str(v) for k, v in (env or {}).items()},
                    "HOST": "127.0.0.1", "PORT": str(self.port), "PYTHONUNBUFFERED": "1"}
        self.log_path = log_path or Path(log_dir or tempfile.mkdtemp(prefix="ocr-server-")) / f"server-{self.port}.log"
        self.command = [*wrap, sys.executable, "-m", "ocrservice.serve"]
        self.proc: subprocess.Popen | None = None
        self.health: dict = {}

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self, timeout_s: float = STARTUP_TIMEOUT_S, *, require_ready: bool = True) -> Self:
        """Start the server and wait (at most ``timeout_s`` seconds) until ``/healthz`` says ready,
        or only answers (``require_ready=False``). On failure the server is stopped and
        :class:`ServerError` carries the log's tail."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self.health = wait_ready(self.url, timeout_s, require_ready=require_ready, proc=self.proc)
        except BaseException as exc:
            self.stop()
            if isinstance(exc, ServerError):
                raise ServerError(f"{exc}; {self.log_path} ends:\n{self.log_text()[-4000:]}") from None
            raise
        return self

    def log_text(self) -> str:
        """The server's log so far ("" if unreadable)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM to the server's process group, at most ``grace_s`` seconds for the server to exit,
        then SIGKILL to whatever is left of the group."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace_s)
        with contextlib.suppress(ProcessLookupError):  # whatever is left of the group
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=5)

    def __enter__(self) -> Self:
        return self.start() if self.proc is None else self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def run_server(log_dir: Path | None = None, **env: str) -> Iterator[ServerProcess]:
    """``with run_server(OCR_PROFILE="tiny") as srv:`` a started, ready server, stopped at the end."""
    with ServerProcess(env, log_dir=log_dir) as srv:
        yield srv
