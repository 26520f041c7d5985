"""The detector's geometry in pure numpy (no model): corner order, DB unclip, tiling, the merge
of boxes seen by two tiles, reading order and the tile scale chosen from line heights."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ocrcore.detect import (
    DetParams,
    _merge_tiled,
    _tiles,
    boxes_from_prob,
    line_height,
    order_clockwise,
    sort_reading_order,
    text_is_big,
    tile_scale,
    unclip_rect,
)


def rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)


def test_order_clockwise_from_any_start() -> None:
    want = rect(10, 20, 110, 40)
    for k in range(4):
        shuffled = np.roll(want, k, axis=0)[::-1 if k % 2 else 1]
        np.testing.assert_array_equal(order_clockwise(shuffled), want)


def test_unclip_grows_each_side_by_area_ratio_over_perimeter() -> None:
    (cx, cy), (w, h), angle = unclip_rect(((50.0, 20.0), (100.0, 10.0), 0.0), 1.6)
    d = 100 * 10 * 1.6 / (2 * (100 + 10))
    assert (cx, cy, angle) == (50.0, 20.0, 0.0)
    assert w == pytest.approx(100 + 2 * d) and h == pytest.approx(10 + 2 * d)


def test_tiles_cover_the_length_with_overlap() -> None:
    for length, tile, overlap in [(24000, 1080, 216), (1500, 960, 192), (900, 960, 192), (2000, 1000, 200)]:
        starts = _tiles(length, tile, overlap)
        assert starts[0] == 0 and starts[-1] + min(tile, length) >= length
        assert all(b - a <= tile - overlap for a, b in itertools.pairwise(starts))


def test_merge_drops_duplicates_and_joins_a_line_cut_by_a_seam() -> None:
    line = rect(10, 100, 500, 130)
    inner = rect(12, 101, 300, 129)  # the same line seen by the next tile, partly
    other = rect(10, 200, 300, 230)
    kept = _merge_tiled([(line, 0.9), (inner, 0.8), (other, 0.7)], horizontal=False)
    assert len(kept) == 2
    left, right = rect(0, 50, 260, 80), rect(240, 51, 520, 81)  # a wide image cut vertically
    (joined, _), = _merge_tiled([(left, 0.9), (right, 0.8)], horizontal=True)
    assert joined[:, 0].min() == pytest.approx(0, abs=1) and joined[:, 0].max() == pytest.approx(520, abs=1)


def _merge_tiled_pairwise(boxes: list[tuple[np.ndarray, float]], horizontal: bool) -> list[tuple[np.ndarray, float]]:
    """The merge as first written, box against kept box one pair at a time: the reference the
    vectorised ``_merge_tiled`` must equal."""
    import cv2

    def overlap_of_smaller(a: np.ndarray, b: np.ndarray) -> float:
        ax0, ay0 = a.min(0)
        ax1, ay1 = a.max(0)
        bx0, by0 = b.min(0)
        bx1, by1 = b.max(0)
        iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
        ih = max(0.0, min(ay1, by1) - max(ay0, by0))
        smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0))
        return iw * ih / smaller if smaller > 0 else 0.0

    boxes = sorted(boxes, key=lambda b: -cv2.contourArea(b[0]))
    kept: list[tuple[np.ndarray, float]] = []
    for quad, score in boxes:
        merged = False
        for i, (kq, ks) in enumerate(kept):
            overlap = overlap_of_smaller(quad, kq)
            if overlap > 0.6:
                merged = True
            elif horizontal and overlap > 0:
                ky0, ky1 = kq[:, 1].min(), kq[:, 1].max()
                qy0, qy1 = quad[:, 1].min(), quad[:, 1].max()
                if min(ky1, qy1) - max(ky0, qy0) > 0.6 * min(ky1 - ky0, qy1 - qy0):
                    pts = np.concatenate([kq, quad]).astype(np.float32)
                    kept[i] = (order_clockwise(cv2.boxPoints(cv2.minAreaRect(pts))), max(ks, score))
                    merged = True
            if merged:
                break
        if not merged:
            kept.append((quad, score))
    return kept


@pytest.mark.parametrize("horizontal", [False, True])
def test_merge_equals_the_pairwise_reference(horizontal: bool) -> None:
    """Random lines of overlapping tiles (duplicates, pieces cut by seams, tilted quads, a zero-area box)."""
    rng = np.random.default_rng(7 + horizontal)
    for _ in range(20):
        boxes = []
        for _ in range(int(rng.integers(0, 60))):
            x0, y0 = rng.uniform(0, 900, 2)
            w, h = rng.uniform(0, 300), rng.uniform(0, 40)
            quad = rect(x0, y0, x0 + w, y0 + h) + rng.normal(0, 2, (4, 2)).astype(np.float32)
            boxes.append((quad.astype(np.float32), float(rng.uniform(0.5, 1))))
            if rng.uniform() < 0.4:  # seen again by the next tile, shifted or cut
                cut = rect(x0 + rng.uniform(-5, w), y0 + rng.uniform(-3, 3), x0 + w + rng.uniform(-w, 20), y0 + h)
                boxes.append((cut, float(rng.uniform(0.5, 1))))
        got = _merge_tiled(list(boxes), horizontal)
        want = _merge_tiled_pairwise(list(boxes), horizontal)
        assert len(got) == len(want)
        for (gq, gs), (wq, ws) in zip(got, want):
            np.testing.assert_array_equal(gq, wq)
            assert gs == ws


def test_reading_order_rows_then_left_to_right() -> None:
    boxes = [rect(300, 10, 400, 30), rect(10, 12, 100, 32), rect(10, 60, 200, 80), rect(250, 58, 400, 79)]
    assert sort_reading_order(boxes) == [1, 0, 2, 3]
    assert sort_reading_order([]) == []


def test_line_height_and_tile_scale() -> None:
    assert line_height(rect(0, 0, 200, 30)) == pytest.approx(30)
    assert line_height(rect(0, 0, 20, 300)) == pytest.approx(20)  # vertical line: its width
    p = DetParams()
    big = [(rect(0, y, 400, y + 60), 0.9) for y in range(0, 800, 70)]
    small = [(rect(0, y, 400, y + 14), 0.9) for y in range(0, 400, 50)]
    assert tile_scale(big, p) == pytest.approx(p.max_tile_scale)  # 60 px lines: capped at 3
    assert tile_scale(small, p) == 1.0  # 14 px lines need full resolution
    assert tile_scale(big[:2], p) == 1.0  # too few lines to go by
    mid = [(rect(0, y, 400, y + 24), 0.9) for y in range(0, 400, 50)]
    assert tile_scale(mid, p) == pytest.approx(24 / p.tile_line_px)


def test_text_is_big_needs_three_lines_tall_enough() -> None:
    p = DetParams()  # native_line_px 18, tile_line_px 16
    lines = [(rect(10, 30 * i, 200, 30 * i + 24), 0.9) for i in range(5)]
    assert text_is_big(lines, p)
    assert not text_is_big(lines[:2], p)  # too few to judge
    assert not text_is_big(lines + [(rect(10, 200, 60, 207), 0.9)], p)  # one line under 8 px
    assert not text_is_big([(rect(10, 30 * i, 200, 30 * i + 16), 0.9) for i in range(5)], p)
    assert text_is_big([(rect(10, 30 * i, 200, 30 * i + 18), 0.9) for i in range(5)], p)
    assert text_is_big([(rect(10, 60 * i, 200, 60 * i + 36), 0.9) for i in range(5)], p)
    assert not text_is_big([(rect(40 * i, 10, 40 * i + 30, 40), 0.9) for i in range(5)], p)  # lone glyphs


def test_boxes_from_a_probability_map() -> None:
    prob = np.zeros((120, 300), np.float32)
    prob[20:34, 20:200] = 0.9   # a line
    prob[70:80, 40:260] = 0.6   # a fainter one, above box_thresh
    prob[100:104, 10:12] = 0.9  # a speck below the minimum box side
    boxes = boxes_from_prob(prob, DetParams())
    assert len(boxes) == 2
    tops = sorted(float(q[:, 1].min()) for q, _ in boxes)
    assert tops[0] < 20 and 34 < tops[1] < 70  # unclipped outward around each line
    for _, score in boxes:
        assert 0.5 <= score <= 1.0
