"""Each numba kernel against its plain numpy/Python reference, on random and edge-case inputs."""

from __future__ import annotations

import numpy as np
import pytest

from ocrcore import kernels


@pytest.mark.parametrize("seed", range(5))
def test_ctc_greedy_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(3, 40, 30)).astype(np.float32)
    logits[:, ::3, 0] += 4  # plenty of blanks, like a real line
    probs = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    got = kernels.ctc_greedy_decode(probs.astype(np.float32))
    want = kernels.ctc_greedy_decode_ref(probs.astype(np.float32))
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_ctc_collapses_repeats_and_drops_blanks() -> None:
    path = [0, 3, 3, 0, 3, 5, 5, 0]
    probs = np.full((1, len(path), 6), 0.01, np.float32)
    for t, c in enumerate(path):
        probs[0, t, c] = 0.9
    labels, label_probs, lengths = kernels.ctc_greedy_decode(probs)
    assert lengths[0] == 3
    assert labels[0, :3].tolist() == [3, 3, 5]
    np.testing.assert_allclose(label_probs[0, :3], 0.9)


@pytest.mark.parametrize("seed", range(5))
def test_quad_score_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    prob = rng.random((120, 200)).astype(np.float32)
    centre = rng.uniform(30, 90, 2)
    angle = rng.uniform(0, np.pi)
    d1 = np.array([np.cos(angle), np.sin(angle)]) * rng.uniform(10, 60)
    d2 = np.array([-np.sin(angle), np.cos(angle)]) * rng.uniform(4, 20)
    quad = np.array([centre - d1 - d2, centre + d1 - d2, centre + d1 + d2, centre - d1 + d2], np.float32)
    assert kernels.quad_mean_score(prob, quad) == pytest.approx(kernels.quad_mean_score_ref(prob, quad), rel=1e-5)
    # either winding gives the same score
    assert kernels.quad_mean_score(prob, quad[::-1].copy()) == pytest.approx(kernels.quad_mean_score(prob, quad))


def test_quad_score_of_uniform_region() -> None:
    prob = np.zeros((50, 50), np.float32)
    prob[10:20, 10:40] = 1.0
    quad = np.array([[10, 10], [39, 10], [39, 19], [10, 19]], np.float32)
    assert kernels.quad_mean_score(prob, quad) == pytest.approx(1.0)


def test_normalize_to_chw_matches_reference() -> None:
    img = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    inv_std = (1 / np.array([0.229, 0.224, 0.225])).astype(np.float32)
    got = np.zeros((3, 40, 64), np.float32)
    want = np.zeros((3, 40, 64), np.float32)
    kernels.normalize_to_chw(img, mean, inv_std, got)
    kernels.normalize_to_chw_ref(img, mean, inv_std, want)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert not got[:, 37:, :].any() and not got[:, :, 53:].any()  # padding untouched


@pytest.mark.parametrize("fracs", [(0.01, 0.99), (0.0, 1.0), (0.2, 0.5)])
def test_percentile_range_matches_reference(fracs: tuple[float, float]) -> None:
    gray = np.random.default_rng(2).integers(40, 200, (300, 200), dtype=np.uint8)
    assert kernels.percentile_range(gray, *fracs) == kernels.percentile_range_ref(gray, *fracs)


def test_sauvola_matches_reference() -> None:
    rng = np.random.default_rng(3)
    gray = np.clip(rng.normal(180, 20, (90, 130)), 0, 255).astype(np.uint8)
    gray[30:40, 20:100] = 40  # a dark stroke
    got = kernels.sauvola_binarize(gray, 15, 0.2, 128.0)
    want = kernels.sauvola_binarize_ref(gray, 15, 0.2, 128.0)
    assert (got != want).mean() < 1e-3  # float summation order may flip a pixel at the threshold
    assert (got[30:40, 20:100] == 0).all()


@pytest.mark.parametrize("a,b", [("kitten", "sitting"), ("", "abc"), ("北京市", "北京"), ("same", "same")])
def test_levenshtein_matches_reference(a: str, b: str) -> None:
    x = np.array([ord(c) for c in a], np.int32)
    y = np.array([ord(c) for c in b], np.int32)
    assert kernels.levenshtein(x, y) == kernels.levenshtein_ref(x, y)
