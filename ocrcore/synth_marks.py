"""Generated form and document images with known text, for the faults of issue #11 items 3-4:

- :func:`render_lone_glyphs`: single short glyphs (一 二 三 十, a dash, one digit) as the only
  content of a field or of the cells of a ruled table;
- :func:`render_marked_text`: text crossed by coloured strokes (a ring, a seal, a signature
  scribble, ruling lines) at several positions, or itself printed in colour;
- :func:`render_highlight`: a line with one word or phrase on a coloured highlight box.

Each returns ``(BGR uint8 image, lines)``: the right answer, one string per text line in reading
order (rows top to bottom, cells left to right). Text is made up from the word lists below; fonts
are DejaVu/Liberation for Latin and WenQuanYi Micro Hei for Chinese (Debian packages
``fonts-dejavu-core``, ``fonts-liberation``, ``fonts-wqy-microhei``): :func:`fonts_available`
says whether they are installed. A seed gives the same image every time.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype")
LATIN_FONTS = ("dejavu/DejaVuSans.ttf", "dejavu/DejaVuSerif.ttf", "liberation/LiberationSans-Regular.ttf",
               "liberation/LiberationSerif-Regular.ttf", "liberation/LiberationSans-Bold.ttf")
CJK_FONTS = ("wqy/wqy-microhei.ttc",)

# Short flat glyphs the detector misses alone, and the taller ones it finds, mixed in cells.
LONE_GLYPHS = ("一", "二", "三", "十", "-", "1", "7", "0", "4", "工", "上", "口")
ZH_WORDS = ("在本单位", "工作至今", "收货人", "联系电话", "地址", "备注", "合同编号", "负责人", "签字", "日期", "金额",
            "数量", "单价", "合计", "审核", "部门", "项目名称", "开户银行", "身份证号", "请于明天", "带上证件", "办理手续",
            "会议记录", "年度预算", "图书馆", "经费", "增加", "百分之十", "已经", "完成", "本人", "确认", "以上", "内容属实")
EN_WORDS = ("Please", "bring", "your", "ID", "card", "tomorrow", "signed", "by", "the", "manager", "on", "behalf",
            "of", "company", "total", "amount", "due", "date", "approved", "received", "with", "thanks", "invoice",
            "number", "office", "hours", "contract", "valid", "until", "further", "notice", "meeting", "room",
            "budget", "review", "library", "fund")
# (B, G, R) inks of stamps, signatures and ruling lines; highlighter fills.
MARK_COLOURS = {"red": (60, 60, 225), "crimson": (40, 20, 190), "blue": (200, 80, 30), "green": (70, 160, 40),
                "purple": (160, 50, 130), "orange": (30, 130, 240)}
HIGHLIGHTS = {"yellow": (60, 235, 255), "green": (120, 240, 140), "pink": (200, 170, 255), "cyan": (250, 230, 140),
              "orange": (90, 190, 255)}


def fonts_available() -> bool:
    """Whether the fonts the generators draw with are installed."""
    return all((FONT_DIR / f).exists() for f in LATIN_FONTS + CJK_FONTS)


def _font(rng: random.Random, size: int, cjk: bool) -> ImageFont.FreeTypeFont:
    name = rng.choice(CJK_FONTS if cjk else LATIN_FONTS + CJK_FONTS)
    return ImageFont.truetype(str(FONT_DIR / name), size)


def _text(rng: random.Random, cjk: bool, n_min: int, n_max: int) -> str:
    words = rng.sample(ZH_WORDS if cjk else EN_WORDS, rng.randint(n_min, n_max))
    return "".join(words) if cjk else " ".join(words)


def _bgr(img: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(img.convert("RGB"))[:, :, ::-1])


def _rgb(bgr: tuple[int, int, int]) -> tuple[int, int, int]:
    return bgr[2], bgr[1], bgr[0]


def render_lone_glyphs(seed: int) -> tuple[np.ndarray, list[str]]:
    """A field or a ruled table whose cells each hold one short glyph (or stay empty).

    Kinds by seed: a lone glyph on a blank field (like ``cases/05_yi_alone.png``), a boxed field
    with a label line above it, or a 2-4 x 2-5 ruled table of single glyphs. Glyph size 18-64 px."""
    rng = random.Random(seed)
    kind = ("alone", "field", "table")[seed % 3]
    size = rng.choice([18, 24, 32, 44, 64])
    font = _font(rng, size, cjk=True)
    if kind == "alone":
        glyph = rng.choice(LONE_GLYPHS)
        w, h = rng.randint(3, 6) * size, rng.randint(2, 4) * size
        img = Image.new("RGB", (w, h), (255, 255, 255))
        ImageDraw.Draw(img).text((w // 2, h // 2), glyph, fill=(0, 0, 0), font=font, anchor="mm")
        return _bgr(img), [glyph]
    if kind == "field":
        label = rng.choice(("数量", "份数", "备注", "Qty", "No.", "等级"))
        glyph = rng.choice(LONE_GLYPHS)
        w, h = 8 * size, 5 * size
        img = Image.new("RGB", (w, h), (255, 255, 255))
        draw = ImageDraw.Draw(img)
        draw.text((size // 2, size // 2), label, fill=(0, 0, 0), font=font)
        box = (size // 2, 2 * size, w - size // 2, h - size // 2)
        draw.rectangle(box, outline=(90, 90, 90), width=max(1, size // 16))
        draw.text(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2), glyph, fill=(0, 0, 0), font=font, anchor="mm")
        return _bgr(img), [label, glyph]
    rows, cols = rng.randint(2, 4), rng.randint(2, 5)
    cw, ch = int(size * rng.uniform(2.2, 3.5)), int(size * rng.uniform(1.6, 2.2))
    margin = size
    img = Image.new("RGB", (cols * cw + 2 * margin, rows * ch + 2 * margin), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    rule = max(1, size // 14)
    lines: list[str] = []
    for r in range(rows):
        for c in range(cols):
            if rng.random() < 0.15:
                continue
            glyph = rng.choice(LONE_GLYPHS)
            draw.text((margin + c * cw + cw // 2, margin + r * ch + ch // 2), glyph, fill=(0, 0, 0), font=font,
                      anchor="mm")
            lines.append(glyph)
    for r in range(rows + 1):
        draw.line((margin, margin + r * ch, margin + cols * cw, margin + r * ch), fill=(0, 0, 0), width=rule)
    for c in range(cols + 1):
        draw.line((margin + c * cw, margin, margin + c * cw, margin + rows * ch), fill=(0, 0, 0), width=rule)
    return _bgr(img), lines


def _ring(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, colour: tuple[int, int, int], width: int,
          seal: bool, rng: random.Random) -> None:
    draw.ellipse((cx - r, cy - r * 0.95, cx + r, cy + r * 0.95), outline=colour, width=width)
    if seal:  # a seal: inner ring and a star
        ri = r * 0.82
        draw.ellipse((cx - ri, cy - ri * 0.95, cx + ri, cy + ri * 0.95), outline=colour, width=max(1, width // 2))
        rs = r * 0.3
        pts = [(cx + (rs if k % 2 == 0 else rs * 0.4) * math.sin(k * math.pi / 5),
                cy - (rs if k % 2 == 0 else rs * 0.4) * math.cos(k * math.pi / 5)) for k in range(10)]
        draw.polygon(pts, fill=colour)


def _scribble(draw: ImageDraw.ImageDraw, x0: float, y0: float, x1: float, y1: float, colour: tuple[int, int, int],
              width: int, rng: random.Random) -> None:
    """A signature-like stroke: a smooth wave with loops from (x0, y0) to (x1, y1)."""
    n = 80
    amp = (y1 - y0) * 0.5 + abs(x1 - x0) * 0.08
    freq = rng.uniform(2.0, 4.0)
    pts = []
    for i in range(n + 1):
        t = i / n
        x = x0 + (x1 - x0) * t + abs(x1 - x0) * 0.05 * math.sin(2 * math.pi * freq * 2 * t)
        y = y0 + (y1 - y0) * t + amp * math.sin(2 * math.pi * freq * t)
        pts.append((x, y))
    draw.line(pts, fill=colour, width=width, joint="curve")


def render_marked_text(seed: int) -> tuple[np.ndarray, list[str]]:
    """One to three lines of Chinese or English text crossed by a coloured mark.

    Marks by seed: a ring or a seal over one character/word (start, middle or end of a line), a
    signature scribble across a line, ruling lines (a vertical margin rule through a line, or
    notebook rules under each line), or none with the text itself in colour (red titles, blue
    ink), which must still be read."""
    rng = random.Random(seed)
    kind = ("ring", "seal", "signature", "rules", "coloured_text")[seed % 5]
    cjk = rng.random() < 0.55
    size = rng.choice([20, 26, 32, 40])
    font = _font(rng, size, cjk)
    texts = [_text(rng, cjk, 2, 3) for _ in range(rng.randint(1, 3))]
    gap = int(size * rng.uniform(1.2, 1.8))
    draw0 = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    widths = [int(draw0.textbbox((0, 0), t, font=font)[2]) for t in texts]
    w = max(widths) + 5 * size
    h = len(texts) * (size + gap) + 3 * size
    img = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    colour_name = rng.choice(list(MARK_COLOURS))
    colour = _rgb(MARK_COLOURS[colour_name])
    ink = colour if kind == "coloured_text" else (0, 0, 0)
    x = int(size * 1.2)
    boxes = []
    for i, t in enumerate(texts):
        y = int(size * 1.5) + i * (size + gap)
        draw.text((x, y), t, fill=ink, font=font)
        boxes.append(draw.textbbox((x, y), t, font=font))
    stroke = max(2, size // 9)
    line_i = rng.randrange(len(texts))
    bx0, by0, bx1, by1 = boxes[line_i]
    if kind in ("ring", "seal"):
        pos = rng.choice((0.05, 0.5, 0.95))
        cx = bx0 + (bx1 - bx0) * pos + rng.uniform(-0.3, 0.3) * size
        cy = (by0 + by1) / 2 + rng.uniform(-0.5, 0.3) * size
        r = size * rng.uniform(1.0, 1.6)
        _ring(draw, cx, cy, r, colour, stroke, kind == "seal", rng)
    elif kind == "signature":
        sx0 = bx0 + (bx1 - bx0) * rng.uniform(0.0, 0.5)
        sx1 = min(w - 5, sx0 + rng.uniform(3, 6) * size)
        _scribble(draw, sx0, by0 - size * 0.2, sx1, by1 + size * 0.1, colour, max(2, stroke - 1), rng)
    elif kind == "rules":
        for bx in boxes:  # notebook rules just under each line
            draw.line((0, bx[3] + 3, w, bx[3] + 3), fill=colour, width=max(1, stroke // 2))
        mx = bx0 + (bx1 - bx0) * rng.uniform(0.2, 0.8)
        draw.line((mx, 0, mx, h), fill=_rgb(MARK_COLOURS["red"]), width=max(1, stroke // 2))
    return _bgr(img), texts


def render_highlight(seed: int) -> tuple[np.ndarray, list[str]]:
    """One or two lines of text with a word or phrase on a padded coloured highlight box.

    Chinese or English, 18-40 px, highlight yellow/green/pink/cyan/orange, padding 0.1-0.5 of
    the text height, at the start, middle or end of the line."""
    rng = random.Random(seed)
    cjk = rng.random() < 0.45
    size = rng.choice([18, 24, 30, 40])
    font = _font(rng, size, cjk)
    n_lines = rng.randint(1, 2)
    words_per_line = [list(rng.sample(ZH_WORDS if cjk else EN_WORDS, rng.randint(3, 5))) for _ in range(n_lines)]
    sep = "" if cjk else " "
    texts = [sep.join(ws) for ws in words_per_line]
    draw0 = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    w = int(max(draw0.textbbox((0, 0), t, font=font)[2] for t in texts)) + 4 * size
    gap = int(size * 1.6)
    h = n_lines * (size + gap) + 2 * size
    img = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    fill = _rgb(HIGHLIGHTS[rng.choice(list(HIGHLIGHTS))])
    x0 = int(size * 1.5)
    for i, ws in enumerate(words_per_line):
        y = size + i * (size + gap)
        lo = rng.randrange(len(ws))
        hi = min(len(ws), lo + rng.randint(1, 2))
        before = sep.join(ws[:lo]) + (sep if lo else "")
        marked = sep.join(ws[lo:hi])
        hx0 = x0 + draw.textlength(before, font=font)
        hx1 = hx0 + draw.textlength(marked, font=font)
        _, ty0, _, ty1 = draw.textbbox((x0, y), texts[i], font=font)
        pad = size * rng.uniform(0.1, 0.5)
        draw.rectangle((hx0 - pad, ty0 - pad, hx1 + pad, ty1 + pad), fill=fill)
        draw.text((x0, y), texts[i], fill=(20, 20, 20), font=font)
    return _bgr(img), texts
