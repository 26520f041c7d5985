"""The web page in a real headless browser (Debian's chromium driven by Playwright) against the real server.

Needs ``/usr/bin/chromium`` (``make browser`` installs it). Without it the test skips, except on
CI (``CI=true``), where it fails. Playwright's own browser download is never used.
Screenshots go to ``$OCR_WEB_SCREENSHOTS`` if set (e.g. /tmp), else to the test's tmp dir.
Nothing of the page is mocked: the page talks to a real server, which runs the real models.
"""

from __future__ import annotations

import base64
import difflib
import json
import os
import re
import shutil
from pathlib import Path

import httpx
import pytest

from ocrcore.synth_docs import fonts_available as doc_fonts_available

from .helpers import ROOT

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
CJK = re.compile(r"[\u4e00-\u9fff]")


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


needs_doc_fonts = pytest.mark.skipif(
    not doc_fonts_available(),
    reason="DejaVu/Liberation/WenQuanYi fonts not installed (make setup-test installs them)")


def open_page(browser, url: str, **context_args):
    """A page in a fresh context; JavaScript errors on the page are collected in ``page.js_errors``."""
    context_args.setdefault("viewport", DESKTOP)
    context = browser.new_context(**context_args)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    page.goto(url)
    return context, page


def similar(lines: list[str], truth: list[str]) -> float:
    a, b = "".join(lines).replace(" ", ""), "".join(truth).replace(" ", "")
    return difflib.SequenceMatcher(None, a, b).ratio()


def wait_queue_finished(page, timeout: float = 120_000) -> list[str]:
    """Wait until no file is waiting or being recognised; return each file's status, in order."""
    page.wait_for_function(
        "[...document.querySelectorAll('#queue .q-item')].every((li) => li.dataset.status === 'done' || li.dataset.status === 'error')"
        " && !document.getElementById('run-btn').disabled",
        timeout=timeout,
    )
    return [li.get_attribute("data-status") for li in page.locator("#queue .q-item").all()]


# The overlay's boxes against the image as displayed: the largest distance in CSS pixels between
# each polygon's drawn bounding box and where its points fall on the displayed image.
BOX_ALIGNMENT_JS = """() => {
  const img = document.getElementById('preview-img');
  const r = img.getBoundingClientRect();
  const vb = document.getElementById('overlay').viewBox.baseVal;
  const sx = r.width / img.naturalWidth, sy = r.height / img.naturalHeight;
  let worst = 0, n = 0;
  for (const p of document.querySelectorAll('#overlay polygon')) {
    const pts = p.getAttribute('points').trim().split(/\\s+/).map((s) => s.split(',').map(Number));
    const xs = pts.map((q) => q[0]), ys = pts.map((q) => q[1]);
    const want = [r.left + Math.min(...xs) * sx, r.top + Math.min(...ys) * sy,
                  r.left + Math.max(...xs) * sx, r.top + Math.max(...ys) * sy];
    const b = p.getBoundingClientRect();
    const got = [b.left, b.top, b.right, b.bottom];
    worst = Math.max(worst, ...want.map((w, i) => Math.abs(w - got[i])));
    n += 1;
  }
  return {width: r.width, height: r.height, natural: [img.naturalWidth, img.naturalHeight],
          viewBox: [vb.width, vb.height], worst, n, label: document.getElementById('zoom-level').textContent};
}"""


