"""The OCR engine: wires decode -> enhance -> detect -> crop (+0/180) -> recognise.

One instance per process. Calls never mutate the engine (options travel as arguments), so
threads can share it; ONNX Runtime sessions are thread-safe for ``run``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial

import numpy as np

from .config import EngineConfig
from .cores import CorePool
from .crop import VERTICAL_RATIO, OrientationClassifier, crop_quad, is_tall
from .decode import decode_image
from .detect import Detector, merge_views, sort_reading_order
from .glyphs import glyph_crop, glyph_regions_detailed, is_latin_page, read_glyph
from .host import cpu_info, usable_cores
from .layout import block_box, reading_order
from .models import profile_files
from .orientation import PageOrientation, find_orientation, fix_unsure_lines
from .precision import Choice
from .preprocess import ColourMarks, EnhanceMode, colour_fraction, colour_marks, enhance, is_clean_page, suppress_colour
from .recognize import PROFILE_PACK, PROFILE_SQUEEZE, LineReading, Recognizer, load_charset
from .runtime import configure_process, make_session, release_free_heap
from .spacing import restore_spaces
from .types import Block, Line, OCRResult, Word
from .vocab import Constraint, Decoded, LineDecoder, VocabularyError, line_decoder, read_hotwords_file
from .words import line_words

# Rows above and below a colour mark that its second view covers on tall images (the whole line
# the mark touches: phone UI text of 26-44 px has DB boxes of up to ~80 px).
MARK_ROW_PAD = 96


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
        self.precisions = dict(files.precisions)
        self.precision_choice: Choice = files.choice
        wide = make_session(files.det, self.cores.size, config.spin) if self.cores.size > 1 else None
        self.detector = Detector(make_session(files.det, 1, config.spin), config.det, wide_session=wide, cores=self.cores)
        # The detector of clean pages (see _detector_for); it shares the main one's pixel budget.
        self.doc_detector: Detector | None = None
        if files.doc_det is not None and config.doc_detector:
            doc_wide = make_session(files.doc_det, self.cores.size, config.spin) if self.cores.size > 1 else None
            self.doc_detector = Detector(make_session(files.doc_det, 1, config.spin), config.det, wide_session=doc_wide,
                                         cores=self.cores, budget=self.detector.budget)
            self.precisions["doc_det"] = "fp32"  # (its only build; reported with the others)
        rec_params = config.rec
        if rec_params.squeeze is None:
            rec_params = dataclasses.replace(rec_params, squeeze=PROFILE_SQUEEZE.get(config.profile))
        if rec_params.pack_width is None:
            rec_params = dataclasses.replace(rec_params, pack_width=PROFILE_PACK.get(config.profile, 0))
        self.recognizer = Recognizer(make_session(files.rec, 1, config.spin), load_charset(files.charset), rec_params,
                                     cores=self.cores)
        self.classifier = OrientationClassifier(make_session(files.cls, 1, config.spin))
        self.vocabulary = self._default_vocabulary()
        if config.enhance == "binarize":  # the only numba kernel on any path (ocrcore.kernels)
            from . import kernels

            kernels.warm_up()
        self._warm_up_sessions()

    def _default_vocabulary(self) -> Constraint:
        """The deployment's default constraint (config), compiled now so a bad one fails the load."""
        from .config import ConfigError

        c = self.config
        try:
            hotwords = read_hotwords_file(c.hotwords_file) if c.hotwords_file else ()
            vocabulary = Constraint(c.allowlist, c.blocklist, c.pattern, hotwords)
            if vocabulary.active:
                self.decoder(vocabulary)
        except (VocabularyError, OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"vocabulary: {exc}") from None
        return vocabulary

    def decoder(self, constraint: Constraint) -> LineDecoder | None:
        """The compiled decoder of a constraint (None when it constrains nothing); the numba
        kernels are imported and compiled only here, on first use."""
        if not constraint.active:
            return None
        from . import ctc_kernels

        ctc_kernels.warm_up()
        return line_decoder(constraint, tuple(self.recognizer.charset), self.config.beam_width, self.config.hotword_boost)

    def describe(self) -> dict:
        """What runs where: profile, per-model precision and why, the CPU and its ISA, cores."""
        cpu = cpu_info()
        return {"profile": self.config.profile, "precisions": dict(self.precisions),
                "precision_reasons": dict(self.precision_choice.reasons),
                "precision_timings_ms": self.precision_choice.timings_ms,
                "precision_source": self.precision_choice.source,
                "cpu": cpu.model, "isa": cpu.isa_label, "arch": cpu.arch, "cores": self.cores.size}

    def _warm_up_sessions(self) -> None:
        """One tiny inference per model so the first request doesn't pay for ORT's lazy setup.
        The detector's sessions run a 32x32 input: a blank image through ``detect`` is raised
        toward ``DetParams.min_side`` (320x1280) and cost 0.25-0.3 s per session, at every start,
        for no gain (a second such run was no faster: AMD EPYC, 2026-12-01)."""
        blank = np.full((64, 256, 3), 255, np.uint8)
        self.detector.warm_up()
        if self.doc_detector is not None:
            self.doc_detector.warm_up()
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
        allowlist: str | None = None,
        blocklist: str | None = None,
        pattern: str | None = None,
        hotwords: str | Iterable[str] | Mapping[str, float] | None = None,
        words: bool = False,
        orient: bool | None = None,
    ) -> OCRResult:
        """OCR one image (encoded bytes, or a BGR uint8 array).

        ``detect=False`` treats the whole image as one text line. ``cls`` overrides the
        configured 0/180 classifier. ``allowlist``, ``blocklist``, ``pattern`` and ``hotwords``
        (terms, ``{term: weight}`` or ``"term:weight"`` text) constrain what may be read
        (ocrcore.vocab, docs/vocabulary.md); each replaces the deployment's default, ``""``
        clears it. ``words=True`` gives each line its words (Latin) and characters (Chinese) with
        boxes and confidences (ocrcore.words). Lines come in reading order, grouped into
        ``blocks`` (ocrcore.layout). ``orient`` overrides the configured page orientation and
        deskew (ocrcore.orientation; on by default, needs ``detect``). Raises :class:`~ocrcore.errors.OCRError` for bad input
        (``VocabularyError``, status 422, for a bad constraint). Blocks while every core of the
        engine is busy with other calls (ocrcore.cores).
        """
        constraint = self.vocabulary.override(allowlist=allowlist, blocklist=blocklist, pattern=pattern, hotwords=hotwords)
        decoder = self.decoder(constraint)
        try:
            with self.cores.hold():
                return self._ocr(image, detect, cls, enhance_mode, decoder, words, orient)
        finally:
            release_free_heap()  # what the image's small blocks left in the heaps (runtime.release_free_heap)

    def _ocr(self, image: bytes | np.ndarray, detect: bool, cls: bool | None,
             enhance_mode: EnhanceMode | None, decoder: LineDecoder | None = None, words: bool = False,
             orient: bool | None = None) -> OCRResult:
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
        marks: ColourMarks | None = None
        clean = is_clean_page(img)
        if not detect:
            quads = [np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)]
            crops = [img if h < VERTICAL_RATIO * w else crop_quad(img, quads[0])]
            timings["detect"] = 0.0
        else:
            prepared = enhance(img, enhance_mode or self.config.enhance)
            t_pre = time.perf_counter()
            timings["preprocess"] = t_pre - t1
            detector = self._detector_for(img, clean)
            boxes = detector.detect(prepared)
            # Coloured strokes and highlights cut lines and eat characters: where coloured ink meets
            # dark ink, detect again with the colour suppressed and fuse the two views there
            # (docs/accuracy.md, issue #11). Second-view boxes away from the marks are not used:
            # elsewhere the first view stands (a dashed rule fused with its neighbours on a receipt).
            marks = colour_marks(img) if self.config.colour_view else None
            if marks is not None:
                t_col = time.perf_counter()
                rows = marks.rows(h, MARK_ROW_PAD)  # tall images: only the bands with marks
                second = [b for b in detector.detect(suppress_colour(prepared), rows=rows, like=boxes) if marks.touches(b[0])]
                if second:
                    ordered = [(np.clip(q, 0, [w - 1, h - 1]).astype(np.float32), sc)
                               for q, sc in merge_views(boxes, second)]
                    boxes = [ordered[i] for i in sort_reading_order([q for q, _ in ordered])]
                timings["colour_view"] = time.perf_counter() - t_col
            quads = [q for q, _ in boxes]
            t_orient = time.perf_counter()
            if use_orient and quads:
                page = find_orientation(img, quads, self.classifier, self.recognizer)
                quads = page.arrange(quads, w, h)
            timings["orient"] = time.perf_counter() - t_orient
            crops = [crop_quad(img, q) for q in quads]
            timings["detect"] = time.perf_counter() - t_pre
        t2 = time.perf_counter()
        flipped = [False] * len(crops)
        if use_cls and crops:
            fixed = self.classifier.fix(crops)
            flipped = [a is not b for a, b in zip(crops, fixed)]  # fix() returns unflipped crops as they are
            crops = fixed
        t3 = time.perf_counter()
        timings["cls"] = t3 - t2
        glyph_quads: list[np.ndarray] = []
        glyph_colons: list[bool] = []  # which regions' ink is a colon (glyphs.read_glyph)
        if detect and self.config.lone_glyphs and (decoder is None or decoder.only_hotwords):  # (lists, patterns: none)
            t_g = time.perf_counter()
            found = glyph_regions_detailed(suppress_colour(img) if marks is not None else img, quads)
            glyph_quads, glyph_colons = [q for q, _ in found], [c for _, c in found]
            timings["glyph_search"] = time.perf_counter() - t_g
        glyph_texts: list[tuple[str, float]] = []
        # Lines against the page's grain (orientation.py), on documents: on photos of scenes an
        # unsure word is a hard word, and read turned it came back as confident garbage (IC15).
        turn_unsure = use_orient and not use_cls and bool(crops) and clean
        if decoder is None:
            readings = self.recognizer.recognize_detailed(crops, pack=clean)
            t4 = time.perf_counter()
            if turn_unsure:
                turned = self._turn_unsure(crops, [(r.text, r.confidence) for r in readings], flipped)
                for i, r in zip(turned, self.recognizer.recognize_detailed([crops[i] for i in turned])):
                    readings[i] = r
                timings["orient"] += time.perf_counter() - t4
            texts: list[tuple[str, float, tuple[Word, ...] | None, Decoded | None]] = [
                self._read_line(c, r, q, f, words) for c, r, q, f in zip(crops, readings, quads, flipped)]
            if detect:
                glyph_texts = self._second_readings(img, quads, crops, texts, marks, glyph_quads, clean)
        else:  # lines a constraint shaped are taken as decoded (no spaces restored, no word boxes); the others as above
            greedy: list[LineReading | None] = [None] * len(crops)
            decoded = self.recognizer.recognize_constrained(crops, decoder, greedy, pack=clean)
            t4 = time.perf_counter()
            if turn_unsure:  # as above, judged on the free readings
                turned = self._turn_unsure(crops, [(r.text, r.confidence) if r else ("", 0.0) for r in greedy], flipped)
                again: list[LineReading | None] = [None] * len(turned)
                for n, (i, d) in enumerate(zip(turned, self.recognizer.recognize_constrained([crops[i] for i in turned],
                                                                                            decoder, again))):
                    greedy[i], decoded[i] = again[n], d
                timings["orient"] += time.perf_counter() - t4
            texts = [self._read_line(c, r, q, f, words) if r is not None else ("", 0.0, None, None)
                     for c, r, q, f in zip(crops, greedy, quads, flipped)]
            texts = [(carry_spaces(t[0], d.text, partial(decoder.admits, decoded=d)), d.confidence, None, d)
                     if d.constraint or d.pattern_fallback else t for t, d in zip(texts, decoded)]
            if detect and decoder.only_hotwords:  # lines the hot words did not shape: as without them
                glyph_texts = self._second_readings(img, quads, crops, texts, marks, glyph_quads, clean)
        timings["recognize"] = t4 - t3
        t5 = time.perf_counter()
        timings["spacing"] = t5 - t4  # and the word boxes when asked, and the second readings
        min_conf = 0.0 if not detect else self.config.min_confidence
        kept = [(q, t) for q, t in zip(quads, texts) if t[0] and t[1] >= min_conf]
        latin_page = is_latin_page([t[0] for _, t in kept])
        glyphs_read = [(q, read_glyph(*t, colon=c, latin_page=latin_page), t[1])
                       for q, t, c in zip(glyph_quads, glyph_texts, glyph_colons)]
        kept += [(q, (text, conf, None, None)) for q, text, conf in glyphs_read if text]
        order, groups = reading_order([q for q, _ in kept])
        block_of = {i: b for b, group in enumerate(groups) for i in group}
        position = {i: n for n, i in enumerate(order)}
        lines = tuple(
            Line(text, conf, tuple((int(round(x)), int(round(y))) for x, y in q),  # type: ignore[arg-type]
                 block=block_of[i], words=line_ws,
                 constraint=dec.constraint if dec else None, pattern_fallback=dec.pattern_fallback if dec else False)
            for i, (q, (text, conf, line_ws, dec)) in ((i, kept[i]) for i in order)
        )
        blocks = tuple(Block(b, block_box([kept[i][0] for i in group]), tuple(position[i] for i in group))
                       for b, group in enumerate(groups))
        timings["layout"] = time.perf_counter() - t5
        timings["total"] = time.perf_counter() - t0
        return OCRResult(lines, w, h, timings, blocks, orientation=page.orientation, skew=page.skew)

    def _detector_for(self, img: np.ndarray, clean: bool) -> Detector:
        """The detector for an image: the document detector (``doc_detector``) for clean pages
        (``preprocess.is_clean_page``: documents, receipts, screenshots) whose short side is at
        least ``DetParams.min_side`` (detected at or below their own resolution), else the main
        one. On the small profile that is tiny's DB model beside small's: ~3x cheaper (1x3x736x1280,
        1 thread, AMD EPYC: 188 vs 552 ms) and, on those pages, as accurate (docs/accuracy.md,
        2026-12-01: SROIE receipts line accuracy 0.9120 -> 0.9157, Tesseract pages page F1 0.9971 ->
        0.9976). Photos of scenes keep the main detector (tiny's loses small text there: IC15
        scenes page F1 0.858 -> 0.802), and so do small images, enlarged toward ``min_side``
        (a 528x574 worksheet's two columns came back as one line), and tall images detected in
        tiles: their tiles are downscaled for big text, where tiny's model lost small lines
        further down (tests/test_engine.py)."""
        h, w = img.shape[:2]
        if (self.doc_detector is not None and clean and min(h, w) >= self.config.det.min_side
                and not self.detector.tiles(h, w)):
            return self.doc_detector
        return self.detector

    def _turn_unsure(self, crops: list[np.ndarray], free: list[tuple[str, float]], flipped: list[bool]) -> list[int]:
        """Turn the lines :func:`~ocrcore.orientation.fix_unsure_lines` finds upside down, given
        their free readings ``free``: their crops replaced by the turned ones and their ``flipped``
        toggled, in place. Returns their indices, for the caller to read them again its way."""
        fixed, _ = fix_unsure_lines(crops, free, self.classifier, self.recognizer)
        turned = [i for i, (a, b) in enumerate(zip(crops, fixed)) if a is not b]
        for i in turned:
            crops[i], flipped[i] = fixed[i], not flipped[i]
        return turned

    def _second_readings(self, img: np.ndarray, quads: list[np.ndarray], crops: list[np.ndarray],
                         texts: list[tuple[str, float, tuple[Word, ...] | None, Decoded | None]],
                         marks: ColourMarks | None, glyph_quads: list[np.ndarray],
                         clean: bool) -> list[tuple[str, float]]:
        """Read some lines a second way and keep the better reading (:func:`_prefer_alt`), in
        place in ``texts``; return the readings of the lone-glyph regions ``glyph_quads``.

        Second readings: on clean pages (``preprocess.is_clean_page``: forms and tables, not photos
        of scenes, where a lone glyph in a cell is unlikely and clutter read upright came back as
        a CJK character on IC15), tall crops (one tall glyph like 1 or /, or a vertical line) also
        unrotated; crops touching coloured marks also with the colour
        suppressed. All in one recogniser call separate from the lines': extra crops in the
        lines' call would change how lines are batched and padded, and so their readings (IC15
        scenes: 2 of 50 images)."""
        alts: list[tuple[int, np.ndarray, str]] = []
        for i, q in enumerate(quads):
            if texts[i][3] is not None:  # a line a constraint shaped (ocrcore.vocab) keeps its reading
                continue
            if self.config.lone_glyphs and clean and is_tall(q):
                x0, y0 = np.floor(q.min(0)).astype(int)
                x1, y1 = np.ceil(q.max(0)).astype(int)
                alts.append((i, img[max(0, y0): y1 + 1, max(0, x0): x1 + 1], "upright"))
            if marks is not None and marks.touches(q) and colour_fraction(crops[i]) >= 0.01:
                alts.append((i, suppress_colour(crops[i]), "plain"))
        if not alts and not glyph_quads:
            return []
        extra = self.recognizer.recognize([a for _, a, _ in alts] + [glyph_crop(img, q) for q in glyph_quads])
        for (i, _, kind), alt in zip(alts, extra[: len(alts)]):
            if _prefer_alt((texts[i][0], texts[i][1]), alt, kind):
                texts[i] = (alt[0], alt[1], None, None)
        return extra[len(alts):]

    def _read_line(self, crop: np.ndarray, reading: LineReading, quad: np.ndarray, flipped: bool,
                   words: bool) -> tuple[str, float, tuple[Word, ...] | None, Decoded | None]:
        """(text with missing spaces restored, confidence, words when asked) of one line."""
        chars = [str(c) for c in self.recognizer.charset[reading.labels]]
        chars, probs, runs = restore_spaces(crop, chars, reading.probs, reading.runs, reading.step_px)
        found = line_words(crop, chars, probs, runs, reading.step_px, quad, flipped=flipped) if words else None
        return "".join(chars).strip(), reading.confidence, found, None

    def recognize_lines(self, crops: list[np.ndarray], *, cls: bool | None = None,
                        **constraint: str | Iterable[str] | Mapping[str, float] | None) -> list[tuple[str, float]]:
        """Recognition only, for images that are already single text lines (missing spaces
        restored as in :meth:`ocr`); ``constraint``: the ``allowlist``/``blocklist``/``pattern``/
        ``hotwords`` keywords of :meth:`ocr`."""
        crops = [_as_bgr(c) for c in crops]
        decoder = self.decoder(self.vocabulary.override(**constraint))  # type: ignore[arg-type]
        with self.cores.hold():
            if (self.config.use_cls if cls is None else cls) and crops:
                crops = self.classifier.fix(crops)
            decoded: list[Decoded | None] = [None] * len(crops)
            if decoder is not None:
                greedy: list[LineReading | None] = [None] * len(crops)
                decoded = list(self.recognizer.recognize_constrained(crops, decoder, greedy))
                readings = [r for r in greedy if r is not None]
            else:
                readings = self.recognizer.recognize_detailed(crops)
        out = []
        for crop, r, d in zip(crops, readings, decoded):
            chars = [str(c) for c in self.recognizer.charset[r.labels]]
            chars, _, _ = restore_spaces(crop, chars, r.probs, r.runs, r.step_px)
            spaced = "".join(chars).strip()
            shaped = d is not None and bool(d.constraint or d.pattern_fallback)
            if shaped and d is not None and decoder is not None:
                out.append((carry_spaces(spaced, d.text, partial(decoder.admits, decoded=d)), d.confidence))
            else:
                out.append((spaced, r.confidence))
        return out


