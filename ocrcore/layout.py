"""Page layout: reading order of text lines and their grouping into blocks (paragraphs, columns, table rows).

Recursive XY-cut (Nagy & Seth 1984; Ha, Haralick & Phillips 1995) on the lines' boxes, with one
rule of our own for the choice between a vertical and a horizontal cut, so that a two-column
article is read column after column while a form or table whose cells line up in rows is read
row by row:

- a region is cut vertically at white gutters (gaps in the projection of the lines onto x that
  span the whole region) when the pieces look like the columns of an article (:func:`_are_columns`:
  each several lines close together in a column many line heights wide, all about equally wide,
  at least half of them running text whose lines mostly fill the column), whether or not their
  lines line up;
- otherwise it is cut horizontally at its widest white gap (the projection onto y) and at the
  gaps nearly as wide: the rows of a form, a table, a chat, a receipt;
- else vertically at its widest gutter (side-by-side pieces whose lines interleave in height);
- a region that cannot be cut at all is read row by row (:func:`row_order`).

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
# Running text (_is_prose): at least this many lines; a quarter of them at least PROSE_FULL of
# the column's width and half at least PROSE_FILL (paragraphs end in short lines); the column at
# least this many line heights wide; line pitch at most this many line heights.
PROSE_MIN_LINES = 2
PROSE_FULL = 0.8
PROSE_FILL = 0.5
PROSE_MIN_WIDTH = 7.0
PROSE_MAX_PITCH = 2.2
# Columns of one article are about equally wide: the narrowest at least this share of the widest.
COLUMN_WIDTHS = 0.75
# Boxes from DB are grown (unclip), so neighbouring rows of dense text touch: projections use
# the boxes shrunk by this share of their height on each side.
CORE = 0.2
# Horizontal cuts are made at the widest white gap and at every gap at least this share of it.
ROW_TIE = 0.9
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
    lo_s, reach = lo[order], np.maximum.accumulate(hi[order])
    at = np.flatnonzero(lo_s[1:] > reach[:-1])
    return [(float(reach[i]), float(lo_s[i + 1])) for i in at]


def _core(b: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    h = b[:, 3] - b[:, 1]
    if axis == 1:
        return b[:, 1] + CORE * h, b[:, 3] - CORE * h
    return b[:, 0] + CORE * h, b[:, 2] - CORE * h


def _is_column(b: np.ndarray) -> bool:
    """Whether lines (n, 4) stack like a column of text: several, each under the other (none side
    by side), close together, in a column many line heights wide."""
    if len(b) < PROSE_MIN_LINES:
        return False
    h = float(np.median(b[:, 3] - b[:, 1]))
    if float(b[:, 2].max() - b[:, 0].min()) < PROSE_MIN_WIDTH * h:
        return False
    lo, hi = _core(b, 1)
    if len(_gaps(lo, hi)) < len(b) - 1:  # lines side by side: cells of a table, not a column
        return False
    centres = np.sort(0.5 * (b[:, 1] + b[:, 3]))
    return float(np.median(np.diff(centres))) <= PROSE_MAX_PITCH * h


def _is_prose(b: np.ndarray) -> bool:
    """Whether lines (n, 4) look like a column of running text: a column (:func:`_is_column`)
    whose lines mostly fill its width (module docstring)."""
    if not _is_column(b):
        return False
    extent = float(b[:, 2].max() - b[:, 0].min())
    widths = b[:, 2] - b[:, 0]
    return float(np.median(widths)) >= PROSE_FILL * extent and float(np.percentile(widths, 75)) >= PROSE_FULL * extent


def _are_columns(parts: list[np.ndarray]) -> bool:
    """Whether side-by-side groups of lines are columns of an article: all stack as columns of
    about the same width (within COLUMN_WIDTHS of the widest), at least half are running text."""
    if not all(_is_column(p) for p in parts):
        return False
    extents = [float(p[:, 2].max() - p[:, 0].min()) for p in parts]
    if min(extents) < COLUMN_WIDTHS * max(extents):
        return False
    return 2 * sum(_is_prose(p) for p in parts) >= len(parts)


def _column_cut(idx: np.ndarray, b: np.ndarray, *, prose_only: bool) -> list[np.ndarray] | None:
    """Split at vertical gutters at least MIN_GUTTER line heights wide, into pieces left to
    right: at every such gutter when the pieces are columns of an article (:func:`_are_columns`),
    else at the widest one whose two sides are; unless ``prose_only``, at the widest gutter
    whatever the sides."""
    sub = b[idx]
    h = float(np.median(sub[:, 3] - sub[:, 1]))
    lo, hi = _core(sub, 0)
    gaps = [g for g in _gaps(lo, hi) if g[1] - g[0] >= MIN_GUTTER * h]
    if not gaps:
        return None
    cx = 0.5 * (sub[:, 0] + sub[:, 2])
    piece = np.searchsorted([0.5 * (g0 + g1) for g0, g1 in gaps], cx)
    pieces = [idx[piece == k] for k in range(len(gaps) + 1) if (piece == k).any()]
    if len(pieces) > 2 and _are_columns([b[p] for p in pieces]):
        return pieces
    for g0, g1 in sorted(gaps, key=lambda g: g[0] - g[1]):  # widest first
        left = cx < 0.5 * (g0 + g1)
        if left.all() or not left.any():
            continue
        if not prose_only or _are_columns([sub[left], sub[~left]]):
            return [idx[left], idx[~left]]
    return None


def _row_cut(idx: np.ndarray, b: np.ndarray) -> list[np.ndarray] | None:
    """Split at the widest horizontal white gap, and at every gap nearly as wide (ROW_TIE), top
    to bottom: evenly spaced rows come apart in one step."""
    sub = b[idx]
    lo, hi = _core(sub, 1)
    gaps = _gaps(lo, hi)
    if not gaps:
        return None
    widest = max(g1 - g0 for g0, g1 in gaps)
    cuts = [0.5 * (g0 + g1) for g0, g1 in gaps if g1 - g0 >= ROW_TIE * widest]
    band = np.searchsorted(cuts, 0.5 * (sub[:, 1] + sub[:, 3]))
    return [idx[band == k] for k in range(len(cuts) + 1) if (band == k).any()]


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
    """XY-cut: groups of line indices (a single line or one row) in reading order. Depth-first
    with an explicit stack: a page of thousands of rows is cut one row at a time."""
    out: list[list[int]] = []
    stack = [idx]
    while stack:
        region = stack.pop()
        if len(region) == 1:
            out.append([int(region[0])])
            continue
        cut = (_column_cut(region, b, prose_only=True) or _row_cut(region, b)
               or _column_cut(region, b, prose_only=False))
        if cut is None:
            out.append([int(region[i]) for i in row_order(b[region])])
        else:
            stack.extend(reversed(cut))
    return out


def _joins(prev: list[int], leaf: list[int], b: np.ndarray) -> bool:
    """Whether a leaf continues the block whose last leaf is ``prev`` (module docstring).
    Plain Python on the few boxes of two leaves: numpy's per-call cost would dominate."""
    if (len(prev) > 1) != (len(leaf) > 1):
        return False
    p, q = b[prev].tolist(), b[leaf].tolist()
    hp = sum(r[3] - r[1] for r in p) / len(p)
    hq = sum(r[3] - r[1] for r in q) / len(q)
    if max(hp, hq) > BLOCK_HEIGHT_RATIO * min(hp, hq):
        return False
    q_top = min(r[1] for r in q)
    if q_top < max(r[1] for r in p):  # not below: a new column
        return False
    if q_top - max(r[3] for r in p) > BLOCK_GAP * max(hp, hq):
        return False
    return min(max(r[2] for r in p), max(r[2] for r in q)) > max(min(r[0] for r in p), min(r[0] for r in q))


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