def test_upload_recognise_and_export(server, browser, synth_png, tmp_path, shots):
    data, truth = synth_png(7, size=(900, 560), n_lines=6)
    image = tmp_path / "invoice-page.png"
    image.write_bytes(data)

    context, page = open_page(browser, f"{server}/", locale="zh-CN", accept_downloads=True)
    run = page.locator("#run-btn")
    assert run.inner_text().strip() == "开始高精度识别"
    assert run.is_disabled()

    page.set_input_files("#file-input", str(image))
    page.wait_for_function("document.getElementById('preview-img').naturalWidth > 0")
    assert run.is_enabled()
    assert page.locator("#queue-wrap").is_hidden(), "one file: no queue list"
    run.click()

    page.wait_for_selector("#lines .line")
    texts = page.locator("#lines .line .text").all_inner_texts()
    boxes = page.locator("#overlay polygon")
    assert len(texts) == boxes.count() >= len(truth) - 1
    assert similar(texts, truth) > 0.85
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
    exported_lines = Path(download.path()).read_text(encoding="utf-8").strip().splitlines()
    assert [t for t in exported_lines if t] == texts  # blank lines only between blocks

    with page.expect_download() as dl:
        page.click("#export-json")
    exported = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
    assert [line["text"] for line in exported["text"]] == texts and exported["success"] is True

    # English labels are one click away.
    page.click('.lang-btn[data-lang="en"]')
    assert run.inner_text().strip() == "Start accurate recognition"
    page.click('.lang-btn[data-lang="zh"]')

    # A bad file shows a clear error, not a stuck page: localized, with the server's code as a detail.
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    page.set_input_files("#file-input", str(empty))
    page.wait_for_selector("#queue .q-item >> nth=1")
    run.click()
    page.wait_for_selector("#error:not([hidden])")
    assert page.locator("#error-title").inner_text() == "图片无法读取"
    assert "invalid_image" in page.locator("#error-detail").inner_text()
    assert page.locator("#lines .line").count() == 0
    assert not page.js_errors, page.js_errors
    context.close()


@needs_doc_fonts
def test_sideways_two_column_page_says_turned_and_exports_columns(server, browser, tmp_path):
    """A two-column article photographed sideways: the page says it turned it upright, and the TXT
    export and "copy all" give the columns one after the other, a blank line between blocks."""
    import cv2
    import numpy as np

    from ocrcore.synth_docs import render_columns

    img, truth = render_columns(3, "en")
    texts = [line.text for line in truth]
    path = tmp_path / "article-sideways.png"
    path.write_bytes(cv2.imencode(".png", np.ascontiguousarray(np.rot90(img, -1)))[1].tobytes())  # 90° clockwise

    context, page = open_page(browser, f"{server}/", locale="en-US", accept_downloads=True)
    page.set_input_files("#file-input", str(path))
    page.locator("#run-btn").click()
    page.wait_for_selector("#lines .line")
    assert page.locator("#orient-stat").is_visible()
    assert page.locator("#orient-value").inner_text() == "90°"
    with page.expect_download() as dl:
        page.click("#export-txt")
    exported = Path(dl.value.path()).read_text(encoding="utf-8").strip()
    blocks = [b.splitlines() for b in exported.split("\n\n")]
    assert len(blocks) >= 2, exported
    assert similar([t for b in blocks for t in b], texts) > 0.9, (exported, texts)
    # the last block is the second column: its lines, and only they, in order
    assert similar(blocks[-1], texts[-len(blocks[-1]):]) > 0.9, (blocks, texts)
    assert not page.js_errors, page.js_errors
    context.close()

    # an upright page shows no turn
    context, page = open_page(browser, f"{server}/", locale="en-US")
    upright = tmp_path / "article.png"
    upright.write_bytes(cv2.imencode(".png", img)[1].tobytes())
    page.set_input_files("#file-input", str(upright))
    page.locator("#run-btn").click()
    page.wait_for_selector("#lines .line")
    assert page.locator("#orient-stat").is_hidden()
    context.close()


def test_language_follows_browser_unless_chosen(server, browser):
    for locale, label, html_lang in [
        ("en-US", "Start accurate recognition", "en"),
        ("fr-FR", "Start accurate recognition", "en"),
        ("zh-CN", "开始高精度识别", "zh-CN"),
        ("zh-TW", "开始高精度识别", "zh-CN"),
    ]:
        context, page = open_page(browser, f"{server}/", locale=locale)
        assert page.evaluate("navigator.language") == locale
        assert page.locator("#run-btn").inner_text().strip() == label, locale
        assert page.evaluate("document.documentElement.lang") == html_lang
        assert page.locator('.lang-btn[aria-pressed="true"]').count() == 1
        context.close()

    # A language picked on the page wins over the browser's, on reload and in a new tab.
    context, page = open_page(browser, f"{server}/", locale="en-US")
    assert page.locator("h1").inner_text() == "Accurate text recognition"
    page.click('.lang-btn[data-lang="zh"]')
    assert page.locator("h1").inner_text() == "高精度文字识别"
    page.reload()
    assert page.locator("#run-btn").inner_text().strip() == "开始高精度识别"
    assert page.locator('.lang-btn[data-lang="zh"]').get_attribute("aria-pressed") == "true"
    other = context.new_page()
    other.goto(f"{server}/")
    assert other.locator("h1").inner_text() == "高精度文字识别"
    # ?lang= still overrides both for one visit.
    other.goto(f"{server}/?lang=en")
    assert other.locator("h1").inner_text() == "Accurate text recognition"
    assert not page.js_errors, page.js_errors
    context.close()


