"""The engines under test behind one small interface: load once, then ``run(bgr) -> Run``
(docs/benchmarks.md describes each).

Specs (``--engines``): ``ours-<profile>[-<precision>]`` (OCREngine; precision ``auto``, ``int8`` or
``fp32``), ``rapidocr-small`` (RapidOCR 3.10 defaults), ``rapidocr-tiny`` (RapidOCR on our tiny
FP32 files), ``tesseract`` (the Tesseract 5 CLI, ``chi_sim+eng``, one process per image, arrays as
BMP on stdin: ~20 ms faster for it than PPM on the 1024x768 page).

Every engine gets the same decoded BGR array and the same thread count; besides ``run`` it reads
one line crop (``read_line``, recognition only) and returns line boxes with its texts, so
``ocrcore.evaluate`` scores all engines with the same code.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODEL_DIR = REPO / "models" / "build"
CACHE_DIR = REPO / ".cache" / "bench"

RAPID = ("rapidocr-small", "rapidocr-tiny")
TESSERACT = "tesseract"
TESSERACT_LANGS = "chi_sim+eng"
TESSERACT_DEBS = "tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng"

STAGES = ("detect", "cls", "recognize", "other")  # "other": wall - the engine-reported stages

Box = tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]


@dataclass
class Run:
    wall: float  # seconds, measured around the call by the bench
    texts: list[str]
    stages: dict[str, float]  # seconds per stage (see STAGES); "other" = wall - engine-reported
    boxes: list[Box] | None = None  # one per text, clockwise from top-left, image pixels


@dataclass
class Engine:
    name: str
    threads: int
    call: Callable[[object], Run]
    load_seconds: float
    info: dict
    read_line: Callable[[object], str] | None = None  # one line crop -> text (no detection)
    # Peak RSS in bytes of whatever does the work, when that is not this process (tesseract).
    peak_rss: Callable[[], int] | None = field(default=None, repr=False)

    def run(self, image) -> Run:
        return self.call(image)


@dataclass(frozen=True)
class Spec:
    kind: str  # "ours" | "rapidocr" | "tesseract"
    profile: str | None = None
    precision: str = "auto"


def parse_spec(spec: str) -> Spec:
    """``ours-<profile>[-<precision>]``, ``rapidocr-<small|tiny>`` or ``tesseract`` -> Spec.

    Only the shape is checked here (no imports, so the cold-start child stays small);
    :func:`check_spec` also checks profile and precision against ocrcore."""
    if spec == TESSERACT:
        return Spec("tesseract")
    if spec in RAPID:
        return Spec("rapidocr", spec.split("-", 1)[1], "fp32")
    m = re.fullmatch(r"ours-([a-z0-9_]+)(?:-(.+))?", spec)
    if not m:
        raise ValueError(f"unknown engine {spec!r}: use ours-<profile>[-<precision>], {', '.join(RAPID)} or {TESSERACT}")
    return Spec("ours", m.group(1), m.group(2) or "auto")


def check_spec(spec: str) -> Spec:
    """parse_spec, plus: our profile and precision exist (raises ValueError otherwise)."""
    parsed = parse_spec(spec)
    if parsed.kind == "ours":
        from ocrcore.models import PROFILES, parse_precision

        if parsed.profile not in PROFILES:
            raise ValueError(f"unknown profile in {spec!r}; choose one of {', '.join(PROFILES)}")
        parse_precision(parsed.precision)
    return parsed


def _ours(profile: str, precision: str, threads: int):
    from ocrcore import OCREngine

    engine = OCREngine(profile=profile, precision=precision, threads=threads)

    def call(image) -> Run:
        t0 = time.perf_counter()
        res = engine.ocr(image)
        wall = time.perf_counter() - t0
        # detect: network + DB post-processing + crops; decoding and preprocessing fall in "other"
        stages = {s: res.timings.get(s, 0.0) for s in ("detect", "cls", "recognize")}
        stages["other"] = max(0.0, wall - sum(stages.values()))
        return Run(wall, [line.text for line in res.lines], stages, [line.box for line in res.lines])

    def read_line(crop) -> str:
        return engine.recognize_lines([crop])[0][0]

    choice = engine.precision_choice  # "measured" here, read from the host cache, or requested
    info = {"profile": profile, "precision": precision, "precisions": dict(engine.precisions),
            "precision_source": choice.source if choice.timings_ms or choice.source == "requested" else "nothing to measure",
            "use_cls": bool(getattr(engine.config, "use_cls", True))}
    return call, info, read_line


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


def _int_box(points) -> Box:
    return tuple((round(float(x)), round(float(y))) for x, y in points)  # type: ignore[return-value]


def _rapid(profile: str, threads: int):
    from rapidocr import RapidOCR

    params = rapidocr_params(profile, threads)
    engine = RapidOCR(params=params)
    # RapidOCR keeps per-call use_* arguments as its new defaults: pass all three every call.
    use_cls = bool(engine.cfg.Global.use_cls)

    def call(image) -> Run:
        t0 = time.perf_counter()
        out = engine(image, use_det=True, use_cls=use_cls, use_rec=True)
        wall = time.perf_counter() - t0
        el = getattr(out, "elapse_list", None) or [0.0, 0.0, 0.0]
        el = [float(x or 0.0) for x in el]
        stages = {"detect": el[0], "cls": el[1], "recognize": el[2]}
        stages["other"] = max(0.0, wall - sum(stages.values()))
        texts = list(getattr(out, "txts", None) or ())
        boxes = getattr(out, "boxes", None)
        return Run(wall, texts, stages, [_int_box(b) for b in boxes] if boxes is not None else [])

    def read_line(crop) -> str:
        # Recognition only, classifier off: how the eval README's reference figures were made.
        out = engine(crop, use_det=False, use_cls=False, use_rec=True)
        return "".join(getattr(out, "txts", None) or ())

    from .report import dist_version

    info = {"rapidocr": dist_version("rapidocr"), "params": {k: str(v) for k, v in params.items()},
            "use_cls": use_cls}
    return call, info, read_line


# ---------------------------------------------------------------------------- tesseract


def tesseract_version() -> str:
    exe = shutil.which("tesseract")
    if not exe:
        return "not installed"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    return ((out.stdout or out.stderr).splitlines() or ["?"])[0].strip()


def _image_bytes(image) -> bytes:
    """Encoded files pass through; arrays become BMP (no compression for either side)."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        return bytes(image)
    import cv2

    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    ok, buf = cv2.imencode(".bmp", image)
    if not ok:
        raise RuntimeError("could not encode the image for tesseract")
    return buf.tobytes()


