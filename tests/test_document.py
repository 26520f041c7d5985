"""PDF and multi-page TIFF documents (ocrcore.document): text per page, born-digital pages, /Rotate,
Chinese, the searchable PDF read back by poppler's pdftotext and by PDFium, every refusal, the CLI.

All PDFs are generated here (tests/pdfs.py); the engine is the real ``tiny`` profile.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import img2pdf
import numpy as np
import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image

from ocrcore.decode import decode_image
from ocrcore.document import (
    PageRangeError,
    PageTooLargeError,
    PDFEncryptedError,
    PDFInvalidError,
    TooManyPagesError,
    is_multipage_tiff,
    is_pdf,
    iter_document,
    ocr_document,
    parse_page_spec,
    searchable_pdf,
)
from ocrcore.engine import OCREngine
from ocrcore.errors import UnsupportedImageError
from ocrcore.pdf_read import PageGeometry
from tests import pdfs

EN, ZH = pdfs.ENGLISH, pdfs.CHINESE
MIXED = [EN[0], ZH[1], EN[1], ZH[2]]


def squash(text: str) -> str:
    """Compare text without spaces: the recogniser writes none between Chinese and digits."""
    return "".join(text.split())


def texts(page) -> list[str]:
    return [squash(line.text) for line in page.result.lines]


@pytest.fixture(scope="module")
def engine() -> OCREngine:
    return OCREngine(profile="tiny", threads=1)


@pytest.fixture(scope="module")
def mixed_pdf() -> bytes:
    """Scanned English, scanned Chinese, born-digital (Chinese + English), scanned with /Rotate 90."""
    return pdfs.merge(pdfs.scanned_pdf([EN, ZH]), pdfs.born_digital_pdf(MIXED), pdfs.rotated_pdf(EN, 90))


@pytest.fixture(scope="module")
def mixed_doc(engine: OCREngine, mixed_pdf: bytes):
    return ocr_document(engine, mixed_pdf)


@pytest.fixture(scope="module")
def mixed_out(mixed_pdf: bytes, mixed_doc) -> bytes:
    return searchable_pdf(mixed_pdf, mixed_doc)


# ------------------------------------------------------------------------------------- page selection


def test_parse_page_spec() -> None:
    assert parse_page_spec("1-3,7", 10) == [1, 2, 3, 7]
    assert parse_page_spec(" 7 , 2-3,3 ", 10) == [2, 3, 7]
    assert parse_page_spec("8-", 10) == [8, 9, 10]
    assert parse_page_spec(None, 3) == [1, 2, 3] and parse_page_spec("", 2) == [1, 2]
    for bad in ("0", "3-1", "1,,2", "a", "1-2-3", "11", "2-11", "-"):
        with pytest.raises(PageRangeError) as err:
            parse_page_spec(bad, 10)
        assert err.value.code == "invalid_pages" and err.value.status == 422


def test_sniffing() -> None:
    assert is_pdf(pdfs.blank_pages_pdf(1)) and not is_pdf(pdfs.png(pdfs.text_image(EN)))
    assert is_pdf(b"junk before the header\n" + pdfs.blank_pages_pdf(1))
    assert not is_pdf(b"\xff\xd8\xff\xe0 an image whose metadata says %PDF-1.4")
    assert is_multipage_tiff(pdfs.multipage_tiff([EN, ZH])) and not is_multipage_tiff(pdfs.multipage_tiff([EN]))


# ------------------------------------------------------------------------------------------ reading


def test_text_per_page(mixed_doc) -> None:
    doc = mixed_doc
    assert doc.kind == "pdf" and doc.page_count == 4 and [p.page for p in doc.pages] == [1, 2, 3, 4]
    assert [p.source for p in doc.pages] == ["ocr", "ocr", "text_layer", "ocr"]
    assert texts(doc.pages[0]) == [squash(t) for t in EN]
    assert texts(doc.pages[1]) == [squash(t) for t in ZH]
    assert texts(doc.pages[3]) == [squash(t) for t in EN]  # /Rotate 90 rendered upright
    for page in doc.pages:
        assert page.orientation == 0 and page.dpi is not None and 200 <= page.dpi <= 300
        assert (page.result.width, page.result.height) == (page.width, page.height)
        for line in page.result.lines:
            assert all(0 <= x < page.width and 0 <= y < page.height for x, y in line.box)
    # a 150 dpi A4 scan renders at 200 dpi (its own resolution, raised to the floor): 1654 x 2339
    assert doc.pages[0].dpi == 200 and abs(doc.pages[0].width - 1654) <= 1 and abs(doc.pages[0].height - 2339) <= 1
    # the rotated page is stored landscape and shown portrait
    assert doc.pages[3].height > doc.pages[3].width


def test_born_digital_page_is_extracted_not_ocred(engine: OCREngine, mixed_pdf: bytes, mixed_doc) -> None:
    page = mixed_doc.pages[2]
    assert page.source == "text_layer" and [line.text for line in page.result.lines] == MIXED  # exact, spaces kept
    assert all(line.confidence == 1.0 for line in page.result.lines)
    tops = [line.box[0][1] for line in page.result.lines]
    assert tops == sorted(tops) and page.dpi == 300  # vector page: the default resolution
    # boxes lie where OCR finds the same lines on the rendered page
    forced = ocr_document(engine, mixed_pdf, pages="3", force_ocr=True).pages[0]
    assert forced.source == "ocr" and texts(forced) == [squash(t) for t in MIXED]
    assert (forced.width, forced.height) == (page.width, page.height)
    for a, b in zip(page.result.lines, forced.result.lines):
        assert abs(a.box[0][1] - b.box[0][1]) < 25 and abs(a.box[2][1] - b.box[2][1]) < 25
        assert abs(a.box[0][0] - b.box[0][0]) < 25


def test_scan_with_a_stamp_is_ocred(engine: OCREngine) -> None:
    page = ocr_document(engine, pdfs.stamped_scan_pdf(ZH, "Page 7")).pages[0]
    assert page.source == "ocr"
    assert texts(page)[:3] == [squash(t) for t in ZH] and "Page7" in texts(page)[-1]


def test_text_layer_without_unicode_is_ocred(engine: OCREngine) -> None:
    page = ocr_document(engine, pdfs.unmapped_text_pdf(MIXED)).pages[0]
    assert page.source == "ocr" and texts(page) == [squash(t) for t in MIXED]


def test_filled_form_fields(engine: OCREngine) -> None:
    """A field's value is no page text: it is drawn for OCR and joins the extracted lines."""
    data = pdfs.form_pdf(EN, "Invoice 20481")
    page = ocr_document(engine, data).pages[0]
    assert page.source == "text_layer" and [x.text for x in page.result.lines] == EN + ["Invoice 20481"]
    forced = ocr_document(engine, data, force_ocr=True).pages[0]
    assert texts(forced)[-1] == "Invoice20481"
    for a, b in zip(page.result.lines[-1].box, forced.result.lines[-1].box):
        assert abs(a[1] - b[1]) < 40  # the field's box is where the value is drawn