def test_text_file_renamed_jpg_gets_one_coherent_chinese_error(server, browser, tmp_path, shots):
    fake = tmp_path / "notes.jpg"
    fake.write_text("这不是图片 / this is not an image\n" * 20, encoding="utf-8")
    context, page = open_page(browser, f"{server}/", locale="zh-CN")
    page.set_input_files("#file-input", str(fake))
    hint = page.locator("#no-preview")
    hint.wait_for(state="visible")
    # Before the server has spoken: neutral, no promise that it can be recognised.
    assert hint.inner_text() == "无法预览此文件"

    page.click("#run-btn")
    page.wait_for_selector("#error:not([hidden])")
    title = page.locator("#error-title").inner_text()
    message = page.locator("#error-msg").inner_text()
    detail = page.locator("#error-detail").inner_text()
    assert title == "图片无法读取"
    assert CJK.search(message) and "invalid_image" not in message and not re.search(r"[A-Za-z]{5,}", message), message
    # The code and the server's own words stay available for support.
    assert detail.startswith("invalid_image") and "HTTP 400" in detail
    assert "not an image" in detail and "request_id" in detail
    # The preview area now says the same thing as the server, nothing contradicting it.
    assert hint.inner_text() == title
    assert "识别" not in hint.inner_text() and "可以" not in hint.inner_text()
    page.screenshot(path=str(shots / "ocr_web_error_zh.png"), full_page=True)

    # Switching language re-renders the same verdict in English.
    page.click('.lang-btn[data-lang="en"]')
    assert page.locator("#error-title").inner_text() == "The image can't be read"
    assert hint.inner_text() == "The image can't be read"
    assert page.locator("#error-detail").inner_text().startswith("invalid_image")
    assert not page.js_errors, page.js_errors
    context.close()


def test_three_files_queue_and_export_all(server, browser, synth_png, tmp_path, shots):
    files, truths, sizes = [], [], [(640, 360), (520, 420), (700, 300)]
    for i, size in enumerate(sizes):
        data, truth = synth_png(20 + i, size=size, n_lines=3)
        path = tmp_path / f"receipt-{i + 1}.png"
        path.write_bytes(data)
        files.append(path)
        truths.append(truth)

    context, page = open_page(browser, f"{server}/", locale="en-US", accept_downloads=True)
    in_flight, most = [0], [0]

    def started(req):
        if "/api/ocr" in req.url:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])

    def ended(req):
        if "/api/ocr" in req.url:
            in_flight[0] -= 1

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)

    page.set_input_files("#file-input", [str(f) for f in files])
    items = page.locator("#queue .q-item")
    items.nth(2).wait_for()
    assert items.count() == 3
    assert [s.strip() for s in page.locator("#queue .q-name").all_inner_texts()] == [f.name for f in files]
    assert page.locator("#queue .q-status").all_inner_texts() == ["waiting"] * 3
    assert page.locator("#run-count").inner_text() == "3 files"

    page.click("#run-btn")
    assert wait_queue_finished(page) == ["done"] * 3, page.locator("#queue").inner_text()
    assert most[0] == 1, "files are sent one after another"
    assert page.locator("#queue-summary").inner_text() == "3 files · 3 done"

    per_file = []
    for i, (path, truth, (w, h)) in enumerate(zip(files, truths, sizes)):
        items.nth(i).locator(".q-main").click()
        assert items.nth(i).locator(".q-main").get_attribute("aria-current") == "true"
        page.wait_for_function(f"document.getElementById('preview-img').naturalWidth === {w}")
        assert page.locator("#result-file").inner_text() == path.name
        assert page.locator("#overlay").get_attribute("viewBox") == f"0 0 {w} {h}"
        texts = page.locator("#lines .line .text").all_inner_texts()
        assert texts and len(texts) == page.locator("#overlay polygon").count()
        assert similar(texts, truth) > 0.8, (path.name, texts, truth)
        n = len(texts)
        assert items.nth(i).locator(".q-status").inner_text() == f"{n} {'line' if n == 1 else 'lines'}"
        per_file.append(texts)
        if i == 1:
            # The per-file export still exports just this file.
            with page.expect_download() as dl:
                page.click("#export-txt")
            assert dl.value.suggested_filename == "receipt-2.txt"
            assert [t for t in Path(dl.value.path()).read_text(encoding="utf-8").strip().splitlines() if t] == texts
    assert len({tuple(t) for t in per_file}) == 3, "each file shows its own lines"
    page.screenshot(path=str(shots / "ocr_web_queue.png"), full_page=True)

    with page.expect_download() as dl:
        page.click("#export-all-txt")
    assert dl.value.suggested_filename == "ocr-all.txt"
    txt = Path(dl.value.path()).read_text(encoding="utf-8")
    sections = re.split(r"^===== (.+) =====$", txt.strip(), flags=re.M)[1:]
    assert sections[0::2] == [f.name for f in files]
    assert [[t for t in s.strip().splitlines() if t] for s in sections[1::2]] == per_file  # blank: between blocks

    with page.expect_download() as dl:
        page.click("#export-all-json")
    exported = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
    assert [f["file"] for f in exported["files"]] == [f.name for f in files]
    assert all(f["success"] is True for f in exported["files"])
    assert [[line["text"] for line in f["text"]] for f in exported["files"]] == per_file
    assert [(f["width"], f["height"]) for f in exported["files"]] == sizes

    # Removing a file takes it out of the queue and of the next export.
    items.nth(0).locator(".q-remove").click()
    assert items.count() == 2
    with page.expect_download() as dl:
        page.click("#export-all-json")
    assert [f["file"] for f in json.loads(Path(dl.value.path()).read_text())["files"]] == [files[1].name, files[2].name]
    assert not page.js_errors, page.js_errors
    context.close()


