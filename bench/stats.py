"""Small statistics helpers and the summaries/ratios the report is built from (pure functions,
so the smoke test can check them on made-up samples)."""

from __future__ import annotations

import math
from statistics import median

import numpy as np


def p95(xs: list[float]) -> float:
    return float(np.percentile(np.asarray(xs, dtype=np.float64), 95)) if xs else float("nan")


def med(xs: list[float]) -> float:
    return float(median(xs)) if xs else float("nan")


def geomean(xs: list[float]) -> float:
    xs = [x for x in xs if x > 0 and math.isfinite(x)]
    return float(math.exp(sum(math.log(x) for x in xs) / len(xs))) if xs else float("nan")


def summarise_image(walls: list[float]) -> dict:
    return {"n": len(walls), "median": med(walls), "p95": p95(walls), "mean": float(np.mean(walls)), "min": min(walls)}


def summarise_set(per_image: dict[str, list[float]]) -> dict:
    """Over a set: sum of per-image medians (the time to get through the set once), median of
    per-image medians, and p95 of all per-image samples pooled."""
    medians = {name: med(w) for name, w in per_image.items()}
    pooled = [x for w in per_image.values() for x in w]
    return {
        "images": len(per_image),
        "total": float(sum(medians.values())),
        "median": med(list(medians.values())),
        "p95": p95(pooled),
        "n": len(pooled),
    }


def ratios(base: dict[str, list[float]], ours: dict[str, list[float]]) -> dict:
    """Speed ratio base/ours (>1: ours faster) per image (medians), for the set total, and the
    geometric mean of the per-image ratios."""
    common = [k for k in ours if k in base]
    per_image = {k: med(base[k]) / med(ours[k]) for k in common}
    total_base = sum(med(base[k]) for k in common)
    total_ours = sum(med(ours[k]) for k in common)
    return {
        "per_image": per_image,
        "total": total_base / total_ours if total_ours > 0 else float("nan"),
        "geomean": geomean(list(per_image.values())),
    }
