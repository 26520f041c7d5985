"""Image preparation before the networks: contrast, binarisation and size normalisation.

``enhance`` modes (measured in docs/accuracy.md, default chosen from those figures):
- ``off``: the image goes to the detector as decoded.
- ``auto``: stretch contrast only when the grey levels span a narrow range (faded scans,
  low-contrast photos); everything else passes untouched.
- ``binarize``: denoise, then Sauvola adaptive binarisation (kept for very dirty scans).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

EnhanceMode = Literal["off", "auto", "binarize"]
ENHANCE_MODES: tuple[str, ...] = ("off", "auto", "binarize")

# A page whose 1st..99th percentile grey levels span fewer levels than this is "low contrast".
LOW_CONTRAST_SPAN = 96
# ...and it is faded ink, worth stretching, only when one end of that range lies more than this
# many levels from the most common (background) grey. Otherwise the range is the background's own
# noise: the ink is under 1 % of the pixels (a few lines on a large page, a receipt with wide
# margins), and stretching it turned paper grain into black specks: a few-line form on an 800x800
# page read nothing, SROIE receipt 032 (lo 233, hi 255, background 255) read 65 lines for 40,
# page char accuracy 0.955 -> 0.878 (2026-12-01). The margin is background_share's tolerance;
# generated faded scans (tests) sit 35-40 levels below their background.
FADED_INK_MIN = 24


def to_gray(img: np.ndarray) -> np.ndarray:
    """BGR -> single-channel uint8 (OpenCV is faster than any hand-written loop here)."""
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img


def percentile_range(gray: np.ndarray, low_frac: float, high_frac: float) -> tuple[int, int]:
    """Grey levels (0..255) at the given cumulative fractions of a uint8 image's histogram."""
    hist = cv2.calcHist([gray], [0], None, [256], [0, 256])[:, 0]
    cdf = np.cumsum(hist)
    total = float(cdf[-1])
    return int(np.argmax(cdf > low_frac * total)), int(np.argmax(cdf >= high_frac * total))