def test_selection_callbacks_and_laziness(engine: OCREngine, mixed_pdf: bytes) -> None:
    seen: list[int] = []
    shapes: dict[int, tuple[int, ...]] = {}
    doc = ocr_document(engine, mixed_pdf, pages="4,2-3", on_page=lambda p: seen.append(p.page),
                       on_image=lambda p, img: shapes.__setitem__(p.page, img.shape))
    assert [p.page for p in doc.pages] == seen == [2, 3, 4] and doc.page_count == 4
    for p in doc.pages:  # text-layer pages are rendered too when the caller wants the image
        assert shapes[p.page] == (p.height, p.width, 3)
    it = iter_document(engine, mixed_pdf, pages="1-2")
    first = next(it)
    assert first.page == 1
    it.close()  # releases the document without rendering page 2


def test_rotations(engine: OCREngine) -> None:
    for rotate in (90, 180, 270):
        page = ocr_document(engine, pdfs.rotated_pdf(ZH, rotate)).pages[0]
        assert texts(page) == [squash(t) for t in ZH], rotate


def test_geometry_round_trip() -> None:
    for rotation in (0, 90, 180, 270):
        g = PageGeometry((10.0, 20.0, 310.0, 620.0), rotation)
        w, h = (600, 1200) if rotation in (0, 180) else (1200, 600)
        for x, y in ((10.0, 20.0), (310.0, 620.0), (100.0, 500.0)):
            px, py = g.to_pixels(x, y, w, h)
            assert 0 <= px <= w and 0 <= py <= h
            assert np.allclose(g.to_user(px, py, w, h), (x, y))
    # /Rotate 90: the page's top-left corner in user space shows at the top right
    assert np.allclose(PageGeometry((0, 0, 100, 200), 90).to_pixels(0, 200, 200, 100), (200, 0))