def test_zoom_keeps_boxes_on_the_text(server, browser, synth_png, tmp_path, shots):
    data, _ = synth_png(31, size=(1000, 640), n_lines=5)
    image = tmp_path / "scan.png"
    image.write_bytes(data)
    context, page = open_page(browser, f"{server}/?lang=en")
    page.set_input_files("#file-input", str(image))
    page.click("#run-btn")
    page.wait_for_selector("#lines .line")

    fit = page.evaluate(BOX_ALIGNMENT_JS)
    assert fit["natural"] == fit["viewBox"] == [1000, 640]
    assert fit["n"] >= 3 and fit["worst"] < 1.5, fit
    assert fit["width"] < 1000 and fit["label"] == f"{round(fit['width'] / 10)}%"
    assert page.locator("#zoom-out").is_disabled()

    page.click("#zoom-in")
    page.click("#zoom-in")
    zoomed = page.evaluate(BOX_ALIGNMENT_JS)
    assert zoomed["width"] == pytest.approx(fit["width"] * 2.25, abs=2)
    assert zoomed["height"] / zoomed["width"] == pytest.approx(640 / 1000, abs=0.005)
    assert zoomed["worst"] < 1.5, zoomed
    assert zoomed["label"] == f"{round(zoomed['width'] / 10)}%"
    # The zoomed image scrolls inside its frame; the page itself does not get wider.
    assert page.evaluate("document.getElementById('viewport').scrollWidth > document.getElementById('viewport').clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    page.screenshot(path=str(shots / "ocr_web_zoomed.png"), full_page=True)

    # Ctrl + wheel (what a trackpad pinch sends) zooms around the pointer.
    box = page.locator("#viewport").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -200)
    page.keyboard.up("Control")
    page.wait_for_function(f"document.getElementById('preview-img').getBoundingClientRect().width > {zoomed['width'] + 10}")
    wheeled = page.evaluate(BOX_ALIGNMENT_JS)
    assert wheeled["worst"] < 1.5, wheeled

    # Clicking a line while zoomed brings its box into view.
    last = page.locator("#lines .line").last
    last.locator(".text").click()
    inside = page.evaluate("""(i) => {
      const v = document.getElementById('viewport').getBoundingClientRect();
      const b = document.querySelector(`#overlay polygon[data-index="${i}"]`).getBoundingClientRect();
      const cx = (b.left + b.right) / 2, cy = (b.top + b.bottom) / 2;
      return cx > v.left && cx < v.right && cy > v.top && cy < v.bottom;
    }""", int(last.get_attribute("data-index")))
    assert inside

    page.click("#zoom-fit")
    back = page.evaluate(BOX_ALIGNMENT_JS)
    assert back["width"] == pytest.approx(fit["width"], abs=1) and back["worst"] < 1.5
    assert not page.js_errors, page.js_errors
    context.close()


