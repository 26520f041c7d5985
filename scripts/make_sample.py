"""Write docs/sample.png, the image of the README's first `curl` example: a small receipt with
made-up Chinese and English text, rendered with WenQuanYi Micro Hei (Apache-2.0; Debian's
fonts-wqy-microhei). Run once; the PNG is committed so the example works without the font.

    .venv/bin/python scripts/make_sample.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
OUT = Path(__file__).resolve().parent.parent / "docs" / "sample.png"
LINES = [
    (34, "北京市朝阳区建国路88号"),
    (26, "收银小票  Receipt No. 20261130-0042"),
    (26, "拿铁咖啡 Latte x2        ¥64.00"),
    (26, "全麦面包 Bread x1        ¥18.50"),
    (30, "合计 Total              ¥82.50"),
    (22, "谢谢惠顾 Thank you, see you soon!"),
]


def main() -> None:
    img = Image.new("RGB", (640, 330), (250, 250, 246))
    draw = ImageDraw.Draw(img)
    y = 22
    for size, text in LINES:
        draw.text((28, y), text, font=ImageFont.truetype(FONT, size), fill=(30, 30, 30))
        y += int(size * 1.75)
    img.save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
