"""The engine end to end with the real built models (tiny and small profiles)."""

from __future__ import annotations

import concurrent.futures as cf
import unicodedata

import cv2
import numpy as np
import pytest

from ocrcore import InvalidImageError, OCREngine
from ocrcore.evaluate import char_accuracy, normalize_text
from ocrcore.preprocess import enhance, is_clean_page
from ocrcore.synth import render_line, render_page, render_scroll

from .helpers import eval_image, jpeg_bytes, png_bytes


def page_accuracy(result, truth) -> float:
    pred = normalize_text("".join(line.text for line in result.lines))
    want = normalize_text("".join(t.text for t in truth))
    return char_accuracy(pred, want)


@pytest.mark.parametrize("profile", ["tiny", "small"])
def test_generated_page_is_read(profile: str, tiny: OCREngine, small: OCREngine) -> None:
    engine = tiny if profile == "tiny" else small
    img, truth = render_page(21)
    result = engine.ocr(jpeg_bytes(img))
    assert (result.width, result.height) == (1024, 768)
    assert len(result.lines) == len(truth)
    assert page_accuracy(result, truth) > 0.95
    for line, t in zip(result.lines, truth):  # reading order and boxes line up with the truth
        xs = [p[0] for p in line.box]
        ys = [p[1] for p in line.box]
        cx, cy = sum(xs) / 4, sum(ys) / 4
        x0, y0, x1, y1 = t.box
        assert x0 - 5 <= cx <= x1 + 5 and y0 - 5 <= cy <= y1 + 5, (line, t)
        assert 0.0 < line.confidence <= 1.0


def test_boxes_are_clockwise_from_top_left(tiny: OCREngine) -> None:
    img, _ = render_page(3, n_lines=4)
    for line in tiny.ocr(img).lines:
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = line.box
        assert x1 > x0 and x2 > x3 and y3 > y0 and y2 > y1


def test_rotated_page_text_is_read(small: OCREngine) -> None:
    img, truth = render_page(8, n_lines=5)
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 8, 1.0)
    rotated = cv2.warpAffine(img, m, (w, h), borderValue=(255, 255, 255))
    assert page_accuracy(small.ocr(rotated), truth) > 0.9


def test_upside_down_line_is_fixed_by_classifier(small: OCREngine) -> None:
    line = render_line("Quarterly invoice 2024", height=40)
    flipped = np.ascontiguousarray(line[::-1, ::-1])
    [(text_cls, _)] = small.recognize_lines([flipped], cls=True)
    assert text_cls.replace(" ", "") == "Quarterlyinvoice2024"
    [(text_raw, _)] = small.recognize_lines([flipped], cls=False)
    assert text_raw.replace(" ", "") != "Quarterlyinvoice2024"


def test_vertical_line_is_rotated_before_recognition(tiny: OCREngine) -> None:
    line = render_line("VERTICAL 42", height=40)
    tall = np.ascontiguousarray(np.rot90(line, -1))  # reads top-to-bottom
    img = np.full((600, 200, 3), 255, np.uint8)
    img[50 : 50 + tall.shape[0], 80 : 80 + tall.shape[1]] = tall
    texts = [ln.text.replace(" ", "") for ln in tiny.ocr(img, cls=True).lines]
    assert "VERTICAL42" in texts


def test_no_detect_reads_a_cropped_line(tiny: OCREngine) -> None:
    line = render_line("TOTAL 128.50", height=36)
    result = tiny.ocr(png_bytes(line), detect=False)
    assert len(result.lines) == 1
    assert result.lines[0].text.replace(" ", "") == "TOTAL128.50"


def test_blank_image_has_no_lines(tiny: OCREngine) -> None:
    assert tiny.ocr(np.full((300, 400, 3), 255, np.uint8)).lines == ()


def test_tall_scrolling_image_keeps_text_readable(tiny: OCREngine) -> None:
    pages = [render_page(40 + i, (600, 800))[0] for i in range(6)]
    truth = [t for i in range(6) for t in render_page(40 + i, (600, 800))[1]]
    tall = np.concatenate(pages, axis=0)  # 600 x 4800: squeezed to one input the text would vanish
    result = tiny.ocr(tall)
    pred = normalize_text("".join(line.text for line in result.lines))
    want = normalize_text("".join(t.text for t in truth))
    assert char_accuracy(pred, want) > 0.9
    assert len(result.lines) >= 0.9 * len(truth)


