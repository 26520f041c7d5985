"""The OCR engine: wires decode -> enhance -> detect -> crop (+0/180) -> recognise.

One instance per process. Calls never mutate the engine (options travel as arguments), so
threads can share it; ONNX Runtime sessions are thread-safe for ``run``.
"""

from __future__ import annotations

import time

import numpy as np

from .config import EngineConfig
from .cores import CorePool
from .crop import VERTICAL_RATIO, OrientationClassifier, crop_quad
from .decode import decode_image
from .detect import Detector
from .host import cpu_info, usable_cores
from .models import profile_files
from .orientation import PageOrientation, find_orientation, fix_unsure_lines
from .precision import Choice
from .preprocess import EnhanceMode, enhance
from .recognize import Recognizer, load_charset
from .runtime import configure_process, make_session
from .types import Line, OCRResult


class OCREngine:
    """Load the models of one profile once, then OCR any number of images from any thread."""

    def __init__(self, config: EngineConfig | None = None, **overrides) -> None:
        if config is None:
            config = EngineConfig(**overrides)
        elif overrides:
            raise TypeError("pass either a config or keyword overrides, not both")
        self.config = config
        configure_process()
        self.cores = CorePool(config.threads if config.threads > 0 else usable_cores())
        # Sessions run single-threaded (parallelism comes from self.cores); the precision choice is
        # measured at that thread count. The detector has a second, multi-threaded session used
        # when the other cores are idle.
        files = profile_files(config.profile, config.precision, config.model_dir, threads=1)
        self.precisions = files.precisions
        self.precision_choice: Choice = files.choice
        wide = make_session(files.det, self.cores.size, config.spin) if self.cores.size > 1 else None
        self.detector = Detector(make_session(files.det, 1, config.spin), config.det, wide_session=wide, cores=self.cores)
        self.recognizer = Recognizer(make_session(files.rec, 1, config.spin), load_charset(files.charset), config.rec,
                                     cores=self.cores)
        self.classifier = OrientationClassifier(make_session(files.cls, 1, config.spin))
        if config.enhance == "binarize":  # the only numba kernel on any path (ocrcore.kernels)
            from . import kernels

            kernels.warm_up()
        self._warm_up_sessions()

    def describe(self) -> dict:
        """What runs where: profile, per-model precision and why, the CPU and its ISA, cores."""
        cpu = cpu_info()
        return {"profile": self.config.profile, "precisions": dict(self.precisions),
                "precision_reasons": dict(self.precision_choice.reasons),
                "precision_timings_ms": self.precision_choice.timings_ms,
                "precision_source": self.precision_choice.source,
                "cpu": cpu.model, "isa": cpu.isa_label, "arch": cpu.arch, "cores": self.cores.size}

    def _warm_up_sessions(self) -> None:
        """One tiny inference per model so the first request doesn't pay for ORT's lazy setup."""
        blank = np.full((64, 256, 3), 255, np.uint8)
        self.detector.detect(blank)
        self.detector.detect(blank, wide=True)
        self.recognizer.recognize([blank[:48]])
        self.classifier.upside_down([blank[:48]])

    # ------------------------------------------------------------------ public API

    def ocr(
        self,
        image: bytes | np.ndarray,
        *,
        detect: bool = True,
        cls: bool | None = None,
        enhance_mode: EnhanceMode | None = None,
        orient: bool | None = None,
    ) -> OCRResult:
        """OCR one image (encoded bytes, or a BGR uint8 array).

        ``detect=False`` treats the whole image as one text line. ``cls`` overrides the
        configured 0/180 classifier. ``orient`` overrides the configured page orientation and
        deskew (ocrcore.orientation; on by default, needs ``detect``). Raises :class:`~ocrcore.errors.OCRError` for bad input.
        Blocks while every core of the engine is busy with other calls (ocrcore.cores).
        """
        with self.cores.hold():
            return self._ocr(image, detect, cls, enhance_mode, orient)

    def _ocr(self, image: bytes | np.ndarray, detect: bool, cls: bool | None,
             enhance_mode: EnhanceMode | None, orient: bool | None = None) -> OCRResult:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        img = decode_image(image, self.config.max_pixels) if isinstance(image, (bytes, bytearray, memoryview)) else image
        img = _as_bgr(img)
        t1 = time.perf_counter()
        timings["decode"] = t1 - t0
        h, w = img.shape[:2]
        use_cls = self.config.use_cls if cls is None else cls
        use_orient = detect and (self.config.orient if orient is None else orient)
        page = PageOrientation()
        if not detect:
            quads = [np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)]
            crops = [img if h < VERTICAL_RATIO * w else crop_quad(img, quads[0])]
            timings["detect"] = 0.0
        else:
            prepared = enhance(img, enhance_mode or self.config.enhance)
            t_pre = time.perf_counter()
            timings["preprocess"] = t_pre - t1
            quads = [q for q, _ in self.detector.detect(prepared)]
            t_orient = time.perf_counter()
            if use_orient and quads:
                page = find_orientation(img, quads, self.classifier, self.recognizer)
                quads = page.arrange(quads, w, h)
            timings["orient"] = time.perf_counter() - t_orient
            crops = [crop_quad(img, q) for q in quads]
            timings["detect"] = time.perf_counter() - t_pre
        t2 = time.perf_counter()
        if use_cls and crops:
            crops = self.classifier.fix(crops)
        t3 = time.perf_counter()
        timings["cls"] = t3 - t2
        texts = self.recognizer.recognize(crops)
        t4 = time.perf_counter()
        timings["recognize"] = t4 - t3
        if use_orient and not use_cls and crops:  # lines against the page's grain (orientation.py)
            crops, texts = fix_unsure_lines(crops, texts, self.classifier, self.recognizer)
            timings["orient"] += time.perf_counter() - t4
        min_conf = 0.0 if not detect else self.config.min_confidence
        lines = tuple(
            Line(text, conf, tuple((int(round(x)), int(round(y))) for x, y in q))  # type: ignore[arg-type]
            for q, (text, conf) in zip(quads, texts)
            if text and conf >= min_conf
        )
        timings["total"] = time.perf_counter() - t0
        return OCRResult(lines, w, h, timings, orientation=page.orientation, skew=page.skew)

    def recognize_lines(self, crops: list[np.ndarray], *, cls: bool | None = None) -> list[tuple[str, float]]:
        """Recognition only, for images that are already single text lines."""
        crops = [_as_bgr(c) for c in crops]
        with self.cores.hold():
            if (self.config.use_cls if cls is None else cls) and crops:
                crops = self.classifier.fix(crops)
            return self.recognizer.recognize(crops)


def _as_bgr(img: np.ndarray) -> np.ndarray:
    if img.dtype != np.uint8:
        raise TypeError("arrays passed to the engine must be uint8")
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.shape[2] == 4:
        alpha = img[:, :, 3:4].astype(np.float32) / 255.0
        img = (img[:, :, :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(img)