def test_geometry_matches_pdfium() -> None:
    data = pdfs.rotated_pdf(EN, 90)
    pdf = pdfium.PdfDocument(data)
    try:
        page = pdf[0]
        x0, y0, x1, y1 = page.get_cropbox()
        g = PageGeometry((x0, y0, x1, y1), page.get_rotation())
        bitmap = page.render(scale=2)
        conv = bitmap.get_posconv(page)
        for x, y in ((50.0, 60.0), (400.0, 100.0), (700.0, 500.0)):
            assert np.allclose(g.to_pixels(x, y, bitmap.width, bitmap.height), conv.to_bitmap(x, y), atol=1.0)
        bitmap.close()
        page.close()
    finally:
        pdf.close()


def test_multipage_tiff(engine: OCREngine) -> None:
    data = pdfs.multipage_tiff([EN, ZH, EN])
    with pytest.raises(UnsupportedImageError, match="multi-page TIFF"):
        decode_image(data)  # never silently the first page only
    doc = ocr_document(engine, data, pages="2-3")
    assert doc.kind == "tiff" and doc.page_count == 3 and [p.page for p in doc.pages] == [2, 3]
    assert texts(doc.pages[0]) == [squash(t) for t in ZH] and doc.pages[0].dpi is None
    out = searchable_pdf(data, doc)
    assert len(pikepdf.open(io.BytesIO(out)).pages) == 2
    assert squash(ZH[0]) in squash(pdftotext(out, 1))


def test_concurrent_documents(engine: OCREngine) -> None:
    """PDFium is not thread-safe: two threads reading PDFs at once must not crash or mix pages."""
    data = pdfs.scanned_pdf([EN, ZH])
    results: list[list[list[str]]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append([texts(p) for p in ocr_document(engine, data).pages])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 3
    assert results[0] == results[1] == results[2] == [[squash(t) for t in EN], [squash(t) for t in ZH]]


# ----------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(("make", "error", "code", "status"), [
    (pdfs.encrypted_pdf, PDFEncryptedError, "pdf_encrypted", 422),
    (pdfs.truncated_pdf, PDFInvalidError, "pdf_invalid", 422),
    (pdfs.zero_page_pdf, PDFInvalidError, "pdf_invalid", 422),
    (lambda: b"%PDF-1.7\nnot really", PDFInvalidError, "pdf_invalid", 422),
    (pdfs.huge_page_pdf, PageTooLargeError, "page_too_large", 413),
    (pdfs.many_page_pdf, TooManyPagesError, "too_many_pages", 413),
    (pdfs.image_bomb_pdf, PageTooLargeError, "page_too_large", 413),
    (pdfs.content_bomb_pdf, PageTooLargeError, "page_too_large", 413),
])
def test_bad_documents_are_refused_before_any_page(engine: OCREngine, make, error, code, status) -> None:
    data = make()
    done: list[int] = []
    with pytest.raises(error) as err:
        ocr_document(engine, data, on_page=lambda p: done.append(p.page))
    assert err.value.code == code and err.value.status == status and str(err.value)
    assert done == []


def test_verdict_does_not_depend_on_the_file_before(engine: OCREngine) -> None:
    """PDFium keeps the last load error when a file with an empty page tree fails: after an
    encrypted file, a zero-page file must still be pdf_invalid ("no pages"), not pdf_encrypted."""
    order = [(pdfs.encrypted_pdf, PDFEncryptedError), (pdfs.zero_page_pdf, PDFInvalidError),
             (pdfs.encrypted_pdf, PDFEncryptedError), (pdfs.truncated_pdf, PDFInvalidError),
             (pdfs.zero_page_pdf, PDFInvalidError), (pdfs.encrypted_pdf, PDFEncryptedError)]
    for make, error in order:
        with pytest.raises(error) as err:
            ocr_document(engine, make())
        if make is pdfs.zero_page_pdf:
            assert "no pages" in str(err.value)