def test_cls_default_follows_server(server, browser, synth_png, tmp_path):
    health = httpx.get(f"{server}/healthz", timeout=10).json()
    assert isinstance(health["cls_default"], bool)
    data, _ = synth_png(41, size=(500, 300), n_lines=2)
    image = tmp_path / "line.png"
    image.write_bytes(data)

    context, page = open_page(browser, f"{server}/?lang=en")
    ocr_urls: list[str] = []
    page.on("request", lambda r: ocr_urls.append(r.url) if "/api/ocr" in r.url else None)
    box = page.locator("#opt-cls")
    page.click("summary")  # open the options
    page.wait_for_function("!document.getElementById('opt-cls').indeterminate")
    assert box.is_checked() is health["cls_default"]
    assert page.locator("#cls-note").inner_text() == f"(server default: {'on' if health['cls_default'] else 'off'})"

    page.set_input_files("#file-input", str(image))
    page.click("#run-btn")
    page.wait_for_selector("#lines .line")
    # Untouched: the page leaves `cls` to the server, exactly like a plain API call.
    assert len(ocr_urls) == 1 and "cls=" not in ocr_urls[0] and "detect=true" in ocr_urls[0]

    box.click()
    assert page.locator("#cls-note").inner_text() == "(set by you)"
    page.click("#run-btn")
    page.wait_for_function("!document.getElementById('run-btn').disabled")
    assert len(ocr_urls) == 2 and f"cls={str(not health['cls_default']).lower()}" in ocr_urls[1]
    context.close()

    # /healthz unreachable: the box says the server decides, and `cls` is not sent.
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.route("**/healthz", lambda route: route.abort())
    page.goto(f"{server}/?lang=en")
    ocr_urls.clear()
    page.on("request", lambda r: ocr_urls.append(r.url) if "/api/ocr" in r.url else None)
    page.click("summary")
    assert page.evaluate("document.getElementById('opt-cls').indeterminate")
    assert page.locator("#cls-note").inner_text() == "(the server decides)"
    page.set_input_files("#file-input", str(image))
    page.click("#run-btn")
    page.wait_for_selector("#lines .line")
    assert len(ocr_urls) == 1 and "cls=" not in ocr_urls[0]
    context.close()


def test_file_without_mime_type(server, browser, synth_png, tmp_path):
    data, truth = synth_png(51, size=(600, 380), n_lines=3)
    nameless = tmp_path / "receipt-scan"  # no extension: the browser gives it no type
    nameless.write_bytes(data)
    junk = tmp_path / "mystery"
    junk.write_bytes(b"not an image: " + os.urandom(3000))

    context, page = open_page(browser, f"{server}/", locale="zh-CN")
    posts = []
    page.on("request", lambda r: posts.append(r) if "/api/ocr" in r.url else None)
    page.set_input_files("#file-input", [str(nameless), str(junk)])
    page.locator("#queue .q-item >> nth=1").wait_for()
    # The one nothing identifies is flagged at once and never sent.
    assert page.locator("#queue .q-item").nth(1).get_attribute("data-status") == "error"
    assert page.locator("#queue .q-item").nth(1).locator(".q-status").inner_text() == "无法判断图片格式"

    page.click("#run-btn")
    assert wait_queue_finished(page) == ["done", "error"], page.locator("#queue").inner_text()
    page.locator("#queue .q-main").first.click()
    texts = page.locator("#lines .line .text").all_inner_texts()
    assert similar(texts, truth) > 0.8, texts
    assert len(posts) == 1, "the unidentified file is not sent"

    page.locator("#queue .q-main").nth(1).click()
    assert page.locator("#error-title").inner_text() == "无法判断图片格式"
    assert "mystery" in page.locator("#error-msg").inner_text()
    assert page.locator("#error-detail").inner_text() == "unknown_type"
    assert not page.js_errors, page.js_errors
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
    # No drag and no keyboard on a phone: tap, or take a photo.
    hint = page.locator("#drop-hint").inner_text()
    assert "take a photo" in hint.lower() and "Ctrl" not in hint and "drop" not in page.locator("#drop-title").inner_text().lower()
    assert page.locator("#camera-btn").is_visible()
    assert page.locator("#file-input").get_attribute("accept") == "image/*,application/pdf,.pdf"
    assert page.locator("#camera-input").get_attribute("accept") == "image/*"
    page.screenshot(path=str(shots / "ocr_web_phone_empty.png"), full_page=True)
    page.click('.lang-btn[data-lang="zh"]')
    assert "拍照" in page.locator("#drop-hint").inner_text() and "Ctrl" not in page.locator("#drop-hint").inner_text()
    page.click('.lang-btn[data-lang="en"]')

    page.set_input_files("#file-input", str(image))
    page.click("#run-btn")
    page.wait_for_selector("#lines .line")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(shots / "ocr_web_phone.png"), full_page=True)
    context.close()

    # A desktop keeps the drag-and-paste wording and no camera button.
    context, page = open_page(browser, f"{server}/?lang=en")
    assert "Ctrl+V" in page.locator("#drop-hint").inner_text()
    assert page.locator("#camera-btn").is_hidden()
    context.close()


