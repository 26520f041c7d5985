"""The images the load test posts: the project's own synthetic samples, plus real images when present.

Synthetic samples (always available, deterministic per seed, no system fonts needed):

- ``document``: ocrcore.synth.render_page pages (1024x768 and 1280x960), PNG
- ``receipt``: narrow thermal-receipt-like pages (384-480 px wide, 0.7-1.1k tall), JPEG
- ``sign``: one to three words of large text on a coloured ground, slightly rotated, JPEG
- ``screenshot``: UI-like images (title bar, sidebar menu, table, buttons; 14-18 px text), PNG

Real images, referenced in place (never copied into the repository) when the shared evaluation
sets exist (``../shared/eval`` next to the repository, or ``$OCR_EVAL_DIR``): ICDAR2015 scene
photos (``scene``), the Chinese photos and scans (``zh-photo``) and the Tesseract test pages
(``scan``), at most 8 per category (evenly spaced). Images above ``max_pixels`` (default 4 MP: the two 300-dpi A4 scans at 8.4 MP) are
left out of the mix, because the gate is about typical uploads; their latency is reported
separately in docs/performance.md.

    python -m loadtest.samples [--out DIR] [--no-eval]    # writes DIR/manifest.json and prints a summary
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / ".cache" / "loadtest-samples"
DEFAULT_MAX_PIXELS = 4_000_000
SYNTH_CATEGORIES = ("document", "receipt", "sign", "screenshot")
# eval set -> category in the mix
EVAL_SETS = {
    "ic15_test_en_scene": "scene",
    "zh_real_dev": "zh-photo",
    "zh_smoke_full": "zh-photo",
    "tesseract_en_pages": "scan",
}


@dataclass(frozen=True)
class Sample:
    path: str
    category: str
    source: str  # "synth" or "eval:<set>"
    width: int
    height: int
    bytes: int
    content_type: str


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)  # type: ignore[return-value]


def _encode(img: Image.Image, fmt: str) -> tuple[bytes, str]:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(buf, "JPEG", quality=85)
        return buf.getvalue(), "image/jpeg"
    img.save(buf, "PNG", optimize=False)
    return buf.getvalue(), "image/png"


# ---------------------------------------------------------------------------------- generators


def document(seed: int) -> Image.Image:
    from ocrcore.synth import render_page  # numpy + Pillow only

    size = (1024, 768) if seed % 2 == 0 else (1280, 960)
    bgr, _ = render_page(seed, size)
    return Image.fromarray(bgr[:, :, ::-1].copy())


def receipt(seed: int) -> Image.Image:
    rng = random.Random(seed)
    from ocrcore.synth import WORDS

    width = rng.choice([384, 420, 480])
    items = rng.randint(14, 24)
    size = rng.choice([16, 18, 20])
    font, big = _font(size), _font(int(size * 1.5))
    lh = int(size * 1.6)
    height = 40 + 3 * int(size * 2.2) + (items + 8) * lh + 40
    paper = rng.randint(228, 250)
    img = Image.new("L", (width, height), paper)
    d = ImageDraw.Draw(img)
    ink = rng.randint(10, 70)
    y = 30
    store = f"{rng.choice(WORDS).upper()} {rng.choice(['MART', 'STORE', 'CAFE', 'MARKET'])}"
    for text, f in ((store, big), (f"{rng.randint(1, 300)} {rng.choice(WORDS).title()} Road", font),
                    (f"Tel {rng.randint(100, 999)}-{rng.randint(1000, 9999)}", font)):
        w = d.textlength(text, font=f)
        d.text(((width - w) / 2, y), text, fill=ink, font=f)
        y += int(f.size * 1.45)
    y += lh // 2
    d.text((16, y), f"Date {rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2025  {rng.randint(7, 22):02d}:{rng.randint(0, 59):02d}", fill=ink, font=font)
    y += lh
    d.line((12, y, width - 12, y), fill=ink, width=1)
    y += lh // 2
    total = 0.0
    for _ in range(items):
        name = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 2)))[:18]
        qty, price = rng.randint(1, 4), rng.randint(50, 4999) / 100
        total += qty * price
        d.text((16, y), f"{qty} {name}", fill=ink, font=font)
        amount = f"{qty * price:.2f}"
        d.text((width - 16 - d.textlength(amount, font=font), y), amount, fill=ink, font=font)
        y += lh
    d.line((12, y, width - 12, y), fill=ink, width=1)
    y += lh // 2
    for label, value in (("SUBTOTAL", total), ("TAX 6%", total * 0.06), ("TOTAL", total * 1.06)):
        d.text((16, y), label, fill=ink, font=font)
        v = f"{value:.2f}"
        d.text((width - 16 - d.textlength(v, font=font), y), v, fill=ink, font=font)
        y += lh
    y += lh // 2
    msg = "THANK YOU COME AGAIN"
    d.text(((width - d.textlength(msg, font=font)) / 2, y), msg, fill=ink, font=font)
    return img.crop((0, 0, width, min(height, y + 2 * lh)))


def sign(seed: int) -> Image.Image:
    rng = random.Random(seed)
    from ocrcore.synth import WORDS

    w, h = rng.choice([(800, 600), (1024, 768), (640, 480)])
    palette = [((200, 30, 30), (255, 255, 255)), ((20, 90, 40), (250, 250, 250)), ((20, 40, 140), (255, 255, 255)),
               ((250, 210, 40), (20, 20, 20)), ((245, 245, 245), (180, 20, 20))]
    bg, fg = rng.choice(palette)
    scene = tuple(rng.randint(60, 160) for _ in range(3))
    img = Image.new("RGB", (w, h), scene)
    d = ImageDraw.Draw(img)
    margin = rng.randint(30, 80)
    d.rounded_rectangle((margin, margin, w - margin, h - margin), radius=20, fill=bg)
    n = rng.randint(1, 3)
    lines = [" ".join(rng.choice(WORDS).upper() for _ in range(rng.randint(1, 2))) for _ in range(n)]
    size = int((h - 2 * margin) / (n * 1.5))
    while size > 20 and max(_font(size).getlength(t) for t in lines) > w - 2 * margin - 40:
        size -= 4
    font = _font(size)
    y = (h - n * size * 1.3) / 2
    for t in lines:
        d.text(((w - font.getlength(t)) / 2, y), t, fill=fg, font=font)
        y += size * 1.3
    return img.rotate(rng.uniform(-6, 6), resample=Image.Resampling.BICUBIC, fillcolor=scene)


def screenshot(seed: int) -> Image.Image:
    rng = random.Random(seed)
    from ocrcore.synth import WORDS

    w, h = rng.choice([(1280, 800), (1366, 768), (1024, 768)])
    accent = rng.choice([(33, 150, 243), (76, 175, 80), (156, 39, 176), (255, 87, 34)])
    img = Image.new("RGB", (w, h), (250, 250, 250))
    d = ImageDraw.Draw(img)
    f14, f16, f18, f24 = _font(14), _font(16), _font(18), _font(24)
    d.rectangle((0, 0, w, 56), fill=accent)
    d.text((24, 14), f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()} Dashboard", fill=(255, 255, 255), font=f24)
    d.rectangle((0, 56, 220, h), fill=(236, 239, 241))
    y = 80
    for _ in range(rng.randint(6, 10)):
        d.text((24, y), rng.choice(WORDS).title(), fill=(55, 71, 79), font=f16)
        y += 40
    x0, y = 250, 80
    d.text((x0, y), f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} report", fill=(33, 33, 33), font=f24)
    y += 50
    cols = [x0, x0 + 220, x0 + 420, x0 + 620]
    for i, head in enumerate(("Name", "Date", "Amount", "Status")):
        if cols[i] < w - 100:
            d.text((cols[i], y), head, fill=(97, 97, 97), font=f16)
    y += 32
    for _ in range(rng.randint(6, 11)):
        if y > h - 120:
            break
        row = (f"{rng.choice(WORDS)} {rng.choice(WORDS)}", f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
               f"{rng.randint(1, 99999) / 100:.2f}", rng.choice(["paid", "open", "overdue", "draft"]))
        for i, cell in enumerate(row):
            if cols[i] < w - 100:
                d.text((cols[i], y), cell, fill=(33, 33, 33), font=f14)
        d.line((x0, y + 26, w - 30, y + 26), fill=(224, 224, 224))
        y += 36
    bx = x0
    for label in ("Save", "Export", "Cancel"):
        tw = d.textlength(label, font=f18)
        d.rounded_rectangle((bx, h - 80, bx + tw + 40, h - 40), radius=6, fill=accent if label == "Save" else (224, 224, 224))
        d.text((bx + 20, h - 72), label, fill=(255, 255, 255) if label == "Save" else (33, 33, 33), font=f18)
        bx += int(tw) + 60
    return img


GENERATORS = {"document": (document, "PNG"), "receipt": (receipt, "JPEG"), "sign": (sign, "JPEG"), "screenshot": (screenshot, "PNG")}


# ---------------------------------------------------------------------------------- the mix


def eval_dir() -> Path | None:
    """``$OCR_EVAL_DIR``, else ``../shared/eval`` next to the repository, if it exists."""
    for cand in (os.environ.get("OCR_EVAL_DIR"), ROOT.parent / "shared" / "eval"):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None


def build(out: Path = DEFAULT_OUT, *, per_category: int = 6, use_eval: bool = True,
          max_pixels: int = DEFAULT_MAX_PIXELS, eval_per_category: int = 8, seed: int = 0,
          manifest: Path | None = None) -> list[Sample]:
    """Write the synthetic samples to ``out``, add the eval images in place, write the manifest
    (``out/manifest.json`` unless ``manifest`` is given: concurrent runs with different options
    share the image directory, whose files are identical for a seed, but not the manifest).

    ``eval_per_category`` caps each real-image category (evenly spaced picks), so the whole mix
    cycles every ~50 requests: a soak then repeats every image many times, and memory that
    still grows after the first cycles is a leak, not the first sight of a new image size."""
    out.mkdir(parents=True, exist_ok=True)
    samples: list[Sample] = []
    for ci, category in enumerate(SYNTH_CATEGORIES):
        gen, fmt = GENERATORS[category]
        for i in range(per_category):
            img = gen(seed + 1000 * ci + i)
            data, ctype = _encode(img, fmt)
            path = out / f"{category}_{i:02d}.{'jpg' if fmt == 'JPEG' else 'png'}"
            _write_atomic(path, data)
            samples.append(Sample(str(path), category, "synth", img.width, img.height, len(data), ctype))
    root = eval_dir() if use_eval else None
    if root is not None:
        found: dict[str, list[Sample]] = {}
        for set_name, category in EVAL_SETS.items():
            for path in sorted((root / set_name / "images").glob("*")):
                if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
                    continue
                with Image.open(path) as im:
                    w, h = im.size
                if max_pixels and w * h > max_pixels:
                    continue
                ctype = "image/png" if path.suffix.lower() == ".png" else "image/jpeg"
                found.setdefault(category, []).append(
                    Sample(str(path), category, f"eval:{set_name}", w, h, path.stat().st_size, ctype))
        for items in found.values():
            if eval_per_category and len(items) > eval_per_category:
                step = len(items) / eval_per_category
                items = [items[int(i * step)] for i in range(eval_per_category)]
            samples.extend(items)
    _write_atomic(manifest or out / "manifest.json", json.dumps([asdict(s) for s in samples], indent=1).encode())
    return samples


def _write_atomic(path: Path, data: bytes) -> None:
    """Concurrent runs share the sample directory: never let one read a half-written file."""
    if path.exists() and path.read_bytes() == data:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def load_manifest(path: Path) -> list[Sample]:
    return [Sample(**d) for d in json.loads(Path(path).read_text())]


def summary(samples: list[Sample]) -> dict[str, dict]:
    """Per category: count, median size, sources."""
    out: dict[str, dict] = {}
    for s in samples:
        c = out.setdefault(s.category, {"count": 0, "sources": set(), "pixels": []})
        c["count"] += 1
        c["sources"].add(s.source)
        c["pixels"].append(s.width * s.height)
    return {k: {"count": v["count"], "sources": sorted(v["sources"]),
                "median_mpix": round(sorted(v["pixels"])[len(v["pixels"]) // 2] / 1e6, 2)} for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--per-category", type=int, default=6)
    ap.add_argument("--no-eval", action="store_true", help="synthetic samples only")
    ap.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="leave out larger eval images (0: keep all)")
    ap.add_argument("--eval-per-category", type=int, default=8, help="real images per category (0: all)")
    args = ap.parse_args(argv)
    samples = build(args.out, per_category=args.per_category, use_eval=not args.no_eval, max_pixels=args.max_pixels,
                    eval_per_category=args.eval_per_category)
    print(json.dumps(summary(samples), indent=1))
    print(f"{len(samples)} samples; manifest: {args.out / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
