"""CTC decoding of the recogniser's output.

The recogniser emits, for each line, a (T, C) matrix of class probabilities per time step
(T = input width / 8, C = dictionary size + blank + space; class 0 is the CTC blank).
"""

from __future__ import annotations

import numpy as np


def greedy_collapse(best: np.ndarray, best_p: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Collapse best-path class ids (B, T) with their probabilities (B, T): repeats merged,
    blanks (class 0) dropped. One ``(labels int64 (n,), probs float32 (n,))`` pair per row,
    each label's probability taken at the first time step of its run."""
    keep = best != 0
    keep[:, 1:] &= best[:, 1:] != best[:, :-1]
    return [(best[b][keep[b]].astype(np.int64), best_p[b][keep[b]].astype(np.float32)) for b in range(best.shape[0])]


def greedy_decode(probs: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Best-path decoding (Graves et al. 2006, sec. 3.2) of a (B, T, C) float32 batch.

    Per row: the argmax class of each time step, repeats collapsed, blanks dropped. Returns one
    ``(labels int64 (n,), probs float32 (n,))`` pair per row, ``probs`` being each emitted
    label's probability at the first time step of its run.

    The engine does not call this on the full matrix: its recognisers output the argmax and max
    per time step themselves (models/build.py ``add_greedy_outputs``) and it calls
    :func:`greedy_collapse`. numpy throughout: a numba collapse saved 20 us per batch and cost
    the process numba's 160 MB (docs/performance.md, "numba on the default path").
    """
    best = probs.argmax(axis=2)
    return greedy_collapse(best, np.take_along_axis(probs, best[:, :, None], axis=2)[:, :, 0])


def greedy_runs(best: np.ndarray, best_p: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`greedy_collapse` that also says where each label was read: per row of the (B, T)
    best-path class ids and probabilities, ``(labels int64 (n,), probs float32 (n,), runs int64
    (n, 2))``, ``runs`` holding the first and last time step of each label's run (one time step
    is 8 input pixels of the recogniser). Labels and probabilities equal greedy_collapse's."""
    out = []
    for b in range(best.shape[0]):
        row = best[b]
        start = np.ones(row.shape[0], dtype=bool)
        start[1:] = row[1:] != row[:-1]
        starts = np.flatnonzero(start)
        ends = np.append(starts[1:] - 1, row.shape[0] - 1)
        keep = row[starts] != 0
        runs = np.stack([starts[keep], ends[keep]], axis=1).astype(np.int64)
        out.append((row[starts[keep]].astype(np.int64), best_p[b][starts[keep]].astype(np.float32), runs))
    return out