def contrast_stretch(img: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Map grey level ``lo`` to 0 and ``hi`` to 255 on every channel, clipping outside."""
    if hi <= lo:
        return img
    lut = np.clip((np.arange(256, dtype=np.float32) - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
    return cv2.LUT(img, lut)


def binarize(img: np.ndarray, window: int = 31, k: float = 0.2) -> np.ndarray:
    """Denoise then Sauvola-binarise; returns a 3-channel image the networks accept."""
    from .kernels import sauvola_binarize  # numba: imported only when binarisation is asked for

    gray = cv2.fastNlMeansDenoising(to_gray(img), None, h=7, templateWindowSize=7, searchWindowSize=15)
    binary = sauvola_binarize(gray, window, k, 128.0)
    return cv2.cvtColor(binary, cv2.COLOR_GRAY2BGR)


def enhance(img: np.ndarray, mode: EnhanceMode) -> np.ndarray:
    """Apply the chosen enhancement; ``auto`` only stretches the contrast of faded pages: the
    1st..99th percentile grey levels span fewer than ``LOW_CONTRAST_SPAN`` levels and one end lies
    more than ``FADED_INK_MIN`` from the background (not a page whose ink is under 1 %)."""
    if mode == "off":
        return img
    if mode == "binarize":
        return binarize(img)
    small = to_gray(img)
    if small.shape[0] * small.shape[1] > 1_000_000:  # a histogram of a thumbnail is enough
        step = int(np.ceil(np.sqrt(small.shape[0] * small.shape[1] / 1_000_000)))
        small = np.ascontiguousarray(small[::step, ::step])
    lo, hi = percentile_range(small, 0.01, 0.99)
    if hi - lo >= LOW_CONTRAST_SPAN:
        return img
    background = background_share(small)[1]
    if max(background - lo, hi - background) <= FADED_INK_MIN:
        return img  # sparse ink on a clean page, not faded ink
    return contrast_stretch(img, lo, hi)


# A pixel is "coloured" when its channels differ by this many levels (red seal ink 230,80,80: 150;
# black, grey and white paper: under 20; JPEG fringes of black text: under 40).
CHROMA_MIN = 60


def thumbnail_step(img: np.ndarray, pixels: int = 250_000) -> int:
    """The stride n for which every n-th pixel of each n-th row of ``img`` is at most about ``pixels``."""
    return max(1, int(np.ceil(np.sqrt(img.shape[0] * img.shape[1] / pixels))))


def thumbnail(img: np.ndarray, pixels: int = 250_000) -> np.ndarray:
    """Every n-th pixel of each n-th row (:func:`thumbnail_step`), contiguous."""
    step = thumbnail_step(img, pixels)
    return np.ascontiguousarray(img[::step, ::step])


def colour_fraction(img: np.ndarray, chroma_min: int = CHROMA_MIN) -> float:
    """Fraction of the pixels of a BGR uint8 image whose max - min channel is at least
    ``chroma_min`` (on a thumbnail of at most ~250k pixels for big images); 0.0 for grey images."""
    if img.ndim != 3:
        return 0.0
    small = thumbnail(img)
    chroma = cv2.subtract(small.max(axis=2), small.min(axis=2))
    return float(np.count_nonzero(chroma >= chroma_min)) / max(1, chroma.size)


def background_share(gray: np.ndarray, tolerance: int = 24) -> tuple[float, int]:
    """(fraction of pixels within ``tolerance`` grey levels of the most common one, that level)
    of a uint8 grey image: near 1 for forms, tables, screenshots and scans (a clean background),
    well under 0.5 for photos of scenes."""
    hist = cv2.calcHist([gray], [0], None, [256], [0, 256])[:, 0]
    mode = int(np.argmax(hist))
    near = float(hist[max(0, mode - tolerance): mode + tolerance + 1].sum()) / max(1.0, float(hist.sum()))
    return near, mode


# Colour marks (see colour_marks): a page whose most common grey level holds at least this share
# of the pixels is "clean" (documents, forms, screenshots). On photos of scenes a second view
# changed little but cost page F1 (IC15 scenes 0.857 -> 0.850).
CLEAN_PAGE = 0.6
# Dark ink is at least this many grey levels below the page's background.
DARK_INK = 80
# Fewer dark-ink pixels than this next to colour (on the <= 250k-pixel thumbnail) is no mark. On
# generated rings, seals, signatures, rulings and highlights (synth_marks, 80 pages) the fewest
# was 19; on screenshots (coloured bars and buttons with white text), coloured text alone and
# black-and-white pages, 0.
MARK_MIN_PIXELS = 8
# Smallest connected patch of colour that counts as ink (thumbnail pixels): a 1-px ring of radius
# 10 has ~60; the coloured specks along black print on scanned receipts (SROIE) have 1-6.
MARK_MIN_AREA = 20


@dataclass(frozen=True)
class ColourMarks:
    """Where coloured ink touches dark ink on a page: a bool mask over a strided thumbnail.

    ``mask[y, x]`` covers the image pixel ``(x * step, y * step)``."""

    mask: np.ndarray
    step: int

    def touches(self, quad: np.ndarray) -> bool:
        """Whether the axis-aligned rectangle of ``quad`` ((4, 2) float, image pixels) holds
        a marked pixel."""
        x0, y0 = np.floor(quad.min(axis=0) / self.step).astype(int)
        x1, y1 = np.ceil(quad.max(axis=0) / self.step).astype(int)
        return bool(self.mask[max(0, y0): max(0, y1) + 1, max(0, x0): max(0, x1) + 1].any())

    def rows(self, height: int, pad: int) -> list[tuple[int, int]]:
        """Bands of image rows ``[y0, y1)`` holding marks, each widened by ``pad`` pixels up and
        down (the whole line a mark touches) and joined with its neighbour when they meet; in
        order, within ``[0, height)``."""
        bands: list[tuple[int, int]] = []
        for r in np.flatnonzero(self.mask.any(axis=1)):
            y0, y1 = max(0, int(r) * self.step - pad), min(height, (int(r) + 1) * self.step + pad)
            if bands and y0 <= bands[-1][1]:
                bands[-1] = (bands[-1][0], max(bands[-1][1], y1))
            else:
                bands.append((y0, y1))
        return bands


def is_clean_page(img: np.ndarray) -> bool:
    """Whether an image (BGR or grey uint8) has a clean background, at least ``CLEAN_PAGE`` of its
    pixels near the most common grey (documents, forms, screenshots; not photos of scenes)."""
    return background_share(to_gray(thumbnail(img)))[0] >= CLEAN_PAGE


def colour_marks(img: np.ndarray) -> ColourMarks | None:
    """Coloured ink (chroma >= ``CHROMA_MIN``) that crosses or underlies dark grey ink (chroma
    < ``CHROMA_MIN / 2``, ``DARK_INK`` levels below the background) on a clean page: seals,
    rings, signatures and rulings over text, highlighted words. None for grey images, pages that
    are not clean (``CLEAN_PAGE``: photos of scenes) and pages where colour never meets dark ink
    (screenshots' coloured bars and buttons carry white text; coloured text alone is read as it
    is), i.e. wherever a colour-suppressed second view cannot add anything.

    ``img``: BGR uint8 (H, W, 3). Measured on a strided thumbnail of at most ~250k pixels; the
    mask marks dark-ink pixels within ~2 thumbnail pixels of colour, grown by one."""
    if img.ndim != 3:
        return None
    step = thumbnail_step(img)
    small = np.ascontiguousarray(img[::step, ::step])
    chroma = cv2.subtract(small.max(axis=2), small.min(axis=2))
    coloured = (chroma >= CHROMA_MIN).astype(np.uint8)
    if np.count_nonzero(coloured) < MARK_MIN_PIXELS:
        return None
    # Specks of colour (JPEG and scanner fringes along black print) are no marks: keep coloured
    # components of at least MARK_MIN_AREA thumbnail pixels.
    _, labels, stats, _ = cv2.connectedComponentsWithStats(coloured, connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] >= MARK_MIN_AREA
    big[0] = False
    if not big[1:].any():
        return None
    coloured = big[labels].astype(np.uint8)
    gray = to_gray(small)
    share, background = background_share(gray)
    if share < CLEAN_PAGE or background < DARK_INK:
        return None
    kernel = np.ones((3, 3), np.uint8)
    dark = (chroma < CHROMA_MIN // 2) & (gray < background - DARK_INK)
    touching = dark & cv2.dilate(coloured, kernel, iterations=2).astype(bool)
    if np.count_nonzero(touching) < MARK_MIN_PIXELS:
        return None
    return ColourMarks(cv2.dilate(touching.astype(np.uint8), kernel).astype(bool), step)


def suppress_colour(img: np.ndarray) -> np.ndarray:
    """The image (BGR uint8 (H, W, 3)) with each coloured pixel (chroma, max - min channel, at
    least ``CHROMA_MIN / 2``) replaced by the grey of its brightest channel plus its chroma,
    saturated at 255; grey pixels are left as they are, so the detector sees the same page
    except where there is colour (a grey version of the whole page joined neighbouring items of
    a row on zh_real_dev).

    Black and grey ink stay as they are; coloured ink and fills turn white (a red ring 230,80,80
    -> 255, a purple signature 160,50,130 -> 255, a yellow highlight -> 255), so strokes, seals
    and highlights stop cutting the black text they cross. The brightest channel alone (HSV
    value) left purple and blue ink mid-grey. Coloured text turns white too: callers use this as
    a second view, never instead of the image."""
    if img.ndim != 3:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    # OpenCV per-channel max/min and a masked copy: the same image as numpy's max(axis=2) and
    # boolean-mask assignment, 33x faster (a 1080x24000 screenshot 5.2 -> 0.16 s, AMD EPYC).
    b, g, r = cv2.split(img)
    hi = cv2.max(cv2.max(b, g), r)
    chroma = cv2.subtract(hi, cv2.min(cv2.min(b, g), r))
    plain = cv2.cvtColor(cv2.add(hi, chroma), cv2.COLOR_GRAY2BGR)
    grey = (chroma < CHROMA_MIN // 2).view(np.uint8)
    return cv2.copyTo(img, grey, plain)


def det_input_size(h: int, w: int, max_side: int, min_side: int) -> tuple[int, int]:
    """Detector input size: long side at most ``max_side`` (give or take the rounding), short
    side raised toward ``min_side`` for small images (small text needs pixels), both multiples
    of 32 (the network downsamples by 32).

    Each side is rounded *up* to the multiple: rounding to the nearest shrank a 1280x720 photo to
    1280x704 below the scale just chosen, and small text paid for it (IC15 scenes, page F1
    0.836 -> 0.852 and line accuracy 0.486 -> 0.514 with rounding up; docs/accuracy.md)."""
    scale = 1.0
    if min(h, w) < min_side:
        scale = min_side / min(h, w)
    if max(h, w) * scale > max_side:
        scale = max_side / max(h, w)
    rh = max(32, int(np.ceil(h * scale / 32 - 1e-6)) * 32)
    rw = max(32, int(np.ceil(w * scale / 32 - 1e-6)) * 32)
    return rh, rw


# Detection normalisation: x/255*2-1, as RapidOCR feeds these weights. Paddle's inference.yml
# says ImageNet mean/std; measured on zh_real_dev that merges neighbouring lines (line accuracy
# 0.924 vs 0.983 with this one), see docs/accuracy.md.
DET_MEAN = np.full(3, 0.5, dtype=np.float32)
DET_INV_STD = np.full(3, 2.0, dtype=np.float32)
# Recognition and orientation classifier normalisation: x/255*2-1
REC_MEAN = np.full(3, 0.5, dtype=np.float32)
REC_INV_STD = np.full(3, 2.0, dtype=np.float32)


def normalize_to_chw(img: np.ndarray, mean: np.ndarray, inv_std: np.ndarray, out: np.ndarray) -> None:
    """uint8 (h, w, 3) BGR -> float32 ``out[:, :h, :w]`` = (x / 255 - mean) * inv_std, per channel.

    One multiply-add per channel straight into the (possibly larger, zero-padded) batch buffer:
    2.6 ms for a 736x960 page, 72 us for a 48x600 line (the numba loop it replaced: 2.2 ms and
    86 us; docs/performance.md)."""
    h, w = img.shape[:2]
    for c in range(img.shape[2]):
        dst = out[c, :h, :w]
        np.multiply(img[:, :, c], np.float32(inv_std[c] / 255.0), out=dst, dtype=np.float32)
        dst -= np.float32(mean[c] * inv_std[c])


def det_tensor(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to ``size`` (h, w) and normalise into a (1, 3, h, w) float32 tensor."""
    rh, rw = size
    resized = cv2.resize(img, (rw, rh), interpolation=cv2.INTER_LINEAR)
    out = np.empty((1, 3, rh, rw), dtype=np.float32)
    normalize_to_chw(resized, DET_MEAN, DET_INV_STD, out[0])
    return out


def line_tensor_batch(crops: list[np.ndarray], height: int, width: int,
                      widths: list[int] | None = None,
                      places: list[tuple[int, int]] | None = None,
                      margins: list[tuple[int, int]] | None = None) -> np.ndarray:
    """Resize each line crop to ``height`` keeping its aspect ratio (or to ``widths[i]`` pixels
    wide when given), capped at ``width``, normalise to [-1, 1] and left-align into a
    zero-padded (N, 3, height, width) float32 batch. ``places`` (one ``(row, x)`` per crop) puts
    crop i at x pixels of batch row ``row`` instead (several short lines sharing one row); the
    batch then has max(row) + 1 rows and each crop is capped at ``width - x``. ``margins`` (one
    ``(left, right)`` per crop, pixels) extends crop i by its edge columns on either side, so
    the gap between two lines of a row is their own background rather than padding."""
    rows = len(crops) if places is None else max(r for r, _ in places) + 1
    out = np.zeros((rows, 3, height, width), dtype=np.float32)
    for i, crop in enumerate(crops):
        h, w = crop.shape[:2]
        row, x = (i, 0) if places is None else places[i]
        natural = int(np.ceil(height * w / max(h, 1))) if widths is None else widths[i]
        rw = min(width - x, max(1, natural))
        resized = cv2.resize(crop, (rw, height), interpolation=cv2.INTER_LINEAR)
        if margins is not None and margins[i] != (0, 0):
            left, right = margins[i]
            right = max(0, min(right, width - x - rw))
            resized = cv2.copyMakeBorder(resized, 0, 0, left, right, cv2.BORDER_REPLICATE)
            x -= left
        normalize_to_chw(resized, REC_MEAN, REC_INV_STD, out[row, :, :, x:])
    return out
