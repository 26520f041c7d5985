"""Synthetic text images: calibration data for INT8 quantisation, test fixtures, benchmark pages.

Rendered with Pillow's bundled scalable font, so the same images come out on any machine
without system fonts. A fixed seed gives the same pixels every time, which keeps the model
build and the tests reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

WORDS = ["invoice", "total", "amount", "date", "order", "number", "customer", "address", "street", "road", "city", "phone", "email", "price", "quantity", "item", "description", "tax", "subtotal", "cash", "change", "receipt", "thank", "you", "welcome", "store", "open", "daily", "from", "to", "hours", "account", "balance", "payment", "card", "visa", "credit", "debit", "reference", "code", "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "optical", "character", "recognition", "service", "engine", "model", "detection", "text", "line", "image", "scan", "photo", "document", "page", "report", "summary", "section", "table", "north", "south", "east", "west", "market", "bank", "hotel", "station", "airport", "exit", "entrance", "parking", "floor", "Monday", "Tuesday", "Friday", "January", "March", "October", "Kuala", "Lumpur", "Beijing", "Shanghai", "London", "Paris"]


@dataclass(frozen=True)
class SynthLine:
    text: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in page pixels


def random_text(rng: random.Random, min_words: int = 1, max_words: int = 5) -> str:
    """A short line mixing words, numbers and punctuation, like receipts and signs."""
    parts: list[str] = []
    for _ in range(rng.randint(min_words, max_words)):
        r = rng.random()
        if r < 0.65:
            w = rng.choice(WORDS)
            parts.append(w.upper() if rng.random() < 0.25 else w)
        elif r < 0.85:
            parts.append(f"{rng.randint(0, 9999)}")
        else:
            parts.append(f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}")
    text = " ".join(parts)
    if rng.random() < 0.3:
        text += rng.choice([":", ".", ",", "!", "?", "%", ")"])
    return text


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)  # type: ignore[return-value]


def render_line(text: str, height: int = 40, *, fg: int = 20, bg: int = 245, pad: int = 6,
                font_path: str | None = None) -> np.ndarray:
    """One text line, tightly cropped with a small margin (like a detector crop), BGR uint8.
    ``font_path``: a TrueType/OpenType file (a CJK one for Chinese); default PIL's own font."""
    size = max(8, int(height * 0.75))
    font = ImageFont.truetype(font_path, size) if font_path else _font(size)
    x0, y0, x1, y1 = (int(v) for v in font.getbbox(text))
    w, h = x1 - x0 + 2 * pad, max(height, y1 - y0 + 2 * pad)
    img = Image.new("L", (w, h), bg)
    ImageDraw.Draw(img).text((pad - x0, (h - (y1 - y0)) // 2 - y0), text, fill=fg, font=font)
    arr = np.asarray(img)
    return np.ascontiguousarray(np.repeat(arr[:, :, None], 3, axis=2))


def render_page(
    seed: int,
    size: tuple[int, int] = (1024, 768),
    *,
    n_lines: int | None = None,
    low_contrast: bool = False,
    blur: float = 0.0,
) -> tuple[np.ndarray, list[SynthLine]]:
    """A document-like page of left-aligned lines with varied sizes; returns BGR image and truth."""
    rng = random.Random(seed)
    width, height = size
    bg = rng.randint(200, 255) if not low_contrast else rng.randint(150, 175)
    fg = rng.randint(0, 60) if not low_contrast else rng.randint(105, 125)
    tint = np.array([rng.randint(-10, 10) for _ in range(3)])
    img = Image.new("L", (width, height), bg)
    draw = ImageDraw.Draw(img)
    lines: list[SynthLine] = []
    y = rng.randint(20, 50)
    target = n_lines if n_lines is not None else 10**9
    while len(lines) < target:
        size_px = rng.choice([18, 22, 26, 30, 36, 44])
        font = _font(size_px)
        text = random_text(rng, 2, 6)
        x = rng.randint(20, max(21, width // 6))
        bx0, by0, bx1, by1 = (int(v) for v in draw.textbbox((x, y), text, font=font))
        if by1 + 10 > height:
            break
        if bx1 > width - 10:
            y += 4
            continue
        draw.text((x, y), text, fill=fg, font=font)
        lines.append(SynthLine(text, (bx0, by0, bx1, by1)))
        y = by1 + rng.randint(int(size_px * 0.5), int(size_px * 1.4))
    if blur > 0:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    arr = np.asarray(img).astype(np.int16)[:, :, None] + tint[None, None, :]
    noise = np.random.default_rng(seed).normal(0, 3, arr.shape)
    out = np.clip(arr + noise, 0, 255).astype(np.uint8)
    return out, lines


def degrade(img: np.ndarray, rng: random.Random) -> np.ndarray:
    """Camera- and scanner-like damage (blur, sensor noise, JPEG blocks, sometimes light-on-dark),
    each applied at random, so INT8 calibration also sees the activation ranges of real crops."""
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.6, 1.4))
    if rng.random() < 0.4:
        noise = np.random.default_rng(rng.randint(0, 1 << 30)).normal(0, rng.uniform(4, 14), img.shape)
        img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        _, encoded = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(30, 80)])
        img = np.asarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR))
    if rng.random() < 0.15:
        img = 255 - img
    return np.ascontiguousarray(img)


def render_scroll(seed: int, width: int = 1080, height: int = 24000, *, n_lines: int = 200,
                  sizes: tuple[int, ...] = (26, 30, 34, 38, 44)) -> tuple[np.ndarray, list[SynthLine]]:
    """A scrolling phone screenshot (chat or feed): ``n_lines`` short lines of UI text (font
    ``sizes`` in px, large by default, as phones render it) spread top to bottom over a tall
    ``width`` x ``height`` page, some in coloured bubbles; returns the BGR image and the lines in
    reading order. Lines that don't fit the height are not drawn, so ``len(lines)`` may be below
    ``n_lines`` for short pages."""
    rng = random.Random(seed)
    img = Image.new("RGB", (width, height), (245, 245, 245))
    draw = ImageDraw.Draw(img)
    lines: list[SynthLine] = []
    gap = max(1, height // max(n_lines, 1))
    y = 30
    for _ in range(n_lines):
        size_px = rng.choice(sizes)
        font = _font(size_px)
        text = random_text(rng, 1, 4)
        bx0, by0, bx1, by1 = (int(v) for v in draw.textbbox((0, 0), text, font=font))
        tw = bx1 - bx0
        if tw > width - 120:
            text = text.split(" ")[0]
            bx0, by0, bx1, by1 = (int(v) for v in draw.textbbox((0, 0), text, font=font))
            tw = bx1 - bx0
        right = rng.random() < 0.4
        x = width - 60 - tw if right else rng.randint(40, 100)
        if y + (by1 - by0) + 40 > height:
            break
        if rng.random() < 0.5:  # a chat bubble behind the line
            fill = (149, 236, 105) if right else (255, 255, 255)
            draw.rounded_rectangle((x - 24, y + by0 - 18, x + tw + 24, y + by1 + 18), radius=16, fill=fill)
        draw.text((x - bx0, y), text, fill=(25, 25, 25), font=font)
        lines.append(SynthLine(text, (x, y + by0, x + tw, y + by1)))
        y += max(gap, (by1 - by0) + 40) + rng.randint(-6, 6)
    arr = np.asarray(img)[:, :, ::-1]
    return np.ascontiguousarray(arr), lines
