"""Decoding real encoded images of every supported kind, and every way an upload can be bad."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ocrcore.decode import decode_image
from ocrcore.errors import ImageTooLargeError, InvalidImageError, UnsupportedImageError


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def gradient(w: int = 64, h: int = 40) -> Image.Image:
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:, :, 0] = np.linspace(0, 255, w)[None, :]  # red ramp left -> right
    arr[:, :, 2] = 200
    return Image.fromarray(arr, "RGB")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "TIFF"])
def test_formats_decode_to_bgr(fmt: str) -> None:
    out = decode_image(encode(gradient(), fmt))
    assert out.shape == (40, 64, 3) and out.dtype == np.uint8
    # RGB red ramp must land in channel 2 (BGR), blue constant in channel 0
    assert out[:, -1, 2].mean() > 200 and out[:, 0, 2].mean() < 40
    assert abs(out[:, :, 0].mean() - 200) < 10


def test_exif_orientation_is_applied() -> None:
    img = gradient(64, 40)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    out = decode_image(encode(img, "JPEG", exif=exif))
    assert out.shape == (64, 40, 3)


def test_alpha_is_flattened_onto_white() -> None:
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[5:15, 5:25] = (0, 0, 0, 255)  # opaque black text block on transparent
    out = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert out[0, 0].tolist() == [255, 255, 255]
    assert out[10, 10].tolist() == [0, 0, 0]


def test_light_content_on_transparent_goes_onto_black() -> None:
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[5:15, 5:25] = (255, 255, 255, 255)  # white text block on transparent
    out = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert out[0, 0].tolist() == [0, 0, 0]
    assert out[10, 10].tolist() == [255, 255, 255]


def test_grayscale_16bit_and_cmyk() -> None:
    g16 = Image.fromarray((np.arange(50 * 60).reshape(50, 60) * 20).astype(np.uint16))
    out = decode_image(encode(g16, "PNG"))
    assert out.shape == (50, 60, 3) and out.max() == 255 and out.min() == 0
    cmyk = Image.new("CMYK", (30, 20), (0, 0, 0, 255))  # black
    out = decode_image(encode(cmyk, "JPEG"))
    assert out.shape == (20, 30, 3) and out.mean() < 40
    gray = decode_image(encode(Image.new("L", (10, 10), 128), "PNG"))
    assert gray.shape == (10, 10, 3)


def test_empty_text_and_truncated_are_invalid() -> None:
    with pytest.raises(InvalidImageError):
        decode_image(b"")
    with pytest.raises(InvalidImageError):
        decode_image("这不是图片 not an image".encode())
    data = encode(gradient(400, 300), "JPEG")
    with pytest.raises(InvalidImageError):
        decode_image(data[: len(data) // 2])


def test_unsupported_formats() -> None:
    with pytest.raises(UnsupportedImageError):
        decode_image(b"%PDF-1.7\n...")
    with pytest.raises(UnsupportedImageError):
        decode_image(encode(Image.new("P", (10, 10)), "GIF"))


def test_pixel_cap_checked_before_decoding() -> None:
    big = encode(Image.new("L", (5000, 5000), 255), "PNG")  # compresses to a few KB
    with pytest.raises(ImageTooLargeError):
        decode_image(big, max_pixels=10_000_000)
    assert decode_image(big, max_pixels=30_000_000).shape == (5000, 5000, 3)
