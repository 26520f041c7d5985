"""Bounded fuzz of the decode path (``ocrcore.decode.decode_image``) with hypothesis.

Every input starts as a small valid image made here with Pillow or OpenCV (JPEG, PNG, WebP, TIFF,
BMP; several encoders, modes and compressions each) and is then mutated: byte flips, truncation,
inserted / deleted / duplicated chunks, and format-aware header edits (absurd widths and heights,
huge declared chunk, strip and file sizes, odd bit depths; PNG chunk CRCs optionally re-computed
so the edit gets past the checksum). The contract checked for every input:

- ``decode_image(data, max_pixels=MAX_PIXELS)`` returns a C-contiguous ``uint8`` array of shape
  ``(H, W, 3)`` with ``0 < H * W <= MAX_PIXELS``, or raises an :class:`ocrcore.errors.OCRError`
  subclass; any other exception is a bug;
- it answers within ``CASE_TIMEOUT_S`` (no hang) and does not take its process down (no crash):
  the decode runs in a child process (:class:`DecodeWorker`) that is killed and restarted on a
  timeout, so a hang or a segfault in a native decoder fails the test instead of the suite;
- the server (the ``server`` fixture) answers a mutated upload with 200 or a JSON 4xx, never a
  5xx, and still answers ``GET /healthz`` afterwards.

Examples: fixed seed (``OCR_FUZZ_SEED``, default below; set another value to explore), no example
database. Counts are in each test's docstring; the file runs in well under a minute.
"""

from __future__ import annotations

import base64
import io
import json
import os
import select
import struct
import subprocess
import sys
import tempfile
import textwrap
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO

import cv2
import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
FUZZ_SEED = int(os.environ.get("OCR_FUZZ_SEED", "20261130"))
MAX_PIXELS = 4096  # seeds are <= 1536 pixels; a header edit that claims more must be refused
CASE_TIMEOUT_S = 15.0  # one decode of a <= 4096-pixel image; generous for a loaded 2-core machine
FUZZ = settings(deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.function_scoped_fixture])


# --------------------------------------------------------------------------- seed images


