"""Benchmark images: a generated document page, the real eval pages when present, and a
reference text for each so a fast-but-blind engine cannot go unnoticed (char-multiset F1)."""

from __future__ import annotations

import json
import os
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

EVAL_DIR = Path(os.environ.get("OCR_EVAL_DIR", "/work/shared/eval"))
# The set: every zh_real_dev and tesseract_en_pages image, then the first N ic15 scene images.
SET_SOURCES = (("zh_real_dev", None), ("tesseract_en_pages", None), ("ic15_test_en_scene", 20))
EUROTEXT = ("tesseract_en_pages", "images/eurotext.png")


@dataclass
class BenchImage:
    name: str  # "synth:0" or "<set>/<file>"
    bgr: np.ndarray
    truth: str | None = None  # reference text (whitespace removed), None when unknown
    path: str | None = None  # file on disk (for the cold-start subprocesses)
    meta: dict = field(default_factory=dict)

    @property
    def size(self) -> str:
        h, w = self.bgr.shape[:2]
        return f"{w}x{h}"


def normalise(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def char_f1(pred: str, truth: str) -> float:
    """Character-multiset F1 of a page (NFKC, whitespace removed), as in the eval README."""
    p, t = Counter(normalise(pred)), Counter(normalise(truth))
    if not p and not t:
        return 1.0
    common = sum((p & t).values())
    if common == 0:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(t.values())
    return 2 * precision * recall / (precision + recall)


def synth_page(seed: int = 0, size: tuple[int, int] = (1024, 768)) -> BenchImage:
    from ocrcore.synth import render_page

    img, lines = render_page(seed, size)
    return BenchImage(f"synth:{seed}", img, normalise("".join(line.text for line in lines)), None, {"kind": "generated"})


def _truth_of(record: dict) -> str:
    lines = record.get("lines") or []
    return normalise("".join(l["text"] for l in lines if not l.get("ignore") and l.get("text") != "###"))


def _load(set_name: str, record: dict) -> BenchImage:
    from ocrcore.decode import decode_image

    path = EVAL_DIR / set_name / record["image"]
    bgr = decode_image(path.read_bytes())
    return BenchImage(f"{set_name}/{Path(record['image']).name}", bgr, _truth_of(record), str(path), {"set": set_name})


def _records(set_name: str) -> list[dict]:
    labels = EVAL_DIR / set_name / "labels.jsonl"
    if not labels.exists():
        return []
    return [json.loads(line) for line in labels.read_text(encoding="utf-8").splitlines() if line.strip()]


def doc_images(include_eurotext: bool = True) -> list[BenchImage]:
    """The ~1024x768 document images for the per-image latency figures."""
    out = [synth_page(0)]
    if include_eurotext:
        for rec in _records(EUROTEXT[0]):
            if rec["image"] == EUROTEXT[1]:
                out.append(_load(EUROTEXT[0], rec))
    return out


def set_images(limit_per_set: dict[str, int | None] | None = None) -> list[BenchImage]:
    """zh_real_dev + tesseract_en_pages + the first 20 ic15_test_en_scene images (when present)."""
    out: list[BenchImage] = []
    for set_name, limit in SET_SOURCES:
        if limit_per_set and set_name in limit_per_set:
            limit = limit_per_set[set_name]
        records = _records(set_name)
        for rec in records[:limit] if limit is not None else records:
            out.append(_load(set_name, rec))
    return out


def from_paths(paths: list[str]) -> list[BenchImage]:
    """``--images``: arbitrary files (no reference text)."""
    from ocrcore.decode import decode_image

    return [BenchImage(Path(p).name, decode_image(Path(p).read_bytes()), None, str(Path(p).resolve())) for p in paths]


def eval_set_names() -> list[str]:
    """Every labelled set in the eval directory (sorted), [] when the directory is absent."""
    if not EVAL_DIR.is_dir():
        return []
    return sorted(p.name for p in EVAL_DIR.iterdir() if (p / "labels.jsonl").exists())


def full_image_set(set_name: str, limit: int | None = None) -> list[BenchImage]:
    """The first ``limit`` images of a full-image set ([] for a line set or a missing set)."""
    records = [r for r in _records(set_name) if "lines" in r]
    return [_load(set_name, rec) for rec in (records[:limit] if limit else records)]