def test_bad_page_late_in_a_file_is_refused_before_the_first_page(engine: OCREngine) -> None:
    data = pdfs.merge(pdfs.scanned_pdf([EN]), pdfs.image_bomb_pdf())
    done: list[int] = []
    with pytest.raises(PageTooLargeError, match="page 2"):
        ocr_document(engine, data, on_page=lambda p: done.append(p.page))
    assert done == []
    assert texts(ocr_document(engine, data, pages="1").pages[0]) == [squash(t) for t in EN]  # the good page alone


def test_page_limit_and_selection(engine: OCREngine) -> None:
    data = pdfs.many_page_pdf(150)
    doc = ocr_document(engine, data, pages="149-")  # a selection within the limit of a long file
    assert doc.page_count == 150 and [p.page for p in doc.pages] == [149, 150] and not doc.pages[0].result.lines
    with pytest.raises(TooManyPagesError):
        ocr_document(engine, data, pages="1-5", max_pages=4)
    with pytest.raises(PageRangeError):
        ocr_document(engine, data, pages="151")


# ------------------------------------------------------------------------------------ searchable PDF


def pdftotext(data: bytes, page: int) -> str:
    assert shutil.which("pdftotext"), "poppler-utils (pdftotext) is in the Makefile's TEST_DEBS"
    proc = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-enc", "UTF-8", "-", "-"],
                          input=data, capture_output=True, check=True, timeout=60)
    return proc.stdout.decode("utf-8")


def render_all(data: bytes, scale: float = 1.0) -> list[np.ndarray]:
    pdf = pdfium.PdfDocument(data)
    try:
        out = []
        for i in range(len(pdf)):
            page = pdf[i]
            bitmap = page.render(scale=scale)
            out.append(np.array(bitmap.to_numpy(), copy=True))
            bitmap.close()
            page.close()
        return out
    finally:
        pdf.close()


def test_searchable_pdf_text_layer_reads_back(engine: OCREngine, mixed_doc, mixed_out: bytes) -> None:
    for page in mixed_doc.pages:
        got = pdftotext(mixed_out, page.page).splitlines()
        want = [line.text for line in page.result.lines]
        assert [squash(g) for g in got if g.strip()] == [squash(w) for w in want], page.page
    # the born-digital page got no second layer: each of its lines once
    assert pdftotext(mixed_out, 3).count(EN[0]) == 1
    # the OCR layer is read back by PDFium as a text layer: same lines, boxes on the same places
    again = ocr_document(engine, mixed_out)
    for before, after in zip(mixed_doc.pages, again.pages):
        assert after.source == "text_layer"
        assert [squash(x.text) for x in after.result.lines] == [squash(x.text) for x in before.result.lines]
        for a, b in zip(before.result.lines, after.result.lines):
            assert np.abs(np.array(a.box) - np.array(b.box)).max() <= 0.01 * max(before.width, before.height)


def test_searchable_pdf_changes_nothing_visible(mixed_pdf: bytes, mixed_out: bytes) -> None:
    before, after = render_all(mixed_pdf), render_all(mixed_out)
    assert len(before) == len(after) == 4
    for a, b in zip(before, after):
        assert a.shape == b.shape and int(np.abs(a.astype(int) - b.astype(int)).max()) == 0
    src, out = pikepdf.open(io.BytesIO(mixed_pdf)), pikepdf.open(io.BytesIO(mixed_out))
    for p_src, p_out in zip(src.pages, out.pages):
        assert p_out.obj.get("/Rotate", 0) == p_src.obj.get("/Rotate", 0)
        assert list(p_out.mediabox) == list(p_src.mediabox)
        # images carried over byte for byte (no re-compression)
        raw_src = sorted(img.read_raw_bytes() for _, img in p_src.get_images().items())
        raw_out = sorted(img.read_raw_bytes() for _, img in p_out.get_images().items())
        assert raw_src == raw_out


