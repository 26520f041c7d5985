"""CTC text-line recognition: aspect-ratio batching, the network, greedy decoding."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from . import kernels
from .preprocess import line_tensor_batch


def load_charset(path: Path) -> list[str]:
    """Dictionary file -> class list: index 0 is the CTC blank, the last entry a space."""
    chars = path.read_text(encoding="utf-8").splitlines()
    return chars


@dataclass(frozen=True)
class RecParams:
    height: int = 48
    # Measured (48 receipt lines, 1 thread): batches of 1, 2 and 4 cost the same, 8 costs 50% more
    # and 16 more still: padding to the batch's widest line dominates, batching itself buys little.
    batch_size: int = 4
    # Narrowest padded input in pixels (PP-OCR pads to 320). Cost is linear in width, and short
    # fragments (receipt prices, UI labels, scene words) are most lines of a busy image: 192 cut
    # recognition time on receipts and screenshots by ~20% for 0.05-0.15 points of char accuracy
    # on the eval line sets, 160 cost 0.15-0.2 and no padding 1-2 (docs/accuracy.md).
    min_width: int = 192
    max_batch_pixels: int = 8 * 48 * 1600  # split a batch when padding would exceed this


class Recognizer:
    """PP-OCR CTC recogniser. Lines are sorted by aspect ratio and batched so little padding
    is computed; results come back in the caller's order."""

    def __init__(self, session: ort.InferenceSession, charset: list[str], params: RecParams | None = None) -> None:
        self.session = session
        self.params = params or RecParams()
        self.charset = np.array(charset, dtype=object)
        self._input = session.get_inputs()[0].name
        n_out = session.get_outputs()[0].shape[-1]
        if isinstance(n_out, int) and n_out != len(charset):
            raise ValueError(f"dictionary has {len(charset)} classes but the model outputs {n_out}")

    def _batches(self, ratios: list[float]) -> list[list[int]]:
        p = self.params
        order = sorted(range(len(ratios)), key=lambda i: ratios[i])
        batches: list[list[int]] = []
        cur: list[int] = []
        for i in order:  # ascending ratio: the line being added is the batch's widest
            width = self._width(ratios[i])
            if cur and (len(cur) >= p.batch_size or (len(cur) + 1) * p.height * width > p.max_batch_pixels):
                batches.append(cur)
                cur = []
            cur.append(i)
        if cur:
            batches.append(cur)
        return batches

    def _width(self, ratio: float) -> int:
        p = self.params
        return max(p.min_width, int(math.ceil(p.height * ratio / 8.0)) * 8)

    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """Line images (BGR uint8) -> [(text, confidence)] in the same order."""
        if not crops:
            return []
        ratios = [c.shape[1] / max(c.shape[0], 1) for c in crops]
        results: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        for idx in self._batches(ratios):
            width = self._width(max(ratios[i] for i in idx))
            batch = line_tensor_batch([crops[i] for i in idx], self.params.height, width)
            probs = self.session.run(None, {self._input: batch})[0]
            labels, label_probs, lengths = kernels.ctc_greedy_decode(np.ascontiguousarray(probs, dtype=np.float32))
            for row, i in enumerate(idx):
                n = lengths[row]
                text = "".join(self.charset[labels[row, :n]])
                conf = float(label_probs[row, :n].mean()) if n else 0.0
                results[i] = (text.strip(), conf)
        return results
