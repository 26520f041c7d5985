"""The service logic in-process (httpx's ASGITransport, no socket) with a stand-in engine whose
calls can be held and counted: result cache, Cache-Control: no-cache, 503 admission, single-flight,
and validation of answers against the declared response model. The real-server and real-engine
behaviour is in tests/test_api.py."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

import httpx
import pytest

from ocrcore.config import EngineConfig
from ocrcore.types import Line, OCRResult
from ocrcore.vocab import Constraint
from ocrservice.app import create_app
from ocrservice.config import Settings

PNG = b"\\x89PNG fake bytes: the fake engine does not decode"


@dataclass
class FakeCores:
    size: int = 1


@dataclass
class FakeChoice:
    reasons: dict = field(default_factory=lambda: {"det": "fake", "rec": "fake", "cls": "fake"})


class FakeEngine:
    """The slice of OCREngine the service uses. ``ocr`` waits for ``release`` when ``hold`` is
    set and counts its calls; its answer can be replaced to test the response validation."""

    def __init__(self, hold: bool = False) -> None:
        self.config = EngineConfig(profile="tiny")
        self.precisions = {"det": "fp32", "rec": "fp32", "cls": "fp32"}
        self.precision_choice = FakeChoice()
        self.cores = FakeCores()
        self.calls = 0
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.lines: tuple = (Line("北京 42.00", 0.98, ((1, 2), (30, 2), (30, 12), (1, 12))),)
        self.vocabulary = Constraint()
        self.constraints: list[dict] = []

    def ocr(self, data: bytes, *, detect: bool = True, cls: bool | None = None, words: bool = False,
            orient: bool | None = None, **constraint) -> OCRResult:
        self.constraints.append(constraint)
        self.calls += 1
        self.started.set()
        assert self.release.wait(10), "the test never released the engine"
        return OCRResult(self.lines, 40, 20, {"detect": 0.01, "recognize": 0.02, "total": 0.03})


def app_with(engine: FakeEngine, **settings) -> httpx.AsyncClient:
    base = {"workers": 2, "max_queue": 8, "web_dir": None}
    app = create_app(Settings(**{**base, **settings}), engine=engine)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service.test")


async def post(client: httpx.AsyncClient, data: bytes = PNG, headers: dict | None = None) -> httpx.Response:
    return await client.post("/api/ocr", files={"image": ("a.png", data, "image/png")}, headers=headers or {})


def test_result_cache_and_no_cache() -> None:
    async def run() -> None:
        engine = FakeEngine()
        async with app_with(engine) as client:
            first, second = await post(client), await post(client)
            assert first.json()["cached"] is False and second.json()["cached"] is True
            assert engine.calls == 1
            assert second.json()["text"] == first.json()["text"]
            fresh = await post(client, b"other bytes", {"Cache-Control": "no-cache"})
            again = await post(client, b"other bytes")
            assert fresh.json()["cached"] is False and again.json()["cached"] is False  # no-cache did not fill it
            assert engine.calls == 3

    asyncio.run(run())


def test_cache_key_includes_the_vocabulary() -> None:
    """The same image under another constraint is computed again; the same constraint, sent as a
    query or as a form field, is one cache entry; the engine gets the resolved constraint."""
    async def run() -> None:
        engine = FakeEngine()
        async with app_with(engine) as client:
            files = {"image": ("a.png", PNG, "image/png")}
            free = await client.post("/api/ocr", files=files)
            digits = await client.post("/api/ocr?allowlist=0123456789", files=files)
            again = await client.post("/api/ocr", files=files, data={"allowlist": "0123456789"})
            assert [r.json()["cached"] for r in (free, digits, again)] == [False, False, True]
            assert engine.calls == 2
            assert engine.constraints[1] == {"allowlist": "0123456789", "blocklist": "", "pattern": "", "hotwords": {}}
            bad = await client.post("/api/ocr?hotwords=x:-1", files=files)
            assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_constraint"
            assert engine.calls == 2

    asyncio.run(run())


def test_full_queue_answers_503_and_the_admitted_job_completes() -> None:
    async def run() -> None:
        engine = FakeEngine(hold=True)
        async with app_with(engine, workers=1, max_queue=1) as client:
            first = asyncio.create_task(post(client, b"first"))
            await asyncio.to_thread(engine.started.wait, 10)
            busy = await post(client, b"second")
            assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
            assert busy.json()["error"]["code"] == "server_busy"
            engine.release.set()
            done = await first
            assert done.status_code == 200 and engine.calls == 1
            assert (await post(client, b"third")).status_code == 200  # admitted again once the first finished

    asyncio.run(run())


def test_identical_requests_in_flight_share_one_computation() -> None:
    async def run() -> None:
        engine = FakeEngine(hold=True)
        async with app_with(engine) as client:
            tasks = [asyncio.create_task(post(client, b"same")) for _ in range(3)]
            await asyncio.to_thread(engine.started.wait, 10)
            await asyncio.sleep(0.05)
            engine.release.set()
            answers = await asyncio.gather(*tasks)
            assert [r.status_code for r in answers] == [200, 200, 200] and engine.calls == 1
            assert sorted(r.json()["cached"] for r in answers) == [False, True, True]

    asyncio.run(run())


def test_answers_are_validated_against_the_declared_model() -> None:
    """The route returns OCRResponse: a line the model cannot hold is a 500 caught by the
    middleware (logged with its request id), never a malformed 200."""
    async def run() -> None:
        engine = FakeEngine()
        engine.lines = (Line("x", "not a number", ((0, 0), (1, 0), (1, 1), (0, 1))),)  # type: ignore[arg-type]
        async with app_with(engine) as client:
            r = await post(client)
            assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
            assert (await client.get("/healthz")).status_code == 200  # still serving

    asyncio.run(run())


def test_health_reports_the_engine_and_the_contract_is_published() -> None:
    async def run() -> None:
        async with app_with(FakeEngine()) as client:
            health = (await client.get("/healthz")).json()
            assert health["ready"] and health["profile"] == "tiny" and health["cpu"] and health["isa"] is not None
            schema = (await client.get("/openapi.json")).json()
            content = schema["paths"]["/api/ocr"]["post"]["responses"]["200"]["content"]
            ok = content["application/json"]["schema"]
            # an image's answer or a document's (PDF/TIFF, with pages); or the searchable PDF
            assert sorted(x["$ref"].rsplit("/", 1)[1] for x in ok["anyOf"]) == ["DocumentResponse", "OCRResponse"]
            assert "application/pdf" in content
            for model in ("OCRResponse", "DocumentResponse"):
                required = set(schema["components"]["schemas"][model]["required"])
                assert {"text", "processing_time"} <= required
            assert "pages" in schema["components"]["schemas"]["DocumentResponse"]["required"]
            docs = await client.get("/docs")
            assert docs.status_code == 200 and "cdn." not in docs.text  # Swagger UI assets served locally
            asset = docs.text.split('src="')[1].split('"')[0]
            assert (await client.get(asset)).status_code == 200

    asyncio.run(run())


@pytest.mark.timeout(120)
def test_the_settings_profile_is_the_one_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """create_app(Settings(profile="tiny")) loads tiny even when OCR_PROFILE says small."""
    monkeypatch.setenv("OCR_PROFILE", "small")

    async def run() -> None:
        app = create_app(Settings(profile="tiny", threads=1, web_dir=None))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s.test") as client:
            import cv2

            from ocrcore.synth import render_page

            img, _ = render_page(3, (400, 200), n_lines=2)
            r = await client.post("/api/ocr", content=cv2.imencode(".png", img)[1].tobytes(),
                                  headers={"Content-Type": "image/png"})
            assert r.status_code == 200
            assert (await client.get("/healthz")).json()["profile"] == "tiny"
            assert app.state.service.engine_or_none.config.profile == "tiny"

    asyncio.run(run())


def test_stopping_the_app_shuts_the_service_down() -> None:
    """Issue #10: OCRService.shutdown was never called. The app's lifespan calls it when the
    server stops: the request pool takes no new work and its waiting jobs are cancelled."""

    async def run() -> None:
        app = create_app(Settings(workers=1, max_queue=8, web_dir=None), engine=FakeEngine())  # type: ignore[arg-type]
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s.test") as client:
                assert (await post(client)).status_code == 200
            app.state.service.executor.submit(int).result(timeout=5)  # still serving inside the lifespan
        with pytest.raises(RuntimeError, match="shutdown"):
            app.state.service.executor.submit(int)

    asyncio.run(run())
