"""The web page in a real headless browser (Debian's chromium driven by Playwright) against the real server.

Needs ``/usr/bin/chromium`` (``make browser`` installs it). Without it the test skips, except on
CI (``CI=true``), where it fails. Playwright's own browser download is never used.
Screenshots go to ``$OCR_WEB_SCREENSHOTS`` if set (e.g. /tmp), else to the test's tmp dir.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path:
        return path
    message = "Debian's chromium is not installed (run `make browser` or `apt-get install chromium`)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("the playwright package is missing: pip install -e '.[test]'")
        pytest.skip("the playwright package is missing: pip install -e '.[test]'")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    d = Path(os.environ.get("OCR_WEB_SCREENSHOTS") or tmp_path)
    d.mkdir(parents=True, exist_ok=True)
    return d


def test_upload_recognise_and_export(server, browser, synth_png, tmp_path, shots):
    data, truth = synth_png(7, size=(900, 560), n_lines=6)
    image = tmp_path / "invoice-page.png"
    image.write_bytes(data)

    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/")

    run = page.locator("#run-btn")
    assert run.inner_text().strip() == "开始高精度识别"
    assert run.is_disabled()

    page.set_input_files("#file-input", str(image))
    page.wait_for_function("document.getElementById('preview-img').naturalWidth > 0")
    assert run.is_enabled()
    run.click()

    page.wait_for_selector("#lines .line")
    texts = page.locator("#lines .line .text").all_inner_texts()
    boxes = page.locator("#overlay polygon")
    assert len(texts) == boxes.count() >= len(truth) - 1
    joined = "\n".join(texts)
    assert difflib.SequenceMatcher(None, joined.replace(" ", ""), "\n".join(truth).replace(" ", "")).ratio() > 0.85
    assert re.fullmatch(r"\d+ ms|\d+\.\d\d s", page.locator("#time-server").inner_text()), "processing time shown"
    assert page.locator(".line .conf").first.inner_text().endswith("%")
    assert not run.is_disabled() and "busy" not in (run.get_attribute("class") or "")

    # The boxes sit on the image: the overlay's coordinate system is the image's.
    assert page.locator("#overlay").get_attribute("viewBox") == "0 0 900 560"
    # Hover links the two views.
    page.locator("#lines .line").nth(1).hover()
    assert "hi" in (page.locator('#overlay polygon[data-index="1"]').get_attribute("class") or "")
    assert "hi" in (page.locator('#lines .line[data-index="1"]').get_attribute("class") or "")
    page.screenshot(path=str(shots / "ocr_web_results.png"), full_page=True)

    with page.expect_download() as dl:
        page.click("#export-txt")
    download = dl.value
    assert download.suggested_filename == "invoice-page.txt"
    assert Path(download.path()).read_text(encoding="utf-8").strip().splitlines() == texts

    with page.expect_download() as dl:
        page.click("#export-json")
    import json

    exported = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
    assert [line["text"] for line in exported["text"]] == texts and exported["success"] is True

    # English labels are one click away.
    page.click('.lang-btn[data-lang="en"]')
    assert run.inner_text().strip() == "Start accurate recognition"
    page.click('.lang-btn[data-lang="zh"]')

    # A bad file shows a clear error, not a stuck page.
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    page.set_input_files("#file-input", str(empty))
    run.click()
    page.wait_for_selector("#error:not([hidden])")
    assert "invalid_image" in page.locator("#error-msg").inner_text()
    assert page.locator("#lines .line").count() == 0
    assert not errors, errors
    context.close()


def test_phone_width(server, browser, synth_png, tmp_path, shots):
    data, _ = synth_png(8, size=(600, 400), n_lines=3)
    image = tmp_path / "receipt.png"
    image.write_bytes(data)
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{server}/?lang=en")
    assert page.locator("#run-btn").inner_text().strip() == "Start accurate recognition"
    page.set_input_files("#file-input", str(image))
    page.click("#run-btn")
    page.wait_for_selector("#lines .line")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(shots / "ocr_web_phone.png"), full_page=True)
    context.close()


def test_large_image_goes_through_s3(start_server, moto_s3, browser, synth_png, tmp_path):
    """Over the server's direct limit, the page asks for a presigned URL, PUTs to S3, OCRs by key."""
    srv = start_server(OCR_PROFILE="tiny", OCR_MAX_BYTES="150000", **moto_s3)
    data, truth = synth_png(9, size=(1200, 800), n_lines=4)
    assert len(data) > 150_000
    image = tmp_path / "big-scan.png"
    image.write_bytes(data)
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{srv.url}/?lang=en")
    page.wait_for_function("document.querySelector('[data-i18n=formats]').textContent.includes('50 MB')")
    page.set_input_files("#file-input", str(image))
    page.click("#run-btn")
    page.wait_for_selector("#lines .line, #error:not([hidden])")
    assert page.locator("#error").is_hidden(), page.locator("#error").inner_text()
    texts = page.locator("#lines .line .text").all_inner_texts()
    joined = "".join(texts).replace(" ", "")
    assert difflib.SequenceMatcher(None, joined, "".join(truth).replace(" ", "")).ratio() > 0.7, texts
    assert '"source":"s3"' in srv.log_text()
    context.close()