def test_large_image_goes_through_s3(start_server, moto_s3, browser, synth_png, tmp_path):
    """Over the server's direct limit, the page asks for a presigned URL, PUTs to S3, OCRs by key,
    and declares an image type to /api/uploads even when the browser knows none."""
    srv = start_server(OCR_PROFILE="tiny", OCR_MAX_BYTES="150000", OCR_CLS="1", **moto_s3)
    data, truth = synth_png(9, size=(1200, 800), n_lines=4)
    assert len(data) > 150_000
    image = tmp_path / "big-scan.png"
    image.write_bytes(data)
    junk = tmp_path / "big-blob"
    junk.write_bytes(b"not an image: " + os.urandom(200_000))

    context, page = open_page(browser, f"{srv.url}/?lang=en")
    uploads: list[dict] = []
    puts: list[str] = []
    page.on("request", lambda r: uploads.append(json.loads(r.post_data or "{}")) if r.url.endswith("/api/uploads") else None)
    page.on("request", lambda r: puts.append(r.headers.get("content-type", "")) if r.method == "PUT" else None)
    page.wait_for_function("document.getElementById('formats').textContent.includes('50 MB')")
    # This server turns the classifier on by default, and the page shows it.
    page.wait_for_function("!document.getElementById('opt-cls').indeterminate")
    assert page.locator("#opt-cls").is_checked()

    # 1. A file the browser typed (image/png).
    page.set_input_files("#file-input", str(image))
    # 2. The same bytes with file.type == "" (as some systems give): the page infers image/png.
    no_type = page.evaluate("""(b64) => {
      const bin = atob(b64), bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const f = new File([bytes], 'big-scan-copy.png');
      const dt = new DataTransfer();
      dt.items.add(f);
      const input = document.getElementById('file-input');
      input.files = dt.files;
      input.dispatchEvent(new Event('change', {bubbles: true}));
      return f.type;
    }""", base64.b64encode(data).decode())
    assert no_type == ""
    # 3. A large file nothing identifies as an image: flagged, never uploaded.
    page.locator("#queue .q-item >> nth=1").wait_for()
    page.set_input_files("#file-input", str(junk))
    page.locator("#queue .q-item >> nth=2").wait_for()

    page.click("#run-btn")
    assert wait_queue_finished(page) == ["done", "done", "error"], page.locator("#queue").inner_text()
    assert uploads == [
        {"content_type": "image/png", "filename": "big-scan.png", "size": len(data)},  # signed into the URL
        {"content_type": "image/png", "filename": "big-scan-copy.png", "size": len(data)},
    ]
    assert puts == ["image/png", "image/png"]
    for i in range(2):
        page.locator("#queue .q-main").nth(i).click()
        assert page.locator("#error").is_hidden(), page.locator("#error").inner_text()
        texts = page.locator("#lines .line .text").all_inner_texts()
        assert similar(texts, truth) > 0.7, texts
    page.locator("#queue .q-main").nth(2).click()
    assert page.locator("#error-title").inner_text() == "Unknown image type"
    assert srv.log_text().count('"source":"s3"') == 2
    assert not page.js_errors, page.js_errors
    context.close()