def _pattern(w: int = 48, h: int = 32) -> np.ndarray:
    """RGB test card: ramps plus a dark 'text' bar, so every codec has real content to encode."""
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:, :, 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    arr[:, :, 1] = np.linspace(255, 0, h, dtype=np.uint8)[:, None]
    arr[:, :, 2] = 90
    arr[h // 3: h // 3 + 6, 4: w - 4] = 20
    return arr


def _pil(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _cv2(ext: str, rgb: np.ndarray, params: tuple[int, ...] = ()) -> bytes:
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(rgb[:, :, ::-1]), list(params))
    assert ok, ext
    return buf.tobytes()


def _make_seeds() -> dict[str, bytes]:
    rgb = _pattern()
    img = Image.fromarray(rgb)
    alpha = np.linspace(0, 255, rgb.shape[1], dtype=np.uint8)[None, :].repeat(rgb.shape[0], 0)
    rgba = Image.fromarray(np.dstack([rgb, alpha]))
    gray = img.convert("L")
    gray16 = Image.fromarray(np.asarray(gray).astype(np.uint16) * 257)  # mode I;16
    pal = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees to display: exercises exif_transpose
    seeds = {
        "jpeg": _pil(img, "JPEG", quality=80),
        "jpeg_progressive": _pil(img, "JPEG", quality=70, progressive=True),
        "jpeg_exif_rotated": _pil(img, "JPEG", quality=75, exif=exif),
        "jpeg_gray": _pil(gray, "JPEG"),
        "jpeg_cmyk": _pil(img.convert("CMYK"), "JPEG"),
        "jpeg_cv2": _cv2(".jpg", rgb, (cv2.IMWRITE_JPEG_QUALITY, 60)),
        "jpeg_mpo": _pil(img, "MPO", save_all=True, append_images=[img.rotate(180)]),
        "png": _pil(img, "PNG"),
        "png_rgba": _pil(rgba, "PNG"),
        "png_16bit_gray": _pil(gray16, "PNG"),
        "png_palette_trns": _pil(pal, "PNG", transparency=0),
        "png_interlaced_cv2": _cv2(".png", rgb, (cv2.IMWRITE_PNG_COMPRESSION, 9)),
        "webp_lossy": _pil(img, "WEBP", quality=60),
        "webp_lossless": _pil(img, "WEBP", lossless=True),
        "webp_alpha": _pil(rgba, "WEBP", quality=60),  # VP8X + ALPH + VP8
        "webp_cv2": _cv2(".webp", rgb, (cv2.IMWRITE_WEBP_QUALITY, 50)),
        "webp_animated": _pil(img, "WEBP", save_all=True, append_images=[img.rotate(180)], duration=100, quality=50),
        "tiff_raw": _pil(img, "TIFF"),
        "tiff_lzw": _pil(img, "TIFF", compression="tiff_lzw"),
        "tiff_deflate_rgba": _pil(rgba, "TIFF", compression="tiff_adobe_deflate"),
        "tiff_packbits_gray": _pil(gray, "TIFF", compression="packbits"),
        "tiff_jpeg": _pil(img, "TIFF", compression="jpeg"),
        "tiff_cv2": _cv2(".tiff", rgb),
        "tiff_multipage": _pil(img, "TIFF", save_all=True, append_images=[gray]),
        "bmp": _pil(img, "BMP"),
        "bmp_palette": _pil(pal, "BMP"),
        "bmp_1bit": _pil(gray.convert("1"), "BMP"),
        "bmp_cv2": _cv2(".bmp", rgb),
    }
    return seeds


SEEDS = _make_seeds()
SEED_NAMES = sorted(SEEDS)


def _kind(data: bytes) -> str:
    if data[:2] == b"\xff\xd8":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data[:2] == b"BM":
        return "bmp"
    raise AssertionError(f"unknown seed kind {data[:12]!r}")


# --------------------------------------------------------------------------- header fields
# (offset, size in bytes, byte order, label) of the fields worth lying about, per format.

Field = tuple[int, int, str, str]


def _png_fields(data: bytes) -> list[Field]:
    fields: list[Field] = [(16, 4, ">", "IHDR.width"), (20, 4, ">", "IHDR.height"), (24, 1, ">", "IHDR.bit_depth"),
                           (25, 1, ">", "IHDR.color_type"), (28, 1, ">", "IHDR.interlace"), (8, 4, ">", "IHDR.length")]
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos: pos + 4])
        ctype = data[pos + 4: pos + 8].decode("latin-1")
        if pos > 8:
            fields.append((pos, 4, ">", f"{ctype}.length"))
        pos += 12 + length
    return fields


def _jpeg_fields(data: bytes) -> list[Field]:
    fields: list[Field] = []
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2: pos + 4])
        fields.append((pos + 2, 2, ">", f"FF{marker:02X}.length"))
        if marker in (0xC0, 0xC1, 0xC2):
            fields += [(pos + 4, 1, ">", "SOF.precision"), (pos + 5, 2, ">", "SOF.height"),
                       (pos + 7, 2, ">", "SOF.width"), (pos + 9, 1, ">", "SOF.components")]
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            fields.append((pos + 4, 1, ">", "SOS.components"))
            break
        pos += 2 + length
    return fields


def _webp_fields(data: bytes) -> list[Field]:
    fields: list[Field] = [(4, 4, "<", "RIFF.size")]
    pos = 12
    while pos + 8 <= len(data):
        fourcc = data[pos: pos + 4].decode("latin-1")
        (size,) = struct.unpack("<I", data[pos + 4: pos + 8])
        fields.append((pos + 4, 4, "<", f"{fourcc}.size"))
        body = pos + 8
        if fourcc == "VP8X":
            fields += [(body + 4, 3, "<", "VP8X.canvas_width-1"), (body + 7, 3, "<", "VP8X.canvas_height-1")]
        elif fourcc == "VP8 ":
            fields += [(body + 6, 2, "<", "VP8.width"), (body + 8, 2, "<", "VP8.height")]
        elif fourcc == "VP8L":
            fields.append((body + 1, 4, "<", "VP8L.packed_width_height"))
        pos = body + size + (size & 1)
    return fields


_TIFF_TAGS = {256: "ImageWidth", 257: "ImageLength", 258: "BitsPerSample", 259: "Compression",
              262: "Photometric", 273: "StripOffsets", 277: "SamplesPerPixel", 278: "RowsPerStrip",
              279: "StripByteCounts", 284: "PlanarConfig", 322: "TileWidth", 323: "TileLength",
              338: "ExtraSamples", 339: "SampleFormat"}


