"""The engine's numba kernels, each next to the plain numpy reference it must match.

A loop becomes a numba kernel only where numpy/OpenCV is not already fast: measured, the
per-image steps of the default path (input normalisation, DB box scores, CTC greedy collapse,
grey-level percentiles) are as fast in numpy/OpenCV, while importing numba adds ~160 MB of RSS
and its JIT a first-call compile, so they live in numpy/OpenCV next to their callers
(docs/performance.md, "numba on the default path"). What stays here is imported only when it is
used: Sauvola binarisation (``OCR_ENHANCE=binarize``).

Kernels are compiled with ``cache=True`` into ``NUMBA_CACHE_DIR`` (ocrcore.runtime sets it) and
warmed by :func:`warm_up` when an engine that will use them loads.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# --------------------------------------------------------------------------- binarisation


@njit(cache=True, nogil=True)
def sauvola_binarize(gray: np.ndarray, window: int, k: float, r: float) -> np.ndarray:
    """Sauvola adaptive threshold via integral images: 255 where ink is absent, 0 on ink.

    T = m * (1 + k * (s / r - 1)) over a ``window`` x ``window`` neighbourhood (Sauvola and
    Pietikainen 2000); OpenCV has no Sauvola, and the numpy version needs several full-size
    float64 temporaries. Serial: the engine's workers call it concurrently, and numba's default
    threading layer is not safe for that (nor should a kernel fan out beyond ocrcore.cores).
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
    for y in range(h):
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


# --------------------------------------------------------------------------- warm-up


def warm_up() -> None:
    """Compile (or load from the cache) every kernel now, at engine load, not on a request."""
    gray = np.zeros((8, 8), dtype=np.uint8)
    sauvola_binarize(gray, 5, 0.2, 128.0)
