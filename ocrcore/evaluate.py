"""Accuracy metrics and the labelled-set runner behind ``ocr eval``.

Conventions (shared/eval/README.md): NFKC-normalise, drop whitespace, optionally fold case.
Line sets: char accuracy = mean(1 - edit distance / max(len)), exact-match rate.
Full-image sets: character-multiset F1 per page, and per-line accuracy of the predicted lines
whose centre falls inside each labelled box (do-not-care regions are skipped both ways).
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rapidfuzz.distance import Levenshtein

from .types import Line


def normalize_text(text: str, fold_case: bool = False) -> str:
    text = "".join(unicodedata.normalize("NFKC", text).split())
    return text.casefold() if fold_case else text


def char_accuracy(pred: str, truth: str) -> float:
    """1 - normalised edit distance (both strings already normalised)."""
    if not pred and not truth:
        return 1.0
    return 1.0 - Levenshtein.distance(pred, truth) / max(len(pred), len(truth))


def multiset_f1(pred: str, truth: str) -> float:
    p, t = Counter(pred), Counter(truth)
    common = sum((p & t).values())
    if not p and not t:
        return 1.0
    if common == 0:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(t.values())
    return 2 * precision * recall / (precision + recall)


def box_to_rect(box) -> tuple[float, float, float, float] | None:
    """Label box ([[x,y]x4], [x0,y0,x1,y1] or null) -> axis-aligned (x0, y0, x1, y1)."""
    if box is None:
        return None
    arr = np.asarray(box, dtype=np.float64)
    if arr.shape == (4,):
        return (arr[0], arr[1], arr[2], arr[3])
    return (arr[:, 0].min(), arr[:, 1].min(), arr[:, 0].max(), arr[:, 1].max())


def _centre(line: Line) -> tuple[float, float]:
    pts = np.asarray(line.box, dtype=np.float64)
    return float(pts[:, 0].mean()), float(pts[:, 1].mean())


def _inside(pt: tuple[float, float], rect: tuple[float, float, float, float]) -> bool:
    return rect[0] <= pt[0] <= rect[2] and rect[1] <= pt[1] <= rect[3]


def _is_ignored(label: dict) -> bool:
    return bool(label.get("ignore")) or label.get("text") == "###"


@dataclass
class PageScore:
    f1: float
    line_accs: list[float] = field(default_factory=list)


def score_page(pred_lines: Iterable[Line], labels: list[dict], fold_case: bool = False) -> PageScore:
    """Score one full image against its labelled lines."""
    pred_lines = list(pred_lines)
    ignore_rects = [r for r in (box_to_rect(lb.get("box")) for lb in labels if _is_ignored(lb)) if r]
    kept = [ln for ln in pred_lines if not any(_inside(_centre(ln), r) for r in ignore_rects)]
    truth_lines = [lb for lb in labels if not _is_ignored(lb)]
    pred_all = normalize_text("".join(ln.text for ln in kept), fold_case)
    truth_all = normalize_text("".join(lb["text"] for lb in truth_lines), fold_case)
    score = PageScore(multiset_f1(pred_all, truth_all))
    for lb in truth_lines:
        rect = box_to_rect(lb.get("box"))
        if rect is None:
            continue
        inside = [ln for ln in kept if _inside(_centre(ln), rect)]
        pred = normalize_text("".join(ln.text for ln in inside), fold_case)
        score.line_accs.append(char_accuracy(pred, normalize_text(lb["text"], fold_case)))
    return score


def labels_are_upper_case(set_dir: Path) -> bool:
    """Whether a set's SOURCE.json says its labels are upper-case (SROIE): score it case-folded."""
    source = set_dir / "SOURCE.json"
    return source.exists() and "UPPER" in source.read_text(encoding="utf-8")


