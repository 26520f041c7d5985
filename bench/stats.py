"""Interleaved timing and the summaries the reports are built from (all times in seconds)."""

from __future__ import annotations

import gc
import time
from statistics import fmean, median
from typing import TYPE_CHECKING

import numpy as np

from .report import log

if TYPE_CHECKING:
    from .engines import Engine
    from .images import BenchImage


def p95(xs: list[float]) -> float:
    return float(np.percentile(np.asarray(xs, dtype=np.float64), 95)) if xs else float("nan")


def med(xs: list[float]) -> float:
    return float(median(xs)) if xs else float("nan")


def summarise_set(per_image: dict[str, list[float]]) -> dict:
    """Over a set: sum of per-image medians (one pass through the set), median of the per-image
    medians, p95 of all samples pooled."""
    medians = [med(w) for w in per_image.values()]
    pooled = [x for w in per_image.values() for x in w]
    return {"images": len(per_image), "total": float(sum(medians)), "median": med(medians), "p95": p95(pooled), "n": len(pooled)}


def interleaved(engines: list[Engine], images: list[BenchImage], repeats: int) -> dict:
    """``repeats`` rounds; per round and image every engine runs once, the engine order rotating
    so machine noise lands on all alike. Warm the engines first: a new image size's first call is
    one of the samples (the median drops it, for every engine alike).

    Returns {engine: {image: {"walls": [s], "stages": {stage: [s]}, "first": the first Run}}}."""
    from .engines import STAGES

    out: dict = {e.name: {im.name: {"walls": [], "stages": {s: [] for s in STAGES}, "first": None} for im in images}
                 for e in engines}
    gc.collect()
    t_start = time.perf_counter()
    for r in range(repeats):
        for i, im in enumerate(images):
            k = (r * len(images) + i) % len(engines)
            for e in engines[k:] + engines[:k]:
                run, rec = e.run(im.bgr), out[e.name][im.name]
                rec["walls"].append(run.wall)
                for s in STAGES:
                    rec["stages"][s].append(run.stages.get(s, 0.0))
                rec["first"] = rec["first"] or run
        log(f"  latency: round {r + 1}/{repeats} done ({time.perf_counter() - t_start:.0f} s)")
    return out


def summarise(samples: dict, images: list[BenchImage]) -> dict:
    """Per engine: per image median/p95/mean/min, mean stage seconds, lines read and page F1 of the
    first run (``ocrcore.evaluate.score_page``); over the set: :func:`summarise_set` and the mean
    seconds per image of each stage."""
    from ocrcore.evaluate import score_page
    from ocrcore.types import Line

    labels = {im.name: im for im in images}
    res: dict = {}
    for name, per_image in samples.items():
        rows = {}
        for im_name, rec in per_image.items():
            w, first, im = rec["walls"], rec["first"], labels[im_name]
            row = {"n": len(w), "median": med(w), "p95": p95(w), "mean": fmean(w), "min": min(w),
                   "stages": {s: fmean(v) for s, v in rec["stages"].items()}, "lines": len(first.texts)}
            if im.labels is not None and first.boxes is not None:
                lines = [Line(t, 1.0, b) for t, b in zip(first.texts, first.boxes, strict=False)]
                row["f1"] = score_page(lines, im.labels, im.fold_case).f1
            rows[im_name] = row
        agg = summarise_set({k: v["walls"] for k, v in per_image.items()})
        agg["stages"] = {s: fmean(r["stages"][s] for r in rows.values()) for s in next(iter(rows.values()))["stages"]}
        res[name] = {"images": rows, "set": agg}
    return res
