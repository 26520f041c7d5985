"""Page layout: reading order of text lines and their grouping into blocks (paragraphs, columns, table rows).

Recursive XY-cut (Nagy & Seth 1984; Ha, Haralick & Phillips 1995) on the lines' boxes, with one
rule of our own for the choice between a vertical and a horizontal cut, so that a two-column
article is read column after column while a form or table whose cells line up in rows is read
row by row:

- a region is cut vertically at a white gutter (a gap in the projection of the lines onto x that
  spans the whole region) when the lines on its two sides do not line up in rows, or when both
  sides look like running text (:func:`_is_prose`: several lines, most of them about as wide as
  their column, columns many line-heights wide, lines close together);
- otherwise it is cut horizontally at its widest white gap (the projection onto y);
- a region that cannot be cut either way is read row by row (:func:`row_order`).

Lines of consecutive leaves that sit close under one another, overlap in x and have similar
heights are grouped into one block (a paragraph; the rows of a tight table).

Boxes are compared after turning the page by its dominant line angle (median angle of the long
lines' top edges), so a slightly skewed page still has white gaps between its rows. Pure numpy;
everything here works on quads (N, 4, 2) in image pixels, clockwise from top-left.
"""

from __future__ import annotations

import numpy as np

from .types import Point

# A vertical gutter narrower than this many line heights is a word gap, not a column gap.
MIN_GUTTER = 1.0
# Running text (_is_prose): at least this many lines, median line width at least this share of
# the column's width, the column at least this many line heights wide, line pitch at most this.
PROSE_MIN_LINES = 2
PROSE_FILL = 0.6
PROSE_MIN_WIDTH = 7.0
PROSE_MAX_PITCH = 2.2
# Lines "line up in a row" when their y-extents overlap by half the smaller height; two sides
# line up when this share of the smaller side's lines do.
ROW_OVERLAP = 0.5
ROW_ALIGNED = 0.5
# Boxes from DB are grown (unclip), so neighbouring rows of dense text touch: projections use
# the boxes shrunk by this share of their height on each side.
CORE = 0.2
# Consecutive leaves join one block when the white between them is at most this many line
# heights and their heights differ by at most this ratio.
BLOCK_GAP = 1.0
BLOCK_HEIGHT_RATIO = 1.5


def page_angle(quads: np.ndarray) -> float:
    """Dominant text angle in radians (y down, positive clockwise): the median angle of the top
    edges of the lines at least twice as long as high; 0 when there are none."""
    if len(quads) == 0:
        return 0.0
    top = quads[:, 1] - quads[:, 0]
    side = quads[:, 3] - quads[:, 0]
    length = np.hypot(top[:, 0], top[:, 1])
    height = np.hypot(side[:, 0], side[:, 1])
    long = length >= 2 * np.maximum(height, 1e-6)
    if not long.any():
        return 0.0
    return float(np.median(np.arctan2(top[long, 1], top[long, 0])))


def _boxes(quads: np.ndarray) -> np.ndarray:
    """(N, 4, 2) quads -> (N, 4) axis-aligned x0, y0, x1, y1 in the page turned upright."""
    angle = page_angle(quads)
    pts = quads.astype(np.float64)
    if abs(angle) > 1e-3:
        c, s = np.cos(-angle), np.sin(-angle)
        pts = pts @ np.array([[c, s], [-s, c]])
    return np.concatenate([pts.min(axis=1), pts.max(axis=1)], axis=1)


def _gaps(lo: np.ndarray, hi: np.ndarray) -> list[tuple[float, float]]:
    """White gaps (start, end) between the merged intervals [lo, hi], left to right."""
    order = np.argsort(lo, kind="stable")
    gaps = []
    end = hi[order[0]]
    for i in order[1:]:
        if lo[i] > end:
            gaps.append((float(end), float(lo[i])))
        end = max(end, hi[i])
    return gaps


