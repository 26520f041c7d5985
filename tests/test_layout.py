"""Reading order and blocks (ocrcore.layout) on synthetic line boxes: no models, no images."""

from __future__ import annotations

import random

import numpy as np
import pytest

from ocrcore.layout import block_box, page_angle, reading_order


def quad(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def rotate(quads: list[np.ndarray], degrees: float, centre=(400.0, 300.0)) -> list[np.ndarray]:
    a = np.radians(degrees)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    c = np.array(centre)
    return [(q - c) @ r.T + c for q in quads]


def columns_page(rng: random.Random, n_cols: int, aligned: bool, title: bool) -> tuple[list[np.ndarray], list[int]]:
    """Boxes of an article: optional title, then ``n_cols`` columns of prose lines. Returns the
    boxes shuffled and, for each, its position in the true reading order."""
    h = rng.uniform(14, 30)
    pitch = h * rng.uniform(1.3, 1.8)
    col_w = h * rng.uniform(10, 20)
    gutter = h * rng.uniform(1.3, 4)
    truth: list[np.ndarray] = []
    y0 = 40.0
    if title:
        truth.append(quad(40, y0, 40 + col_w * 1.2, y0 + 1.5 * h))
        y0 += 3 * h
    for c in range(n_cols):
        x = 40 + c * (col_w + gutter)
        offset = 0.0 if aligned else rng.uniform(0.3, 0.7) * pitch * (c % 2)
        for i in range(rng.randint(3, 10)):
            last = rng.random() < 0.2
            w = col_w * (rng.uniform(0.3, 0.7) if last else rng.uniform(0.85, 1.0))
            y = y0 + offset + i * pitch
            truth.append(quad(x, y, x + w, y + h))
    order = list(range(len(truth)))
    rng.shuffle(order)
    return [truth[i] for i in order], order


def table_page(rng: random.Random) -> tuple[list[np.ndarray], list[int]]:
    """A table or form: cells of short, varied widths on rows far enough apart, some cells empty."""
    h = rng.uniform(14, 30)
    pitch = h * rng.uniform(1.8, 2.8)
    n_cols = rng.randint(2, 5)
    col_x = np.cumsum([40] + [h * rng.uniform(4, 12) for _ in range(n_cols)])
    truth = []
    for r in range(rng.randint(3, 9)):
        for c in range(n_cols):
            if rng.random() < 0.15 and r > 0:
                continue
            w = h * rng.uniform(0.7, 0.9) * (col_x[c + 1] - col_x[c]) / h * rng.uniform(0.2, 0.9)
            y = 40 + r * pitch + rng.uniform(-0.1, 0.1) * h
            truth.append(quad(col_x[c], y, col_x[c] + w, y + h))
    order = list(range(len(truth)))
    rng.shuffle(order)
    return [truth[i] for i in order], order


def read(quads: list[np.ndarray], positions: list[int]) -> list[int]:
    order, _ = reading_order(quads)
    return [positions[i] for i in order]


@pytest.mark.parametrize("seed", range(40))
def test_columns_are_read_one_after_another(seed: int) -> None:
    rng = random.Random(seed)
    quads, positions = columns_page(rng, rng.choice([2, 2, 3]), aligned=seed % 2 == 0, title=seed % 3 == 0)
    assert read(quads, positions) == sorted(positions)


@pytest.mark.parametrize("seed", range(40))
def test_tables_and_forms_are_read_row_by_row(seed: int) -> None:
    quads, positions = table_page(random.Random(1000 + seed))
    assert read(quads, positions) == sorted(positions)


@pytest.mark.parametrize("degrees", [-4.0, -1.5, 2.0, 5.0])
def test_skewed_pages_keep_their_order(degrees: float) -> None:
    rng = random.Random(7)
    quads, positions = columns_page(rng, 2, aligned=True, title=False)
    assert read(rotate(quads, degrees), positions) == sorted(positions)
    quads, positions = table_page(random.Random(8))
    assert read(rotate(quads, degrees), positions) == sorted(positions)


def test_page_angle_is_the_lines_angle() -> None:
    quads = rotate([quad(40, 40 + 30 * i, 400, 60 + 30 * i) for i in range(5)], 3.0)
    assert page_angle(np.array(quads)) == pytest.approx(np.radians(3.0), abs=1e-6)
    assert page_angle(np.zeros((0, 4, 2))) == 0.0


def test_chat_bubbles_left_and_right_are_read_top_to_bottom() -> None:
    """Messages alternate sides at different heights: read in time order, not side by side."""
    quads = []
    for i in range(10):
        x = 40 if i % 3 else 500
        quads.append(quad(x, 40 + 70 * i, x + 150 + 20 * (i % 4), 70 + 70 * i))
    assert reading_order(quads)[0] == list(range(10))


def test_blocks_are_paragraphs_and_columns() -> None:
    left = [quad(40, 100 + 30 * i, 340, 124 + 30 * i) for i in range(4)]
    right = [quad(400, 100 + 30 * i, 700, 124 + 30 * i) for i in range(4)]
    second_paragraph = [quad(40, 280 + 30 * i, 340, 304 + 30 * i) for i in range(2)]
    quads = [q for pair in zip(left, right) for q in pair] + second_paragraph
    order, blocks = reading_order(quads)
    assert blocks == [[0, 2, 4, 6], [8, 9], [1, 3, 5, 7]]
    assert order == [i for b in blocks for i in b]
    assert block_box([quads[i] for i in blocks[0]]) == ((40, 100), (340, 100), (340, 214), (40, 214))


def test_empty_and_single() -> None:
    assert reading_order([]) == ([], [])
    assert reading_order([quad(0, 0, 10, 5)]) == ([0], [[0]])