def test_forced_ocr_replaces_an_earlier_invisible_layer(engine: OCREngine) -> None:
    """A scan OCRed before by a tool that read its Chinese as garbage (an invisible layer inline,
    and one in a form XObject as OCRmyPDF writes it) and a visible stamp: with force_ocr the
    searchable PDF has the new text once and no garbage; the stamp stays; nothing visible changes."""
    from ocrcore.document import DocumentResult, PageResult
    from ocrcore.types import Line, OCRResult

    scan = pdfs.stamped_scan_pdf(ZH, "Page 7")
    width, height = 1654, 2339  # A4 at 200 dpi, as the scan renders
    garbage = (Line("JER Th SARA 2a R885", 0.5, ((240, 330), (900, 330), (900, 400), (240, 400))),)
    old = searchable_pdf(scan, DocumentResult(
        (PageResult(1, width, height, 200.0, "ocr", 0, OCRResult(garbage, width, height)),), 1, "pdf"))
    with pikepdf.open(io.BytesIO(old)) as pdf:  # a second old layer, in a form XObject
        form = pdf.make_stream(b"BT 3 Tr /F1 20 Tf 72 600 Td (MEMS AAR LE) Tj ET",
                               Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form, BBox=[0, 0, 595, 842],
                               Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=pikepdf.Dictionary(
                                   Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica))))
        page = pdf.pages[0]
        page.add_resource(form, pikepdf.Name.XObject, pikepdf.Name("/OCRLayer"))
        page.contents_add(b"q /OCRLayer Do Q")
        buf = io.BytesIO()
        pdf.save(buf)
    old = buf.getvalue()
    assert "JERTh" in squash(pdftotext(old, 1)) and "MEMSAAR" in squash(pdftotext(old, 1))
    doc = ocr_document(engine, old)
    assert doc.pages[0].source == "text_layer"  # its old layer is taken as it is, unless forced
    doc = ocr_document(engine, old, force_ocr=True)
    out = searchable_pdf(old, doc)
    got = squash(pdftotext(out, 1))
    assert "JERTh" not in got and "MEMSAAR" not in got
    assert all(got.count(squash(t)) == 1 for t in ZH), got  # the new layer, once
    assert "Page" in got  # the stamp is visible text: kept (and read by OCR too)
    assert all(int(np.abs(a.astype(int) - b.astype(int)).max()) == 0 for a, b in zip(render_all(old), render_all(out)))


def test_only_wholly_invisible_text_objects_are_removed() -> None:
    from ocrcore.pdf_text_layer import strip_invisible_text

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    page = pdf.pages[0]
    page.obj.Contents = pdf.make_stream(
        b"BT /F1 9 Tf 3 Tr (old) Tj ET "  # an old OCR layer: removed
        b"q BT 0 Tr (seen) Tj 3 Tr (mixed) Tj ET Q "  # visible text in the same object: kept whole
        b"BT (after) Tj ET "  # 3 Tr still in force (set outside q): removed
        b"q 7 Tr BT (clip) Tj ET Q")  # clipping text: kept
    assert strip_invisible_text(pdf, page)
    left = [str(i.operands[0]) for i in pikepdf.parse_content_stream(page) if str(i.operator) == "Tj"]
    assert left == ["seen", "mixed", "clip"]
    assert not strip_invisible_text(pdf, page)  # nothing left to remove


def test_searchable_pdf_of_selected_pages(engine: OCREngine, mixed_pdf: bytes) -> None:
    doc = ocr_document(engine, mixed_pdf, pages="2,4")
    out = searchable_pdf(mixed_pdf, doc)
    assert len(pikepdf.open(io.BytesIO(out)).pages) == 2
    assert squash(ZH[1]) in squash(pdftotext(out, 1)) and squash(EN[2]) in squash(pdftotext(out, 2))