def _core(b: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    h = b[:, 3] - b[:, 1]
    if axis == 1:
        return b[:, 1] + CORE * h, b[:, 3] - CORE * h
    return b[:, 0] + CORE * h, b[:, 2] - CORE * h


def _rows_line_up(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether most lines of the smaller of two sides have a partner on the other side at the
    same height (overlap of y-extents >= ROW_OVERLAP of the smaller height)."""
    small, other = (a, b) if len(a) <= len(b) else (b, a)
    inter = np.minimum(small[:, None, 3], other[None, :, 3]) - np.maximum(small[:, None, 1], other[None, :, 1])
    hs = small[:, 3] - small[:, 1]
    ho = other[:, 3] - other[:, 1]
    paired = (inter >= ROW_OVERLAP * np.minimum(hs[:, None], ho[None, :])).any(axis=1)
    return bool(paired.mean() >= ROW_ALIGNED)


def _is_prose(b: np.ndarray) -> bool:
    """Whether lines (n, 4) look like a column of running text (module docstring)."""
    if len(b) < PROSE_MIN_LINES:
        return False
    h = float(np.median(b[:, 3] - b[:, 1]))
    extent = float(b[:, 2].max() - b[:, 0].min())
    widths = b[:, 2] - b[:, 0]
    if extent < PROSE_MIN_WIDTH * h or float(np.median(widths)) < PROSE_FILL * extent:
        return False
    centres = np.sort(0.5 * (b[:, 1] + b[:, 3]))
    return float(np.median(np.diff(centres))) <= PROSE_MAX_PITCH * h


def _column_cut(idx: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    sub = b[idx]
    h = float(np.median(sub[:, 3] - sub[:, 1]))
    lo, hi = _core(sub, 0)
    gaps = sorted(_gaps(lo, hi), key=lambda g: g[0] - g[1])  # widest first
    for g0, g1 in gaps:
        if g1 - g0 < MIN_GUTTER * h:
            break
        left = 0.5 * (sub[:, 0] + sub[:, 2]) < 0.5 * (g0 + g1)
        if left.all() or not left.any():
            continue
        a, c = sub[left], sub[~left]
        if not _rows_line_up(a, c) or (_is_prose(a) and _is_prose(c)):
            return idx[left], idx[~left]
    return None


def _row_cut(idx: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    sub = b[idx]
    lo, hi = _core(sub, 1)
    gaps = _gaps(lo, hi)
    if not gaps:
        return None
    g0, g1 = max(gaps, key=lambda g: g[1] - g[0])  # widest; the topmost of equals
    top = 0.5 * (sub[:, 1] + sub[:, 3]) < 0.5 * (g0 + g1)
    return idx[top], idx[~top]


def row_order(b: np.ndarray) -> list[int]:
    """Indices of boxes (n, 4) top to bottom, then left to right within a row: a box joins the
    current row when its vertical centre lies within half the row's height of the row's first
    box (the former page-wide order, kept for regions XY-cut cannot split)."""
    cy = 0.5 * (b[:, 1] + b[:, 3])
    hs = b[:, 3] - b[:, 1]
    order = sorted(range(len(b)), key=lambda i: (cy[i], b[i, 0]))
    out: list[int] = []
    row = [order[0]]
    for i in order[1:]:
        if abs(cy[i] - cy[row[0]]) < 0.5 * max(hs[row[0]], 1.0):
            row.append(i)
        else:
            out.extend(sorted(row, key=lambda j: b[j, 0]))
            row = [i]
    out.extend(sorted(row, key=lambda j: b[j, 0]))
    return out


def _leaves(idx: np.ndarray, b: np.ndarray) -> list[list[int]]:
    """XY-cut: groups of line indices (a single line or one row) in reading order."""
    if len(idx) == 1:
        return [[int(idx[0])]]
    cut = _column_cut(idx, b) or _row_cut(idx, b)
    if cut is None:
        return [[int(idx[i]) for i in row_order(b[idx])]]
    return _leaves(cut[0], b) + _leaves(cut[1], b)


def _joins(prev: list[int], leaf: list[int], b: np.ndarray) -> bool:
    """Whether a leaf continues the block whose last leaf is ``prev`` (module docstring)."""
    if (len(prev) > 1) != (len(leaf) > 1):
        return False
    p, q = b[prev], b[leaf]
    hp, hq = float(np.median(p[:, 3] - p[:, 1])), float(np.median(q[:, 3] - q[:, 1]))
    if max(hp, hq) > BLOCK_HEIGHT_RATIO * min(hp, hq):
        return False
    p_bottom, q_top = float(p[:, 3].max()), float(q[:, 1].min())
    if q_top < float(p[:, 1].max()):  # not below: a new column
        return False
    if q_top - p_bottom > BLOCK_GAP * max(hp, hq):
        return False
    return min(float(p[:, 2].max()), float(q[:, 2].max())) > max(float(p[:, 0].min()), float(q[:, 0].min()))


def reading_order(quads: list[np.ndarray] | np.ndarray) -> tuple[list[int], list[list[int]]]:
    """Order text lines for reading and group them into blocks.

    ``quads``: N quads (4, 2), image pixels, clockwise from top-left. Returns ``(order,
    blocks)``: ``order`` the N input indices in reading order; ``blocks`` the same indices
    split into consecutive groups (each a list of input indices), in reading order.
    """
    if len(quads) == 0:
        return [], []
    b = _boxes(np.asarray(quads, dtype=np.float64).reshape(-1, 4, 2))
    leaves = _leaves(np.arange(len(b)), b)
    blocks: list[list[int]] = []
    last: list[int] = []
    for leaf in leaves:
        if blocks and _joins(last, leaf, b):
            blocks[-1].extend(leaf)
        else:
            blocks.append(list(leaf))
        last = leaf
    return [i for blk in blocks for i in blk], blocks


def block_box(quads: list[np.ndarray]) -> tuple[Point, Point, Point, Point]:
    """Axis-aligned box around quads, four points clockwise from top-left, image pixels."""
    pts = np.concatenate([np.asarray(q, dtype=np.float64).reshape(-1, 2) for q in quads])
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    return ((int(x0), int(y0)), (int(x1), int(y0)), (int(x1), int(y1)), (int(x0), int(y1)))
