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
from .ctc import greedy_runs
from .preprocess import line_tensor_batch
from .vocab import Decoded, LineDecoder

# One input row of a recogniser batch: its lines' indices, each with its x offset in pixels.
Row = list[tuple[int, int]]

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
    # batch_size; with large page detections one at a time (now DetParams.concurrent_pixels), 2-user load test VmHWM 532-535 -> 496-507 MB,
    # images/min 145-147 -> 151-153, 2026-12-01, docs/performance.md).
    max_batch_pixels: int = 4 * 48 * 480
    # Lines wider than ``squeeze_from`` pixels at ``height`` are narrowed to ``squeeze`` of their
    # width (never below ``squeeze_from``); None = the profile's value (:data:`PROFILE_SQUEEZE`).
    squeeze_from: int = 320
    squeeze: float | None = None
    # Lines narrower than ``min_width`` share input rows of at most ``pack_width`` pixels,
    # ``pack_gap`` pixels (a multiple of 8) apart, each read from its own CTC steps, when the
    # caller says they come from one clean page; 0 = never, None = the profile's value
    # (:data:`PROFILE_PACK`). Each line is extended into the gap by its own edge columns: against
    # padding a line's left edge read as a stray glyph ("入 74.68").
    pack_width: int | None = None
    pack_gap: int = 32
    # ...but lines narrower than this stay alone: lone glyphs (about as wide as tall) read by
    # their neighbours' script when packed ("十" beside "No." came back "+", generated pages of
    # ocrcore.synth_marks.render_lone_glyphs).
    pack_from: int = 64


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

# Receipts and screenshots are mostly short fragments (prices, labels), each padded to
# ``min_width``: 40-60 per image, 1.26-1.69x the pixels of the lines themselves. Rows of 320 px
# holding several, 32 px apart: recognition of the load mix's receipts and screenshots 0.79x
# (widths 256: 0.87x, 384: 0.81x, 480: 0.85x; gaps 16-32 alike). Measured 2026-12-01 on every
# full-page eval set (scripts/accuracy.py, same run, small auto): equal or better on each
# (receipts 0.9854/0.9125 -> 0.9855/0.9130; IC15 scenes, Tesseract pages, zh_real_dev,
# zh_smoke_full unchanged). Only clean pages pack: on photos of scenes IC15 lost 0.4 points of
# page F1 and 1.1 of line accuracy (neighbours of another colour and size). Tiny lost 0.2 points
# of receipt and 0.15 of zh_real_dev line accuracy: it never packs. Line sets are single crops
# and never pack (docs/accuracy.md).
PROFILE_PACK = {"small": 320, "tiny": 0}