def _tiff_fields(data: bytes) -> list[Field]:
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", data[4:8])
    fields: list[Field] = [(4, 4, order, "IFD.offset")]
    if ifd + 2 > len(data):
        return fields
    (count,) = struct.unpack(order + "H", data[ifd: ifd + 2])
    fields.append((ifd, 2, order, "IFD.count"))
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if entry + 12 > len(data):
            break
        tag, typ, n = struct.unpack(order + "HHI", data[entry: entry + 8])
        name = _TIFF_TAGS.get(tag, f"tag{tag}")
        size = 2 if (typ == 3 and n <= 2) else 4
        fields.append((entry + 4, 4, order, f"{name}.count"))
        fields.append((entry + 8, size, order, f"{name}.value"))
    return fields


def _bmp_fields(_data: bytes) -> list[Field]:
    return [(2, 4, "<", "file_size"), (10, 4, "<", "pixel_offset"), (14, 4, "<", "header_size"),
            (18, 4, "<", "width"), (22, 4, "<", "height"), (26, 2, "<", "planes"), (28, 2, "<", "bits_per_pixel"),
            (30, 4, "<", "compression"), (34, 4, "<", "image_size"), (46, 4, "<", "colors_used")]


FIELDS: dict[str, Callable[[bytes], list[Field]]] = {
    "png": _png_fields, "jpeg": _jpeg_fields, "webp": _webp_fields, "tiff": _tiff_fields, "bmp": _bmp_fields,
}
SEED_FIELDS = {name: FIELDS[_kind(data)](data) for name, data in SEEDS.items()}


def _put(buf: bytearray, field: Field, value: int) -> None:
    offset, size, order, _ = field
    if offset + size > len(buf):
        return
    value &= (1 << (8 * size)) - 1
    raw = value.to_bytes(size, "little" if order == "<" else "big")
    buf[offset: offset + size] = raw


def _fix_png_crcs(buf: bytearray) -> None:
    """Recompute every PNG chunk CRC that fits, so a header lie is not caught by the checksum alone."""
    pos = 8
    while pos + 12 <= len(buf):
        (length,) = struct.unpack(">I", buf[pos: pos + 4])
        end = pos + 8 + length
        if end + 4 > len(buf):
            return
        buf[end: end + 4] = struct.pack(">I", zlib.crc32(bytes(buf[pos + 4: end])) & 0xFFFFFFFF)
        pos = end + 4


# --------------------------------------------------------------------------- strategies

ABSURD = [0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 65500,
          100_000, 1 << 24, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF]


def _position(draw, n: int) -> int:
    """A byte offset, biased toward the header where the parsers make their decisions."""
    if n <= 1:
        return 0
    return draw(st.one_of(st.integers(0, min(n - 1, 96)), st.integers(0, n - 1)))


@st.composite
def byte_mutations(draw) -> tuple[str, list[str], bytes]:
    """A seed with 1-4 generic edits: flip, overwrite, truncate, insert, delete, duplicate, splice."""
    name = draw(st.sampled_from(SEED_NAMES))
    buf = bytearray(SEEDS[name])
    log: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "duplicate", "splice"]))
        n = len(buf)
        if n == 0:
            break
        if op == "flip":
            i, bit = _position(draw, n), draw(st.integers(0, 7))
            buf[i] ^= 1 << bit
            log.append(f"flip bit {bit} of byte {i}")
        elif op == "set":
            i, v = _position(draw, n), draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x01]) | st.integers(0, 255))
            buf[i] = v
            log.append(f"byte {i} = {v:#04x}")
        elif op == "truncate":
            i = draw(st.integers(0, n - 1))
            del buf[i:]
            log.append(f"truncate to {i} bytes")
        elif op == "insert":
            i = _position(draw, n)
            chunk = draw(st.binary(min_size=1, max_size=64)
                         | st.sampled_from([b"\x00" * 32, b"\xff" * 32, b"\xff\xd8\xff\xe0"]))
            buf[i:i] = chunk
            log.append(f"insert {chunk[:16]!r}{'...' if len(chunk) > 16 else ''} ({len(chunk)} bytes) at {i}")
        elif op == "delete":
            i = _position(draw, n)
            k = draw(st.integers(1, 64))
            del buf[i: i + k]
            log.append(f"delete {k} bytes at {i}")
        elif op == "duplicate":
            i = _position(draw, n)
            k = draw(st.integers(1, 256))
            j = _position(draw, n)
            buf[j:j] = buf[i: i + k]
            log.append(f"copy {k} bytes from {i} to {j}")
        else:  # splice: the head of this seed with the tail of another
            other = SEEDS[draw(st.sampled_from(SEED_NAMES))]
            i, j = _position(draw, n), draw(st.integers(0, len(other) - 1))
            buf[i:] = other[j:]
            log.append(f"splice: keep {i} bytes, then another seed from {j}")
    return name, log, bytes(buf)


