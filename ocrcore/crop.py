"""Line crops: perspective rectification of rotated boxes, vertical lines turned upright,
and the optional 0/180 orientation classifier."""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort

from .preprocess import line_tensor_batch

VERTICAL_RATIO = 1.5  # a crop this much taller than wide is a vertical line: rotate it


def _quad_size(quad: np.ndarray) -> tuple[int, int]:
    w = int(round(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[3] - quad[2]))))
    h = int(round(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2]))))
    return max(w, 1), max(h, 1)


def is_tall(quad: np.ndarray) -> bool:
    """Whether :func:`crop_quad` turns this quad's crop 90° as a vertical line. A lone tall glyph
    (1, l, /, 丨) in a table cell is as tall, so the engine reads such crops both ways."""
    w, h = _quad_size(quad.astype(np.float32))
    return h >= VERTICAL_RATIO * w


def crop_quad(img: np.ndarray, quad: np.ndarray, *, rotate_tall: bool = True) -> np.ndarray:
    """Warp the quad (tl, tr, br, bl) to an upright rectangle; tall crops rotated 90° CCW
    unless ``rotate_tall`` is False."""
    quad = quad.astype(np.float32)
    w, h = _quad_size(quad)
    w, h = max(w, 1), max(h, 1)
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(quad, dst)
    crop = cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    if rotate_tall and h >= VERTICAL_RATIO * w:
        crop = np.ascontiguousarray(np.rot90(crop))
    return crop


def crop_to_image(quad: np.ndarray, points: np.ndarray, *, flipped: bool = False) -> np.ndarray:
    """Map points (N, 2) float, pixels of the crop :func:`crop_quad` made from ``quad`` (after
    its turn of tall crops, and after a 180° flip when ``flipped``), back to image pixels (N, 2)
    float32, through the inverse of the same perspective transform."""
    quad = quad.astype(np.float32)
    w = int(round(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[3] - quad[2]))))
    h = int(round(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2]))))
    w, h = max(w, 1), max(h, 1)
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 2).copy()
    rotated = h >= VERTICAL_RATIO * w
    cw, ch = (h, w) if rotated else (w, h)
    if flipped:
        pts = np.array([cw, ch], dtype=np.float32) - pts
    if rotated:  # np.rot90: crop (x', y') came from (w - y', x')
        pts = np.stack([w - pts[:, 1], pts[:, 0]], axis=1)
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(dst, quad)
    return cv2.perspectiveTransform(pts[None], m)[0]


class OrientationClassifier:
    """PP-OCR mobile 0/180 text-line classifier; flips lines it is confident are upside down."""

    HEIGHT, WIDTH, BATCH = 48, 192, 16

    def __init__(self, session: ort.InferenceSession, thresh: float = 0.9) -> None:
        self.session = session
        self.thresh = thresh
        self._input = session.get_inputs()[0].name

    def probabilities(self, crops: list[np.ndarray]) -> np.ndarray:
        """(N, 2) float32: p(upright), p(upside down) of each line crop (BGR uint8)."""
        out = [np.zeros((0, 2), np.float32)]
        for i in range(0, len(crops), self.BATCH):
            batch = line_tensor_batch(crops[i : i + self.BATCH], self.HEIGHT, self.WIDTH)
            out.append(np.asarray(self.session.run(None, {self._input: batch})[0], np.float32))
        return np.concatenate(out)

    def upside_down(self, crops: list[np.ndarray]) -> list[bool]:
        return [bool(p[1] > self.thresh and p[1] > p[0]) for p in self.probabilities(crops)]

    def fix(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """Return the crops with those judged upside down rotated 180°."""
        return [np.ascontiguousarray(c[::-1, ::-1]) if f else c for c, f in zip(crops, self.upside_down(crops))]
