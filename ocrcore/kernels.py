"""Every numba kernel of the engine, each next to the plain numpy reference it must match.

Kernels are compiled with ``cache=True`` (directory: ``NUMBA_CACHE_DIR``) and warmed by
:func:`warm_up` when the engine loads, so no request ever pays for JIT compilation.
A kernel stays here only where ``ocr bench-kernels`` shows it beating its reference.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# --------------------------------------------------------------------------- CTC decoding


@njit(cache=True, nogil=True)
def ctc_collapse(best: np.ndarray, best_p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Collapse best-path class ids (B, T): drop blanks (0) and repeats, keep each emitted
    label's probability. Returns (labels[B, T], label_probs[B, T], lengths[B])."""
    b_count, t_count = best.shape
    labels = np.zeros((b_count, t_count), dtype=np.int32)
    label_probs = np.zeros((b_count, t_count), dtype=np.float32)
    lengths = np.zeros(b_count, dtype=np.int32)
    for b in range(b_count):
        prev = -1
        n = 0
        for t in range(t_count):
            c = best[b, t]
            if c != 0 and c != prev:
                labels[b, n] = c
                label_probs[b, n] = best_p[b, t]
                n += 1
            prev = c
        lengths[b] = n
    return labels, label_probs, lengths


def ctc_greedy_decode(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best-path CTC decode of a (B, T, C) probability batch.

    The argmax over C (18,710 classes) stays in numpy, whose SIMD reduction measured 3x faster
    than a fused numba loop (bench.kernels); only the sequential collapse is a kernel.
    """
    best = probs.argmax(axis=2).astype(np.int32)
    best_p = np.take_along_axis(probs, best[:, :, None], axis=2)[:, :, 0].astype(np.float32)
    return ctc_collapse(best, best_p)


def ctc_greedy_decode_ref(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy reference of :func:`ctc_greedy_decode`."""
    b_count, t_count, _ = probs.shape
    best = probs.argmax(axis=2)
    best_p = probs.max(axis=2)
    keep = best != 0
    keep[:, 1:] &= best[:, 1:] != best[:, :-1]
    labels = np.zeros((b_count, t_count), dtype=np.int32)
    label_probs = np.zeros((b_count, t_count), dtype=np.float32)
    lengths = keep.sum(axis=1).astype(np.int32)
    for b in range(b_count):
        n = lengths[b]
        labels[b, :n] = best[b][keep[b]]
        label_probs[b, :n] = best_p[b][keep[b]]
    return labels, label_probs, lengths


# --------------------------------------------------------------------------- DB box score


@njit(cache=True, nogil=True)
def quad_mean_score(prob: np.ndarray, quad: np.ndarray) -> float:
    """Mean of a probability map inside a convex quadrilateral (the DB 'fast' box score).

    ``quad`` is (4, 2) float in map pixels. A pixel counts when its centre lies inside the
    quad, tested with edge cross products, so no mask image is allocated per box.
    """
    h, w = prob.shape
    xmin = max(0, int(np.floor(quad[:, 0].min())))
    xmax = min(w - 1, int(np.ceil(quad[:, 0].max())))
    ymin = max(0, int(np.floor(quad[:, 1].min())))
    ymax = min(h - 1, int(np.ceil(quad[:, 1].max())))
    # orientation of the quad, so "inside" works for either winding
    area2 = 0.0
    for i in range(4):
        j = (i + 1) % 4
        area2 += quad[i, 0] * quad[j, 1] - quad[j, 0] * quad[i, 1]
    sign = 1.0 if area2 >= 0 else -1.0
    total = 0.0
    count = 0
    for y in range(ymin, ymax + 1):
        for x in range(xmin, xmax + 1):
            inside = True
            for i in range(4):
                j = (i + 1) % 4
                ex = quad[j, 0] - quad[i, 0]
                ey = quad[j, 1] - quad[i, 1]
                cross = ex * (y - quad[i, 1]) - ey * (x - quad[i, 0])
                if cross * sign < 0:
                    inside = False
                    break
            if inside:
                total += prob[y, x]
                count += 1
    if count == 0:
        return 0.0
    return total / count


def quad_mean_score_ref(prob: np.ndarray, quad: np.ndarray) -> float:
    """numpy reference of :func:`quad_mean_score` (vectorised point-in-quad over the bbox)."""
    h, w = prob.shape
    xmin = max(0, int(np.floor(quad[:, 0].min())))
    xmax = min(w - 1, int(np.ceil(quad[:, 0].max())))
    ymin = max(0, int(np.floor(quad[:, 1].min())))
    ymax = min(h - 1, int(np.ceil(quad[:, 1].max())))
    if xmax < xmin or ymax < ymin:
        return 0.0
    ys, xs = np.mgrid[ymin : ymax + 1, xmin : xmax + 1]
    q = quad.astype(np.float64)
    nxt = np.roll(q, -1, axis=0)
    area2 = float(np.sum(q[:, 0] * nxt[:, 1] - nxt[:, 0] * q[:, 1]))
    sign = 1.0 if area2 >= 0 else -1.0
    inside = np.ones(xs.shape, dtype=bool)
    for i in range(4):
        ex, ey = nxt[i] - q[i]
        cross = ex * (ys - q[i, 1]) - ey * (xs - q[i, 0])
        inside &= cross * sign >= 0
    if not inside.any():
        return 0.0
    return float(prob[ymin : ymax + 1, xmin : xmax + 1][inside].mean())


# --------------------------------------------------------------------------- network inputs


@njit(cache=True, nogil=True, parallel=False)
def normalize_to_chw(img: np.ndarray, mean: np.ndarray, inv_std: np.ndarray, out: np.ndarray) -> None:
    """uint8 HWC BGR image -> float32 CHW slice ``out[:, :h, :w]`` with (x/255 - mean) * inv_std.

    One pass instead of numpy's astype/divide/subtract/multiply/transpose chain, writing
    straight into a (possibly larger, zero-padded) batch buffer.
    """
    h, w, c = img.shape
    for ch in range(c):
        m = mean[ch]
        s = inv_std[ch]
        for y in range(h):
            for x in range(w):
                out[ch, y, x] = (img[y, x, ch] * (1.0 / 255.0) - m) * s


def normalize_to_chw_ref(img: np.ndarray, mean: np.ndarray, inv_std: np.ndarray, out: np.ndarray) -> None:
    """numpy reference of :func:`normalize_to_chw`."""
    h, w, _ = img.shape
    out[:, :h, :w] = ((img.astype(np.float32) / 255.0 - mean) * inv_std).transpose(2, 0, 1)


# --------------------------------------------------------------------------- contrast stretch


@njit(cache=True, nogil=True)
def percentile_range(gray: np.ndarray, low_frac: float, high_frac: float) -> tuple[int, int]:
    """Grey levels at the given cumulative fractions, from a 256-bin histogram in one pass."""
    hist = np.zeros(256, dtype=np.int64)
    flat = gray.ravel()
    for i in range(flat.size):
        hist[flat[i]] += 1
    total = flat.size
    lo_target = low_frac * total
    hi_target = high_frac * total
    acc = 0
    lo = 0
    hi = 255
    found_lo = False
    for v in range(256):
        acc += hist[v]
        if not found_lo and acc > lo_target:
            lo = v
            found_lo = True
        if acc >= hi_target:
            hi = v
            break
    return lo, hi


def percentile_range_ref(gray: np.ndarray, low_frac: float, high_frac: float) -> tuple[int, int]:
    """numpy reference of :func:`percentile_range`."""
    cdf = np.cumsum(np.bincount(gray.ravel(), minlength=256))
    total = gray.size
    lo = int(np.argmax(cdf > low_frac * total))
    hi = int(np.argmax(cdf >= high_frac * total))
    return lo, hi


# --------------------------------------------------------------------------- binarisation


@njit(cache=True, nogil=True, parallel=True)
def sauvola_binarize(gray: np.ndarray, window: int, k: float, r: float) -> np.ndarray:
    """Sauvola adaptive threshold via integral images: 255 where ink is absent, 0 on ink.

    T = m * (1 + k * (s / r - 1)) over a ``window`` x ``window`` neighbourhood; OpenCV has no
    Sauvola, and the numpy version needs several full-size float64 temporaries.
    """
    h, w = gray.shape
    integ = np.zeros((h + 1, w + 1), dtype=np.float64)
    integ2 = np.zeros((h + 1, w + 1), dtype=np.float64)
    for y in range(h):
        row = 0.0
        row2 = 0.0
        for x in range(w):
            v = float(gray[y, x])
            row += v
            row2 += v * v
            integ[y + 1, x + 1] = integ[y, x + 1] + row
            integ2[y + 1, x + 1] = integ2[y, x + 1] + row2
    half = window // 2
    out = np.empty((h, w), dtype=np.uint8)
    for y in prange(h):
        y0 = max(0, y - half)
        y1 = min(h, y + half + 1)
        for x in range(w):
            x0 = max(0, x - half)
            x1 = min(w, x + half + 1)
            n = (y1 - y0) * (x1 - x0)
            s1 = integ[y1, x1] - integ[y0, x1] - integ[y1, x0] + integ[y0, x0]
            s2 = integ2[y1, x1] - integ2[y0, x1] - integ2[y1, x0] + integ2[y0, x0]
            mean = s1 / n
            var = s2 / n - mean * mean
            std = np.sqrt(var) if var > 0 else 0.0
            thresh = mean * (1.0 + k * (std / r - 1.0))
            out[y, x] = 255 if gray[y, x] > thresh else 0
    return out


def sauvola_binarize_ref(gray: np.ndarray, window: int, k: float, r: float) -> np.ndarray:
    """numpy reference of :func:`sauvola_binarize`."""
    g = gray.astype(np.float64)
    h, w = g.shape
    integ = np.zeros((h + 1, w + 1))
    integ2 = np.zeros((h + 1, w + 1))
    integ[1:, 1:] = g.cumsum(0).cumsum(1)
    integ2[1:, 1:] = (g * g).cumsum(0).cumsum(1)
    half = window // 2
    ys = np.arange(h)
    xs = np.arange(w)
    y0 = np.maximum(0, ys - half)[:, None]
    y1 = np.minimum(h, ys + half + 1)[:, None]
    x0 = np.maximum(0, xs - half)[None, :]
    x1 = np.minimum(w, xs + half + 1)[None, :]
    n = (y1 - y0) * (x1 - x0)
    s1 = integ[y1, x1] - integ[y0, x1] - integ[y1, x0] + integ[y0, x0]
    s2 = integ2[y1, x1] - integ2[y0, x1] - integ2[y1, x0] + integ2[y0, x0]
    mean = s1 / n
    std = np.sqrt(np.maximum(s2 / n - mean * mean, 0.0))
    thresh = mean * (1.0 + k * (std / r - 1.0))
    return np.where(g > thresh, 255, 0).astype(np.uint8)


# --------------------------------------------------------------------------- edit distance


@njit(cache=True, nogil=True)
def levenshtein(a: np.ndarray, b: np.ndarray) -> int:
    """Edit distance between two int32 code-point arrays (two-row DP; pages have ~2k chars)."""
    n, m = a.size, b.size
    if n == 0:
        return m
    if m == 0:
        return n
    prev = np.arange(m + 1, dtype=np.int32)
    cur = np.empty(m + 1, dtype=np.int32)
    for i in range(1, n + 1):
        cur[0] = i
        ai = a[i - 1]
        for j in range(1, m + 1):
            cost = 0 if ai == b[j - 1] else 1
            v = prev[j - 1] + cost
            if prev[j] + 1 < v:
                v = prev[j] + 1
            if cur[j - 1] + 1 < v:
                v = cur[j - 1] + 1
            cur[j] = v
        prev, cur = cur, prev
    return int(prev[m])


def levenshtein_ref(a: np.ndarray, b: np.ndarray) -> int:
    """Plain-Python reference of :func:`levenshtein`."""
    prev = list(range(len(b) + 1))
    for i, ai in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, bj in enumerate(b, 1):
            cur[j] = min(prev[j - 1] + (ai != bj), prev[j] + 1, cur[j - 1] + 1)
        prev = cur
    return prev[-1]


# --------------------------------------------------------------------------- warm-up


def warm_up() -> None:
    """Compile (or load from the cache) every kernel now, at engine load, not on a request."""
    probs = np.random.default_rng(0).random((2, 8, 5)).astype(np.float32)
    ctc_greedy_decode(probs)  # compiles ctc_collapse
    prob = np.zeros((16, 16), dtype=np.float32)
    quad_mean_score(prob, np.array([[1, 1], [8, 1], [8, 8], [1, 8]], dtype=np.float32))
    img = np.zeros((4, 4, 3), dtype=np.uint8)
    out = np.zeros((3, 4, 6), dtype=np.float32)
    normalize_to_chw(img, np.zeros(3, np.float32), np.ones(3, np.float32), out)
    gray = np.zeros((8, 8), dtype=np.uint8)
    percentile_range(gray, 0.01, 0.99)
    sauvola_binarize(gray, 5, 0.2, 128.0)