def test_phone_scroll_screenshot_is_read_in_full_and_in_order(small: OCREngine) -> None:
    """A 1080-wide scrolling screenshot (chat bubbles, large UI text): every line, top to bottom.
    `python -m bench.scroll` times the CLI on the full 1080x24000 one."""
    img, truth = render_scroll(5, 1080, 8000, n_lines=66)
    result = small.ocr(png_bytes(img))
    assert len(result.lines) == len(truth)
    for line, t in zip(result.lines, truth):
        assert char_accuracy(normalize_text(line.text), normalize_text(t.text)) > 0.8, (line.text, t.text)


def _read_in_order(engine: OCREngine, img: np.ndarray, truth) -> None:
    result = engine.ocr(img)
    assert len(result.lines) == len(truth)
    for line, t in zip(result.lines, truth):
        assert char_accuracy(normalize_text(line.text), normalize_text(t.text)) > 0.8, (line.text, t.text)


def test_tall_screenshot_tiles_follow_the_text_size(small: OCREngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Big text: tiles after the first run downscaled. Small text: full resolution. Small text
    after a big first tile: the downscaled tile finds small lines and is detected again."""
    from ocrcore import detect

    scales: list[float] = []  # the first call of each image: its first tile's (a colour view may call again)
    real = detect.tile_scale
    monkeypatch.setattr(detect, "tile_scale", lambda boxes, p: scales.append(real(boxes, p)) or scales[-1])
    big, big_truth = render_scroll(11, 1080, 6000, n_lines=50)
    _read_in_order(small, big, big_truth)
    assert scales[0] > 1.5
    scales.clear()
    tiny_text, tiny_truth = render_scroll(12, 1080, 5000, n_lines=60, sizes=(15, 17))
    _read_in_order(small, tiny_text, tiny_truth)
    assert scales[0] < 1.2
    scales.clear()
    top, top_truth = render_scroll(13, 1080, 2600, n_lines=20, sizes=(40, 44))
    shift = top.shape[0]
    bottom_truth = [type(t)(t.text, (t.box[0], t.box[1] + shift, t.box[2], t.box[3] + shift)) for t in tiny_truth]
    _read_in_order(small, np.concatenate([top, tiny_text]), top_truth + bottom_truth)
    assert scales[0] > 1.5  # decided on the big first tile, corrected where the text shrank


def test_small_image_with_big_text_is_detected_at_its_own_size(small: OCREngine,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A 420x900 receipt-like image is below the detector's 736 px short side. Big text: one
    detection at the image's own size. Small text: that one, then the enlarged one it needs."""
    from ocrcore.detect import Detector

    calls: list[bool] = []
    real = Detector._detect_one

    def spy(self, img, upscale=True, wide=None, scale=1.0, exclusive=False):
        calls.append(upscale)
        return real(self, img, upscale, wide, scale, exclusive)

    monkeypatch.setattr(Detector, "_detect_one", spy)
    big, big_truth = render_scroll(21, 420, 900, n_lines=14, sizes=(28, 30))
    _read_in_order(small, big, big_truth)
    assert calls and not any(calls)  # (a second view, for the coloured bubbles, goes the same way)
    calls.clear()
    fine, fine_truth = render_scroll(22, 420, 900, n_lines=16, sizes=(12, 13))
    _read_in_order(small, fine, fine_truth)
    assert calls[:2] == [False, True]


def test_low_contrast_scan_is_read(small: OCREngine) -> None:
    img, truth = render_page(12, n_lines=8, low_contrast=True, blur=0.8)
    assert enhance(img, "auto") is not img  # faded ink: stretched
    assert page_accuracy(small.ocr(img), truth) > 0.9


def test_concurrent_calls_equal_serial(tiny: OCREngine) -> None:
    images = [render_page(60 + i, (800, 600), n_lines=6)[0] for i in range(6)]
    serial = [tiny.ocr(img).lines for img in images]
    with cf.ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda im: tiny.ocr(im).lines, images))
    assert [[(ln.text, ln.box) for ln in r] for r in parallel] == [[(ln.text, ln.box) for ln in r] for r in serial]


def test_bad_bytes_raise_typed_error(tiny: OCREngine) -> None:
    with pytest.raises(InvalidImageError):
        tiny.ocr(b"hello")


