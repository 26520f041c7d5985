"""Benchmark images: the generated document page, the full-image eval sets, your own files;
each decoded once to BGR, with its labels (same format as the eval sets' labels.jsonl) when known."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# $OCR_EVAL_DIR, else ../shared/eval beside the repository: one rule for the bench and the load
# test. The sets' labels are third-party: read in place, never copied.
from loadtest.samples import eval_dir


@dataclass
class BenchImage:
    name: str  # "synth:0", "<set>/<file>" or "files/<file>"
    bgr: np.ndarray
    path: str | None = None  # file on disk (the cold-start and throughput processes read files)
    labels: list[dict] | None = None  # [{"text", "box", "ignore"?}], None when unknown
    fold_case: bool = False  # the set's labels are upper-case (ocrcore.evaluate.labels_are_upper_case)
    meta: dict = field(default_factory=dict)

    @property
    def size(self) -> str:
        h, w = self.bgr.shape[:2]
        return f"{w}x{h}"


def synth_page(seed: int = 0, size: tuple[int, int] = (1024, 768)) -> BenchImage:
    """``ocrcore.synth.render_page(seed, size)``, labelled with its lines and boxes."""
    from ocrcore.synth import render_page

    img, lines = render_page(seed, size)
    return BenchImage(f"synth:{seed}", img, labels=[{"text": ln.text, "box": list(ln.box)} for ln in lines],
                      meta={"kind": "generated"})


def eval_set_names() -> list[str]:
    """Every labelled set in the eval directory (sorted); [] without one."""
    root = eval_dir()
    return sorted(p.name for p in root.iterdir() if (p / "labels.jsonl").exists()) if root else []


def full_image_set(set_name: str, limit: int | None = None) -> list[BenchImage]:
    """The first ``limit`` images of a full-image set ([] for a line set or a missing set)."""
    from ocrcore.decode import decode_image
    from ocrcore.evaluate import labels_are_upper_case, load_set

    root = eval_dir()
    if root is None or not (root / set_name / "labels.jsonl").exists():
        return []
    kind, rows = load_set(root / set_name)
    if kind != "full_image":
        return []
    folded = labels_are_upper_case(root / set_name)
    return [BenchImage(f"{set_name}/{Path(r['image']).name}", decode_image((root / set_name / r["image"]).read_bytes()),
                       str(root / set_name / r["image"]), r["lines"], folded, {"set": set_name})
            for r in (rows[:limit] if limit else rows)]


def from_paths(paths: list[str]) -> list[BenchImage]:
    """``--images``: any files, timed but not scored (no labels)."""
    from ocrcore.decode import decode_image

    return [BenchImage(f"files/{Path(p).name}", decode_image(Path(p).read_bytes()), str(Path(p).resolve())) for p in paths]
