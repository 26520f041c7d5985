"""Page orientation (0/90/180/270), skew, and upside-down lines on a page, from the detector's boxes.

A page arrives turned by a multiple of 90 degrees (screenshots, scans and re-saved photos carry
no EXIF tag) and often a few degrees crooked. Nothing here warps the image:

1. **Sideways or not**: the detected line boxes are long in the direction text runs; when most
   of the box length (long sides, boxes at least 2:1) runs vertically the page is sideways (90 or
   270), else it is 0 or 180.
2. **Which way up**: the PP-OCR 0/180 line classifier (``crop.OrientationClassifier``) votes over
   the ``VOTE_LINES`` longest lines (mean of p(180) - p(0)); the crops are the ones the
   recogniser would read (sideways lines turned counter-clockwise, as ``crop.crop_quad`` does).
   A verdict of 180 or 270 flips those lines, so it must also raise the recogniser's mean
   confidence on them by ``FLIP_GAIN``, else the page is kept as it was (the classifier alone flips some
   upright words: docs/accuracy.md).
3. **Skew**: the length-weighted median angle of the same long boxes, within +-45 degrees.
4. Boxes are mapped to the upright, deskewed frame (a rotation about the image centre) for the
   reading order, and each box's corners are renumbered so the first is the text's top-left:
   ``crop.crop_quad`` then cuts every line the right way up from the image as received, and
   the boxes returned stay in that image's coordinates.

Lines that still disagree with the page (one upside-down line on a tag, a vertical table header
written bottom-to-top) are fixed by :func:`fix_unsure_lines`: only lines the recogniser reads
with confidence under ``UNSURE`` go to the classifier, and a flip is kept only when the
classifier is sure and the turned line reads with clearly higher confidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import cv2
import numpy as np

from .crop import OrientationClassifier, crop_quad
from .detect import sort_reading_order

VOTE_LINES = 5  # longest lines the classifier votes over (cost: one batch of <= 5 48x192 crops)
ELONGATED = 2.0  # long side / short side for a box to say which way text runs
SKEW_MIN = 0.5  # degrees; smaller estimates are treated as 0 (reading order left as detected)
# Beyond this the boxes disagree (scene text in perspective, signs at several angles; IC15 gave
# estimates up to 44 degrees), not a crooked page: no deskew.
SKEW_MAX = 20.0
UNSURE = 0.9  # lines read below this confidence are checked for being upside down
# ...and so are lines read with fewer characters than their crop's length / height / SPARSE (a
# line of seven characters 4.6 heights long, upside down, read as "83" at 0.90): text of any
# script has at least one character per 2 line heights (CJK about one per height, Latin two).
SPARSE = 2.0
# A checked line is turned when the classifier gives p(180) >= FLIP_P and the turned line reads
# with confidence at least FLIP_GAIN higher. On generated pages with one upside-down line the
# turned lines had p(180) >= 0.998 and gained >= 0.2; the one false turn on the eval sets (a
# 3-character SROIE fragment, "0S=" -> "=S0") had p = 0.90 and gained 0.03.
FLIP_P = 0.98
FLIP_GAIN = 0.1
TURNED_MIN = 0.9
# Short readings are left alone: on SROIE receipts every turned reading under 4 characters was
# wrong ("4" -> "A", "M#:" -> ":#", "1X" -> "1"), while the upside-down lines of generated pages
# were whole lines; crops under 2:1 (one or two glyphs) are not read again at all, which saves
# most of the cost (at 3:1 a four-character Chinese line was missed).
MIN_ASPECT = 2.0
MIN_TURNED_CHARS = 4
Gate = Literal["recogniser", "classifier"]
# Which unsure lines are read again turned: all ("recogniser") or those the classifier calls upside
# down ("classifier"). Measured (docs/accuracy.md): the classifier missed upside-down lines the
# recogniser caught, and the extra reading costs little on upright pages.
GATE: Gate = "recogniser"


class LineReader(Protocol):
    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]: ...


@dataclass(frozen=True)
class PageOrientation:
    """How the page lies as received: ``orientation`` = clockwise turn in degrees (0, 90, 180,
    270) that was applied to the upright page; ``skew`` = further clockwise rotation in degrees
    (-45..45, positive = lines run down to the right)."""

    orientation: int = 0
    skew: float = 0.0

    def to_upright(self, width: int, height: int) -> np.ndarray:
        """2x3 float64 affine map of image pixels (x, y) into the upright, deskewed frame: a
        rotation by ``orientation + skew`` degrees counter-clockwise about the image centre."""
        return cv2.getRotationMatrix2D((width / 2.0, height / 2.0), self.orientation + self.skew, 1.0)

    def text_quads(self, quads: list[np.ndarray], width: int, height: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(boxes renumbered so corner 0 is the text's top-left, in image pixels; the same boxes
        in the upright frame) for quads (4, 2) float32 in image pixels."""
        if self.orientation == 0 and abs(self.skew) < SKEW_MIN:
            return quads, quads
        m = self.to_upright(width, height)
        image_q, upright_q = [], []
        for q in quads:
            u = q.astype(np.float64) @ m[:, :2].T + m[:, 2]
            edges = np.roll(u, -1, axis=0) - u
            cos = edges[:, 0] / np.maximum(np.linalg.norm(edges, axis=1), 1e-6)
            start = int(np.argmax(cos))  # the edge running most nearly left-to-right is the top
            image_q.append(np.roll(q, -start, axis=0).astype(np.float32))
            upright_q.append(np.roll(u, -start, axis=0).astype(np.float32))
        return image_q, upright_q

    def arrange(self, quads: list[np.ndarray], width: int, height: int) -> list[np.ndarray]:
        """The boxes renumbered (see :meth:`text_quads`), in the reading order of the upright
        page; unchanged (the detector's order) for an upright page without skew."""
        image_q, upright_q = self.text_quads(quads, width, height)
        if image_q is quads:
            return quads
        return [image_q[i] for i in sort_reading_order(upright_q)]


