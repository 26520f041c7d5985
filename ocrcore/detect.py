"""DB text detection: input scaling, the network, and box extraction from the probability map.

Images much longer than wide (scrolling screenshots, receipts) or much wider than long are
cut into overlapping tiles along the long axis, so the text is never shrunk to nothing to fit
one input; boxes from the tiles are merged back in page coordinates.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort

from .cores import CorePool
from .preprocess import det_input_size, det_tensor
from .runtime import release_free_heap


@dataclass(frozen=True)
class DetParams:
    """DB post-processing and scaling knobs (PP-OCR defaults unless measured better)."""

    max_side: int = 1280
    min_side: int = 736
    thresh: float = 0.3
    box_thresh: float = 0.5
    unclip_ratio: float = 1.6
    min_box_side: float = 3.0
    max_candidates: int = 1000
    # Tile along the long axis when long/short exceeds this and the long side exceeds max_side
    # (one input would shrink the text); tiles are ~0.75 * max_side long with 20% overlap and
    # run at their own resolution, not raised toward min_side: tiling exists so text is not
    # shrunk, and upscaling three tiles of a 1890x503 banner cost 0.73 s where 0.35 s reads the
    # same text (identical output on the eval sets, stacked receipts and wide screenshots).
    # A wide image whose first tile finds only lines that one input (long side ``max_side``)
    # keeps at least ``native_line_px`` tall is detected in one input instead (big text on
    # banners: vertical seams cut its glyphs, which came back twice or not at all; generated
    # banners, scripts/banners.py: small 67 -> 89 of 90 read exactly, tiny 69 -> 90 of 90;
    # zh_smoke_full page F1 0.972 -> 1.000 on small, 2026-12-01).
    tile_aspect: float = 2.5
    # Tiles run at the resolution their text needs: the first at full resolution; when the
    # smaller lines it found (10th percentile of box heights) are more than ``tile_line_px``
    # tall, the others run downscaled by up to ``max_tile_scale``, so those lines are still
    # about ``tile_line_px`` tall in the detector's input. A downscaled tile that finds a line
    # under half that height is detected again at full resolution. On a 1080x24000 phone
    # screenshot (26-44 px text) detection fell from 7.2 to 2.0 s with all 199 lines found and
    # read alike; DB still found every line at 3x (docs/performance.md). Up to 3x since
    # 2026-12-01 (was 2x): three generated phone scrolls (24000 and 2 x 12000 rows, 22-44 px
    # text) read in full and in order either way, the 24000-row one's detection 7.2 -> 5.4 s
    # (AMD EPYC, 1 thread); every full-page eval set identical for small and tiny.
    tile_line_px: float = 16.0
    max_tile_scale: float = 3.0
    # Small images are raised toward ``min_side`` for their small text. When that would enlarge
    # the input by at least this factor, detect first at the image's own size (1/factor^2 of the
    # pixels); keep that when its lines are big enough (:func:`text_is_big`), else detect again
    # raised. 0 turns it off. A 420x908 receipt with 20-22 px lines needs no 1.4x enlargement.
    native_first: float = 1.2
    # ...big enough: 10th-percentile line box height in the image's own pixels. Generated clean
    # pages (synth_pages, 60, tiny) read alike from 14 px up; two zh_real_dev photos at 16-18 px
    # lost lines at their own size (tiny: line accuracy 0.90 -> 0.79 on one), hence the margin.
    # 20 -> 18 (2026-12-01): every full-page eval set identical for small and tiny (one zh_real_dev
    # photo at 18.8 px now kept at its size), 36 generated small pages (synth_pages.render_upright,
    # 13-16 px fonts, 15 of them at 18-20 px) read alike, and the load mix's 384-420 px wide
    # receipts (18.6-18.8 px) are detected once: ~640 -> ~210 ms each (docs/performance.md).
    native_line_px: float = 18.0
    # ...and only images at least this big on their short side: at their own size the cells of a
    # 165x222 table of single glyphs (synth_marks) merged into rows and 一 read as 二.
    native_min_side: int = 320
    # Detector inputs running at once total at most this many pixels per engine (a lone input
    # always runs, whatever its size): a whole page that would go over waits for its turn,
    # lending its core to the running work meanwhile; tiles of long images count but never wait.
    # The activations cost ~150-200 bytes per input pixel (mem pattern on: 1280x960 +188 MB,
    # 1024x768 +120, a 384x736 receipt +57), and the service's peak RSS under the 2-user load
    # was a 1280x960 page's detection plus a second, smaller detection beside it (VmHWM 432-459
    # MB); this lets two inputs of up to 600,000 pixels (the earlier one-large-page-at-a-time
    # ``exclusive_pixels``) or one 1280x960 page run, not both (docs/performance.md). 0 = no limit.
    concurrent_pixels: int = 1_250_000


def order_clockwise(pts: np.ndarray) -> np.ndarray:
    """Four points -> top-left, top-right, bottom-right, bottom-left."""
    pts = pts[np.argsort(pts[:, 0], kind="stable")]
    left, right = pts[:2], pts[2:]
    tl, bl = left[np.argsort(left[:, 1], kind="stable")]
    tr, br = right[np.argsort(right[:, 1], kind="stable")]
    return np.array([tl, tr, br, bl], dtype=np.float32)


def unclip_rect(rect: tuple, ratio: float) -> tuple:
    """Grow a rotated rectangle by DB's unclip distance (area * ratio / perimeter) on each side.

    For a rectangle the polygon offset used by PP-OCR followed by a minimum-area rectangle is
    exactly the rectangle grown by that distance, so no polygon-clipping library is needed.
    """
    (cx, cy), (w, h), angle = rect
    perimeter = 2 * (w + h)
    if perimeter <= 0:
        return rect
    d = w * h * ratio / perimeter
    return ((cx, cy), (w + 2 * d, h + 2 * d), angle)


def box_score(prob: np.ndarray, quad: np.ndarray) -> float:
    """Mean of the probability map (H, W) over the pixels whose centres lie inside a convex quad
    (4, 2) float32, map pixels, either winding: DB's box score (Liao et al. 2020; PP-OCR's
    ``box_score_fast`` rasterises the quad with fillPoly instead, which also counts pixels the
    edges merely touch and scores thin boxes of small text too low: page F1 -0.2, line accuracy
    -0.7 points on IC15 scenes, docs/accuracy.md).

    Edge half-planes are evaluated on the quad's bounding box by broadcasting (no loop in
    Python): 92 us per 300x40 box, against 29 us for the numba loop it replaced, whose import
    alone cost the process 160 MB (docs/performance.md)."""
    h, w = prob.shape
    xmin = max(0, int(np.floor(quad[:, 0].min())))
    xmax = min(w - 1, int(np.ceil(quad[:, 0].max())))
    ymin = max(0, int(np.floor(quad[:, 1].min())))
    ymax = min(h - 1, int(np.ceil(quad[:, 1].max())))
    if xmax < xmin or ymax < ymin:
        return 0.0
    q = quad.astype(np.float64) - np.array([xmin, ymin], dtype=np.float64)
    nxt = q[[1, 2, 3, 0]]
    edge = nxt - q
    if float((q[:, 0] * nxt[:, 1] - nxt[:, 0] * q[:, 1]).sum()) < 0:  # clockwise in y-down: flip
        edge = -edge
    xs = np.arange(xmax - xmin + 1, dtype=np.float64)
    ys = np.arange(ymax - ymin + 1, dtype=np.float64)
    # inside edge i  <=>  ex * (y - qy) - ey * (x - qx) >= 0, as (4, rows, 1) >= (4, 1, cols)
    a = edge[:, 0, None] * (ys[None, :] - q[:, 1, None])
    b = edge[:, 1, None] * (xs[None, :] - q[:, 0, None])
    inside = np.asarray((a[:, :, None] >= b[:, None, :]).all(axis=0)).view(np.uint8)
    if not inside.any():
        return 0.0
    return float(cv2.mean(prob[ymin : ymax + 1, xmin : xmax + 1], inside)[0])


def boxes_from_prob(prob: np.ndarray, p: DetParams) -> list[tuple[np.ndarray, float]]:
    """Probability map (H, W) -> [(quad in map pixels, score)], DB post-processing."""
    mask: np.ndarray = (prob > p.thresh).astype(np.uint8)
    mask = cv2.dilate(mask, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    out: list[tuple[np.ndarray, float]] = []
    for contour in contours[: p.max_candidates]:
        if len(contour) < 4:
            continue
        rect = cv2.minAreaRect(contour)
        if min(rect[1]) < p.min_box_side:
            continue
        quad = order_clockwise(cv2.boxPoints(rect))
        score = box_score(prob, quad)
        if score < p.box_thresh:
            continue
        grown = unclip_rect(rect, p.unclip_ratio)
        if min(grown[1]) < p.min_box_side + 2:
            continue
        out.append((order_clockwise(cv2.boxPoints(grown)), float(score)))
    return out


def line_height(quad: np.ndarray) -> float:
    """The shorter side of a quad (tl, tr, br, bl): a text line's height, or a vertical line's width."""
    return float(min(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[0] - quad[1])))


def tile_scale(boxes: list[tuple[np.ndarray, float]], p: DetParams) -> float:
    """Downscale factor (>= 1) for the remaining tiles, from the boxes of a full-resolution one:
    its 10th-percentile line height over ``tile_line_px``, capped at ``max_tile_scale``; 1 when
    it found fewer than 3 lines (nothing to go by)."""
    if len(boxes) < 3:
        return 1.0
    p10 = float(np.percentile([line_height(q) for q, _ in boxes], 10))
    return float(np.clip(p10 / p.tile_line_px, 1.0, p.max_tile_scale))


def text_is_big(boxes: list[tuple[np.ndarray, float]], p: DetParams) -> bool:
    """Whether the lines of a detection (quads in image pixels) are big enough that a larger input would not find more: at least 3 lines, most
    of them at least twice as long as tall (text lines, not lone glyphs: a dash in a 354x976 table
    of single characters read as I at the table's own size), the 10th-percentile line height at
    least ``native_line_px`` and none under half of ``tile_line_px`` (the tiles of tall images'
    rule for lines too small for a downscaled tile)."""
    if len(boxes) < 3:
        return False
    heights = [line_height(q) for q, _ in boxes]
    lengths = [max(np.linalg.norm(q[0] - q[1]), np.linalg.norm(q[0] - q[3])) for q, _ in boxes]
    if float(np.median(np.divide(lengths, np.maximum(heights, 1.0)))) < 2.0:
        return False  # mostly lone glyphs (tables of single characters): their thin strokes need the pixels
    return float(np.percentile(heights, 10)) >= p.native_line_px and min(heights) >= p.tile_line_px / 2


def _tiles(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of overlapping tiles covering [0, length)."""
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def _merge_tiled(boxes: list[tuple[np.ndarray, float]], horizontal: bool) -> list[tuple[np.ndarray, float]]:
    """Fuse boxes that two tiles both saw: contained duplicates are dropped, and pieces of one
    line cut by a vertical seam (wide images) are joined into their union.

    Each box is tested against the kept ones in the order they were kept (the first that
    matches takes it) by axis-aligned intersection over the smaller box's area (> 0.6: a duplicate;
    > 0 with 60 % of the smaller height shared, wide images: pieces of one line); their bounds are
    held in one array so the test is one vectorised step per box (a 1080x24000 screenshot's ~600 boxes:
    53k pair calls, 1.2 s, before)."""
    boxes = sorted(boxes, key=lambda b: -cv2.contourArea(b[0]))
    kept: list[tuple[np.ndarray, float]] = []
    bounds = np.zeros((len(boxes), 4), dtype=np.float32)  # x0, y0, x1, y1 of each kept box
    for quad, score in boxes:
        (qx0, qy0), (qx1, qy1) = quad.min(0), quad.max(0)
        k = bounds[: len(kept)]
        iw = np.maximum(0.0, np.minimum(k[:, 2], qx1) - np.maximum(k[:, 0], qx0))
        ih = np.maximum(0.0, np.minimum(k[:, 3], qy1) - np.maximum(k[:, 1], qy0))
        smaller = np.minimum((k[:, 2] - k[:, 0]) * (k[:, 3] - k[:, 1]), (qx1 - qx0) * (qy1 - qy0))
        overlap = np.divide(iw * ih, smaller, out=np.zeros_like(smaller), where=smaller > 0)
        merged = False
        for i in np.flatnonzero(overlap > 0):
            if overlap[i] > 0.6:
                merged = True
            elif horizontal:
                ky0, ky1 = k[i, 1], k[i, 3]
                shared = min(ky1, qy1) - max(ky0, qy0)
                if shared > 0.6 * min(ky1 - ky0, qy1 - qy0):
                    pts = np.concatenate([kept[i][0], quad]).astype(np.float32)
                    union = order_clockwise(cv2.boxPoints(cv2.minAreaRect(pts)))
                    kept[i] = (union, max(kept[i][1], score))
                    bounds[i] = (*union.min(0), *union.max(0))
                    merged = True
            if merged:
                break
        if not merged:
            bounds[len(kept)] = (qx0, qy0, qx1, qy1)
            kept.append((quad, score))
    return kept


def _same_line(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two quads (4, 2) float32 are (parts of) one text line: see :func:`merge_views`."""
    area_a, area_b = cv2.contourArea(a), cv2.contourArea(b)
    if min(area_a, area_b) <= 0:
        return False
    inter, _ = cv2.intersectConvexConvex(a.astype(np.float32), b.astype(np.float32))
    if inter <= 0.6 * min(area_a, area_b):
        return False
    ha, hb = line_height(a), line_height(b)
    union = cv2.minAreaRect(np.concatenate([a, b]).astype(np.float32))
    return max(ha, hb) <= 1.4 * min(ha, hb) and min(union[1]) <= 1.25 * max(ha, hb)


def merge_views(first: list[tuple[np.ndarray, float]], second: list[tuple[np.ndarray, float]]
                ) -> list[tuple[np.ndarray, float]]:
    """Boxes of one page detected on two views of it (the image, and the image with coloured ink
    suppressed: ``preprocess.suppress_colour``) -> one set, unordered. Boxes of one line seen in
    both views are fused into their union, so a line cut at a red ring or a highlight in the
    first view is whole; boxes seen in the first view only (coloured text) are kept.

    Only boxes of different views are matched (each view's own boxes stay as the detector split
    them), and two are one line when the smaller lies mostly (> 60%) inside the other, their
    heights differ by less than 40% and their union is no taller than 1.25 times the taller:
    neighbouring items of a row, whose grown boxes touch, and small lines inside a big box of
    the other view stay apart (both fused lines on zh_real_dev). Boxes of the second view that
    match nothing in the first are dropped: on colourful photos they were lines read twice or
    texture read as text."""
    boxes = [(q, s, 0) for q, s in first] + [(q, s, 1) for q, s in second]
    parent = list(range(len(boxes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(first)):
        for j in range(len(first), len(boxes)):
            if _same_line(boxes[i][0], boxes[j][0]):
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        groups.setdefault(root(i), []).append(i)
    out: list[tuple[np.ndarray, float]] = []
    for idx in groups.values():
        if len(idx) == 1:
            if boxes[idx[0]][2] == 0:
                out.append(boxes[idx[0]][:2])
            continue
        pts = np.concatenate([boxes[i][0] for i in idx]).astype(np.float32)
        out.append((order_clockwise(cv2.boxPoints(cv2.minAreaRect(pts))), max(boxes[i][1] for i in idx)))
    return out


def sort_reading_order(quads: list[np.ndarray]) -> list[int]:
    """Indices of quads top-to-bottom, then left-to-right within a row.

    A box joins the current row when its vertical centre lies within half the row's height of
    the row's first box; rows then sort by x. Robust to slight skew, unlike a plain (y, x) sort.
    """
    if not quads:
        return []
    info = []
    for i, q in enumerate(quads):
        y0, y1 = float(q[:, 1].min()), float(q[:, 1].max())
        info.append((0.5 * (y0 + y1), y1 - y0, float(q[:, 0].min()), i))
    info.sort()
    order: list[int] = []
    row = [info[0]]
    for item in info[1:]:
        if abs(item[0] - row[0][0]) < 0.5 * max(row[0][1], 1.0):
            row.append(item)
        else:
            order.extend(r[3] for r in sorted(row, key=lambda r: r[2]))
            row = [item]
    order.extend(r[3] for r in sorted(row, key=lambda r: r[2]))
    return order


class PixelBudget:
    """How many detector input pixels may run at once (``DetParams.concurrent_pixels``), shared
    by the threads of one engine. Waiting takers are served in arrival order, so a large page is
    not passed over by a stream of smaller ones; a taker finding nothing running always gets
    in, whatever its size. Thread-safe."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._cond = threading.Condition()
        self._next = 0  # tickets of blocking takers: issued, and the one whose turn it is
        self._turn = 0

    def _fits(self, pixels: int) -> bool:
        return self.used == 0 or self.used + pixels <= self.limit

    def take(self, pixels: int, *, block: bool) -> bool:
        """Count ``pixels`` as running if they fit now (or, ``block=True``, once they fit and
        every earlier blocking taker got in); False when not blocking and they do not fit."""
        with self._cond:
            if not block:
                if self._next != self._turn or not self._fits(pixels):
                    return False
                self.used += pixels
                return True
            ticket = self._next
            self._next += 1
            while self._turn != ticket or not self._fits(pixels):
                self._cond.wait()
            self._turn += 1
            self.used += pixels
            self._cond.notify_all()
            return True

    def add(self, pixels: int) -> None:
        """Count ``pixels`` as running without waiting (tiles: bounded in size, run by helpers)."""
        with self._cond:
            self.used += pixels

    def give(self, pixels: int) -> None:
        with self._cond:
            self.used -= pixels
            self._cond.notify_all()


class Detector:
    """PP-OCR DB detector on ONNX Runtime sessions (shared, thread-safe; no per-call state).

    ``session`` is single-threaded; ``wide_session`` (optional) is the same model with one
    thread per core of ``cores``, used for a single input when every other core is idle. Tiles
    of long images run on the single-threaded session in parallel instead (:class:`CorePool`)."""

    def __init__(self, session: ort.InferenceSession, params: DetParams | None = None, *,
                 wide_session: ort.InferenceSession | None = None, cores: CorePool | None = None,
                 budget: PixelBudget | None = None) -> None:
        """``budget``: the pixel budget to share with another detector of the engine (one
        budget bounds all their inputs at once); by default a new one of
        ``params.concurrent_pixels`` (none when that is 0)."""
        self.session = session
        self.wide_session = wide_session
        self.cores = cores
        self.params = params or DetParams()
        self._input = session.get_inputs()[0].name
        limit = self.params.concurrent_pixels
        self.budget = budget if budget is not None else PixelBudget(limit) if limit > 0 else None

    def warm_up(self) -> None:
        """Run each session once on a blank 32x32 input (ONNX Runtime's first-run setup)."""
        x = np.zeros((1, 3, 32, 32), np.float32)
        for session in (self.session, self.wide_session):
            if session is not None:
                session.run(None, {self._input: x})

    def _run(self, tensor: np.ndarray, wide: bool | None, exclusive: bool = False) -> np.ndarray:
        """The probability map (H, W) of one (1, 3, H, W) float32 input: on the wide session
        when asked (``wide=True``) or, by default, when its extra cores can be taken now; else on
        the single-threaded one. Its pixels count against ``DetParams.concurrent_pixels``;
        ``exclusive`` inputs (whole pages) wait for room, without holding a core meanwhile."""
        pixels = tensor.shape[2] * tensor.shape[3]
        budget = self.budget
        if budget is None or wide is True or self.cores is None or self.cores.size < 2:
            budget = None
        elif exclusive and not budget.take(pixels, block=False):
            with self.cores.lent():
                budget.take(pixels, block=True)
        elif not exclusive:
            budget.add(pixels)
        if exclusive:  # under the page's activations, no free heap pages (6-22 MB, runtime.release_free_heap)
            release_free_heap()
        try:
            return self._run_now(tensor, wide)
        finally:
            if budget is not None:
                budget.give(pixels)

    def _run_now(self, tensor: np.ndarray, wide: bool | None) -> np.ndarray:
        extra = self.cores.size - 1 if self.cores is not None else 0
        if (self.wide_session is not None and extra > 0 and wide is not False
                and (wide or self.cores.try_take(extra))):  # type: ignore[union-attr]
            try:
                return self.wide_session.run(None, {self._input: tensor})[0][0, 0]
            finally:
                if not wide:
                    self.cores.give(extra)  # type: ignore[union-attr]
        return self.session.run(None, {self._input: tensor})[0][0, 0]

    def _detect_one(self, img: np.ndarray, upscale: bool = True, wide: bool | None = None,
                    scale: float = 1.0, exclusive: bool = False) -> list[tuple[np.ndarray, float]]:
        """Detect on one image that fits a single input; quads in ``img`` pixels. ``upscale``
        raises a short side below ``min_side`` toward it (small images' small text); ``scale``
        > 1 shrinks the input by that factor first (tiles whose text is big); ``exclusive``: a
        whole page, which waits for room under ``concurrent_pixels``."""
        h, w = img.shape[:2]
        p = self.params
        rh, rw = det_input_size(int(round(h / scale)), int(round(w / scale)), p.max_side, p.min_side if upscale else 0)
        prob = self._run(det_tensor(img, (rh, rw)), wide, exclusive)
        sx, sy = w / rw, h / rh
        out = []
        for quad, score in boxes_from_prob(prob, p):
            quad = quad * np.array([sx, sy], dtype=np.float32)
            quad[:, 0] = np.clip(quad[:, 0], 0, w - 1)
            quad[:, 1] = np.clip(quad[:, 1], 0, h - 1)
            out.append((quad, score))
        return out

    def tiles(self, h: int, w: int) -> bool:
        """Whether an image of ``h`` x ``w`` pixels is detected in tiles (long images: longer
        than ``max_side`` and more than ``tile_aspect`` times as long as wide), not whole."""
        p = self.params
        long_side, short_side = max(h, w), min(h, w)
        return not (long_side / max(short_side, 1) <= p.tile_aspect or long_side <= p.max_side)

    def detect(self, img: np.ndarray, *, wide: bool | None = None, rows: list[tuple[int, int]] | None = None,
               like: list[tuple[np.ndarray, float]] | None = None) -> list[tuple[np.ndarray, float]]:
        """Text quads (clockwise from top-left, image pixels) with scores, in reading order.

        ``wide``: None = the multi-threaded session when its cores are free, True = always (the
        caller holds the cores, e.g. warm-up), False = never. ``rows``: only the text within
        these bands of rows ``[y0, y1)`` is wanted (a second view where colour marks are): on a
        tall image that is tiled, the bands alone are stacked (32 blank rows between them) and
        tiled at the scale the boxes ``like`` (an earlier view of the same image) call for
        (:func:`tile_scale`; else the stack's first tile's), so their text is seen at the same
        resolution for a fraction of the cost (a 1080x24000 chat screenshot with coloured
        bubbles: a third of its rows); boxes come back in image pixels. Other images are
        detected whole."""
        h, w = img.shape[:2]
        p = self.params
        short_side = min(h, w)
        if not self.tiles(h, w):
            boxes = None
            raised = det_input_size(h, w, p.max_side, p.min_side)[0] / max(1, det_input_size(h, w, p.max_side, 0)[0])
            if p.native_first and raised >= p.native_first and short_side >= p.native_min_side:  # own size first
                native = self._detect_one(img, upscale=False, wide=wide, exclusive=True)
                boxes = native if text_is_big(native, p) else None
            if boxes is None:
                boxes = self._detect_one(img, wide=wide, exclusive=True)
        elif rows is not None and h > w:
            boxes = self._detect_rows(img, rows, wide, tile_scale(like, p) if like else None)
        else:
            boxes = self._detect_tiled(img, wide)
        order = sort_reading_order([b[0] for b in boxes])
        return [boxes[i] for i in order]

    def _detect_rows(self, img: np.ndarray, rows: list[tuple[int, int]], wide: bool | None,
                     scale: float | None, gap: int = 32) -> list[tuple[np.ndarray, float]]:
        """The bands ``rows`` of a tall image stacked (``gap`` blank rows of the image's
        background between them), tiled (at ``scale`` when given), and the boxes moved back to
        the image's rows; a box is put back by its centre."""
        if not rows:
            return []
        if sum(y1 - y0 for y0, y1 in rows) > 0.8 * img.shape[0]:  # nearly all of it: the image itself
            return self._detect_tiled(img, wide, scale)
        fill = np.median(img[::16, ::16].reshape(-1, *img.shape[2:]), axis=0).astype(img.dtype)
        blank = np.broadcast_to(fill, (gap, *img.shape[1:]))
        parts: list[np.ndarray] = []
        starts: list[tuple[int, int, int]] = []  # (row in the stack, row in the image, rows)
        at = 0
        for y0, y1 in rows:
            if parts:
                parts.append(blank)
                at += gap
            parts.append(img[y0:y1])
            starts.append((at, y0, y1 - y0))
            at += y1 - y0
        stack = np.ascontiguousarray(np.concatenate(parts))
        found = self._detect_tiled(stack, wide, scale)
        out = []
        for quad, score in found:
            cy = float(quad[:, 1].mean())
            for s0, y0, n in starts:
                if s0 - gap / 2 <= cy < s0 + n + gap / 2:
                    moved = quad + np.array([0, y0 - s0], dtype=np.float32)
                    moved[:, 1] = np.clip(moved[:, 1], y0, y0 + n - 1)
                    out.append((moved, score))
                    break
        return out

    def _detect_tiled(self, img: np.ndarray, wide: bool | None, scale: float | None = None) -> list[tuple[np.ndarray, float]]:
        """A long image in overlapping tiles along its long side, each at the resolution its
        text needs (``DetParams.tile_line_px``): the first at full resolution and the others
        at the scale its lines call for, or all at ``scale`` when given (a tile that finds
        lines too small for it is detected again at full resolution); boxes merged, in image
        pixels, unordered. A wide image whose first tile holds only big text is detected in one
        input instead (see ``DetParams.tile_aspect``)."""
        h, w = img.shape[:2]
        p = self.params
        long_side, short_side = max(h, w), min(h, w)
        horizontal = w > h
        tile = min(long_side, max(short_side, int(p.max_side * 0.75)))
        overlap = max(64, tile // 5)

        def one_tile(start: int, scale: float = 1.0, tile_wide: bool | None = False) -> list[tuple[np.ndarray, float]]:
            length = int(tile * scale)
            part = img[:, start : start + length] if horizontal else img[start : start + length]
            offset = np.array([start, 0] if horizontal else [0, start], dtype=np.float32)
            found = self._detect_one(part, upscale=False, wide=tile_wide, scale=scale)
            if scale > 1 and any(line_height(q) / scale < p.tile_line_px / 2 for q, _ in found):
                region = min(length, long_side - start)  # smaller text here: full resolution
                return [b for st in _tiles(region, tile, overlap) for b in one_tile(start + st)]
            return [(q + offset, sc) for q, sc in found]

        first: list[tuple[np.ndarray, float]] = []
        if scale is not None and scale > 1:  # every tile at the scale known for this text
            starts = _tiles(long_side, int(tile * scale), int(overlap * scale))
        else:
            first = one_tile(0, tile_wide=wide)  # alone: on every free core
            if horizontal and first and min(line_height(q) for q, _ in first) * p.max_side / long_side >= p.native_line_px:
                # Big text across a wide image (a banner, a sign, a slide title): one input keeps
                # every line of the first tile at least native_line_px tall, and vertical seams
                # would cut its glyphs, which are as wide as the tiles' overlap (read twice or lost).
                return self._detect_one(img, upscale=False, wide=wide, exclusive=True)
            scale = tile_scale(first, p)
            rest_from = tile - overlap
            if scale > 1:
                length, ov = int(tile * scale), int(overlap * scale)
                starts = [rest_from + st for st in _tiles(long_side - rest_from, length, ov)] if long_side > tile else []
            else:
                starts = [st for st in _tiles(long_side, tile, overlap) if st > 0]
        work = [(st, scale) for st in starts]
        per_tile = self.cores.map(lambda a: one_tile(*a), work) if self.cores is not None else [one_tile(*a) for a in work]
        return _merge_tiled(first + [b for tile_boxes in per_tile for b in tile_boxes], horizontal)
