"""Word and character boxes of a recognised line, from the CTC time steps.

Each character of a line was emitted at a run of CTC time steps (ocrcore.recognize.LineReading),
which places it along the crop. Between two neighbours the boundary is the middle of the widest
ink-free run of columns between their positions (the middle of the two positions when they
touch); the first and last characters reach at most 0.8 of the line's ink height beyond their
positions. Each character's interval is then shrunk to the ink inside it, and a word's height is
that of the ink under it. Words are runs of non-Chinese characters between spaces; every Chinese
character (or CJK punctuation mark) is a word of its own. Boxes are mapped back to the image
through the crop's perspective transform (ocrcore.crop.crop_to_image), so rotated and vertical
lines get rotated boxes.
"""

from __future__ import annotations

import numpy as np

from .crop import crop_to_image
from .spacing import ink_height, ink_mask
from .synth_docs import is_cjk
from .types import Word


def _longest_gap_middle(columns: np.ndarray, x0: float, x1: float) -> float:
    a, b = max(0, int(np.floor(x0))), min(len(columns), int(np.ceil(x1)))
    best, best_len, start = 0.5 * (x0 + x1), 0, None
    for x in range(a, b + 1):
        blank = x < b and not columns[x]
        if blank and start is None:
            start = x
        elif not blank and start is not None:
            if x - start > best_len:
                best, best_len = 0.5 * (start + x), x - start
            start = None
    return best


def char_spans(crop: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per character, its box in crop pixels (n, 4) float x0, y0, x1, y1 (tight to the ink),
    from the characters' positions ``centres`` (n,) float along the crop; plus the ink mask
    columns (W,) bool. See the module docstring."""
    mask = ink_mask(crop)
    h, w = mask.shape
    columns = mask.sum(axis=0) >= max(1, int(round(0.04 * h)))
    reach = 0.8 * ink_height(mask)
    n = len(centres)
    bounds = np.empty(n + 1)
    bounds[0] = max(0.0, centres[0] - reach) if n else 0.0
    bounds[n] = min(float(w), centres[-1] + reach) if n else float(w)
    for i in range(1, n):
        bounds[i] = _longest_gap_middle(columns, centres[i - 1], centres[i])
    boxes = np.zeros((n, 4))
    for i in range(n):
        x0, x1 = int(np.floor(bounds[i])), int(np.ceil(bounds[i + 1]))
        inked = np.flatnonzero(columns[x0:x1])
        if len(inked):
            x0, x1 = x0 + int(inked[0]), x0 + int(inked[-1]) + 1
        rows = np.flatnonzero(mask[:, x0:max(x1, x0 + 1)].any(axis=1))
        y0, y1 = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, h)
        boxes[i] = (x0, y0, x1, y1)
    return boxes, columns


def line_words(crop: np.ndarray, chars: list[str], probs: np.ndarray, runs: np.ndarray, step_px: float,
               quad: np.ndarray, *, flipped: bool = False) -> tuple[Word, ...]:
    """The words of one line (module docstring), in reading order.

    ``crop`` (H, W, 3) uint8: the line as the recogniser read it; ``chars`` its characters
    (spaces included, restored ones too), ``probs`` float (n,) and ``runs`` int (n, 2) their
    probabilities and CTC time-step runs (restored spaces: any value), ``step_px`` crop pixels
    per time step; ``quad`` (4, 2) the line's box in the image and ``flipped`` whether the crop
    was turned 180° before recognition. Boxes: four points clockwise from the word's top-left,
    image pixels; confidence: the mean probability of its characters."""
    keep = [i for i, c in enumerate(chars) if c != " "]
    if not keep:
        return ()
    centres = (runs[keep].mean(axis=1) + 0.5) * step_px
    boxes, _ = char_spans(crop, centres)
    groups: list[list[int]] = []  # positions into keep
    prev_space = True
    for k, i in enumerate(keep):
        starts_word = prev_space or is_cjk(chars[i]) or (k > 0 and is_cjk(chars[keep[k - 1]]))
        if starts_word:
            groups.append([k])
        else:
            groups[-1].append(k)
        prev_space = i + 1 < len(chars) and chars[i + 1] == " "
    words = []
    for g in groups:
        x0, y0 = boxes[g, 0].min(), boxes[g, 1].min()
        x1, y1 = boxes[g, 2].max(), boxes[g, 3].max()
        pts = crop_to_image(quad, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), flipped=flipped)
        box = tuple((int(round(float(x))), int(round(float(y)))) for x, y in pts)
        words.append(Word("".join(chars[keep[k]] for k in g), float(np.mean([probs[keep[k]] for k in g])),
                          box))  # type: ignore[arg-type]
    return tuple(words)
