"""The engines under test behind one small interface: load once, then ``run(bgr) -> Run``.

Specs (``--engines``):
- ``ours-small``       OCREngine(profile="small", precision="auto")  (what we ship: INT8 det+rec)
- ``ours-tiny``        OCREngine(profile="tiny", precision="auto")
- ``ours-small-fp32``  OCREngine(profile="small", precision="fp32")  (un-quantised reference)
- ``rapidocr-small``   RapidOCR 3.10.0 defaults: PP-OCRv6 small FP32 from its own wheel, its
                       0/180 classifier on (its default; ours ships with it off)
- ``rapidocr-tiny``    RapidOCR 3.10.0 pointed at *our* ``models/build/tiny/{det,rec}.fp32.onnx``
                       (its wheel has no tiny models and would download them; ours are the same
                       PP-OCRv6 tiny weights, re-exported to opset 13) with the tiny dictionary
                       minus the blank/space entries RapidOCR adds itself.

Both engines get the same decoded BGR array (decoding is outside the timed call for both), and
each is pinned to the same ONNX Runtime intra-op thread count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODEL_DIR = REPO / "models" / "build"
CACHE_DIR = REPO / ".cache" / "bench"

OURS = ("ours-small", "ours-tiny", "ours-small-fp32")
RAPID = ("rapidocr-small", "rapidocr-tiny")
ALL_ENGINES = OURS + RAPID
# Which of our engines each RapidOCR configuration is compared with (same weights).
RAPID_PAIRS = {"rapidocr-small": "ours-small", "rapidocr-tiny": "ours-tiny"}

STAGES = ("preprocess", "detect", "cls", "recognize", "other")


@dataclass
class Run:
    wall: float  # seconds, measured around the call by the bench
    texts: list[str]
    stages: dict[str, float]  # seconds per stage (see STAGES); "other" = wall - engine-reported


@dataclass
class Engine:
    name: str
    threads: int
    call: Callable[[object], Run]
    load_seconds: float
    info: dict

    def run(self, image) -> Run:
        return self.call(image)


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def _ours(profile: str, precision: str, threads: int):
    from ocrcore import OCREngine

    engine = OCREngine(profile=profile, precision=precision, threads=threads)

    def call(image) -> Run:
        t0 = time.perf_counter()
        res = engine.ocr(image)
        wall = time.perf_counter() - t0
        tm = res.timings
        stages = {
            "preprocess": tm.get("decode", 0.0) + tm.get("preprocess", 0.0),
            "detect": tm.get("detect", 0.0),  # network + DB post-processing + crops
            "cls": tm.get("cls", 0.0),
            "recognize": tm.get("recognize", 0.0),
        }
        stages["other"] = max(0.0, wall - sum(stages.values()))
        return Run(wall, [line.text for line in res.lines], stages)

    info = {"profile": profile, "precision": precision, "precisions": dict(engine.precisions),
            "use_cls": bool(getattr(engine.config, "use_cls", True))}
    return call, info


def rapidocr_tiny_keys() -> Path:
    """RapidOCR's CTC decoder inserts the blank (index 0) and a trailing space itself; our
    dict.txt already has both, so hand it the list in between."""
    src = MODEL_DIR / "tiny" / "dict.txt"
    lines = src.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    if not (lines[0] == "<blank>" and lines[-1] == " "):
        raise RuntimeError(f"unexpected layout of {src}: first {lines[0]!r}, last {lines[-1]!r}")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    dest = CACHE_DIR / "rapidocr_tiny_keys.txt"
    body = "\n".join(lines[1:-1]) + "\n"
    if not dest.exists() or dest.read_text(encoding="utf-8") != body:
        dest.write_text(body, encoding="utf-8")
    return dest


def rapidocr_params(profile: str, threads: int) -> dict:
    params: dict = {
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "Global.log_level": "error",
    }
    if profile == "tiny":
        params.update(
            {
                "Det.model_path": str(MODEL_DIR / "tiny" / "det.fp32.onnx"),
                "Rec.model_path": str(MODEL_DIR / "tiny" / "rec.fp32.onnx"),
                "Rec.rec_keys_path": str(rapidocr_tiny_keys()),
            }
        )
    return params


def _rapid(profile: str, threads: int):
    from rapidocr import RapidOCR

    params = rapidocr_params(profile, threads)
    engine = RapidOCR(params=params)

    def call(image) -> Run:
        t0 = time.perf_counter()
        out = engine(image)
        wall = time.perf_counter() - t0
        el = getattr(out, "elapse_list", None) or [0.0, 0.0, 0.0]
        el = [float(x or 0.0) for x in el]
        stages = {"preprocess": 0.0, "detect": el[0], "cls": el[1], "recognize": el[2]}
        stages["other"] = max(0.0, wall - sum(stages.values()))
        texts = list(getattr(out, "txts", None) or ())
        return Run(wall, texts, stages)

    info = {"rapidocr": _dist_version("rapidocr"), "params": {k: str(v) for k, v in params.items()},
            "use_cls": bool(engine.cfg.Global.use_cls)}
    return call, info


def load(spec: str, threads: int) -> Engine:
    t0 = time.perf_counter()
    if spec == "ours-small":
        call, info = _ours("small", "auto", threads)
    elif spec == "ours-tiny":
        call, info = _ours("tiny", "auto", threads)
    elif spec == "ours-small-fp32":
        call, info = _ours("small", "fp32", threads)
    elif spec == "rapidocr-small":
        call, info = _rapid("small", threads)
    elif spec == "rapidocr-tiny":
        call, info = _rapid("tiny", threads)
    else:
        raise ValueError(f"unknown engine {spec!r}; choose from {', '.join(ALL_ENGINES)}")
    return Engine(spec, threads, call, time.perf_counter() - t0, info)

