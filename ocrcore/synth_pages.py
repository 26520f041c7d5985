"""Generated document pages turned 0/90/180/270 degrees and skewed, with their right answers.

Each page holds a few lines of made-up Chinese or English text (or both) in a system font
(DejaVu, Liberation, WenQuanYi Micro Hei), rendered upright, then turned clockwise by the page's
``orientation`` and rotated by ``skew`` degrees (positive = clockwise, as a sheet put crooked on
a scanner), on a canvas grown to keep every corner. No EXIF tag: the pixels are all there is.

Used by tests/test_orientation.py and the accuracy report (docs/accuracy.md, "Page orientation").
A fixed seed gives the same page on any machine with the same fonts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .synth import WORDS

FONT_DIR = Path("/usr/share/fonts/truetype")
LATIN_FONTS = ("dejavu/DejaVuSans.ttf", "dejavu/DejaVuSerif.ttf", "liberation/LiberationSans-Regular.ttf",
               "liberation/LiberationSerif-Regular.ttf", "liberation/LiberationMono-Regular.ttf")
CJK_FONT = "wqy/wqy-microhei.ttc"  # Debian fonts-wqy-microhei (also covers Latin)

# Common words of invoices, forms and notices, combined at random: made-up text, not sentences.
ZH_WORDS = ("收货人", "电话", "地址", "订单", "编号", "日期", "金额", "合计", "数量", "单价", "备注", "公司", "有限",
            "北京", "上海", "广州", "深圳", "杭州", "南京", "滨江路", "人民路", "中山路", "号楼", "单元", "会议",
            "通知", "时间", "地点", "工作", "安排", "部门", "负责人", "联系", "方式", "客户", "服务", "中心",
            "办公室", "开始", "结束", "周一", "周五", "上午", "下午", "报名", "截止", "材料", "提交", "审核",
            "发票", "付款", "现金", "银行", "账户", "学校", "医院", "车站", "商场", "图书馆", "年度", "预算")


@dataclass(frozen=True)
class RotatedPage:
    """One generated page: ``image`` BGR uint8 (H, W, 3); ``lines`` the text in reading order of
    the upright page; ``orientation`` the clockwise turn applied (0, 90, 180, 270 degrees);
    ``skew`` the further small rotation in degrees (positive = clockwise)."""

    image: np.ndarray
    lines: tuple[str, ...]
    orientation: int
    skew: float
    language: str


def zh_line(rng: random.Random) -> str:
    """A made-up Chinese line: 2-4 words, sometimes with a number."""
    parts = [rng.choice(ZH_WORDS) for _ in range(rng.randint(2, 4))]
    if rng.random() < 0.5:
        parts.insert(rng.randint(1, len(parts)), str(rng.randint(1, 9999)))
    if rng.random() < 0.3:
        parts.insert(1, "：")
    return "".join(parts)


def en_line(rng: random.Random) -> str:
    """A made-up English line: 3-6 words, sometimes with a number."""
    words = [rng.choice(WORDS) for _ in range(rng.randint(3, 6))]
    if rng.random() < 0.4:
        words.insert(rng.randint(1, len(words)), str(rng.randint(10, 9999)))
    words[0] = words[0].capitalize()
    return " ".join(words)


def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / path), size)


def render_upright(rng: random.Random, language: str, width: int, n_lines: int,
                   size_px: int) -> tuple[np.ndarray, list[str]]:
    """Left-aligned lines on a white page, one font per page; gray uint8 (H, W) and the lines.
    Lines that would not fit the width are shortened by words until they do."""
    latin = rng.choice(LATIN_FONTS)
    lines: list[str] = []
    for i in range(n_lines):
        lang = language if language != "mixed" else ("zh" if i % 2 == 0 else "en")
        lines.append(zh_line(rng) if lang == "zh" else en_line(rng))
    margin = rng.randint(20, 60)
    gap = int(size_px * rng.uniform(0.7, 1.3))
    height = 2 * margin + n_lines * (size_px + gap)
    img = Image.new("L", (width, height), rng.randint(235, 255))
    draw = ImageDraw.Draw(img)
    fg = rng.randint(0, 50)
    y = margin
    for k, text in enumerate(lines):
        font = _font(CJK_FONT if any(ord(c) > 0x2E80 for c in text) else latin, size_px)
        while draw.textlength(text, font=font) > width - 2 * margin and len(text) > 3:
            text = text.rsplit(" ", 1)[0] if " " in text else text[:-1]
        lines[k] = text
        draw.text((margin, y), text, fill=fg, font=font)
        y += size_px + gap
    return np.asarray(img), lines


def turn(gray: np.ndarray, orientation: int, skew: float) -> np.ndarray:
    """Turn an upright page ``orientation`` degrees clockwise (exact), then rotate it ``skew``
    degrees clockwise on a canvas grown to hold every corner, background filled white-ish."""
    img = np.ascontiguousarray(np.rot90(gray, -(orientation // 90)))
    if skew:
        h, w = img.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), -skew, 1.0)  # OpenCV: positive = counter-clockwise
        cos, sin = abs(m[0, 0]), abs(m[0, 1])
        nw, nh = int(h * sin + w * cos + 0.5), int(h * cos + w * sin + 0.5)
        m[0, 2] += nw / 2 - w / 2
        m[1, 2] += nh / 2 - h / 2
        bg = int(np.median(img[:4]))
        img = cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_CUBIC, borderValue=bg)
    return img


def rotated_page(seed: int, orientation: int | None = None, skew: float | None = None,
                 language: str | None = None) -> RotatedPage:
    """Page ``seed``: by default its orientation (0/90/180/270), skew (-15..15 degrees, 0 for a
    third of the pages), language (zh, en, mixed), width (500-1100 px), 3-7 lines and font size
    (20-36 px) are drawn from the seed; pass any of the first three to fix it."""
    rng = random.Random(seed)
    orient = rng.choice((0, 90, 180, 270)) if orientation is None else orientation
    if orient not in (0, 90, 180, 270):
        raise ValueError("orientation must be 0, 90, 180 or 270")
    angle = (0.0 if rng.random() < 1 / 3 else round(rng.uniform(-15, 15), 1)) if skew is None else skew
    lang = rng.choice(("zh", "en", "mixed")) if language is None else language
    gray, lines = render_upright(rng, lang, rng.randint(500, 1100), rng.randint(3, 7), rng.choice((20, 24, 28, 32, 36)))
    img = turn(gray, orient, angle)
    noise = np.random.default_rng(seed).normal(0, 2, img.shape)
    img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return RotatedPage(np.ascontiguousarray(np.repeat(img[:, :, None], 3, axis=2)), tuple(lines), orient, angle, lang)


def mixed_page(seed: int, flipped: int = 1) -> RotatedPage:
    """An upright page (orientation 0, no skew) on which ``flipped`` lines, chosen by the seed,
    are printed upside down in place (a tag, a folded label); ``lines`` is still the text in
    reading order, each line read the right way up."""
    rng = random.Random(seed)
    lang = rng.choice(("zh", "en", "mixed"))
    gray, lines = render_upright(rng, lang, rng.randint(500, 1000), rng.randint(3, 6), rng.choice((24, 28, 32, 36)))
    gray = gray.copy()
    rows = _row_spans(gray)
    for i in rng.sample(range(len(rows)), min(flipped, len(rows))):
        y0, y1 = rows[i]
        cols = np.flatnonzero((gray[y0:y1] < 128).any(axis=0))
        x0, x1 = int(cols[0]), int(cols[-1]) + 1
        gray[y0:y1, x0:x1] = gray[y0:y1, x0:x1][::-1, ::-1]
    noise = np.random.default_rng(seed).normal(0, 2, gray.shape)
    img = np.clip(gray.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return RotatedPage(np.ascontiguousarray(np.repeat(img[:, :, None], 3, axis=2)), tuple(lines), 0, 0.0, lang)


def _row_spans(gray: np.ndarray) -> list[tuple[int, int]]:
    """(top, bottom) pixel rows of each run of rows holding ink (dark pixels), top to bottom."""
    ink = (gray < 128).any(axis=1).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ink, [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def rotated_pages(count: int, start: int = 0) -> list[RotatedPage]:
    """``count`` pages covering every orientation equally (seed ``start + i`` -> orientation
    ``90 * (i % 4)``), skew and language drawn from the seed."""
    return [rotated_page(start + i, orientation=90 * (i % 4)) for i in range(count)]


@dataclass(frozen=True)
class VerticalHeaderTable:
    """A ruled table on an upright page whose first column is one tall merged cell holding a
    header written vertically; ``header`` is its text, ``direction`` "up" (bottom to top, turned
    90° counter-clockwise, as spreadsheets set it) or "down" (top to bottom, turned clockwise);
    ``rows`` the text of the other cells, row by row."""

    image: np.ndarray
    header: str
    direction: str
    rows: tuple[tuple[str, ...], ...]


def vertical_header_table(seed: int, direction: str | None = None) -> VerticalHeaderTable:
    """Table ``seed``: 3-5 rows x 2 columns of Chinese or English cells (22-30 px) beside a
    vertical header of two English words or two Chinese words, drawn as a horizontal line turned
    90° (the way spreadsheets and printed forms set vertical headers); ``direction`` as in
    :class:`VerticalHeaderTable`, drawn from the seed when None."""
    rng = random.Random(seed)
    direction = direction or rng.choice(("up", "down"))
    if direction not in ("up", "down"):
        raise ValueError("direction must be 'up' or 'down'")
    zh = rng.random() < 0.5
    size = rng.choice((22, 26, 30))
    font = _font(CJK_FONT if zh else rng.choice(LATIN_FONTS), size)
    n_rows = rng.randint(3, 5)
    rows = tuple(tuple((zh_line(rng) if zh else " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3))))
                       for _ in range(2)) for _ in range(n_rows))
    header = "".join(rng.sample(ZH_WORDS, 2)) if zh else " ".join(rng.choice(WORDS) for _ in range(2)).title()
    row_h = int(size * 2.0)
    col_w = [max(int(font.getlength(r[c])) for r in rows) + size for c in range(2)]
    head_w = int(size * 2.2)
    margin = 30
    w = margin * 2 + head_w + sum(col_w)
    h = margin * 2 + n_rows * row_h
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    for r, cells in enumerate(rows):
        x = margin + head_w
        for c, text in enumerate(cells):
            draw.text((x + size // 2, margin + r * row_h + (row_h - size) // 2), text, fill=0, font=font)
            x += col_w[c]
    for r in range(n_rows + 1):
        draw.line((margin + (head_w if 0 < r < n_rows else 0), margin + r * row_h, w - margin, margin + r * row_h), fill=0)
    for x in (margin, margin + head_w, margin + head_w + col_w[0], w - margin):
        draw.line((x, margin, x, h - margin), fill=0)
    strip_w = int(font.getlength(header)) + size
    strip = Image.new("L", (strip_w, int(size * 1.5)), 255)
    ImageDraw.Draw(strip).text((size // 2, size // 4), header, fill=0, font=font)
    turned = strip.rotate(90 if direction == "up" else -90, expand=True, fillcolor=255)
    if turned.height > h - 2 * margin - 4:
        turned = turned.resize((turned.width, h - 2 * margin - 4))
    img.paste(turned, (margin + (head_w - turned.width) // 2, margin + (h - 2 * margin - turned.height) // 2))
    arr = np.asarray(img)
    return VerticalHeaderTable(np.ascontiguousarray(np.repeat(arr[:, :, None], 3, axis=2)), header, direction, rows)