def carry_spaces(spaced: str, shaped: str, admits: Callable[[str], bool] | None = None) -> str:
    """``shaped`` (a constrained reading, which restores no spaces) with the spaces of ``spaced``
    (the free reading with spaces restored, ocrcore.spacing) where both have as many non-space
    characters (a constraint that substituted characters) and the result is one the constraint
    ``admits`` (ocrcore.vocab.LineDecoder.admits: a pattern or an allowlist without a space
    keeps its reading unspaced); otherwise ``shaped`` as it is."""
    if " " in shaped or " " not in spaced or len(spaced.replace(" ", "")) != len(shaped):
        return shaped
    it = iter(shaped)
    out = "".join(" " if c == " " else next(it) for c in spaced)
    return out if admits is None or admits(out) else shaped


def _prefer_alt(first: tuple[str, float], alt: tuple[str, float], kind: str) -> bool:
    """Whether a line's second reading replaces its first. ``upright``: a tall crop read
    unrotated (at most 2 characters, confidence 0.5) wins when the rotated reading has at most
    one character (a lone 1 or / turned 90° reads as _ or 一; a vertical line has several; letting
    the more confident reading win instead turned rotated scene words into garbage on IC15). ``plain``: the crop
    with coloured ink suppressed wins when as long and as confident (within 0.02): a ring through
    今 reads 令 at 1.0 too; coloured text, lost in the plain crop, reads shorter or less sure
    there (letting a more confident but shorter reading win read 0.00 as 000 on SROIE)."""
    (text, conf), (alt_text, alt_conf) = first, alt
    if not alt_text:
        return False
    if kind == "upright":
        return len(text) <= 1 and len(alt_text) <= 2 and alt_conf >= 0.5
    return len(alt_text) == len(text) and alt_conf >= conf - 0.02


def _as_bgr(img: np.ndarray) -> np.ndarray:
    if img.dtype != np.uint8:
        raise TypeError("arrays passed to the engine must be uint8")
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.shape[2] == 4:
        alpha = img[:, :, 3:4].astype(np.float32) / 255.0
        img = (img[:, :, :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(img)