@st.composite
def header_mutations(draw) -> tuple[str, list[str], bytes]:
    """A seed with 1-3 header fields set to absurd values (PNG CRCs fixed or not), sometimes plus a byte edit."""
    name = draw(st.sampled_from(SEED_NAMES))
    buf = bytearray(SEEDS[name])
    fields = SEED_FIELDS[name]
    log: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        field = draw(st.sampled_from(fields))
        value = draw(st.sampled_from(ABSURD) | st.integers(0, 0xFFFFFFFF))
        _put(buf, field, value)
        log.append(f"{field[3]} (offset {field[0]}) = {value}")
    if _kind(SEEDS[name]) == "png" and draw(st.booleans()):
        _fix_png_crcs(buf)
        log.append("PNG CRCs recomputed")
    if draw(st.integers(0, 3)) == 0:
        i = draw(st.integers(0, len(buf)))
        del buf[i:]
        log.append(f"truncate to {i} bytes")
    return name, log, bytes(buf)


# --------------------------------------------------------------------------- the decode worker

_WORKER = textwrap.dedent("""
    import json, os, resource, struct, sys, traceback
    # At most 4 GiB of address space: a decode that tries to take more is a bug, not an OOM of the machine.
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    out = os.fdopen(os.dup(1), "w")  # replies go here; native decoders' chatter goes to stderr
    os.dup2(2, 1)
    from ocrcore.decode import decode_image
    from ocrcore.errors import OCRError
    inp = sys.stdin.buffer
    out.write("ready\\n"); out.flush()
    while True:
        head = inp.read(8)
        if len(head) < 8:
            break
        size, max_pixels = struct.unpack("<II", head)
        data = inp.read(size)
        try:
            arr = decode_image(data, max_pixels=max_pixels)
            reply = {"outcome": "ok", "dtype": str(arr.dtype), "shape": list(arr.shape),
                     "contiguous": bool(arr.flags.c_contiguous), "type": type(arr).__name__}
        except OCRError as exc:
            reply = {"outcome": "ocr_error", "type": type(exc).__name__, "message": str(exc)[:300]}
        except BaseException as exc:
            reply = {"outcome": "other", "type": type(exc).__name__, "message": str(exc)[:300],
                     "traceback": traceback.format_exc()}
        out.write(json.dumps(reply) + "\\n"); out.flush()
""")


