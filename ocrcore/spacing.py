"""Spaces between English words inside Chinese lines, restored from where the characters are.

The recognisers were trained mostly on Chinese lines, where there are no spaces, and the tiny
one often drops them between Latin words, and between Latin and Chinese, inside a Chinese line
("DarkMode", "版本Version 3.2已发布on Monday"). The CTC time steps say where each character
was read (ocrcore.recognize.LineReading); between two neighbours that the recogniser did not
separate, the widest run of ink-free columns of the crop is measured, and a space is put where
it is as wide as a word space: :data:`SPACE_GAP` of the line's ink height (a font's space is
about 0.25 em, letters of a word sit 0.05-0.1 em apart; the ink height of a line with Chinese
in it is about 0.9 em). On 80 generated mixed lines (6 Latin fonts, WenQuanYi for Chinese) the
gaps at true spaces were 0.28-0.61 of the ink height, the others 0-0.26 (digit pairs up to 0.35).

Only lines holding both Chinese and Latin letters or digits are touched, and only between two
characters of which one is a Latin letter or digit and the other a Latin letter, digit or
Chinese character: never between two Chinese characters or two digits, never next to
punctuation. Spaces the recogniser emitted are kept.
"""

from __future__ import annotations

import cv2
import numpy as np

from .synth_docs import is_cjk

# Gap (ink-free columns) that makes a space, as a share of the line's ink height: measured on
# generated mixed lines (ocrcore.synth_docs.render_mixed_line, docs/accuracy.md).
SPACE_GAP = 0.27


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _han(ch: str) -> bool:
    """A CJK ideograph (not CJK punctuation)."""
    return is_cjk(ch) and not (0x3000 <= ord(ch) <= 0x303F or 0xFF00 <= ord(ch) <= 0xFFEF)


def ink_mask(crop: np.ndarray) -> np.ndarray:
    """Text pixels of a line crop (H, W[, 3]) uint8 -> bool (H, W): Otsu's threshold, the
    minority side taken as ink (dark on light or light on dark)."""
    gray = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink = binary == 0
    return ~ink if ink.mean() > 0.5 else ink


def ink_height(mask: np.ndarray) -> float:
    """Height in pixels of the rows holding ink (rows with at least 2% of the width inked)."""
    rows = np.flatnonzero(mask.sum(axis=1) >= max(1, 0.02 * mask.shape[1]))
    return float(rows[-1] - rows[0] + 1) if len(rows) else float(mask.shape[0])


def widest_gap(columns: np.ndarray, x0: int, x1: int) -> int:
    """Longest run of False in ``columns[x0:x1]`` (bool per column: has ink)."""
    seg = columns[max(0, x0) : max(0, x1)]
    if len(seg) == 0:
        return 0
    best = run = 0
    for has_ink in seg:
        run = 0 if has_ink else run + 1
        best = max(best, run)
    return best


def needs_spacing(chars: list[str]) -> bool:
    """Whether a line's characters mix Chinese with Latin letters or digits."""
    return any(_han(c) for c in chars) and any(_latin(c) for c in chars)


def space_positions(crop: np.ndarray, chars: list[str], centres_px: np.ndarray) -> list[int]:
    """Indices ``i`` of ``chars`` before which a space belongs (and is missing).

    ``crop``: the line crop (H, W, 3) uint8 the recogniser read; ``chars``: its characters in
    order (spaces included); ``centres_px`` float (n,): each character's position along the crop
    in pixels (the centre of its CTC run). Empty for lines that are not mixed (module docstring).
    """
    if not needs_spacing(chars):
        return []
    mask = ink_mask(crop)
    noise = max(1, int(round(0.04 * mask.shape[0])))
    columns = mask.sum(axis=0) >= noise
    min_gap = SPACE_GAP * ink_height(mask)
    out = []
    for i in range(1, len(chars)):
        a, b = chars[i - 1], chars[i]
        if a == " " or b == " ":
            continue
        if not ((_latin(a) and (_latin(b) or _han(b))) or (_han(a) and _latin(b))):
            continue
        if a.isdigit() and b.isdigit():  # tabular digits: a narrow "1" leaves a word-sized gap
            continue
        gap = widest_gap(columns, int(np.floor(centres_px[i - 1])), int(np.ceil(centres_px[i])))
        if gap >= min_gap:
            out.append(i)
    return out


def restore_spaces(crop: np.ndarray, chars: list[str], probs: np.ndarray, runs: np.ndarray,
                   step_px: float) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A line's characters, probabilities (n,) and CTC runs (n, 2) (ocrcore.recognize.LineReading)
    with the missing spaces put in (:func:`space_positions`); a put-in space has probability 1
    and its right neighbour's run. Unchanged when no space is missing."""
    at = space_positions(crop, chars, (runs.mean(axis=1) + 0.5) * step_px) if len(chars) else []
    if not at:
        return chars, probs, runs
    out = list(chars)
    for i in reversed(at):
        out.insert(i, " ")
    return (out, np.insert(probs, at, 1.0), np.insert(runs, at, runs[at], axis=0))