def test_pdf_pages_one_at_a_time_and_searchable_pdf(server, browser, tmp_path, shots):
    """A 3-page scanned PDF: pages shown one at a time on the server's previews, each with its own
    boxes and lines; next/previous; exports of all pages; the searchable PDF downloaded holds the text."""
    import io

    import numpy as np
    from PIL import Image

    from ocrcore.synth import render_page

    images, truths = [], []
    for seed, size in ((201, (900, 620)), (202, (760, 980)), (203, (900, 620))):
        img, truth = render_page(seed, size=size, n_lines=4)
        images.append(Image.fromarray(np.ascontiguousarray(img[:, :, ::-1])))
        truths.append([line.text for line in truth])
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], resolution=150)
    pdf = tmp_path / "contract.pdf"
    pdf.write_bytes(buf.getvalue())

    context, page = open_page(browser, f"{server}/?lang=en", accept_downloads=True)
    page.set_input_files("#file-input", str(pdf))
    page.click("#run-btn")
    page.wait_for_selector("#lines .line")
    label = page.locator("#page-label")
    assert label.inner_text() == "Page 1 / 3"
    assert page.locator("#page-prev").is_disabled() and page.locator("#page-next").is_enabled()

    def shown_page(i: int) -> list[str]:
        page.wait_for_function(
            "(i) => document.getElementById('page-label').textContent === `Page ${i} / 3`"
            " && document.getElementById('preview-img').src.startsWith('data:image/jpeg')"
            " && document.getElementById('preview-img').complete"
            " && document.getElementById('preview-img').naturalWidth > 0", arg=i)
        texts = page.locator("#lines .line .text").all_inner_texts()
        assert similar(texts, truths[i - 1]) > 0.8, (i, texts)
        assert page.locator("#overlay polygon").count() == len(texts)
        # the boxes are in the page's pixels (the viewBox), laid over the smaller preview
        geometry = page.evaluate(BOX_ALIGNMENT_JS.replace(
            "r.width / img.naturalWidth, sy = r.height / img.naturalHeight", "r.width / vb.width, sy = r.height / vb.height"))
        assert geometry["worst"] < 2.0, geometry  # the boxes sit on the page preview
        # the overlay is in the page's pixels, the preview has the page's proportions
        w, h = geometry["viewBox"]
        nw, nh = geometry["natural"]
        assert abs(w / h - nw / nh) < 0.01
        return texts

    first = shown_page(1)
    page.screenshot(path=str(shots / "ocr_web_pdf_page1.png"), full_page=True)
    page.click("#page-next")
    second = shown_page(2)
    assert second != first
    page.click("#page-next")
    shown_page(3)
    assert page.locator("#page-next").is_disabled()
    page.click("#page-prev")
    assert shown_page(2) == second

    # Export TXT: every page, under its heading.
    with page.expect_download() as dl:
        page.click("#export-txt")
    txt = Path(dl.value.path()).read_text(encoding="utf-8")
    assert [ln for ln in txt.splitlines() if ln.startswith("--- ")] == ["--- Page 1 ---", "--- Page 2 ---", "--- Page 3 ---"]
    assert all(t in txt for t in second)
    # Export JSON: the API's answer with every page, without the previews.
    with page.expect_download() as dl:
        page.click("#export-json")
    exported = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
    assert [p["page"] for p in exported["pages"]] == [1, 2, 3]
    assert all("preview" not in p for p in exported["pages"])
    assert {line["page"] for line in exported["text"]} == {1, 2, 3}

    # The searchable PDF: a PDF of 3 pages whose text layer is the recognised text.
    with page.expect_download() as dl:
        page.click("#download-pdf")
    assert dl.value.suggested_filename == "contract.ocr.pdf"
    data = Path(dl.value.path()).read_bytes()
    assert data.startswith(b"%PDF")
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    assert len(doc) == 3
    layer = [doc[i].get_textpage().get_text_range() for i in range(3)]
    doc.close()
    for text, truth in zip(layer, truths, strict=True):
        assert similar(text.split(), truth) > 0.7, (text, truth)

    # Only some pages: the options' page range goes to the API; the pager counts the pages returned.
    page.click(".options summary")
    page.fill("#opt-pages", "2-3")
    page.click("#run-btn")
    page.wait_for_function("document.getElementById('page-label').textContent === 'Page 1 / 2'")
    page.wait_for_function("document.getElementById('preview-img').complete")
    assert similar(page.locator("#lines .line .text").all_inner_texts(), truths[1]) > 0.8
    page.fill("#opt-pages", "")

    # A password-protected PDF: its own clear error, in the page's language, and no pager.
    from tests import pdfs

    locked = tmp_path / "locked.pdf"
    locked.write_bytes(pdfs.encrypted_pdf())
    page.set_input_files("#file-input", str(locked))
    page.locator("#queue .q-item >> nth=1").wait_for()
    page.click("#run-btn")
    assert wait_queue_finished(page) == ["done", "error"]
    assert page.locator("#error-title").inner_text() == "Encrypted PDF"
    assert "pdf_encrypted" in page.locator("#error-detail").inner_text()
    assert page.locator("#pagebar").is_hidden()
    assert not page.js_errors, page.js_errors
    context.close()