class Recognizer:
    """PP-OCR CTC recogniser. Lines are sorted by aspect ratio and batched so little padding
    is computed; results come back in the caller's order."""

    def __init__(self, session: ort.InferenceSession, charset: list[str], params: RecParams | None = None, *,
                 cores: CorePool | None = None) -> None:
        self.session = session
        self.cores = cores
        self.params = params or RecParams()
        self.charset = np.array(charset, dtype=object)
        self._space = len(charset) - 1  # load_charset: the last class is a space
        self._input = session.get_inputs()[0].name
        n_out = session.get_outputs()[0].shape[-1]
        if isinstance(n_out, int) and n_out != len(charset):
            raise ValueError(f"dictionary has {len(charset)} classes but the model outputs {n_out}")
        if not set(GREEDY_OUTPUTS) <= {o.name for o in session.get_outputs()}:
            raise ValueError(f"the recogniser lacks the outputs {GREEDY_OUTPUTS}: rebuild the models (make setup)")

    def _rows(self, widths: list[int], pack: bool) -> list[Row]:
        """The input rows of these lines: each line alone, except that with ``pack`` lines
        narrower than ``min_width`` (and at least ``pack_from`` wide) share rows of at most
        ``pack_width`` pixels, ``pack_gap`` apart (first fit, widest first)."""
        p = self.params
        capacity = (p.pack_width or 0) if pack else 0
        rows: list[Row] = []
        short: list[int] = []
        for i, w in enumerate(widths):
            if capacity and p.pack_from <= w and _ceil8(w) < p.min_width:
                short.append(i)
            else:
                rows.append([(i, 0)])
        packed: list[Row] = []
        ends: list[int] = []  # each packed row's used width so far
        for i in sorted(short, key=lambda i: -widths[i]):
            w = _ceil8(widths[i])
            r = next((r for r, end in enumerate(ends) if end + p.pack_gap + w <= capacity), None)
            if r is None:
                packed.append([(i, 0)])
                ends.append(w)
            else:
                packed[r].append((i, ends[r] + p.pack_gap))
                ends[r] += p.pack_gap + w
        return rows + packed

    def _row_width(self, row: Row, widths: list[int]) -> int:
        i, x = row[-1]
        return x + widths[i]

    def _batches(self, widths: list[int], pack: bool = False) -> list[list[Row]]:
        p = self.params
        rows = sorted(self._rows(widths, pack), key=lambda row: self._row_width(row, widths))
        batches: list[list[Row]] = []
        cur: list[Row] = []
        for row in rows:  # ascending width: the row being added is the batch's widest
            width = self._padded(self._row_width(row, widths))
            if cur and (len(cur) >= p.batch_size or (len(cur) + 1) * p.height * width > p.max_batch_pixels):
                batches.append(cur)
                cur = []
            cur.append(row)
        if cur:
            batches.append(cur)
        return batches

    def _spans(self, batch: list[Row], widths: list[int], steps: int) -> list[tuple[int, int, int, int, bool]]:
        """Where each line of a batch is in the network's (B, T) output: ``(line, row, first
        step, end step, shared)``, one step being 8 input pixels. A line that shares its row
        reaches to its own right edge; what is read in the gaps between lines (their edges'
        background) is nobody's. The last line of a row reaches to the end, as a line alone does."""
        out = []
        for b, row in enumerate(batch):
            for k, (i, x) in enumerate(row):
                hi = steps if k == len(row) - 1 else (x + _ceil8(widths[i])) // 8
                out.append((i, b, x // 8, hi, len(row) > 1))
        return out

    def _greedy(self, best: np.ndarray, best_p: np.ndarray, span: tuple[int, int, int, int, bool]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`~ocrcore.ctc.greedy_runs` of one line's ``span`` (:meth:`_spans`) of a batch's
        (B, T) best-path outputs. A line that shared its row loses spaces read at its ends: the
        network reads the background between two lines of a row as one (a line alone is
        followed by padding, where it does not)."""
        _, b, lo, hi, shared = span
        labels, probs, runs = greedy_runs(best[b:b + 1, lo:hi], best_p[b:b + 1, lo:hi])[0]
        if shared:
            keep = np.flatnonzero(labels != self._space)
            if len(keep) < len(labels):
                first, last = (keep[0], keep[-1] + 1) if len(keep) else (0, 0)
                labels, probs, runs = labels[first:last], probs[first:last], runs[first:last]
        return labels, probs, runs

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

    def _batch_input(self, crops: list[np.ndarray], widths: list[int], batch: list[Row]) -> np.ndarray:
        """The (B, 3, height, padded width) float32 input of a batch's rows (:meth:`_padded`)."""
        width = self._padded(max(self._row_width(row, widths) for row in batch))
        half = self.params.pack_gap // 2
        lines = [(i, (b, x), (half if k else 0, half if k < len(row) - 1 else 0))
                 for b, row in enumerate(batch) for k, (i, x) in enumerate(row)]
        return line_tensor_batch([crops[i] for i, _, _ in lines], self.params.height, width,
                                 [widths[i] for i, _, _ in lines], [place for _, place, _ in lines],
                                 [margin for _, _, margin in lines])

    def _padded(self, width: int) -> int:
        """Input width for a batch whose widest line is ``width`` px: a multiple of 8, >= min_width."""
        return max(self.params.min_width, _ceil8(width))

    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """Line images (BGR uint8) -> [(text, confidence)] in the same order."""
        return [(r.text, r.confidence) for r in self.recognize_detailed(crops)]

    def recognize_constrained(self, crops: list[np.ndarray], decoder: LineDecoder,
                              readings: list[LineReading | None] | None = None, *, pack: bool = False) -> list[Decoded]:
        """Like :meth:`recognize`, decoded under a constraint (ocrcore.vocab): this also fetches the
        network's full (B, T, C) probabilities, which the default path never copies out of ORT.
        ``readings``, if given (a list as long as ``crops``), receives each line's unconstrained
        :class:`LineReading` (what :meth:`recognize_detailed` gives), for lines no constraint shaped.
        ``pack``: as in :meth:`recognize_detailed`."""
        if not crops:
            return []
        widths = self.line_widths(crops)
        results: list[Decoded] = [Decoded("", 0.0)] * len(crops)
        probs_name = self.session.get_outputs()[0].name

        def run(batch: list[Row]) -> list[tuple[int, Decoded]]:
            probs, best, best_p = self.session.run([probs_name, *GREEDY_OUTPUTS],
                                                   {self._input: self._batch_input(crops, widths, batch)})
            spans = self._spans(batch, widths, best.shape[1])
            if readings is not None:
                for i, reading in self._readings(crops, spans, widths, best, best_p):
                    readings[i] = reading
            return [(span[0], decoder.decode(probs[span[1], span[2]:span[3]], self._greedy(best, best_p, span)[:2]))
                    for span in spans]

        self._run_batches(widths, run, results, pack)
        return results

    def recognize_detailed(self, crops: list[np.ndarray], *, pack: bool = False) -> list[LineReading]:
        """Line images (BGR uint8) -> :class:`LineReading` in the same order: the text and
        confidence of :meth:`recognize` plus each character's CTC time steps. ``pack``: the lines
        come from one clean page (``preprocess.is_clean_page``), so short ones may share input
        rows (:attr:`RecParams.pack_width`)."""
        if not crops:
            return []
        widths = self.line_widths(crops)
        results: list[LineReading | None] = [None] * len(crops)

        def run(batch: list[Row]) -> list[tuple[int, LineReading]]:
            best, best_p = self.session.run(GREEDY_OUTPUTS, {self._input: self._batch_input(crops, widths, batch)})
            return self._readings(crops, self._spans(batch, widths, best.shape[1]), widths, best, best_p)

        self._run_batches(widths, run, results, pack)
        return [r for r in results if r is not None]

    def _run_batches(self, widths: list[int], run: Callable[[list[Row]], list[tuple[int, Any]]],
                     results: list[Any], pack: bool = False) -> None:
        """Run ``run`` on each batch (:meth:`_batches`) and put its ``(line index, output)`` pairs
        into ``results``. Batches are independent: idle cores take some (ocrcore.cores); widest
        first, so the longest single piece of work starts earliest and no core idles at the end."""
        batches = self._batches(widths, pack)
        batches.reverse()
        outputs = self.cores.map(run, batches) if self.cores is not None else [run(b) for b in batches]
        for out in outputs:
            for i, r in out:
                results[i] = r

    def _readings(self, crops: list[np.ndarray], spans: list[tuple[int, int, int, int, bool]], widths: list[int],
                  best: np.ndarray, best_p: np.ndarray) -> list[tuple[int, LineReading]]:
        """The :class:`LineReading` of each line of one batch (``spans``: :meth:`_spans`;
        ``widths``: every line's resized width), from the batch's (B, T) best-path class ids and
        probabilities; ``runs`` count from the line's own first step, ``step_px`` is one time
        step in crop pixels."""
        out = []
        for span in spans:
            i, lo = span[0], span[2]
            labels, label_probs, runs = self._greedy(best, best_p, span)
            rw = min(best.shape[1] * 8 - lo * 8, widths[i])
            out.append((i, LineReading("".join(self.charset[labels]).strip(),
                                       float(label_probs.mean()) if len(labels) else 0.0,
                                       labels, label_probs, runs, 8.0 * crops[i].shape[1] / rw)))
        return out


def _ceil8(width: int) -> int:
    return int(math.ceil(width / 8.0)) * 8