def parse_tsv(tsv: str) -> list[tuple[str, Box]]:
    """Tesseract TSV -> (text, box) per text line: words (level 5) grouped by their
    page/block/paragraph/line numbers, box from the line row (level 4)."""
    lines: dict[tuple[str, ...], tuple[Box, list[str]]] = {}
    for row in tsv.splitlines()[1:]:
        f = row.split("\t")
        if len(f) < 12 or f[0] not in ("4", "5"):
            continue
        key = tuple(f[1:5])
        left, top, width, height = (int(v) for v in f[6:10])
        box: Box = ((left, top), (left + width, top), (left + width, top + height), (left, top + height))
        if f[0] == "4":
            lines[key] = (box, [])
        elif f[11].strip():
            lines.setdefault(key, (box, []))[1].append(f[11].strip())
    return [(" ".join(words), box) for box, words in lines.values() if words]


def _tesseract(threads: int):
    exe = shutil.which("tesseract")
    if not exe:
        raise RuntimeError(f"the tesseract CLI is not installed (apt-get install {TESSERACT_DEBS})")
    env = dict(os.environ, OMP_THREAD_LIMIT=str(threads))

    def cli(image, *args: str) -> tuple[str, float]:
        """One tesseract process; seconds include handing the image over and its start-up."""
        t0 = time.perf_counter()
        data = _image_bytes(image)
        proc = subprocess.run([exe, "stdin", "stdout", "-l", TESSERACT_LANGS, *args], input=data,
                              capture_output=True, env=env, check=False)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"tesseract failed (rc={proc.returncode}): {proc.stderr.decode(errors='replace')[-500:]}")
        return proc.stdout.decode("utf-8", errors="replace"), wall

    def call(image) -> Run:
        out, wall = cli(image, "tsv")
        lines = parse_tsv(out)
        stages = {s: 0.0 for s in STAGES}
        stages["other"] = wall  # the CLI reports no stages
        return Run(wall, [t for t, _ in lines], stages, [b for _, b in lines])

    def read_line(crop) -> str:
        out, _ = cli(crop, "--psm", "7")  # a single text line
        return " ".join(out.split())

    def peak_rss() -> int:
        # Max over the tesseract processes this process has waited for. Linux carries the
        # spawner's own high-water mark into a child's ru_maxrss (bench/coldstart.py), so this
        # is only tesseract's figure when the spawner is small: the cold-start child.
        return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024

    info = {"tesseract": tesseract_version(), "langs": TESSERACT_LANGS, "omp_thread_limit": threads,
            "full_image": "tesseract stdin stdout -l chi_sim+eng tsv", "line": "--psm 7"}
    return call, info, read_line, peak_rss


def load(spec: str, threads: int) -> Engine:
    t0 = time.perf_counter()
    parsed = parse_spec(spec)
    peak_rss = None
    if parsed.kind == "ours":
        call, info, read_line = _ours(parsed.profile or "", parsed.precision, threads)
    elif parsed.kind == "rapidocr":
        call, info, read_line = _rapid(parsed.profile or "", threads)
    else:
        call, info, read_line, peak_rss = _tesseract(threads)
    return Engine(spec, threads, call, time.perf_counter() - t0, info, read_line, peak_rss)