def test_tiny_and_huge_images_fit_a_pdf_page(engine: OCREngine) -> None:
    """A PDF page side is 3 to 14,400 units: a 1x1 image and a 20000-pixel-long one at 1 dpi still
    become pages (scaled), one too thin for any page is a 4xx error."""
    from ocrcore.errors import UnsupportedImageError

    for shape, dpi in (((1, 1), (72, 72)), ((60, 20_000), (1, 1))):
        img = Image.new("L", (shape[1], shape[0]), 255)
        buf = io.BytesIO()
        img.save(buf, "PNG", dpi=dpi)
        data = buf.getvalue()
        out = searchable_pdf(data, ocr_document(engine, data))
        with pikepdf.open(io.BytesIO(out)) as pdf:
            box = [float(v) for v in pdf.pages[0].mediabox]
            assert 3 <= box[2] - box[0] <= 14_400 and 3 <= box[3] - box[1] <= 14_400
    buf = io.BytesIO()
    Image.new("L", (30_000, 2), 255).save(buf, "PNG")
    thin = buf.getvalue()
    with pytest.raises(UnsupportedImageError):
        searchable_pdf(thin, ocr_document(engine, thin))


def test_inherited_attributes_and_owner_password(engine: OCREngine) -> None:
    """/Resources, /MediaBox and /Rotate inherited from the page tree; a file encrypted with an
    owner password only (opens without one) keeps its encryption and permissions."""
    with pikepdf.open(io.BytesIO(pdfs.rotated_pdf(EN, 90))) as pdf:
        page, tree = pdf.pages[0].obj, pdf.Root.Pages
        for key in ("/Resources", "/MediaBox", "/Rotate"):
            tree[key] = page[key]
            del page[key]
        buf = io.BytesIO()
        pdf.save(buf, encryption=pikepdf.Encryption(user="", owner="owner", R=6, allow=pikepdf.Permissions(extract=False)))
    data = buf.getvalue()
    doc = ocr_document(engine, data)
    assert texts(doc.pages[0]) == [squash(t) for t in EN]
    out = searchable_pdf(data, doc)
    assert [squash(x) for x in pdftotext(out, 1).splitlines() if x.strip()] == [squash(t) for t in EN]
    assert all(int(np.abs(a.astype(int) - b.astype(int)).max()) == 0 for a, b in zip(render_all(data), render_all(out)))
    with pikepdf.open(io.BytesIO(out)) as result:
        assert result.is_encrypted and not result.allow.extract


def test_image_becomes_a_one_page_pdf(engine: OCREngine) -> None:
    jpeg = pdfs.jpeg(pdfs.text_image(ZH))
    doc = ocr_document(engine, jpeg)
    assert doc.kind == "image" and doc.page_count == 1 and doc.pages[0].dpi is None
    out = searchable_pdf(jpeg, doc)
    pdf = pikepdf.open(io.BytesIO(out))
    [(_, image)] = list(pdf.pages[0].get_images().items())
    assert image.Filter == pikepdf.Name.DCTDecode and image.read_raw_bytes() == jpeg  # the JPEG as it was
    assert [squash(x) for x in pdftotext(out, 1).splitlines() if x.strip()] == [squash(t) for t in ZH]
    # an image with transparency (img2pdf refuses alpha) is flattened as the engine sees it
    rgba = np.dstack([pdfs.text_image(EN), np.full(pdfs.text_image(EN).shape[:2], 255, np.uint8)])
    png = pdfs.png(rgba)
    out = searchable_pdf(png, ocr_document(engine, png))
    assert squash(EN[1]) in squash(pdftotext(out, 1))
    # EXIF orientations: turned (img2pdf sets /Rotate, JPEG kept) and mirrored (re-encoded losslessly)
    for orientation, stored in ((6, np.rot90(pdfs.text_image(EN))), (2, pdfs.text_image(EN)[:, ::-1])):
        pil = Image.fromarray(np.ascontiguousarray(stored[:, :, ::-1]))
        exif = pil.getexif()
        exif[0x0112] = orientation
        buf = io.BytesIO()
        pil.save(buf, "JPEG", exif=exif.tobytes())
        data = buf.getvalue()
        doc = ocr_document(engine, data)
        assert texts(doc.pages[0]) == [squash(t) for t in EN], orientation
        out = searchable_pdf(data, doc)
        assert [squash(x) for x in pdftotext(out, 1).splitlines() if x.strip()] == [squash(t) for t in EN], orientation


