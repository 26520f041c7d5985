"""The per-pixel and per-timestep steps against plain references: the numba kernels of
ocrcore.kernels against their numpy references, and the numpy/OpenCV steps of the default path
(CTC greedy decoding, DB box score, input normalisation, percentiles) against plain Python."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ocrcore import kernels
from ocrcore.ctc import greedy_decode
from ocrcore.detect import box_score
from ocrcore.preprocess import normalize_to_chw, percentile_range


def greedy_reference(probs: np.ndarray) -> list[tuple[list[int], list[float]]]:
    """Best path, one time step at a time, in plain Python."""
    out = []
    for row in probs:
        labels, ps, prev = [], [], -1
        for step in row:
            c = int(np.argmax(step))
            if c != 0 and c != prev:
                labels.append(c)
                ps.append(float(step[c]))
            prev = c
        out.append((labels, ps))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_ctc_greedy_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(3, 40, 30)).astype(np.float32)
    logits[:, ::3, 0] += 4  # plenty of blanks, like a real line
    probs = (np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)).astype(np.float32)
    for (labels, ps), (want_labels, want_ps) in zip(greedy_decode(probs), greedy_reference(probs)):
        assert labels.tolist() == want_labels
        np.testing.assert_allclose(ps, want_ps, rtol=1e-6)


def test_ctc_collapses_repeats_and_drops_blanks() -> None:
    path = [0, 3, 3, 0, 3, 5, 5, 0]
    probs = np.full((1, len(path), 6), 0.01, np.float32)
    for t, c in enumerate(path):
        probs[0, t, c] = 0.9
    [(labels, label_probs)] = greedy_decode(probs)
    assert labels.tolist() == [3, 3, 5]
    np.testing.assert_allclose(label_probs, 0.9)


def box_score_reference(prob: np.ndarray, quad: np.ndarray) -> float:
    """Mean of the map over pixel centres inside the quad (edge cross products)."""
    q = quad.astype(np.float64)
    ys, xs = np.mgrid[0 : prob.shape[0], 0 : prob.shape[1]]
    nxt = np.roll(q, -1, axis=0)
    sign = np.sign(np.sum(q[:, 0] * nxt[:, 1] - nxt[:, 0] * q[:, 1]))
    inside = np.ones(prob.shape, bool)
    for i in range(4):
        ex, ey = nxt[i] - q[i]
        inside &= (ex * (ys - q[i, 1]) - ey * (xs - q[i, 0])) * sign >= 0
    return float(prob[inside].mean())


@pytest.mark.parametrize("seed", range(5))
def test_box_score_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    prob = rng.random((120, 200)).astype(np.float32)
    centre = rng.uniform(30, 90, 2)
    angle = rng.uniform(0, np.pi)
    d1 = np.array([np.cos(angle), np.sin(angle)]) * rng.uniform(10, 60)
    d2 = np.array([-np.sin(angle), np.cos(angle)]) * rng.uniform(4, 20)
    quad = np.array([centre - d1 - d2, centre + d1 - d2, centre + d1 + d2, centre - d1 + d2], np.float32)
    assert box_score(prob, quad) == pytest.approx(box_score_reference(prob, quad), abs=1e-6)
    assert box_score(prob, quad[::-1].copy()) == pytest.approx(box_score(prob, quad))  # either winding


def test_box_score_counts_only_pixel_centres_inside() -> None:
    """A thin box over a bright line: pixels the edges merely touch (fillPoly would count them)
    stay out, so small text is not scored below the box threshold."""
    prob = np.zeros((20, 40), np.float32)
    prob[8:11, 5:35] = 1.0  # rows 8-10 bright
    quad = np.array([[5, 7.6], [34, 7.6], [34, 10.4], [5, 10.4]], np.float32)
    assert box_score(prob, quad) == pytest.approx(1.0)


def test_box_score_of_uniform_region() -> None:
    prob = np.zeros((50, 50), np.float32)
    prob[10:20, 10:40] = 1.0
    quad = np.array([[10, 10], [39, 10], [39, 19], [10, 19]], np.float32)
    assert box_score(prob, quad) == pytest.approx(1.0)


def test_normalize_to_chw_matches_reference() -> None:
    img = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    inv_std = (1 / np.array([0.229, 0.224, 0.225])).astype(np.float32)
    got = np.zeros((3, 40, 64), np.float32)
    normalize_to_chw(img, mean, inv_std, got)
    want = ((img.astype(np.float64) / 255.0 - mean) * inv_std).transpose(2, 0, 1)
    np.testing.assert_allclose(got[:, :37, :53], want, rtol=1e-5, atol=1e-5)
    assert not got[:, 37:, :].any() and not got[:, :, 53:].any()  # padding untouched


@pytest.mark.parametrize("fracs", [(0.01, 0.99), (0.0, 1.0), (0.2, 0.5)])
def test_percentile_range_matches_sorted_reference(fracs: tuple[float, float]) -> None:
    gray = np.random.default_rng(2).integers(40, 200, (300, 200), dtype=np.uint8)
    values = np.sort(gray.ravel())
    lo = int(values[min(int(np.floor(fracs[0] * values.size)), values.size - 1)])
    hi = int(values[max(int(np.ceil(fracs[1] * values.size)) - 1, 0)])
    assert percentile_range(gray, *fracs) == (lo, hi)


def test_sauvola_matches_reference() -> None:
    rng = np.random.default_rng(3)
    gray = np.clip(rng.normal(180, 20, (90, 130)), 0, 255).astype(np.uint8)
    gray[30:40, 20:100] = 40  # a dark stroke
    got = kernels.sauvola_binarize(gray, 15, 0.2, 128.0)
    want = kernels.sauvola_binarize_ref(gray, 15, 0.2, 128.0)
    assert (got != want).mean() < 1e-3  # float summation order may flip a pixel at the threshold
    assert (got[30:40, 20:100] == 0).all()


def test_default_path_does_not_import_numba() -> None:
    """numba costs ~160 MB of RSS: only OCR_ENHANCE=binarize may load it."""
    code = ("import sys; from ocrcore import OCREngine; e = OCREngine(profile='tiny'); "
            "from ocrcore.synth import render_page; e.ocr(render_page(1)[0]); print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("h", "w", "want"), [
    (720, 1280, (736, 1280)),   # rounded up: never below the scale chosen (nearest gave 704)
    (768, 1024, (768, 1024)),   # already multiples of 32
    (300, 400, (736, 992)),     # small: short side raised to 736
    (3300, 2560, (1280, 1024)),  # large: long side capped at 1280
])
def test_detector_input_size(h: int, w: int, want: tuple[int, int]) -> None:
    from ocrcore.preprocess import det_input_size

    assert det_input_size(h, w, 1280, 736) == want
