"""Synthetic documents for the layout and spacing tests: multi-column pages, forms and tables,
mixed Chinese/English lines with known character boxes, sparse pages (a few lines on a large
sheet: under 1 % ink), wide banners with big text, lists with a column of lone glyphs.

Made-up text in the system's TrueType fonts (DejaVu and Liberation for Latin, WenQuanYi Micro
Hei for Chinese: fonts-dejavu-core, fonts-dejavu-extra, fonts-liberation, fonts-wqy-microhei, in the Makefile's
TEST_DEBS); :func:`fonts_available` says whether they are installed. A seed gives the same
image every time. Each generator returns the BGR uint8 image and its truth in reading order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .synth import WORDS, SynthLine

FONT_DIR = Path("/usr/share/fonts/truetype")
LATIN_FONTS = ("dejavu/DejaVuSans.ttf", "dejavu/DejaVuSerif.ttf", "liberation/LiberationSans-Regular.ttf",
               "liberation/LiberationSerif-Regular.ttf", "dejavu/DejaVuSansCondensed.ttf",
               "liberation/LiberationSansNarrow-Regular.ttf")
CJK_FONT = "wqy/wqy-microhei.ttc"
# Made-up Chinese vocabulary (common words of office documents and notices).
ZH_WORDS = ("今天", "我们", "公司", "会议", "讨论", "年度", "预算", "草案", "成员", "同意", "提高", "图书", "基金",
            "明年", "部门", "负责", "项目", "进度", "报告", "客户", "服务", "中心", "地址", "电话", "时间", "安排",
            "通知", "如下", "全体", "员工", "参加", "培训", "计划", "完成", "情况", "说明", "需要", "提交", "材料",
            "办公室", "学校", "学生", "老师", "课程", "考试", "成绩", "城市", "交通", "天气", "晴朗", "下午", "上午",
            "市场", "价格", "产品", "质量", "检查", "合格", "系统", "升级", "版本", "发布", "用户", "设置", "打开")
ZH_PUNCT = ("，", "。", "；", "：")
EN_TERMS = ("Settings", "Dark Mode", "Version", "on Monday", "Wi-Fi", "App Store", "email", "PDF", "OCR engine",
            "USB", "Windows 11", "Excel", "Bluetooth", "iPhone", "update", "login", "password", "API key", "GitHub",
            "online", "Zoom meeting", "Google Maps", "report", "Python", "Linux", "server", "backup", "CPU")


def fonts_available() -> bool:
    """Whether the fonts the generators use are installed."""
    return all((FONT_DIR / f).exists() for f in (*LATIN_FONTS, CJK_FONT))


@lru_cache(maxsize=64)
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / name), size)


def is_cjk(ch: str) -> bool:
    """Whether a character is a CJK ideograph or CJK punctuation (full-width forms included)."""
    o = ord(ch)
    return (0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF
            or 0x20000 <= o <= 0x2FFFF)


def _zh_sentence(rng: random.Random, n_words: int) -> str:
    return "".join(rng.choice(ZH_WORDS) for _ in range(n_words))


def _en_sentence(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def _wrap(words: list[str], font: ImageFont.FreeTypeFont, width: int, sep: str) -> list[str]:
    """Greedy line filling: words joined by ``sep`` into lines at most ``width`` px long."""
    lines: list[str] = []
    cur = ""
    for w in words:
        cand = w if not cur else cur + sep + w
        if cur and font.getlength(cand) > width:
            lines.append(cur)
            cur = w
        else:
            cur = cand
    if cur:
        lines.append(cur)
    return lines


def _draw_line(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, font: ImageFont.FreeTypeFont,
               fill: int | tuple[int, ...]) -> SynthLine:
    """Draw one line of text at ``xy`` and return its truth: the text and its ink box."""
    draw.text(xy, text, fill=fill, font=font)
    return SynthLine(text, tuple(int(v) for v in draw.textbbox(xy, text, font=font)))  # type: ignore[arg-type]


def _finish(img: Image.Image, seed: int) -> np.ndarray:
    arr = np.asarray(img.convert("RGB"))[:, :, ::-1].astype(np.int16)
    noise = np.random.default_rng(seed).normal(0, 2.5, arr.shape)
    return np.ascontiguousarray(np.clip(arr + noise, 0, 255).astype(np.uint8))


def render_columns(seed: int, lang: str = "en", n_cols: int = 2) -> tuple[np.ndarray, list[SynthLine]]:
    """A page of ``n_cols`` text columns (a title across them sometimes), like an article or a
    paper: the truth is the title, then each column top to bottom, one column after the other.
    ``lang``: "en" or "zh". Column width, gutter, font and size vary with the seed."""
    rng = random.Random(seed)
    size = rng.choice([18, 20, 22, 26])
    font_name = CJK_FONT if lang == "zh" else rng.choice(LATIN_FONTS)
    font = _font(font_name, size)
    gutter = rng.randint(int(1.5 * size), 4 * size)
    col_w = rng.randint(12 * size, 18 * size) if lang == "en" else rng.randint(9 * size, 14 * size)
    margin = rng.randint(30, 60)
    pitch = int(size * rng.uniform(1.35, 1.8))
    n_lines = rng.randint(4, 9)
    width = 2 * margin + n_cols * col_w + (n_cols - 1) * gutter
    truth: list[SynthLine] = []
    cols: list[list[str]] = []
    for _ in range(n_cols):
        if lang == "zh":
            text = _zh_sentence(rng, 6 * n_lines)
            per = max(1, int(col_w // font.getlength("国")))
            cols.append([text[i : i + per] for i in range(0, len(text), per)][:n_lines])
        else:
            cols.append(_wrap(_en_sentence(rng, 5 * n_lines).split(), font, col_w, " ")[:n_lines])
    title = rng.random() < 0.5
    y0 = margin + (int(size * 2.6) if title else 0)
    height = y0 + n_lines * pitch + margin
    img = Image.new("L", (width, height), rng.randint(235, 255))
    draw = ImageDraw.Draw(img)
    ink = rng.randint(0, 50)
    if title:
        tfont = _font(font_name, int(size * 1.4))
        ttext = _zh_sentence(rng, 4) if lang == "zh" else _en_sentence(rng, 4).title()
        truth.append(_draw_line(draw, (margin, margin), ttext, tfont, ink))
    for c, lines in enumerate(cols):
        x = margin + c * (col_w + gutter)
        for i, text in enumerate(lines):
            y = y0 + i * pitch
            truth.append(_draw_line(draw, (x, y), text, font, ink))
    return _finish(img, seed), truth


def render_form(seed: int) -> tuple[np.ndarray, list[SynthLine]]:
    """A form or table whose cells line up in rows (label/value pairs, or a table of items,
    quantities and prices, with or without ruling lines): the truth is row by row, left to
    right. English or Chinese labels, with the seed."""
    rng = random.Random(seed)
    zh = rng.random() < 0.5
    size = rng.choice([18, 20, 24])
    font = _font(CJK_FONT if zh else rng.choice(LATIN_FONTS), size)
    n_cols = rng.randint(2, 4)
    n_rows = rng.randint(3, 7)
    pitch = int(size * rng.uniform(1.8, 2.6))
    margin = 40
    cells: list[list[str]] = []
    for r in range(n_rows):
        row = []
        for c in range(n_cols):
            kind = (c + (r == 0)) % 3
            if kind == 0 or r == 0:
                row.append(_zh_sentence(rng, rng.randint(1, 2)) if zh else rng.choice(WORDS).title())
            elif kind == 1:
                row.append(str(rng.randint(1, 999)))
            else:
                row.append(f"{rng.randint(1, 9999)}.{rng.randint(0, 99):02d}")
        cells.append(row)
    col_w = [int(max(font.getlength(cells[r][c]) for r in range(n_rows))) + rng.randint(2, 5) * size
             for c in range(n_cols)]
    width = 2 * margin + sum(col_w)
    height = 2 * margin + n_rows * pitch
    img = Image.new("L", (width, height), rng.randint(235, 255))
    draw = ImageDraw.Draw(img)
    ink = rng.randint(0, 50)
    ruled = rng.random() < 0.5
    truth: list[SynthLine] = []
    for r, row in enumerate(cells):
        y = margin + r * pitch + (pitch - size) // 2
        x = margin
        for c, text in enumerate(row):
            truth.append(_draw_line(draw, (x + size // 2, y), text, font, ink))
            x += col_w[c]
    if ruled:
        for r in range(n_rows + 1):
            draw.line((margin, margin + r * pitch, width - margin, margin + r * pitch), fill=ink + 80, width=1)
        x = margin
        for c in range(n_cols + 1):
            draw.line((x, margin, x, height - margin), fill=ink + 80, width=1)
            x += col_w[c] if c < n_cols else 0
    return _finish(img, seed), truth


def render_sparse_page(seed: int) -> tuple[np.ndarray, list[SynthLine]]:
    """A few short lines (2-5: a heading, a note, a date) on a large sheet (900-1600 x 800-2000
    px) with paper grain, so that the ink is well under 1 % of the pixels: the page kind whose
    1st-99th percentile grey levels are all paper (``preprocess.enhance``). English or Chinese
    with the seed; the truth top to bottom."""
    rng = random.Random(seed)
    zh = rng.random() < 0.4
    width, height = rng.randint(900, 1600), rng.randint(800, 2000)
    img = Image.new("L", (width, height), rng.randint(225, 250))
    draw = ImageDraw.Draw(img)
    ink = rng.randint(0, 70)
    n = rng.randint(2, 5)
    ys = sorted(rng.sample(range(60, height - 100, 50), n))
    truth: list[SynthLine] = []
    for y in ys:
        size = rng.choice([18, 20, 24, 28])
        font = _font(CJK_FONT if zh else rng.choice(LATIN_FONTS), size)
        text = _zh_sentence(rng, rng.randint(1, 3)) if zh else _en_sentence(rng, rng.randint(1, 4))
        x = rng.randint(40, max(41, width - int(font.getlength(text)) - 40))
        truth.append(_draw_line(draw, (x, y), text, font, ink))
    return _finish(img, seed), truth


@dataclass(frozen=True)
class SynthChar:
    char: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the glyph's ink, image pixels


def render_mixed_line(seed: int, *, spaced: bool | None = None) -> tuple[np.ndarray, str, list[SynthChar]]:
    """One Chinese line with English words and numbers in it, as in software notices
    ("请在 Settings 中打开 Dark Mode 选项"): English words separated by spaces, and separated from
    the Chinese by a space when ``spaced`` (random when None). Latin in DejaVu/Liberation or the
    CJK font's own Latin. Returns the image, the text, and each non-space character's ink box."""
    rng = random.Random(seed)
    spaced = rng.random() < 0.6 if spaced is None else spaced
    size = rng.choice([22, 26, 30, 36])
    cjk = _font(CJK_FONT, size)
    latin = cjk if rng.random() < 0.3 else _font(rng.choice(LATIN_FONTS), size)
    parts: list[str] = []
    for _k in range(rng.randint(2, 4)):
        parts.append(_zh_sentence(rng, rng.randint(1, 2)))
        parts.append(rng.choice(EN_TERMS) if rng.random() < 0.8 else str(rng.randint(2, 2030)))
    parts.append(_zh_sentence(rng, 1))
    text = (" " if spaced else "").join(parts)
    pad = size // 2
    width = int(sum(max(cjk.getlength(ch), latin.getlength(ch)) for ch in text)) + 2 * pad
    img = Image.new("L", (width, int(size * 1.6)), rng.randint(235, 255))
    draw = ImageDraw.Draw(img)
    ink = rng.randint(0, 60)
    x, y = float(pad), size * 0.25
    chars: list[SynthChar] = []
    for ch in text:
        f = cjk if is_cjk(ch) else latin
        if ch != " ":
            draw.text((x, y), ch, fill=ink, font=f)
            bx = draw.textbbox((x, y), ch, font=f)
            chars.append(SynthChar(ch, (int(bx[0]), int(bx[1]), int(bx[2]), int(bx[3]))))
        x += f.getlength(ch)
    img = img.crop((0, 0, int(x) + pad, img.height))
    return _finish(img, seed), text, chars


def render_banner(seed: int) -> tuple[np.ndarray, list[SynthLine]]:
    """A wide banner (1400-3500 x 300-700 px: more than 2.5 times as wide as tall, so the
    detector tiles it) with one or two lines of big text (ink 55-390 px tall), as on a web header, a
    shop sign or a slide title: Chinese or English, dark on light or light on dark, sometimes on
    a colour. The truth top to bottom."""
    rng = random.Random(seed)
    zh = rng.random() < 0.5
    height = rng.randint(300, 700)
    n = 1 if rng.random() < 0.6 else 2
    size = int(height * rng.uniform(0.45, 0.7) / n)
    words = [_zh_sentence(rng, rng.randint(2, 3)) if zh else " ".join(w.capitalize() for w in _en_sentence(rng, rng.randint(1, 3)).split())
             for _ in range(n)]
    font = _font(CJK_FONT if zh else rng.choice(LATIN_FONTS), size)
    text_w = max(int(font.getlength(w)) for w in words)
    width = max(int(2.6 * height) + 1, 1400, text_w + rng.randint(80, 600))
    light_ink = rng.random() < 0.5
    if rng.random() < 0.4:  # a coloured ground: dark under light ink, light under dark ink
        base = [rng.randint(0, 90) for _ in range(3)] if light_ink else [rng.randint(170, 255) for _ in range(3)]
        ground: tuple[int, ...] = tuple(base)
    else:
        ground = (rng.randint(0, 40),) * 3 if light_ink else (rng.randint(225, 255),) * 3
    ink = (rng.randint(225, 255),) * 3 if light_ink else (rng.randint(0, 40),) * 3
    img = Image.new("RGB", (width, height), ground)
    draw = ImageDraw.Draw(img)
    gap = int(size * 0.35)
    block = n * size + (n - 1) * gap
    y = (height - block) // 2 - int(size * 0.1)
    x0 = rng.randint(40, max(41, width - text_w - 40))
    truth: list[SynthLine] = []
    for w in words:
        truth.append(_draw_line(draw, (x0, y), w, font, ink))
        y += size + gap
    return _finish(img, seed), truth


def render_column_list(seed: int) -> tuple[np.ndarray, list[SynthLine]]:
    """A receipt- or form-like list whose first or middle column holds lone glyphs, one per row:
    quantities ("1", "2" before each item, the price on the right) or the colons of "label : value"
    rows, tightly spaced (1.05-1.35 line heights), as on SROIE receipts. 6-12 rows, English, on a
    light paper grey. The truth row by row, left to right (the lone glyph its own line)."""
    rng = random.Random(seed)
    size = rng.choice([16, 18, 20, 22])
    font = _font(rng.choice(LATIN_FONTS), size)
    colons = rng.random() < 0.4
    n = rng.randint(6, 12)
    step = int(size * rng.uniform(1.05, 1.35))
    margin = rng.randint(20, 50)
    width = rng.randint(640, 900)
    height = 2 * margin + n * step + size
    img = Image.new("L", (width, height), rng.randint(225, 250))
    draw = ImageDraw.Draw(img)
    ink = rng.randint(0, 60)
    truth: list[SynthLine] = []

    def put(x: int, y: int, text: str) -> None:
        truth.append(_draw_line(draw, (x, y), text, font, ink))

    gap = int(size * rng.uniform(2.0, 3.5))
    labels = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 2))).upper() for _ in range(n)]
    label_w = max(int(font.getlength(label)) for label in labels) + int(size * rng.uniform(1.0, 3.0))
    for r in range(n):
        y = margin + r * step
        if colons:
            label = labels[r]
            put(margin, y, label)
            put(margin + label_w, y, ":")
            put(margin + label_w + gap, y, f"{rng.randint(10, 99999)}")
        else:
            put(margin, y, str(rng.choice([1, 1, 1, 2, 3, 4])))
            put(margin + gap, y, " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3))).capitalize())
            price = f"{rng.randint(1, 299)}.{rng.randint(0, 99):02d}"
            put(width - margin - int(font.getlength(price)), y, price)
    return _finish(img.convert("RGB"), seed), truth