class DecodeWorker:
    """``decode_image`` in a child process: a hang is cut at ``timeout_s`` (the child is killed and a new
    one started), a crash (segfault, abort, OOM kill) is reported instead of taking pytest down."""

    def __init__(self, stderr: IO[bytes], timeout_s: float = CASE_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self.proc: subprocess.Popen | None = None
        self.stderr = stderr  # the child's stderr (a temporary file), quoted for a crash or a hang

    def _start(self) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self.stderr.seek(0)
        self.stderr.truncate()
        proc = subprocess.Popen([sys.executable, "-c", _WORKER], cwd=REPO, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=self.stderr)
        line = self._readline(proc, 60.0)
        assert line == "ready", f"decode worker did not start: {line!r}; stderr: {self.stderr_tail()}"
        return proc

    def stderr_tail(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()[-2000:].decode(errors="replace")

    @staticmethod
    def _readline(proc: subprocess.Popen, timeout_s: float) -> str | None:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
        if not ready:
            return None
        return proc.stdout.readline().decode().strip()

    def decode(self, data: bytes, max_pixels: int = MAX_PIXELS) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        proc = self.proc
        assert proc.stdin is not None
        try:
            proc.stdin.write(struct.pack("<II", len(data), max_pixels) + data)
            proc.stdin.flush()
        except BrokenPipeError:
            pass
        line = self._readline(proc, self.timeout_s)
        if line is None:
            self.close()
            return {"outcome": "hang", "message": f"no answer in {self.timeout_s:.0f} s",
                    "traceback": self.stderr_tail()}
        if not line:
            code = proc.wait(timeout=10)
            self.proc = None
            return {"outcome": "crash", "message": f"decode worker died with exit status {code}",
                    "traceback": self.stderr_tail()}
        return json.loads(line)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture(scope="module")
def worker():
    with tempfile.TemporaryFile() as stderr:
        w = DecodeWorker(stderr)
        yield w
        w.close()


def _describe(name: str, log: list[str], data: bytes, max_pixels: int = MAX_PIXELS) -> str:
    return (f"seed {name!r}, edits {log}, {len(data)} bytes; reproduce with "
            f"decode_image(base64.b64decode({base64.b64encode(data).decode()!r}), max_pixels={max_pixels})")


def check_contract(worker: DecodeWorker, name: str, log: list[str], data: bytes) -> dict:
    reply = worker.decode(data)
    outcome = reply["outcome"]
    where = _describe(name, log, data)
    assert outcome in ("ok", "ocr_error"), f"{outcome}: {reply.get('type', '')}: {reply.get('message')}\n" \
                                           f"{reply.get('traceback', '')}\n{where}"
    if outcome == "ok":
        h, w, *rest = reply["shape"]
        assert reply["type"] == "ndarray" and reply["dtype"] == "uint8" and rest == [3], f"{reply} for {where}"
        assert 0 < h * w <= MAX_PIXELS, f"decoded {w}x{h} = {w * h} pixels, over max_pixels={MAX_PIXELS}: {where}"
        assert reply["contiguous"], f"not C-contiguous: {where}"
    else:
        assert reply["type"] in ("InvalidImageError", "UnsupportedImageError", "ImageTooLargeError", "OCRError"), reply
    return reply


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("name", SEED_NAMES)
def test_seed_images_decode(worker: DecodeWorker, name: str) -> None:
    """Each of the 28 seeds (JPEG x7 incl. MPO, PNG x5, WebP x5 incl. animated, TIFF x7 incl. multi-page,
    BMP x4) decodes whole through the worker, so the fuzz starts from valid files of every format; and
    with a cap one pixel under its size it is refused from the header (ImageTooLargeError). 2 decodes each."""
    reply = worker.decode(SEEDS[name])
    if name == "tiff_multipage":  # a document: refused by decode_image (ocrcore.document reads every page)
        assert reply["outcome"] == "ocr_error" and reply["type"] == "UnsupportedImageError", reply
        return
    assert reply["outcome"] == "ok", reply
    h, w, c = reply["shape"]
    assert {h, w} == {32, 48} and c == 3 and reply["dtype"] == "uint8", reply
    reply = worker.decode(SEEDS[name], max_pixels=h * w - 1)
    assert reply["outcome"] == "ocr_error" and reply["type"] == "ImageTooLargeError", reply


@seed(FUZZ_SEED)
@settings(FUZZ, max_examples=3000)
@given(case=byte_mutations())
def test_decode_survives_byte_mutations(worker: DecodeWorker, case: tuple[str, list[str], bytes]) -> None:
    """3000 examples: a seed image with 1-4 generic byte edits (bit flips, overwrites, truncation,
    inserted/deleted/duplicated chunks, splices of two seeds) decodes to a uint8 HxWx3 array within
    max_pixels or raises an OCRError, within CASE_TIMEOUT_S, without killing the worker."""
    check_contract(worker, *case)


@seed(FUZZ_SEED)
@settings(FUZZ, max_examples=3000)
@given(case=header_mutations())
def test_decode_survives_header_lies(worker: DecodeWorker, case: tuple[str, list[str], bytes]) -> None:
    """3000 examples: 1-3 header fields of a seed (dimensions, bit depth, colour type, chunk / segment /
    strip / file sizes, IFD offsets and counts) set to absurd values (0, 1, 2^15..2^32-1, ...), PNG CRCs
    recomputed half the time, sometimes truncated: same contract as above; in particular a header that
    claims more than max_pixels never produces an array larger than max_pixels."""
    check_contract(worker, *case)


HUGE_DIMS = {  # format -> edits that declare a 100000 x 100000 image (10^10 pixels) in an otherwise valid file
    "png": ["IHDR.width", "IHDR.height"],
    "bmp": ["width", "height"],
    "jpeg": ["SOF.width", "SOF.height"],
    "tiff_raw": ["ImageWidth.value", "ImageLength.value"],
    "webp_alpha": ["VP8X.canvas_width-1", "VP8X.canvas_height-1"],
}


@pytest.mark.parametrize("name", sorted(HUGE_DIMS))
def test_huge_declared_dimensions_are_refused_from_the_header(worker: DecodeWorker, name: str) -> None:
    """5 cases (PNG with valid CRC, BMP, JPEG SOF, TIFF IFD, WebP VP8X canvas): a header declaring
    100000 x 100000 pixels raises ImageTooLargeError at the default cap (40 Mpx) without a decode (the
    worker's 4 GiB address-space limit and the time limit would catch one)."""
    buf = bytearray(SEEDS[name])
    fields = {f[3]: f for f in SEED_FIELDS[name]}
    for label in HUGE_DIMS[name]:
        value = 99_999 if label.endswith("-1") else 100_000
        if label in ("ImageWidth.value", "ImageLength.value"):
            field = fields[label]
            offset, size, order, _ = field
            if size == 2:  # a SHORT cannot hold 100000: make the entry a LONG
                typ_off = offset - 6
                buf[typ_off: typ_off + 2] = struct.pack(order + "H", 4)
                field = (offset, 4, order, label)
            _put(buf, field, value)
        else:
            _put(buf, fields[label], value)
    if name == "png":
        _fix_png_crcs(buf)
    reply = worker.decode(bytes(buf), max_pixels=40_000_000)
    assert reply["outcome"] == "ocr_error" and reply["type"] == "ImageTooLargeError", \
        f"{reply} for {_describe(name, HUGE_DIMS[name], bytes(buf), 40_000_000)}"


def _json_error(r: httpx.Response) -> dict:
    assert r.headers.get("content-type", "").startswith("application/json"), (r.status_code, r.headers, r.text[:300])
    body = r.json()
    assert body.get("success") is False, body
    assert isinstance(body.get("error", {}).get("code"), str) and isinstance(body["error"].get("message"), str), body
    assert isinstance(body.get("request_id"), str) and body["request_id"], body
    return body


@seed(FUZZ_SEED)
@settings(FUZZ, max_examples=60)
@given(case=st.one_of(byte_mutations(), header_mutations()), form=st.sampled_from(["raw", "multipart", "base64"]))
def test_server_answers_mutated_uploads(server: str, case: tuple[str, list[str], bytes], form: str) -> None:
    """60 examples against the real server (``server`` fixture): a mutated seed sent as a raw
    ``image/*`` body, a multipart ``image`` part or JSON ``image_base64`` gets 200 (an OCR answer with
    ``text``) or a 4xx with the JSON error shape, never a 5xx or a hang (60 s); the server then still
    answers ``GET /healthz`` with 200."""
    name, log, data = case
    url = f"{server}/api/ocr"
    with httpx.Client(timeout=60) as client:
        if form == "raw":
            ctype = f"image/{_kind(SEEDS[name])}"
            r = client.post(url, content=data, headers={"Content-Type": ctype, "Cache-Control": "no-cache"})
        elif form == "multipart":
            r = client.post(url, files={"image": ("upload.bin", data, "application/octet-stream")},
                            headers={"Cache-Control": "no-cache"})
        else:
            r = client.post(url, json={"image_base64": base64.b64encode(data).decode()},
                            headers={"Cache-Control": "no-cache"})
        where = (f"{form} upload of seed {name!r} with edits {log}; the file is "
                 f"base64.b64decode({base64.b64encode(data).decode()!r})")
        assert r.status_code == 200 or 400 <= r.status_code < 500, f"{r.status_code} {r.text[:500]} for {where}"
        if r.status_code == 200:
            body = r.json()
            assert body["success"] is True and isinstance(body["text"], list), body
            assert body["width"] * body["height"] <= 40_000_000, body
        else:
            _json_error(r)
        health = client.get(f"{server}/healthz")
        assert health.status_code == 200 and health.json()["ready"] is True, f"{health.status_code} after {where}"