# ------------------------------------------------------------------------------------------------ CLI

REPO = Path(__file__).resolve().parents[1]
OCR = [sys.executable, "-m", "ocrcore.cli"]  # this tree's code (the console script may point at another checkout)
ENV = {**os.environ, "OCR_PROFILE": "tiny", "OCR_THREADS": "1"}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(OCR + list(args), capture_output=True, text=True, env=ENV, timeout=300, cwd=REPO)


def test_cli_pdf(tmp_path: Path, mixed_pdf: bytes) -> None:
    src = tmp_path / "scan.pdf"
    src.write_bytes(mixed_pdf)
    proc = run(str(src), "--pages", "1,3")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == "--- page 1 ---" and out[1:4] == EN and out[4] == "--- page 3 ---" and out[5:] == MIXED
    target = tmp_path / "out.pdf"
    proc = run(str(src), "--json", "--words", "--pages", "2-3", "--force-ocr", "--searchable", str(target))
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    assert row["success"] and row["kind"] == "pdf" and row["page_count"] == 4
    assert [p["page"] for p in row["pages"]] == [2, 3] and [p["source"] for p in row["pages"]] == ["ocr", "ocr"]
    assert [t["page"] for t in row["text"]] == [2] * 3 + [3] * 4
    assert all(t["words"] and "".join(w["text"] for w in t["words"]) == squash(t["text"]) for t in row["text"])
    assert squash(ZH[2]) in squash(pdftotext(target.read_bytes(), 1))