def test_vocabulary_options(server, browser, tmp_path):
    """The options' allowlist reaches the API and shapes the line; a bad pattern gets the page's
    localized error with the server's detail, and the page keeps working."""
    from ocrcore.synth import render_line
    from tests.helpers import png_bytes

    image = tmp_path / "amount.png"
    image.write_bytes(png_bytes(render_line("Total 1O5.2O", 40)))
    context, page = open_page(browser, f"{server}/?lang=en")
    ocr_urls: list[str] = []
    answers: list = []
    page.on("request", lambda r: ocr_urls.append(r.url) if "/api/ocr" in r.url else None)
    page.on("response", lambda r: answers.append(r) if "/api/ocr" in r.url else None)
    page.click("summary")
    page.uncheck("#opt-detect")
    page.fill("#opt-allowlist", "0123456789.")
    page.set_input_files("#file-input", str(image))
    page.click("#run-btn")
    page.wait_for_selector("#lines .line")
    assert "allowlist=0123456789." in ocr_urls[-1]
    line = answers[-1].json()["text"][0]
    assert line["constraint"] == "allowlist" and set(line["text"]) <= set("0123456789.")
    assert line["text"] in page.locator("#lines .line").first.inner_text()
    assert page.locator("#lines .line .shaped").first.inner_text() == "allowlist"  # which option shaped it
    page.fill("#opt-allowlist", "")
    page.fill("#opt-blocklist", "Oo")
    page.click("#run-btn")
    page.wait_for_function("!document.getElementById('run-btn').disabled")
    assert "blocklist=Oo" in ocr_urls[-1] and "allowlist" not in ocr_urls[-1]
    line = answers[-1].json()["text"][0]
    assert line["constraint"] == "blocklist" and not set(line["text"]) & set("Oo")
    page.fill("#opt-pattern", "([0-9")
    page.click("#run-btn")
    page.wait_for_function("!document.getElementById('run-btn').disabled")
    assert "pattern=" in ocr_urls[-1]
    assert "Check the options" in page.content() and "invalid_constraint" in page.content()
    assert not page.js_errors
    context.close()


def test_every_documented_error_code_has_both_languages():
    """The page shows the server's errors in the visitor's language (issue #10, point 7): every
    code in docs/api.md's error table, which has every engine error's code, has a Chinese and an
    English entry in web/app.js's ERRORS. No browser needed: a new code without its words fails here."""
    import ocrcore.errors as errors

    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    table = api.split("| status | `code` | when |", 1)[1].split("\n\n", 1)[0]
    documented = {code for row in table.splitlines()[2:] for code in re.findall(r"`([a-z0-9_]+)`", row.split("|")[2])}
    engine = {cls.code for cls in vars(errors).values()
              if isinstance(cls, type) and issubclass(cls, errors.OCRError) and not cls.__subclasses__()}
    assert engine <= documented, engine - documented
    js = (ROOT / "web" / "app.js").read_text(encoding="utf-8")
    block = js[js.index("const ERRORS = {"):]
    zh, en = block[block.index("zh: {"):block.index("en: {")], block[block.index("en: {"):block.index("\n  };")]
    for lang, text in (("zh", zh), ("en", en)):
        keys = set(re.findall(r"^\s+([a-z0-9_]+): \[", text, re.M))
        assert documented <= keys, (lang, sorted(documented - keys))