def _long_side(quad: np.ndarray) -> tuple[float, float, float]:
    """(long side length, short side length, angle of the long side in degrees, -90..90)."""
    a, b = quad[1] - quad[0], quad[3] - quad[0]
    la, lb = float(np.hypot(*a)), float(np.hypot(*b))
    v, long_len, short_len = (a, la, lb) if la >= lb else (b, lb, la)
    angle = float(np.degrees(np.arctan2(v[1], v[0])))
    angle = (angle + 90.0) % 180.0 - 90.0
    return long_len, short_len, angle


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, 0.5 * cum[-1])])


def layout(quads: list[np.ndarray]) -> tuple[bool, float, list[int]]:
    """(page is sideways, skew in degrees, indices of the lines to vote with, longest first) from
    text boxes (4, 2) in image pixels. No elongated box: (False, 0.0, [])."""
    info = [(i, *_long_side(q)) for i, q in enumerate(quads)]
    info = [t for t in info if t[2] > 0 and t[1] >= ELONGATED * t[2]]
    if not info:
        return False, 0.0, []
    lengths = np.array([t[1] for t in info])
    angles = np.array([t[3] for t in info])
    vertical = np.abs(angles) > 45.0
    sideways = float(lengths[vertical].sum()) > float(lengths[~vertical].sum())
    keep = vertical if sideways else ~vertical
    # skew: the angle from the page's text direction (horizontal, or vertical for sideways pages)
    dev = angles[keep] - (np.sign(angles[keep]) * 90.0 if sideways else 0.0)
    skew = _weighted_median(dev, lengths[keep])
    chosen = [info[k] for k in np.flatnonzero(keep)]
    chosen.sort(key=lambda t: -t[1])
    return sideways, skew, [t[0] for t in chosen[:VOTE_LINES]]


def find_orientation(img: np.ndarray, quads: list[np.ndarray], classifier: OrientationClassifier,
                     reader: LineReader) -> PageOrientation:
    """The page's :class:`PageOrientation` from its text boxes (4, 2) float32 in image pixels
    (clockwise from top-left as the detector gives them) and the image (H, W, 3) BGR uint8."""
    sideways, skew, vote = layout(quads)
    if not vote:
        return PageOrientation()
    h, w = img.shape[:2]
    candidate = PageOrientation(90 if sideways else 0, skew)
    crops = [crop_quad(img, q) for q in candidate.text_quads([quads[i] for i in vote], w, h)[0]]
    probs = classifier.probabilities(crops)
    flip = float((probs[:, 1] - probs[:, 0]).mean()) > 0.0
    if flip:  # confirm with the recogniser: the flipped lines must read better
        flipped = [np.ascontiguousarray(c[::-1, ::-1]) for c in crops]
        read = reader.recognize(crops + flipped)
        before = float(np.mean([c for _, c in read[: len(crops)]]))
        after = float(np.mean([c for _, c in read[len(crops):]]))
        flip = after >= before + FLIP_GAIN
    orientation = (270 if flip else 90) if sideways else (180 if flip else 0)
    return PageOrientation(orientation, round(skew, 1) if SKEW_MIN <= abs(skew) <= SKEW_MAX else 0.0)


def sparse(text: str, crop: np.ndarray) -> bool:
    """Whether a reading has fewer characters (whitespace aside) than the crop (H, W, 3) is long
    in line heights / ``SPARSE``."""
    return SPARSE * len("".join(text.split())) < crop.shape[1] / max(1, crop.shape[0])


def fix_unsure_lines(crops: list[np.ndarray], texts: list[tuple[str, float]], classifier: OrientationClassifier,
                     reader: LineReader, unsure: float = UNSURE,
                     gate: Gate | None = None) -> tuple[list[np.ndarray], list[tuple[str, float]]]:
    """Lines read with confidence under ``unsure``, or with too few characters for their length
    (:func:`sparse`), whose crop is at least ``MIN_ASPECT`` times as wide as tall are read again
    turned 180 degrees (``gate="classifier"``: only those the classifier gives p(180) >=
    ``FLIP_P``). A turned reading with ``MIN_TURNED_CHARS`` characters or more (whitespace aside)
    and a confidence of at least ``TURNED_MIN`` is kept when that confidence is ``FLIP_GAIN``
    above the first, or when the first reading was sparse and the turned one is not and is at
    least as confident.
    Returns the (possibly turned) crops and their readings, same length and order as the input."""
    turn = [i for i, (text, conf) in enumerate(texts)
            if crops[i].shape[1] >= MIN_ASPECT * crops[i].shape[0] and (conf < unsure or sparse(text, crops[i]))]
    if turn and (gate or GATE) == "classifier":
        probs = classifier.probabilities([crops[i] for i in turn])
        turn = [i for i, p in zip(turn, probs) if p[1] >= FLIP_P]
    if not turn:
        return crops, texts
    turned = [np.ascontiguousarray(crops[i][::-1, ::-1]) for i in turn]
    crops, texts = list(crops), list(texts)
    for i, crop, read in zip(turn, turned, reader.recognize(turned)):
        (first, first_conf), (text, conf) = texts[i], read
        if conf < TURNED_MIN or len("".join(text.split())) < MIN_TURNED_CHARS:
            continue
        if conf >= first_conf + FLIP_GAIN or (sparse(first, crop) and not sparse(text, crop) and conf >= first_conf):
            crops[i], texts[i] = crop, read
    return crops, texts
