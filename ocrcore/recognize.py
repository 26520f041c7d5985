"""CTC text-line recognition: aspect-ratio batching, the network, greedy decoding."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from .cores import CorePool
from .ctc import greedy_collapse, greedy_runs
from .preprocess import line_tensor_batch
from .vocab import Decoded, LineDecoder

# Outputs models/build.py adds to every recogniser: argmax class and its probability per time step.
GREEDY_OUTPUTS = ["ctc_best", "ctc_best_prob"]


@dataclass(frozen=True)
class LineReading:
    """One line as the recogniser read it, with where: ``labels`` int64 (n,) class ids (spaces
    included, blanks not), ``probs`` float32 (n,) their probabilities, ``runs`` int64 (n, 2) the
    first and last CTC time step of each, ``step_px`` the crop pixels per time step (8 input
    pixels scaled back to the crop). ``text`` and ``confidence`` are :meth:`Recognizer.recognize`'s."""

    text: str
    confidence: float
    labels: np.ndarray
    probs: np.ndarray
    runs: np.ndarray
    step_px: float


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
    # Split a batch when its padded pixels would exceed this: 4 lines of 960 px. The network's
    # softmax over 18,710 classes is 75 KB per time step (8 px), twice over inside ONNX Runtime
    # (logits and probabilities): at the former 8 x 1600 px a batch of wide lines peaked at
    # 240 MB, now at 72 MB, at no measured cost (batching saves little, see batch_size).
    max_batch_pixels: int = 4 * 48 * 960


class Recognizer:
    """PP-OCR CTC recogniser. Lines are sorted by aspect ratio and batched so little padding
    is computed; results come back in the caller's order."""

    def __init__(self, session: ort.InferenceSession, charset: list[str], params: RecParams | None = None, *,
                 cores: CorePool | None = None) -> None:
        self.session = session
        self.cores = cores
        self.params = params or RecParams()
        self.charset = np.array(charset, dtype=object)
        self._input = session.get_inputs()[0].name
        n_out = session.get_outputs()[0].shape[-1]
        if isinstance(n_out, int) and n_out != len(charset):
            raise ValueError(f"dictionary has {len(charset)} classes but the model outputs {n_out}")
        if not set(GREEDY_OUTPUTS) <= {o.name for o in session.get_outputs()}:
            raise ValueError(f"the recogniser lacks the outputs {GREEDY_OUTPUTS}: rebuild the models (make setup)")

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

        def run(idx: list[int]) -> list[tuple[str, float]]:
            width = self._width(max(ratios[i] for i in idx))
            batch = line_tensor_batch([crops[i] for i in idx], self.params.height, width)
            best, best_p = self.session.run(GREEDY_OUTPUTS, {self._input: batch})
            return [("".join(self.charset[labels]).strip(), float(label_probs.mean()) if len(labels) else 0.0)
                    for labels, label_probs in greedy_collapse(best, best_p)]

        self._run_batches(ratios, run, results)
        return results

    def recognize_constrained(self, crops: list[np.ndarray], decoder: LineDecoder,
                              readings: list[LineReading | None] | None = None) -> list[Decoded]:
        """Like :meth:`recognize`, decoded under a constraint (ocrcore.vocab): this also fetches the
        network's full (B, T, C) probabilities, which the default path never copies out of ORT.
        ``readings``, if given (a list as long as ``crops``), receives each line's unconstrained
        :class:`LineReading` (what :meth:`recognize_detailed` gives), for lines no constraint shaped."""
        if not crops:
            return []
        ratios = [c.shape[1] / max(c.shape[0], 1) for c in crops]
        results: list[Decoded] = [Decoded("", 0.0)] * len(crops)
        probs_name = self.session.get_outputs()[0].name

        def run(idx: list[int]) -> list[Decoded]:
            width = self._width(max(ratios[i] for i in idx))
            batch = line_tensor_batch([crops[i] for i in idx], self.params.height, width)
            probs, best, best_p = self.session.run([probs_name, *GREEDY_OUTPUTS], {self._input: batch})
            if readings is not None:
                for i, reading in zip(idx, self._readings(crops, idx, width, best, best_p)):
                    readings[i] = reading
            return [decoder.decode(probs[b], greedy) for b, greedy in enumerate(greedy_collapse(best, best_p))]

        self._run_batches(ratios, run, results)
        return results

    def recognize_detailed(self, crops: list[np.ndarray]) -> list[LineReading]:
        """Line images (BGR uint8) -> :class:`LineReading` in the same order: the text and
        confidence of :meth:`recognize` plus each character's CTC time steps."""
        if not crops:
            return []
        ratios = [c.shape[1] / max(c.shape[0], 1) for c in crops]
        results: list[LineReading | None] = [None] * len(crops)
        h_in = self.params.height

        def run(idx: list[int]) -> list[LineReading]:
            width = self._width(max(ratios[i] for i in idx))
            batch = line_tensor_batch([crops[i] for i in idx], h_in, width)
            best, best_p = self.session.run(GREEDY_OUTPUTS, {self._input: batch})
            return self._readings(crops, idx, width, best, best_p)

        self._run_batches(ratios, run, results)
        return [r for r in results if r is not None]

    def _run_batches(self, ratios: list[float], run: Callable[[list[int]], list[Any]], results: list[Any]) -> None:
        """Run ``run`` on each batch of line indices (:meth:`_batches`) and put its outputs into
        ``results`` at those indices. Batches are independent: idle cores take some
        (ocrcore.cores); widest first, so the longest single piece of work starts earliest and
        no core idles at the end."""
        batches = self._batches(ratios)
        batches.reverse()
        outputs = self.cores.map(run, batches) if self.cores is not None else [run(b) for b in batches]
        for idx, out in zip(batches, outputs):
            for i, r in zip(idx, out):
                results[i] = r

    def _readings(self, crops: list[np.ndarray], idx: list[int], width: int, best: np.ndarray,
                  best_p: np.ndarray) -> list[LineReading]:
        """The :class:`LineReading` of each line ``idx`` of one batch padded to ``width`` pixels, from
        its (B, T) best-path class ids and probabilities; ``step_px`` is one time step in crop pixels."""
        h_in = self.params.height
        out = []
        for i, (labels, label_probs, runs) in zip(idx, greedy_runs(best, best_p)):
            h, w = crops[i].shape[:2]
            rw = min(width, max(1, int(np.ceil(h_in * w / max(h, 1)))))
            out.append(LineReading("".join(self.charset[labels]).strip(),
                                   float(label_probs.mean()) if len(labels) else 0.0,
                                   labels, label_probs, runs, 8.0 * w / rw))
        return out
