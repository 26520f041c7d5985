"""PDFs and multi-page TIFFs through ``POST /api/ocr`` on a real server with the real models
(fixtures in conftest.py): the three body forms, ``pages``, ``force_ocr``, previews, the
searchable PDF (``output=pdf`` and ``Accept``), every document error, the cache, and the image
contract left as it was. The documents are generated here (scanned pages from ocrcore.synth,
saved as PDF/TIFF by Pillow) or by the project's test-PDF generator (tests/pdfs.py).
"""

from __future__ import annotations

import base64
import difflib
import io

import httpx
import numpy as np
import pytest
from PIL import Image

from ocrcore.synth import render_page

TIMEOUT = httpx.Timeout(300.0)
NO_CACHE = {"Cache-Control": "no-cache"}
SCAN_DPI = 150

# Keys a line may have in an image answer (issue #11 block/words, #13 constraint/pattern_fallback).
LINE_KEYS = {"text", "confidence", "box", "block", "words", "constraint", "pattern_fallback"}


def similarity(a: str, b: str) -> float:
    a, b = "".join(a.split()), "".join(b.split())
    return difflib.SequenceMatcher(None, a, b).ratio()


def post(url: str, data: bytes, *, filename: str = "doc.pdf", params=None, headers=None) -> httpx.Response:
    return httpx.post(f"{url}/api/ocr", files={"image": (filename, data, "application/pdf")},
                      params=params, headers=headers, timeout=TIMEOUT)


def assert_error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["success"] is False and body["error"]["code"] == code, body
    assert body["error"]["message"] and body["request_id"] == r.headers["x-request-id"]
    return body


def assert_document(body: dict, pages: list[int], page_count: int, kind: str = "pdf") -> None:
    """The contract (success, text, processing_time) plus the pages, consistent with each other."""
    assert body["success"] is True and isinstance(body["processing_time"], float)
    assert body["kind"] == kind and body["page_count"] == page_count
    assert [p["page"] for p in body["pages"]] == pages
    flat = [{**line, "page": p["page"]} for p in body["pages"] for line in p["text"]]
    assert body["text"] == flat  # every line, in page order, each with its page
    for p in body["pages"]:
        assert p["width"] > 0 and p["height"] > 0 and p["orientation"] == 0
        assert p["source"] in ("ocr", "text_layer")
        assert "preview" not in p
        for line in p["text"]:
            assert {"text", "confidence", "box"} <= set(line) <= LINE_KEYS
            assert 0.0 <= line["confidence"] <= 1.0
            for x, y in line["box"]:
                assert -2 <= x <= p["width"] + 2 and -2 <= y <= p["height"] + 2


def page_text(page: dict) -> str:
    return "".join(line["text"] for line in page["text"])


# ---------------------------------------------------------------------- documents


def scanned_pages(seeds: list[int], size=(900, 640), n_lines=4) -> tuple[list[Image.Image], list[str]]:
    images, truths = [], []
    for seed in seeds:
        img, truth = render_page(seed, size=size, n_lines=n_lines)
        images.append(Image.fromarray(np.ascontiguousarray(img[:, :, ::-1])))
        truths.append("".join(line.text for line in truth))
    return images, truths


def pillow_pdf(images: list[Image.Image], dpi: int = SCAN_DPI) -> bytes:
    """A scanned document: one image per page, as a scanner writes it (Pillow's PDF writer)."""
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return buf.getvalue()


