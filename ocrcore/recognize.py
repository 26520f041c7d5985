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
    # Split a batch when its padded pixels would exceed this: 4 lines of 480 px. The network's
    # softmax over 18,710 classes is 75 KB per time step (8 px), twice over inside ONNX Runtime
    # (logits and probabilities): at the former 8 x 1600 px a batch of wide lines peaked at
    # 240 MB, at 4 x 960 px 72 MB, now 36 MB, at no measured cost (batching saves little, see
    # batch_size; with DetParams.exclusive_pixels, 2-user load test VmHWM 532-535 -> 496-507 MB,
    # images/min 145-147 -> 151-153, 2026-12-01, docs/performance.md).
    max_batch_pixels: int = 4 * 48 * 480
    # Lines wider than ``squeeze_from`` pixels at ``height`` are narrowed to ``squeeze`` of their
    # width (never below ``squeeze_from``); None = the profile's value (:data:`PROFILE_SQUEEZE`).
    squeeze_from: int = 320
    squeeze: float | None = None


# At 48 px a Latin character spans ~3 CTC time steps and a CJK one ~6, more than CTC needs, and
# PP-OCR trains on long lines squeezed into its 320 px input. Measured 2026-12-01 on every eval set
# (scripts/accuracy.py, auto precision, same run): small with long lines at 0.75 is equal or
# better on every full-page set (zh_real_dev 0.9946/0.9826 -> 0.9961/0.9842, Tesseract pages
# 0.9970 -> 0.9973, receipts 0.9850/0.9124 -> 0.9854/0.9125, IC15 scenes 0.8571/0.5179 ->
# 0.8577/0.5187) and on the line sets (one garbage reading of an unreadable 15x126 IC15 word
# changed), for ~25 % less recognition work on long lines. Narrowing every line by 0.85 cost
# IC15 words 0.8 points. Tiny's smaller recogniser lost 0.4 points of IC15 scene F1 at 0.75:
# it keeps every width (docs/accuracy.md).
PROFILE_SQUEEZE = {"small": 0.75, "tiny": 1.0}


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

    def _batches(self, widths: list[int]) -> list[list[int]]:
        p = self.params
        order = sorted(range(len(widths)), key=lambda i: widths[i])
        batches: list[list[int]] = []
        cur: list[int] = []
        for i in order:  # ascending width: the line being added is the batch's widest
            width = self._padded(widths[i])
            if cur and (len(cur) >= p.batch_size or (len(cur) + 1) * p.height * width > p.max_batch_pixels):
                batches.append(cur)
                cur = []
            cur.append(i)
        if cur:
            batches.append(cur)
        return batches

    def line_widths(self, crops: list[np.ndarray]) -> list[int]:
        """Each crop's width in pixels once resized to the network's height (and narrowed when
        long, see :class:`RecParams`)."""
        p = self.params
        out = []
        for c in crops:
            natural = p.height * c.shape[1] / max(c.shape[0], 1)
            if p.squeeze is not None and natural > p.squeeze_from:
                natural = max(p.squeeze_from, natural * p.squeeze)
            out.append(max(1, int(math.ceil(natural))))
        return out

    def _batch_input(self, crops: list[np.ndarray], widths: list[int], idx: list[int]) -> np.ndarray:
        """The (B, 3, height, padded width) float32 input of the lines ``idx`` (:meth:`_padded`)."""
        width = self._padded(max(widths[i] for i in idx))
        return line_tensor_batch([crops[i] for i in idx], self.params.height, width, [widths[i] for i in idx])

    def _padded(self, width: int) -> int:
        """Input width for a batch whose widest line is ``width`` px: a multiple of 8, >= min_width."""
        return max(self.params.min_width, int(math.ceil(width / 8.0)) * 8)

    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """Line images (BGR uint8) -> [(text, confidence)] in the same order."""
        if not crops:
            return []
        widths = self.line_widths(crops)
        results: list[tuple[str, float]] = [("", 0.0)] * len(crops)

        def run(idx: list[int]) -> list[tuple[str, float]]:
            batch = self._batch_input(crops, widths, idx)
            best, best_p = self.session.run(GREEDY_OUTPUTS, {self._input: batch})
            return [("".join(self.charset[labels]).strip(), float(label_probs.mean()) if len(labels) else 0.0)
                    for labels, label_probs in greedy_collapse(best, best_p)]

        self._run_batches(widths, run, results)
        return results

    def recognize_constrained(self, crops: list[np.ndarray], decoder: LineDecoder,
                              readings: list[LineReading | None] | None = None) -> list[Decoded]:
        """Like :meth:`recognize`, decoded under a constraint (ocrcore.vocab): this also fetches the
        network's full (B, T, C) probabilities, which the default path never copies out of ORT.
        ``readings``, if given (a list as long as ``crops``), receives each line's unconstrained
        :class:`LineReading` (what :meth:`recognize_detailed` gives), for lines no constraint shaped."""
        if not crops:
            return []
        widths = self.line_widths(crops)
        results: list[Decoded] = [Decoded("", 0.0)] * len(crops)
        probs_name = self.session.get_outputs()[0].name

        def run(idx: list[int]) -> list[Decoded]:
            batch = self._batch_input(crops, widths, idx)
            probs, best, best_p = self.session.run([probs_name, *GREEDY_OUTPUTS], {self._input: batch})
            if readings is not None:
                for i, reading in zip(idx, self._readings(crops, idx, widths, batch.shape[3], best, best_p)):
                    readings[i] = reading
            return [decoder.decode(probs[b], greedy) for b, greedy in enumerate(greedy_collapse(best, best_p))]

        self._run_batches(widths, run, results)
        return results

    def recognize_detailed(self, crops: list[np.ndarray]) -> list[LineReading]:
        """Line images (BGR uint8) -> :class:`LineReading` in the same order: the text and
        confidence of :meth:`recognize` plus each character's CTC time steps."""
        if not crops:
            return []
        widths = self.line_widths(crops)
        results: list[LineReading | None] = [None] * len(crops)

        def run(idx: list[int]) -> list[LineReading]:
            batch = self._batch_input(crops, widths, idx)
            best, best_p = self.session.run(GREEDY_OUTPUTS, {self._input: batch})
            return self._readings(crops, idx, widths, batch.shape[3], best, best_p)

        self._run_batches(widths, run, results)
        return [r for r in results if r is not None]

    def _run_batches(self, widths: list[int], run: Callable[[list[int]], list[Any]], results: list[Any]) -> None:
        """Run ``run`` on each batch of line indices (:meth:`_batches`) and put its outputs into
        ``results`` at those indices. Batches are independent: idle cores take some
        (ocrcore.cores); widest first, so the longest single piece of work starts earliest and
        no core idles at the end."""
        batches = self._batches(widths)
        batches.reverse()
        outputs = self.cores.map(run, batches) if self.cores is not None else [run(b) for b in batches]
        for idx, out in zip(batches, outputs):
            for i, r in zip(idx, out):
                results[i] = r

    def _readings(self, crops: list[np.ndarray], idx: list[int], widths: list[int], width: int,
                  best: np.ndarray, best_p: np.ndarray) -> list[LineReading]:
        """The :class:`LineReading` of each line ``idx`` of one batch padded to ``width`` pixels
        (``widths``: every line's resized width), from its (B, T) best-path class ids and
        probabilities; ``step_px`` is one time step in crop pixels."""
        out = []
        for i, (labels, label_probs, runs) in zip(idx, greedy_runs(best, best_p)):
            w = crops[i].shape[1]
            rw = min(width, widths[i])
            out.append(LineReading("".join(self.charset[labels]).strip(),
                                   float(label_probs.mean()) if len(labels) else 0.0,
                                   labels, label_probs, runs, 8.0 * w / rw))
        return out