def test_chinese_photo(small: OCREngine) -> None:
    path = eval_image("zh_real_dev", "paddle_00009282.jpg")
    if path is None:
        pytest.skip("shared/eval not present")
    text = normalize_text(small.ocr(path.read_bytes()).text)
    for phrase in ["洗涤说明", "常规程序", "不可漂白", "悬挂晾干"]:
        assert phrase in text


def test_chinese_alpha_png(tiny: OCREngine) -> None:
    from .helpers import EVAL

    files = sorted((EVAL / "zh_smoke_full" / "images").glob("*transparent*.png")) if EVAL.exists() else []
    if not files:
        pytest.skip("shared/eval not present")
    lines = tiny.ocr(files[0].read_bytes()).lines
    assert lines and any(unicodedata.category(c).startswith("Lo") for ln in lines for c in ln.text)


def test_long_lines_are_narrowed_for_the_small_recogniser_only(small: OCREngine, tiny: OCREngine) -> None:
    """RecParams.squeeze: lines wider than squeeze_from (at the network's 48 px) are narrowed to
    0.75 of their width, never below squeeze_from, on the small profile; short lines and the tiny
    profile keep their width."""
    short, mid, long = (np.zeros((32, w, 3), np.uint8) for w in (160, 240, 800))  # 240, 360, 1200 px at 48
    assert small.recognizer.line_widths([short, mid, long]) == [240, 320, 900]
    assert tiny.recognizer.line_widths([short, mid, long]) == [240, 360, 1200]


@pytest.mark.parametrize("text", ["Payment received with thanks, invoice 2024-0117 closed on 3 May",
                                  "本公司承诺所有商品均为正品，假一赔十，欢迎广大顾客监督"])
def test_narrowed_long_line_reads_as_the_full_width_one(small: OCREngine, text: str) -> None:
    from ocrcore.recognize import RecParams
    from ocrcore.synth_docs import CJK_FONT, FONT_DIR

    if not (FONT_DIR / CJK_FONT).exists():
        pytest.skip("fonts-wqy-microhei is not installed (make browser installs it)")
    line = render_line(text, height=40, font_path=str(FONT_DIR / CJK_FONT))
    assert small.recognizer.line_widths([line])[0] < 48 * line.shape[1] / line.shape[0] * 0.8
    full = OCREngine(profile="small", threads=1, rec=RecParams(squeeze=1.0))
    narrowed, = small.recognize_lines([line])
    unchanged, = full.recognize_lines([line])
    assert narrowed[0].replace(" ", "") == unchanged[0].replace(" ", "") == text.replace(" ", "")


def test_clean_pages_go_to_the_document_detector_photos_small_and_tall_images_to_the_main_one(
        small: OCREngine, tiny: OCREngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small profile: a clean 1024x768 page is detected by the document detector (tiny's DB
    model) and read in full; the same page photographed in uneven light (no clean background), a
    clean page under the detector's 736 px short side and a tall screenshot detected in tiles, by
    the main one. Tiny has no second detector."""
    from ocrcore.detect import Detector

    assert small.doc_detector is not None and small.doc_detector.session is not small.detector.session
    assert small.doc_detector.budget is small.detector.budget  # one bound on detector inputs at once
    assert tiny.doc_detector is None
    used: list[Detector] = []
    real = Detector.detect
    monkeypatch.setattr(Detector, "detect", lambda self, img, **kw: used.append(self) or real(self, img, **kw))

    page, truth = render_page(21)
    assert page.shape[:2] == (768, 1024)
    result = small.ocr(page)
    assert used and all(d is small.doc_detector for d in used)
    assert len(result.lines) == len(truth) and page_accuracy(result, truth) > 0.95

    used.clear()
    light = np.linspace(0.3, 1.0, page.shape[1], dtype=np.float32)[None, :, None]  # photographed in uneven light
    photo = (page.astype(np.float32) * light).astype(np.uint8)
    assert not is_clean_page(photo)
    small.ocr(photo)
    assert used and all(d is small.detector for d in used)

    used.clear()
    small_page, _ = render_page(5, n_lines=4, size=(640, 480))
    small.ocr(small_page)
    assert used and all(d is small.detector for d in used)

    used.clear()
    tall, _ = render_scroll(11, 1080, 4000, n_lines=30)
    assert small.detector.tiles(*tall.shape[:2]) and not small.detector.tiles(*page.shape[:2])
    small.ocr(tall)
    assert used and all(d is small.detector for d in used)