def load_set(set_dir: Path) -> tuple[str, list[dict]]:
    """(kind, rows) of a labelled set: kind is 'line' or 'full_image'."""
    rows = [json.loads(x) for x in (set_dir / "labels.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    kind = "full_image" if rows and "lines" in rows[0] else "line"
    return kind, rows


def evaluate_set(engine, set_dir: Path, *, fold_case: bool = False, limit: int | None = None,
                 cls: bool | None = None, enhance_mode: str | None = None, progress: bool = False) -> dict:
    """Run the engine over a labelled set and return its metrics (and per-item seconds)."""
    from tqdm import tqdm

    from .decode import decode_image

    kind, rows = load_set(set_dir)
    rows = rows[:limit] if limit else rows
    times: list[float] = []
    it = tqdm(rows, desc=set_dir.name, disable=not progress, file=sys.stderr)
    if kind == "line":
        accs, exact = [], 0
        for row in it:
            img = decode_image((set_dir / row["image"]).read_bytes())
            t0 = time.perf_counter()
            [(text, _)] = engine.recognize_lines([img], cls=cls)
            times.append(time.perf_counter() - t0)
            p, t = normalize_text(text, fold_case), normalize_text(row["text"], fold_case)
            accs.append(char_accuracy(p, t))
            exact += p == t
        return {"set": set_dir.name, "kind": kind, "count": len(rows),
                "char_accuracy": round(statistics.fmean(accs), 4), "exact_match": round(exact / len(rows), 4),
                "median_seconds": round(statistics.median(times), 4)}
    f1s, line_accs = [], []
    for row in it:
        data = (set_dir / row["image"]).read_bytes()
        t0 = time.perf_counter()
        result = engine.ocr(data, cls=cls, enhance_mode=enhance_mode)
        times.append(time.perf_counter() - t0)
        s = score_page(result.lines, row["lines"], fold_case)
        f1s.append(s.f1)
        line_accs.extend(s.line_accs)
    return {"set": set_dir.name, "kind": kind, "count": len(rows), "page_f1": round(statistics.fmean(f1s), 4),
            "line_accuracy": round(statistics.fmean(line_accs), 4) if line_accs else None,
            "median_seconds": round(statistics.median(times), 4)}


def order_score(pred: list[str], truth: list[str], min_acc: float = 0.7) -> tuple[float, int]:
    """How well predicted lines follow the true reading order: each true line, in order, is
    matched to the predicted line most like it not matched yet (char accuracy >= ``min_acc``,
    normalised text; of equals, the earliest); returns (share of consecutive true pairs whose
    matches come in the same order, number of true lines matched). Pairs with an unmatched
    line count as wrong."""
    p = [normalize_text(t) for t in pred]
    used: set[int] = set()
    where: list[int | None] = []
    for t in truth:
        nt = normalize_text(t)
        scores = [-1.0 if i in used else char_accuracy(x, nt) for i, x in enumerate(p)]
        best = int(np.argmax(scores)) if scores else -1
        found = best if scores and scores[best] >= min_acc else None
        if found is not None:
            used.add(found)
        where.append(found)
    pairs = list(itertools.pairwise(where))
    good = sum(1 for a, b in pairs if a is not None and b is not None and a < b)
    return (good / len(pairs) if pairs else float(where[0] is not None) if where else 1.0,
            sum(w is not None for w in where))


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two axis-aligned boxes (x0, y0, x1, y1)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def lines_in_order(pred: Iterable[str], truth: Iterable[str], fold_case: bool = False) -> bool:
    """Every truth line occurs in the predicted text, in this order (NFKC, whitespace ignored):
    the ``in_order`` check of ../shared/cases. Lines may be split or joined differently."""
    text = normalize_text("".join(pred), fold_case)
    pos = 0
    for line in truth:
        found = text.find(normalize_text(line, fold_case), pos)
        if found < 0:
            return False
        pos = found + len(normalize_text(line, fold_case))
    return True


def reads_as(predicted: list[str], truth: list[str], *, whole_lines: bool = False) -> bool:
    """Whether predicted lines (reading order) give exactly the truth lines' text, compared
    after NFKC with whitespace removed (nothing missing, nothing extra, same order). With
    ``whole_lines`` each truth line must also come back as one line (no line cut in two)."""
    if whole_lines and len(predicted) != len(truth):
        return False
    return normalize_text("".join(predicted)) == normalize_text("".join(truth))