def test_cli_image_to_searchable_pdf_and_errors(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(pdfs.jpeg(pdfs.text_image(EN)))
    target = tmp_path / "photo.pdf"
    proc = run(str(photo), "--searchable", str(target))
    assert proc.returncode == 0 and proc.stdout.splitlines()[1:] == EN
    assert [x for x in pdftotext(target.read_bytes(), 1).splitlines() if x.strip()] == EN
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(pdfs.encrypted_pdf())
    proc = run("--json", str(locked), str(photo))
    assert proc.returncode == 1
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert rows[0]["error"]["code"] == "pdf_encrypted" and rows[1]["success"] and "locked.pdf" in proc.stderr
    proc = run(str(photo), str(locked), "--searchable", str(target))
    assert proc.returncode == 2 and "exactly one" in proc.stderr
    proc = run(str(photo), "--searchable", str(tmp_path / "missing" / "out.pdf"))  # refused before any OCR
    assert proc.returncode == 2 and "missing" in proc.stderr and not proc.stdout


# ------------------------------------------------------------------------------------------ OCRmyPDF


def ocrmypdf(tmp_path: Path, data: bytes, *args: str) -> bytes:
    """OCRmyPDF with this engine's plugin on ``data``; a ``tesseract`` on PATH that only records
    being called shows Tesseract is never run (nor version-checked)."""
    pytest.importorskip("ocrmypdf")
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    marker = tmp_path / "tesseract-was-called"
    (fake / "tesseract").write_text(f"#!/bin/sh\necho \"$@\" >> {marker}\nexit 1\n")
    (fake / "tesseract").chmod(0o755)
    src, out = tmp_path / "in.pdf", tmp_path / "out.pdf"
    src.write_bytes(data)
    env = {**ENV, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "ocrmypdf", "--plugin", "ocrcore.ocrmypdf_plugin", "--output-type", "pdf",
                           "--optimize", "0", "--jobs", "1", "-l", "eng+chi_sim", *args, str(src), str(out)],
                          capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not marker.exists()
    return out.read_bytes()


def layer_lines(data: bytes, page: int) -> list[str]:
    return [squash(x) for x in pdftotext(data, page).splitlines() if x.strip()]


def test_ocrmypdf_plugin_without_tesseract(tmp_path: Path, mixed_pdf: bytes) -> None:
    """OCRmyPDF 17 runs this engine through ocrcore.ocrmypdf_plugin, never Tesseract."""
    data = ocrmypdf(tmp_path, mixed_pdf, "--skip-text")
    assert layer_lines(data, 1) == [squash(t) for t in EN]
    assert layer_lines(data, 2) == [squash(t) for t in ZH]
    assert pdftotext(data, 3).count(EN[0]) == 1  # the born-digital page skipped (--skip-text)
    assert layer_lines(data, 4) == [squash(t) for t in EN]  # /Rotate 90


def test_ocrmypdf_plugin_on_pages_scanned_sideways(tmp_path: Path, engine: OCREngine) -> None:
    """A page scanned sideways (no /Rotate): its lines run down the page and the layer with them
    (OCRmyPDF's renderer drops lines whose box does not fit horizontal text); with
    ``--rotate-pages`` the engine's orientation turns the page upright (/Rotate)."""
    sideways = np.ascontiguousarray(np.rot90(pdfs.text_image(ZH + EN), k=-1))  # turned 90 degrees clockwise
    layout = img2pdf.get_fixed_dpi_layout_fun((150, 150))
    data = bytes(img2pdf.convert([pdfs.jpeg(sideways)], layout_fun=layout))
    want = [squash(t) for t in ZH + EN]
    out = ocrmypdf(tmp_path, data)
    assert layer_lines(out, 1) == want
    page = ocr_document(engine, out).pages[0]  # the layer's lines lie on the text (OCR of the page)
    ocred = ocr_document(engine, data, force_ocr=True).pages[0]
    assert page.source == "text_layer" and ocred.result.orientation == 90
    for line in ocred.result.lines:
        xs, ys = [p[0] for p in line.box], [p[1] for p in line.box]
        hits = [x for x in page.result.lines
                if min(xs) - 15 <= x.box[0][0] and x.box[2][0] <= max(xs) + 15
                and min(ys) - 15 <= x.box[0][1] and x.box[2][1] <= max(ys) + 15]
        assert squash("".join(x.text for x in hits)) == squash(line.text), line
    upside = np.ascontiguousarray(pdfs.text_image(EN)[::-1, ::-1])
    data = bytes(img2pdf.convert([pdfs.jpeg(upside)], layout_fun=layout))
    out = ocrmypdf(tmp_path, data, "--rotate-pages")
    with pikepdf.open(io.BytesIO(out)) as pdf:
        assert int(pdf.pages[0].obj.get("/Rotate", 0)) % 360 == 180
    assert layer_lines(out, 1) == [squash(t) for t in EN]


def test_text_layer_geometry_on_every_rotation(engine: OCREngine) -> None:
    """Lines put on blank pages with each /Rotate (and a crop box off the origin) read back from the
    layer with their text and boxes: horizontal lines, and a vertical Chinese column read top to
    bottom."""
    from ocrcore.document import DocumentResult, PageResult
    from ocrcore.types import Line, OCRResult

    def quad(x0: int, y0: int, x1: int, y1: int):
        return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))

    for rotate in (0, 90, 180, 270):
        with pikepdf.open(io.BytesIO(pdfs.blank_pages_pdf(1, (612, 792)))) as pdf:
            pdf.pages[0].obj.CropBox = pikepdf.Array([36, 36, 576, 756])
            pdf.pages[0].obj.Rotate = rotate
            buf = io.BytesIO()
            pdf.save(buf)
        data = buf.getvalue()
        width, height = (1500, 2000) if rotate in (0, 180) else (2000, 1500)  # 540 x 720 pt at 200 dpi
        lines = (Line("Total amount 1,234.50", 0.9, quad(100, 100, 900, 160)),
                 Line("合计金额人民币", 0.9, quad(100, 300, 800, 380)),
                 Line("请在三十天内付款", 0.9, quad(1300, 500, 1370, 1200)))  # a column, 10 times taller than wide
        doc = DocumentResult((PageResult(1, width, height, 200.0, "ocr", 0, OCRResult(lines, width, height)),), 1, "pdf")
        page = ocr_document(engine, searchable_pdf(data, doc)).pages[0]
        assert page.source == "text_layer" and (page.width, page.height) == (width * 1.5, height * 1.5)  # read at 300 dpi
        assert [x.text for x in page.result.lines] == [x.text for x in lines], rotate
        for a, b in zip(lines, page.result.lines):
            assert np.abs(np.array(a.box) * 1.5 - np.array(b.box)).max() <= 6, (rotate, a, b)
