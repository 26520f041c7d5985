"""Lone short glyphs the DB detector misses: 一, 二, a dash, sometimes 三 or a digit, alone in a
field or a table cell.

DB scores a lone flat stroke like a ruling line: on ``cases/05_yi_alone.png`` its probability map
peaks at 0.35 at the image's own scale (threshold 0.3, box score 0.5 needed) and turns into a
page-wide blob when the 140x220 image is raised to the detector's 736 px minimum; in a sentence
the same 一 is found. No threshold fixes that without inventing boxes elsewhere, so the page's
ink is searched directly: dark connected components (Otsu) outside every detected line, of a
glyph's size (judged against the page's median line height), grouped when they sit closer than
a third of their size (the strokes of 二 and 三) within one row of text, and isolated (a clean
margin around them, within that row). Rows come from the detected lines (:func:`line_bands`): a
column of lone digits beside a receipt's items (a quantity "1" on each row, 3 px apart) was
grouped into one tall shape and dropped, and each 1 alone failed the isolation test because of
the 1s above and below it. Two dots one above the other in a row are a colon, however far apart
(the ":" column of "label : value" rows), and are read as nothing else (:func:`read_glyph`).
Each group becomes a square region, wide enough that a flat glyph is not stretched to fill the
recogniser's 48 px height; the engine reads the regions and keeps those read confidently
(:func:`accept_glyph`).

Only pages with a clean background are searched (most pixels near the background grey: forms,
tables, screenshots, scans); photos of scenes are left alone, so their clutter costs nothing and
is never read as text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np

from .detect import line_height
from .preprocess import CLEAN_PAGE, background_share, to_gray
from .synth_docs import is_cjk


@dataclass(frozen=True)
class GlyphParams:
    """Knobs of the lone-glyph search (pixels of the image; sizes relative to the median line
    height ``em`` of the detected lines, or to the image when there are none)."""

    clean_background: float = CLEAN_PAGE  # fraction of pixels within +-24 grey levels of the mode
    min_contrast: int = 80  # grey levels between the background mode and the Otsu threshold's far side
    min_px: int = 4  # smallest glyph side considered, pixels (a dash at 18 px is 6 x 2)
    min_em: float = 0.15  # smallest glyph side / em (a dash at 18 px: 0.2 of its line box)
    max_em: float = 1.6  # largest glyph side / em
    max_aspect: float = 16.0  # longer / shorter side of a component (ruling lines are longer)
    group_gap: float = 0.6  # strokes join a glyph when closer than this * the glyph's size (二: ~0.5)
    max_stray_ink: float = 0.04  # ink of other components allowed in the square around a glyph
    max_regions: int = 24
    # Recognition confidence a lone glyph needs, as for lines; a lone 一 reads at 0.53 (18 px)
    # to 0.9. Only letters, digits, CJK and dashes are kept (accept_glyph).
    min_confidence: float = 0.5
    # ...and a reading of 2-3 characters this much: a lone glyph reads as one; two or three are
    # a short word (Qty) or specks and logo strokes read as letters (SROIE, tiny: DE, eT, Di, LL
    # at 0.64-0.71).
    min_confidence_multi: float = 0.8
    side_pad: float = 0.5  # background added left and right of the square, * its side
    # A dot: a component at most this * em on its longer side and at most twice as long as wide.
    # Two dots one above the other in a row of text are a colon (the ":" column of "label : value"
    # rows on receipts and forms), read as nothing else (:func:`read_glyph`).
    dot_em: float = 0.35


def glyph_regions(img: np.ndarray, quads: list[np.ndarray], p: GlyphParams | None = None) -> list[np.ndarray]:
    """Square quads (4, 2) float32 (tl, tr, br, bl; image pixels) around isolated glyph-sized ink
    outside the detected ``quads``, at most ``max_regions``, largest first; [] when the page has
    no clean background or too little contrast. ``img``: BGR uint8 (H, W, 3)."""
    return [q for q, _ in glyph_regions_detailed(img, quads, p)]


def glyph_regions_detailed(img: np.ndarray, quads: list[np.ndarray],
                           p: GlyphParams | None = None) -> list[tuple[np.ndarray, bool]]:
    """:func:`glyph_regions` with, for each region, whether its ink is a colon: two dots
    (``GlyphParams.dot_em``) one above the other in a row of text."""
    p = p or GlyphParams()
    gray = to_gray(img)
    h, w = gray.shape
    share, mode = background_share(gray)
    if share < p.clean_background:
        return []
    dark_ink = mode >= 128
    thr, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if abs(mode - thr) < p.min_contrast / 2:
        return []
    ink = (gray <= thr) if dark_ink else (gray > thr)
    far = (gray < mode - p.min_contrast) if dark_ink else (gray > mode + p.min_contrast)
    mask = ink.astype(np.uint8)
    heights = [line_height(q) for q in quads]
    for q in quads:  # lines already found are not searched again
        cv2.fillPoly(mask, [np.round(q).astype(np.int32)], 0)
    em = float(np.median(heights)) if heights else float(min(h, w)) / 2.5
    lo, hi = max(p.min_px, p.min_em * em), p.max_em * em
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    bands = line_bands(quads)
    band_of = np.full(h + 1, -1, np.int32)
    for k, (b0, b1) in enumerate(bands):
        band_of[max(0, b0): max(0, b1)] = k
    comps = []
    for i in range(1, n):
        x, y, cw, ch = (int(v) for v in stats[i][:4])
        if max(cw, ch) > hi or max(cw, ch) < 2 or max(cw, ch) / max(1, min(cw, ch)) > p.max_aspect:
            continue
        if not far[y: y + ch, x: x + cw][labels[y: y + ch, x: x + cw] == i].any():  # faint smudge, not ink
            continue
        dot = max(cw, ch) <= p.dot_em * em and max(cw, ch) <= 2 * min(cw, ch)
        comps.append([x, y, x + cw, y + ch, [i], int(band_of[min(h, y + ch // 2)]), dot])
    groups = _group(comps, p.group_gap)
    out: list[tuple[int, np.ndarray, bool]] = []
    for x0, y0, x1, y1, ids, band, dots in groups:
        size = max(x1 - x0, y1 - y0)
        if size < lo or size > hi or _dashed_rule(stats, ids):
            continue
        if x0 <= 0 or y0 <= 0 or x1 >= w or y1 >= h:  # cut by the image's edge: a piece of a glyph
            continue                                     # (zh_real_dev: a corner read as 日)
        # The square is the glyph's size plus a margin, and at least 0.75 em when lines give
        # one: a dash alone in a 26 px square read as a block (■ 0.35), at line height as -.
        half = max(0.62 * size + 2, 0.375 * em if heights else 0.0)
        cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
        sx0, sy0 = int(max(0, cx - half)), int(max(0, cy - half))
        sx1, sy1 = int(min(w, cx + half + 1)), int(min(h, cy + half + 1))
        if band >= 0:  # in a row of detected lines: the rows above and below are other lines' (a column of 1s)
            sy0, sy1 = max(sy0, min(y0, bands[band][0])), min(sy1, max(y1, bands[band][1]))
        window = labels[sy0:sy1, sx0:sx1]
        stray = (mask[sy0:sy1, sx0:sx1] > 0) & ~np.isin(window, ids)
        if stray.mean() > p.max_stray_ink:
            continue
        quad = np.array([[sx0, sy0], [sx1 - 1, sy0], [sx1 - 1, sy1 - 1], [sx0, sy1 - 1]], dtype=np.float32)
        out.append((size, quad, dots and len(ids) == 2))
    out.sort(key=lambda t: -t[0])
    kept: list[tuple[np.ndarray, bool]] = []
    for _, q, colon in out:  # largest first; a square overlapping a kept one is part of it
        if not any(_overlaps(q, k) for k, _ in kept):
            kept.append((q, colon))
    return kept[: p.max_regions]


def _overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(a[:, 0].min() < b[:, 0].max() and b[:, 0].min() < a[:, 0].max()
                and a[:, 1].min() < b[:, 1].max() and b[:, 1].min() < a[:, 1].max())


def _dashed_rule(stats: np.ndarray, ids: list[int]) -> bool:
    """Whether a group is flat strokes side by side (a piece of a dashed separator line on a
    receipt, read as -- or 一 on SROIE) rather than one glyph (strokes stacked, like 二 and 三)."""
    flat = [stats[i] for i in ids if stats[i][2] >= 3 * stats[i][3]]
    for a in range(len(flat)):
        for b in range(a + 1, len(flat)):
            (ax, _, aw, _), (bx, _, bw, _) = flat[a][:4], flat[b][:4]
            if ax + aw <= bx or bx + bw <= ax:
                return True
    return False


def line_bands(quads: list[np.ndarray]) -> list[tuple[int, int]]:
    """The rows ``[y0, y1)`` of the page's rows of text, from its detected lines (quads, image
    pixels): lines whose centres lie within half the median line height of a row's first line
    share its band, which spans their rows; bands that overlap are cut in the middle of their
    overlap. Only horizontal lines count (wider than tall). Top to bottom."""
    spans = sorted((float(q[:, 1].mean()), float(q[:, 1].min()), float(q[:, 1].max())) for q in quads
                   if np.ptp(q[:, 0]) > np.ptp(q[:, 1]))
    if not spans:
        return []
    em = float(np.median([y1 - y0 for _, y0, y1 in spans]))
    bands: list[list[float]] = []
    first = -np.inf
    for c, y0, y1 in spans:
        if c - first <= 0.5 * em:
            bands[-1] = [min(bands[-1][0], y0), max(bands[-1][1], y1)]
        else:
            bands.append([y0, y1])
            first = c
    for a, b in pairwise(bands):
        if b[0] < a[1]:
            a[1] = b[0] = 0.5 * (a[1] + b[0])
    return [(int(round(y0)), int(round(y1))) for y0, y1 in bands]


def _group(comps: list[list], gap: float) -> list[list]:
    """Join component boxes [x0, y0, x1, y1, ids, band, dots] of the same row of text (``band``,
    an index of :func:`line_bands`; -1 outside every row) that are closer than ``gap`` * the
    larger one's size, and dots (``dots``: every component a dot) one above the other in a row,
    however far apart (the two dots of a colon): union of boxes until nothing changes; a page has
    few candidates."""
    groups = [list(c) for c in comps]
    changed = True
    while changed:
        changed = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                a, b = groups[i], groups[j]
                if a[5] != b[5]:
                    continue
                g = gap * max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1])
                stacked_dots = a[5] >= 0 and a[6] and b[6] and a[0] < b[2] and b[0] < a[2]
                if stacked_dots or (a[0] - g <= b[2] and b[0] - g <= a[2] and a[1] - g <= b[3] and b[1] - g <= a[3]):
                    groups[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]), a[4] + b[4], a[5],
                                 a[6] and b[6]]
                    del groups[j]
                    changed = True
                    break
            if changed:
                break
    return groups


def glyph_crop(img: np.ndarray, quad: np.ndarray, p: GlyphParams | None = None) -> np.ndarray:
    """The square region of :func:`glyph_regions` (or the bounding rectangle of any quad) cut from
    ``img`` and widened
    by ``side_pad`` of its side on the left and right with its own edge pixels (background, the
    region being isolated): a lone 一 in a square read at 0.63-0.74, widened to 2:1 at 0.85."""
    p = p or GlyphParams()
    x0, y0 = (max(0, int(v)) for v in quad.min(0))
    x1, y1 = (int(v) for v in quad.max(0))
    crop = img[y0: y1 + 1, x0: x1 + 1]
    pad = int(round(p.side_pad * crop.shape[0]))
    return cv2.copyMakeBorder(crop, 0, 0, pad, pad, cv2.BORDER_REPLICATE)


DASHES = set("-‐‑‒–—―/")


# Latin letters a page's lines need (and no CJK character) for :func:`is_latin_page`: a label such
# as "Qty" over a table of digits and 一/二 cells (synth_marks) does not make a Latin page.
LATIN_PAGE_LETTERS = 20


def is_latin_page(texts: list[str]) -> bool:
    """Whether the lines read on a page are Latin text: at least ``LATIN_PAGE_LETTERS`` ASCII
    letters and no CJK character."""
    letters = 0
    for text in texts:
        for c in text:
            if is_cjk(c):
                return False
            letters += c.isascii() and c.isalpha()
    return letters >= LATIN_PAGE_LETTERS


def read_glyph(text: str, confidence: float, *, colon: bool, latin_page: bool,
               p: GlyphParams | None = None) -> str | None:
    """The text kept for a lone-glyph region read as ``text`` with ``confidence``, or None.
    A region whose ink is a colon (``colon``, :func:`glyph_regions_detailed`) keeps only a colon
    reading (read alone it comes back full-width, ``：``, at 0.74-0.85 on small and as "1" at
    0.99 on tiny), given as ":" on a Latin page; any other region, what :func:`accept_glyph`
    accepts."""
    p = p or GlyphParams()
    text = text.strip()
    if colon:
        if text in (":", "：") and confidence >= p.min_confidence:
            return ":" if latin_page else text
        return None
    return text if accept_glyph(text, confidence, p, latin_page=latin_page) else None


def accept_glyph(text: str, confidence: float, p: GlyphParams | None = None, *, latin_page: bool = False) -> bool:
    """Whether the recogniser's reading of a lone-glyph region is kept: at most 3 characters,
    each a letter, digit or CJK character or a dash/slash, read with ``min_confidence`` (one
    character) or ``min_confidence_multi`` (two or three).

    ``latin_page`` (:func:`is_latin_page`): the page's lines are Latin text. There a lone CJK reading is a rule, dash or speck read as 一 or 丨 (SROIE receipts: 2 of 24
    pages got a spurious 一), so it is not kept."""
    p = p or GlyphParams()
    text = text.strip()
    if not text or len(text) > 3 or confidence < (p.min_confidence if len(text) == 1 else p.min_confidence_multi):
        return False
    if latin_page and any(is_cjk(c) for c in text):
        return False
    return all(unicodedata.category(c)[0] in "LN" or c in DASHES for c in text)
