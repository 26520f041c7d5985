"""Test PDFs made on the spot with the PDF libraries (no files checked in): scanned pages,
born-digital text, ``/Rotate``, Chinese and English, and every kind of bad file.

Every function returns ``bytes`` (and the truth where there is text). Text images use WenQuanYi
Micro Hei (Debian fonts-wqy-microhei, in the Makefile's TEST_DEBS) for Chinese, Pillow's bundled
font for English (ocrcore.synth).

    scanned_pdf(pages, dpi)     pages of text images (img2pdf: one image per page, JPEG kept)
    born_digital_pdf(lines)     real text (fpdf2, CJK font embedded), no image
    rotated_pdf(lines, 90)      a scanned page stored sideways with /Rotate so it shows upright
    encrypted_pdf(), truncated_pdf(), zero_page_pdf(), huge_page_pdf(), many_page_pdf(150),
    image_bomb_pdf(), content_bomb_pdf()   the bad inputs
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import cv2
import img2pdf
import numpy as np
import pikepdf
from PIL import Image, ImageDraw, ImageFont

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")

ENGLISH = ["Invoice number 20481", "Total amount 1,234.50", "Payment due in 30 days"]
CHINESE = ["发票号码 20481", "合计金额 人民币 1234.50 元", "请在三十天内付款"]


def text_image(lines: list[str], size: tuple[int, int] = (1240, 1754), *, font_px: int = 44,
               top: int = 160, gap: float = 2.2) -> np.ndarray:
    """A white page (BGR uint8, width x height) with ``lines`` drawn left-aligned in black."""
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(CJK_FONT), font_px)
    y = top
    for text in lines:
        draw.text((120, y), text, fill=0, font=font)
        y += int(font_px * gap)
    arr = np.asarray(img)
    return np.ascontiguousarray(np.repeat(arr[:, :, None], 3, axis=2))


def jpeg(img: np.ndarray, quality: int = 92) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def scanned_pdf(pages: list[list[str]], dpi: int = 150) -> bytes:
    """One scanned page (a JPEG text image at ``dpi``) per item of ``pages``."""
    images = [jpeg(text_image(lines)) for lines in pages]
    layout = img2pdf.get_fixed_dpi_layout_fun((dpi, dpi))
    return bytes(img2pdf.convert(images, layout_fun=layout))


def rotated_pdf(lines: list[str], rotate: int = 90, dpi: int = 150) -> bytes:
    """A scanned page whose image is stored turned by ``-rotate`` degrees, with ``/Rotate rotate``
    so that viewers (and the renderer) show it upright."""
    img = text_image(lines)
    turn = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}[rotate]
    stored = cv2.rotate(img, turn)
    data = bytes(img2pdf.convert([jpeg(stored)], layout_fun=img2pdf.get_fixed_dpi_layout_fun((dpi, dpi))))
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pdf.pages[0].obj.Rotate = rotate
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


def born_digital_pdf(lines: list[str], *, font_pt: float = 14) -> bytes:
    """An A4 page with ``lines`` as real text (font embedded), no image: a born-digital page."""
    from fpdf import FPDF

    doc = FPDF(format="A4", unit="pt")
    doc.add_font("wqy", fname=str(CJK_FONT), collection_font_number=0)
    doc.add_page()
    doc.set_font("wqy", size=font_pt)
    y = 90.0
    for text in lines:
        doc.text(72, y, text)
        y += font_pt * 2
    return bytes(doc.output())


def unmapped_text_pdf(lines: list[str]) -> bytes:
    """A born-digital page whose font has no ToUnicode map: it shows the text, but extraction gives
    glyph numbers (what many Chinese PDFs from old tools look like)."""
    with pikepdf.open(io.BytesIO(born_digital_pdf(lines))) as pdf:
        for _, font in pdf.pages[0].Resources.Font.items():
            if "/ToUnicode" in font:
                del font["/ToUnicode"]
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


def form_pdf(lines: list[str], value: str = "Invoice 20481") -> bytes:
    """A born-digital page (``lines``) with a filled-in text field below them whose value has no
    appearance stream (``/NeedAppearances``): only a form-aware renderer shows it."""
    from pikepdf import Array, Dictionary, Name, String

    with pikepdf.open(io.BytesIO(born_digital_pdf(lines))) as pdf:
        page = pdf.pages[0].obj
        helv = pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica))
        y = 842 - 90 - 28 * len(lines) - 40
        field = pdf.make_indirect(Dictionary(
            Type=Name.Annot, Subtype=Name.Widget, FT=Name.Tx, T=String("invoice"), V=String(value),
            Rect=Array([72, y, 400, y + 30]), P=page, DA=String("/Helv 16 Tf 0 g"), F=4))
        page.Annots = Array([field])
        pdf.Root.AcroForm = Dictionary(Fields=Array([field]), NeedAppearances=True, DA=String("/Helv 0 Tf 0 g"),
                                       DR=Dictionary(Font=Dictionary(Helv=helv)))
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


def stamped_scan_pdf(lines: list[str], stamp: str = "Page 7", dpi: int = 150) -> bytes:
    """A scanned page (text image over the whole A4 page) with a little real text on it: a stamp."""
    from fpdf import FPDF

    doc = FPDF(format="A4", unit="pt")
    doc.add_page()
    doc.image(io.BytesIO(jpeg(text_image(lines))), x=0, y=0, w=doc.w, h=doc.h)
    doc.set_font("helvetica", size=9)
    doc.text(doc.w - 80, doc.h - 30, stamp)
    return bytes(doc.output())


def merge(*pdfs: bytes) -> bytes:
    """The pages of several PDFs, in order, as one PDF."""
    out = pikepdf.new()
    for data in pdfs:
        with pikepdf.open(io.BytesIO(data)) as src:
            out.pages.extend(src.pages)
    buf = io.BytesIO()
    out.save(buf)
    return buf.getvalue()


def encrypted_pdf(password: str = "secret") -> bytes:
    """A scanned page encrypted with a user password (AES-256)."""
    with pikepdf.open(io.BytesIO(scanned_pdf([ENGLISH]))) as pdf:
        out = io.BytesIO()
        pdf.save(out, encryption=pikepdf.Encryption(user=password, owner=password + "-owner", R=6))
    return out.getvalue()


def truncated_pdf() -> bytes:
    """The first half of a valid PDF (an interrupted upload)."""
    data = scanned_pdf([ENGLISH])
    return data[: len(data) // 2]


def zero_page_pdf() -> bytes:
    """A well-formed PDF whose page tree is empty."""
    pdf = pikepdf.new()
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def blank_pages_pdf(count: int, size_pt: tuple[float, float] = (595, 842)) -> bytes:
    pdf = pikepdf.new()
    for _ in range(count):
        pdf.add_blank_page(page_size=size_pt)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def huge_page_pdf() -> bytes:
    """One blank page of 200 x 200 inches (14,400 points a side, the PDF maximum)."""
    return blank_pages_pdf(1, (14_400, 14_400))


def many_page_pdf(count: int = 150) -> bytes:
    """``count`` blank A4 pages."""
    return blank_pages_pdf(count)


def image_bomb_pdf(side: int = 13_000) -> bytes:
    """An A4 page showing a ``side`` x ``side`` greyscale image (169 M pixels at the default):
    a few hundred kilobytes of Flate data that decode to that many bytes."""
    comp = zlib.compressobj(9)
    row_block = b"\xff" * side * 500
    parts = [comp.compress(row_block) for _ in range(side // 500)]
    parts.append(comp.compress(b"\xff" * side * (side % 500)))
    parts.append(comp.flush())
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    image = pikepdf.Stream(pdf, b"".join(parts))
    image.Type = pikepdf.Name.XObject
    image.Subtype = pikepdf.Name.Image
    image.Width, image.Height = side, side
    image.ColorSpace = pikepdf.Name.DeviceGray
    image.BitsPerComponent = 8
    image.Filter = pikepdf.Name.FlateDecode
    page = pdf.pages[0]
    page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.obj.Contents = pdf.make_stream(b"q 595 0 0 842 0 0 cm /Im0 Do Q")
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def content_bomb_pdf(mib: int = 300) -> bytes:
    """An A4 page whose content stream is ``mib`` MiB of spaces (valid, draws nothing) in about
    ``mib`` / 1000 MiB of Flate data."""
    comp = zlib.compressobj(1)
    block = b" " * 2**20
    parts = [comp.compress(block) for _ in range(mib)]
    parts.append(comp.compress(b"0 0 m\n"))
    parts.append(comp.flush())
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    stream = pikepdf.Stream(pdf, b"".join(parts))
    stream.Filter = pikepdf.Name.FlateDecode
    pdf.pages[0].obj.Contents = pdf.make_indirect(stream)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def multipage_tiff(pages: list[list[str]]) -> bytes:
    """A multi-page TIFF (LZW), one text image per page."""
    frames = [Image.fromarray(text_image(lines)[:, :, 0]) for lines in pages]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_lzw", dpi=(150, 150))
    return out.getvalue()
