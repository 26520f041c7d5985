"""Model profiles and where their built files live.

``make setup`` (models/build.py) writes, per profile, ``det``/``rec``/``cls`` in FP32
(``*.fp32.onnx``) and, where quantised, INT8 (``*.int8.onnx``), where the profile lists one
``doc_det.fp32.onnx`` (the detector of clean pages), plus ``dict.txt`` and ``build.json``, whose
``auto`` map lists the precisions of each model that passed the accuracy rule;
:mod:`ocrcore.precision` picks among them per host. Nothing is fetched here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .host import CPUInfo
from .precision import Choice, Timer, select

Profile = Literal["small", "tiny"]
Precision = Literal["auto", "int8", "fp32"]
PROFILES: tuple[str, ...] = ("small", "tiny")
PRECISIONS: tuple[str, ...] = ("auto", "int8", "fp32")

REPO_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "build"


def model_dir() -> Path:
    """``OCR_MODEL_DIR`` if set (container images, edge installs), else the repo's build dir."""
    return Path(os.environ.get("OCR_MODEL_DIR") or REPO_MODEL_DIR)


class ModelsMissingError(RuntimeError):
    """The models were not built: run ``make setup`` (or ``python models/build.py``)."""


@dataclass(frozen=True)
class ProfileFiles:
    det: Path
    rec: Path
    cls: Path
    charset: Path
    precisions: dict[str, str]
    choice: Choice
    # The detector of clean pages at their own resolution, where the profile ships one (FP32
    # only: ``doc_det.fp32.onnx``; ocrcore.engine, docs/accuracy.md); None otherwise.
    doc_det: Path | None = None


def parse_precision(precision: str) -> dict[str, str]:
    """``auto`` | ``int8`` | ``fp32`` for all models, or per model: ``det=int8,rec=fp32``."""
    if precision in PRECISIONS:
        return {name: precision for name in ("det", "rec", "cls")}
    chosen = {name: "auto" for name in ("det", "rec", "cls")}
    for part in precision.split(","):
        name, _, value = part.partition("=")
        if name.strip() not in chosen or value.strip() not in PRECISIONS:
            raise ValueError(f"bad precision {precision!r}: use auto, int8, fp32 or e.g. det=int8,rec=fp32")
        chosen[name.strip()] = value.strip()
    return chosen


def load_build(profile: str, root: Path | None = None) -> tuple[Path, dict]:
    """(profile directory, its build.json) or :class:`ModelsMissingError`."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    base = (root or model_dir()) / profile
    info_path = base / "build.json"
    if not info_path.exists():
        raise ModelsMissingError(f"no built models in {base}: run `make setup` (python models/build.py)")
    return base, json.loads(info_path.read_text())


def profile_files(profile: str, precision: str = "auto", root: Path | None = None, *, threads: int = 1,
                  cpu: CPUInfo | None = None, timer: Timer | None = None) -> ProfileFiles:
    """Resolve the files of a profile. Explicit precisions are honoured where built; ``auto``
    takes, per model, the fastest variant on this CPU among those that passed the accuracy rule
    (:func:`ocrcore.precision.select`, measured once per host at ``threads`` and cached)."""
    wanted = parse_precision(precision)
    base, info = load_build(profile, root)
    choice = (select(base, info, wanted, threads, cpu=cpu) if timer is None
              else select(base, info, wanted, threads, cpu=cpu, timer=timer))
    paths = {name: base / f"{name}.{choice.precisions[name]}.onnx" for name in ("det", "rec", "cls")}
    doc_det = base / "doc_det.fp32.onnx" if "doc_det" in info.get("sources", {}) else None
    return ProfileFiles(paths["det"], paths["rec"], paths["cls"], base / "dict.txt", dict(choice.precisions), choice,
                        doc_det)