def pillow_tiff(images: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    images[0].save(buf, "TIFF", save_all=True, append_images=images[1:], compression="tiff_lzw")
    return buf.getvalue()


@pytest.fixture(scope="module")
def scan3() -> tuple[bytes, list[str], list[Image.Image]]:
    images, truths = scanned_pages([101, 102, 103])
    return pillow_pdf(images), truths, images


def pdf_text(pdf: bytes) -> list[str]:
    """The text layer of each page, read back by pdfium (what a viewer's search and copy use)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        out = []
        for i in range(len(doc)):
            page = doc[i]
            textpage = page.get_textpage()
            out.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return out
    finally:
        doc.close()


# ---------------------------------------------------------------------- the three body forms


def test_scanned_pdf_multipart_gives_pages_and_contract(server, scan3):
    data, truths, images = scan3
    r = post(server, data, headers=NO_CACHE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert_document(body, [1, 2, 3], 3)
    for page, truth, image in zip(body["pages"], truths, images, strict=True):
        assert page["source"] == "ocr"
        assert page["dpi"] and page["dpi"] > 0
        # the rendered page has the scan's proportions
        assert abs(page["width"] / page["height"] - image.width / image.height) < 0.02
        assert similarity(page_text(page), truth) > 0.8, (page_text(page), truth)
    # pages are not mixed up: each page is closest to its own truth
    for i, page in enumerate(body["pages"]):
        scores = [similarity(page_text(page), t) for t in truths]
        assert scores.index(max(scores)) == i
    assert body["timings"]["render"] > 0 and body["timings"]["recognize"] > 0  # summed over the pages
    metrics = httpx.get(f"{server}/metrics", timeout=10).text
    assert 'ocr_stage_duration_seconds_count{stage="render"}' in metrics  # each page observed


def test_base64_and_raw_body_give_the_same_pages(server, scan3):
    data = scan3[0]
    first = post(server, data).json()
    b64 = httpx.post(f"{server}/api/ocr", json={"image_base64": base64.b64encode(data).decode()}, timeout=TIMEOUT)
    raw = httpx.post(f"{server}/api/ocr", content=data, headers={"Content-Type": "application/pdf"}, timeout=TIMEOUT)
    for r in (b64, raw):
        assert r.status_code == 200, r.text
        assert r.json()["pages"] == first["pages"]
    assert raw.json()["cached"] is True  # same bytes, same options: the result cache


def test_pages_parameter_picks_pages(server, scan3):
    data, truths, _ = scan3
    r = post(server, data, params={"pages": "3,1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert_document(body, [1, 3], 3)
    assert similarity(page_text(body["pages"][1]), truths[2]) > 0.8
    body = post(server, data, params={"pages": "2-3"}).json()
    assert_document(body, [2, 3], 3)


def test_words_reach_the_pages(server, scan3):
    """``words=true`` gives a document's lines their words too, as for an image (and is its own
    cache entry: the same file without words has none)."""
    data = scan3[0]
    body = post(server, data, params={"pages": "1", "words": "true"}).json()
    lines = body["pages"][0]["text"]
    assert lines and all(line["words"] for line in lines)
    for line in lines:
        assert "".join(w["text"] for w in line["words"]) == "".join(line["text"].split())
    plain = post(server, data, params={"pages": "1"}).json()
    assert all(not line.get("words") for line in plain["pages"][0]["text"])


def test_multipage_tiff_is_a_document_and_single_tiff_an_image(server):
    images, truths = scanned_pages([111, 112], size=(800, 520), n_lines=3)
    r = post(server, pillow_tiff(images), filename="scan.tif")
    assert r.status_code == 200, r.text
    body = r.json()
    assert_document(body, [1, 2], 2, kind="tiff")
    for page, truth, image in zip(body["pages"], truths, images, strict=True):
        assert (page["width"], page["height"]) == image.size and page["dpi"] is None
        assert similarity(page_text(page), truth) > 0.8
    single = post(server, pillow_tiff(images[:1]), filename="one.tif").json()
    assert "pages" not in single and single["width"] == images[0].width  # the image answer, unchanged


def test_image_answer_keeps_the_contract(server, synth_png):
    data, _ = synth_png(5, size=(600, 400), n_lines=3)
    body = httpx.post(f"{server}/api/ocr", files={"image": ("a.png", data, "image/png")},
                      params={"pages": "1", "previews": "true"}, timeout=TIMEOUT).json()
    assert body["success"] is True and "pages" not in body and "kind" not in body
    assert {"text", "processing_time", "width", "height"} <= set(body)
    assert all({"text", "confidence", "box"} <= set(line) <= LINE_KEYS for line in body["text"])


# ---------------------------------------------------------------------- previews for the web page


def test_previews_are_small_jpegs_of_each_page(server, scan3):
    data = scan3[0]
    r = post(server, data, params={"previews": "true"})
    assert r.status_code == 200, r.text
    body = r.json()
    sizes = []
    for page in body["pages"]:
        url = page.get("preview")
        assert url and url.startswith("data:image/jpeg;base64,"), page.keys()
        jpeg = base64.b64decode(url.partition(",")[2])
        img = Image.open(io.BytesIO(jpeg))
        assert img.format == "JPEG" and max(img.size) <= 1024
        # same proportions as the page the boxes refer to
        assert abs(img.width / img.height - page["width"] / page["height"]) < 0.01
        sizes.append(len(url))
    assert max(sizes) < 400_000
    # and a request without previews is answered from the entry with them, without the previews
    again = post(server, data)
    assert "preview" not in again.json()["pages"][0]


# ---------------------------------------------------------------------- the searchable PDF


def test_output_pdf_is_searchable(server, scan3):
    data, truths, _ = scan3
    r = post(server, data, params={"output": "pdf"})
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    texts = pdf_text(r.content)
    assert len(texts) == 3
    for text, truth in zip(texts, truths, strict=True):
        assert similarity(text, truth) > 0.7, (text, truth)


def test_accept_header_asks_for_the_pdf(server, scan3):
    data = scan3[0]
    r = post(server, data, params={"pages": "2"}, headers={"Accept": "application/pdf"})
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert len(pdf_text(r.content)) >= 1
    # JSON preferred, or no preference: JSON
    for accept in ("application/json, application/pdf;q=0.5", "*/*"):
        r = post(server, data, params={"pages": "2"}, headers={"Accept": accept})
        assert r.headers["content-type"].startswith("application/json") and r.json()["pages"][0]["page"] == 2
    # an explicit output wins over the header
    r = post(server, data, params={"pages": "2", "output": "json"}, headers={"Accept": "application/pdf"})
    assert r.headers["content-type"].startswith("application/json")


def test_an_image_becomes_a_one_page_searchable_pdf(server, synth_png):
    data, truth = synth_png(9, size=(700, 420), n_lines=3)
    r = httpx.post(f"{server}/api/ocr", files={"image": ("a.png", data, "image/png")}, params={"output": "pdf"},
                   timeout=TIMEOUT)
    assert r.status_code == 200, r.text[:300]
    texts = pdf_text(r.content)
    assert len(texts) == 1 and similarity(texts[0], "".join(truth)) > 0.7


# ---------------------------------------------------------------------- errors


def test_bad_pages_spec_and_output(server, scan3):
    data = scan3[0]
    for spec in ("a", "3-1", "0", "4", "2-x", "5-"):
        assert_error(post(server, data, params={"pages": spec}), 422, "invalid_pages")
    assert_error(post(server, data, params={"output": "docx"}), 422, "invalid_parameter")


def encrypted_pdf(plain: bytes) -> bytes:
    import pikepdf

    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(plain)) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner="owner-secret", user="user-secret", R=6))
    return out.getvalue()


def huge_page_pdf(side_points: float = 14_400.0) -> bytes:
    """One empty page of 200 x 200 inches (14,400 points a side, the PDF maximum)."""
    import pikepdf

    out = io.BytesIO()
    with pikepdf.new() as pdf:
        pdf.add_blank_page(page_size=(side_points, side_points))
        pdf.save(out)
    return out.getvalue()


def born_digital_pdf(lines: list[str]) -> bytes:
    """A page written by a word processor: real text (Helvetica), no image."""
    from fpdf import FPDF

    pdf = FPDF(format=(148, 210))
    pdf.add_page()
    pdf.set_font("Helvetica", size=16)
    for line in lines:
        pdf.cell(0, 12, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def test_encrypted_pdf(server, scan3):
    body = assert_error(post(server, encrypted_pdf(scan3[0])), 422, "pdf_encrypted")
    assert "encrypt" in body["error"]["message"].lower()


def test_huge_page(server):
    assert_error(post(server, huge_page_pdf()), 413, "page_too_large")


def test_born_digital_page_is_read_from_its_text_unless_forced(server):
    lines = ["Invoice 2024-118", "Total due 1280.00 EUR", "Payable within 30 days"]
    data = born_digital_pdf(lines)
    body = post(server, data).json()
    assert_document(body, [1], 1)
    page = body["pages"][0]
    assert page["source"] == "text_layer"
    assert [line["text"] for line in page["text"]] == lines
    forced = post(server, data, params={"force_ocr": "true"}).json()
    page = forced["pages"][0]
    assert page["source"] == "ocr" and similarity(page_text(page), "".join(lines)) > 0.8


def test_decompression_bombs_are_refused_and_the_server_keeps_serving(server):
    from tests import pdfs

    for make in (pdfs.image_bomb_pdf, pdfs.content_bomb_pdf):
        data = make()
        assert len(data) < 2_000_000  # small files that decode to hundreds of megabytes
        assert_error(post(server, data, headers=NO_CACHE), 413, "page_too_large")
    assert httpx.get(f"{server}/healthz", timeout=10).json()["ready"] is True


def test_chinese_and_a_sideways_stored_page_in_the_searchable_pdf(server):
    """A Chinese scanned page and a page stored turned with /Rotate 90 (tests/pdfs.py): the JSON has
    each page's text upright, and the searchable PDF's layer reads back as that text."""
    from tests import pdfs

    zh = ["北京市朝阳区建国路88号", "增值税专用发票 金额 1280.00"]
    en = ["Purchase order 2026-0042", "Delivery within 14 days"]
    data = pdfs.merge(pdfs.scanned_pdf([zh]), pdfs.rotated_pdf(en, rotate=90))
    body = post(server, data).json()
    assert_document(body, [1, 2], 2)
    assert similarity(page_text(body["pages"][0]), "".join(zh)) > 0.85
    upright = body["pages"][1]
    assert upright["height"] > upright["width"]  # shown as viewers show it: portrait
    assert similarity(page_text(upright), "".join(en)) > 0.85
    layer = pdf_text(post(server, data, params={"output": "pdf"}).content)
    assert similarity(layer[0], "".join(zh)) > 0.85 and similarity(layer[1], "".join(en)) > 0.85


def test_truncated_and_garbage_pdfs(server, scan3):
    data = scan3[0]
    assert_error(post(server, data[: len(data) // 2], headers=NO_CACHE), 422, "pdf_invalid")
    assert_error(post(server, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), 422, "pdf_invalid")


def test_too_many_pages(server):
    blank = Image.new("L", (40, 40), 255)
    data = pillow_pdf([blank] * 101, dpi=72)
    body = assert_error(post(server, data), 413, "too_many_pages")
    assert "100" in body["error"]["message"]
    # a selection within the limit is fine
    r = post(server, data, params={"pages": "1-2"})
    assert r.status_code == 200, r.text
    assert r.json()["page_count"] == 101


def test_server_keeps_serving_after_document_errors(server, scan3):
    post(server, b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer<</Root 1 0 R>>\n%%EOF")
    assert httpx.get(f"{server}/healthz", timeout=10).json()["ready"] is True
    assert post(server, scan3[0], params={"pages": "1"}).status_code == 200


# ---------------------------------------------------------------------- admission, limits, event loop


def test_a_document_is_one_admitted_job_and_the_loop_keeps_answering(start_server, synth_png):
    """OCR_MAX_QUEUE=1: while a PDF is OCRed (in the worker pool), /healthz still answers at once,
    shows the job in progress, and an image gets 503; after it, the image is served. OCR_MAX_PAGES
    reaches the document path."""
    import threading
    import time

    srv = start_server(OCR_PROFILE="tiny", OCR_MAX_QUEUE="1", OCR_WORKERS="1", OCR_CACHE="0", OCR_MAX_PAGES="4")
    images, _ = scanned_pages([121, 122, 123, 124], size=(1400, 1000), n_lines=12)
    data = pillow_pdf(images)
    assert_error(post(srv.url, pillow_pdf(images + images[:1])), 413, "too_many_pages")

    done: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: done.append(post(srv.url, data)))
    worker.start()
    busy_seen = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not done:
        health = httpx.get(f"{srv.url}/healthz", timeout=5).json()  # the event loop is free
        if health["in_progress"] == 1:
            busy_seen = True
            break
        time.sleep(0.02)
    assert busy_seen, "the document was never seen in progress"
    image, _ = synth_png(77, size=(500, 300), n_lines=2)
    r = httpx.post(f"{srv.url}/api/ocr", files={"image": ("a.png", image, "image/png")}, timeout=TIMEOUT)
    assert_error(r, 503, "server_busy")
    worker.join(timeout=240)
    assert done and done[0].status_code == 200, done and done[0].text
    assert_document(done[0].json(), [1, 2, 3, 4], 4)
    r = httpx.post(f"{srv.url}/api/ocr", files={"image": ("a.png", image, "image/png")}, timeout=TIMEOUT)
    assert r.status_code == 200


# ---------------------------------------------------------------------- mutated PDFs


@pytest.fixture(scope="module")
def fuzz_seeds() -> list[bytes]:
    """Small PDFs of each kind the service reads: scanned (Pillow), born-digital (fpdf2), and one
    rewritten by pikepdf with object streams (compressed cross-reference)."""
    import pikepdf

    images, _ = scanned_pages([131], size=(300, 200), n_lines=2)
    scanned = pillow_pdf(images + images, dpi=72)
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(scanned)) as pdf:
        pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return [scanned, born_digital_pdf(["Invoice 7", "Total 12.00"]), out.getvalue()]


def test_mutated_pdfs_get_an_answer_or_a_4xx_never_a_5xx(server, fuzz_seeds):
    """40 seeded mutations (bytes flipped, runs deleted or duplicated, truncation) of real PDFs,
    each with a random page selection: 200 with pages, or a JSON 4xx; the server keeps serving."""
    from hypothesis import HealthCheck, given, seed, settings
    from hypothesis import strategies as st

    edits = st.lists(st.tuples(st.sampled_from(["flip", "delete", "dup", "cut"]), st.floats(0, 1), st.integers(1, 64)),
                     min_size=1, max_size=4)

    @seed(20261130)
    @settings(deadline=None, database=None, max_examples=40,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(which=st.integers(0, len(fuzz_seeds) - 1), ops=edits, pages=st.sampled_from([None, "1", "2-", "1,2"]))
    def one(which: int, ops: list, pages: str | None) -> None:
        data = bytearray(fuzz_seeds[which])
        for op, where, n in ops:
            i = int(where * (len(data) - 1))
            if op == "flip":
                data[i] ^= 1 << (n % 8)
            elif op == "delete":
                del data[i:i + n]
            elif op == "dup":
                data[i:i] = data[i:i + n]
            else:
                del data[max(16, i):]
        r = post(server, bytes(data), params={"pages": pages} if pages else None, headers=NO_CACHE)
        assert r.status_code < 500, r.text
        body = r.json()
        if r.status_code == 200:
            assert body["kind"] == "pdf" and body["pages"]
        else:
            assert body["success"] is False and body["error"]["code"], body

    one()
    assert httpx.get(f"{server}/healthz", timeout=10).json()["ready"] is True
