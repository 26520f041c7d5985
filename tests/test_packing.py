"""Short lines sharing recogniser input rows (RecParams.pack_width): what is read, where, and
that it is less work. Real models, real rendered lines."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from ocrcore import OCREngine
from ocrcore.preprocess import line_tensor_batch
from ocrcore.recognize import Recognizer
from ocrcore.synth import render_line
from ocrcore.synth_docs import CJK_FONT, FONT_DIR
from ocrcore.vocab import Constraint, line_decoder

WORDS = ["Total", "12.50", "VISA", "Cash 3", "收银员", "2024-03-15", "Qty 2", "OK", "合计", "RM 4.20"]


def _crops() -> list[np.ndarray]:
    if not (FONT_DIR / CJK_FONT).exists():
        pytest.skip("fonts-wqy-microhei is not installed (make browser installs it)")
    return [render_line(w, height=32, font_path=str(FONT_DIR / CJK_FONT)) for w in WORDS]


def _recognizer(engine: OCREngine, **params: int) -> Recognizer:
    rec = engine.recognizer
    return Recognizer(rec.session, list(rec.charset), dataclasses.replace(rec.params, **params))


def test_short_lines_share_rows_within_their_width(small: OCREngine) -> None:
    rec = _recognizer(small, pack_width=320, pack_gap=32)
    widths = [90, 100, 150, 300, 60, 191, 500, 17, 120, 70]
    rows = rec._rows(widths, pack=True)
    assert sorted(i for row in rows for i, _ in row) == list(range(len(widths)))  # every line once
    assert [(4, 0)] in rows and [(7, 0)] in rows  # narrower than pack_from (lone glyphs): alone
    for row in rows:
        if len(row) > 1:
            assert all(widths[i] >= 64 and rec._padded(widths[i]) == rec.params.min_width for i, _ in row)  # only short lines
            assert rec._row_width(row, widths) <= 320
        assert row[0][1] == 0
        for (i, x), (_, nxt) in itertools.pairwise(row):
            assert x % 8 == 0 and nxt == x + -(-widths[i] // 8) * 8 + 32
    assert len(rows) < len(widths)
    assert rec._rows(widths, pack=False) == [[(i, 0)] for i in range(len(widths))]
    off = _recognizer(small, pack_width=0)
    assert off._rows(widths, pack=True) == [[(i, 0)] for i in range(len(widths))]


def test_packed_rows_cost_fewer_input_pixels(small: OCREngine) -> None:
    rec = _recognizer(small, pack_width=320)
    widths = rec.line_widths(_crops())

    def pixels(pack: bool) -> int:
        return sum(len(b) * rec._padded(max(rec._row_width(row, widths) for row in b)) for b in rec._batches(widths, pack))

    assert pixels(True) <= 0.85 * pixels(False)  # 10 lines in 5 rows: 1,568 vs 1,936 px


def test_packed_lines_read_as_alone(small: OCREngine) -> None:
    crops = _crops()
    rec = _recognizer(small, pack_width=320)
    alone = rec.recognize_detailed(crops)
    packed = rec.recognize_detailed(crops, pack=True)
    assert [r.text for r in alone] == WORDS
    assert [r.text for r in packed] == WORDS
    for crop, a, p in zip(crops, alone, packed):
        assert p.step_px == pytest.approx(a.step_px)
        # steps count from each line's own left edge: every character inside its crop, where it was alone
        assert p.runs.min() >= 0 and p.runs.max() * p.step_px <= crop.shape[1] + p.step_px
        assert np.abs(p.runs - a.runs).max() <= 1
        assert abs(p.confidence - a.confidence) < 0.05


def test_packed_lines_decode_under_a_constraint(small: OCREngine) -> None:
    crops = _crops()
    rec = _recognizer(small, pack_width=320)
    decoder = line_decoder(Constraint(hotwords=(("Total", 1.0), ("合计", 1.0))), tuple(rec.charset))
    free: list = [None] * len(crops)
    packed = rec.recognize_constrained(crops, decoder, free, pack=True)
    alone = rec.recognize_constrained(crops, decoder)
    assert [d.text for d in packed] == [d.text for d in alone]
    assert [r.text for r in free] == WORDS


def test_rows_place_each_line_with_its_own_edges_as_margins() -> None:
    a = np.full((10, 20, 3), 200, np.uint8)
    b = np.full((10, 20, 3), 40, np.uint8)
    a[:, -1] = 100  # a's last column: what fills the gap on its side
    out = line_tensor_batch([a, b], 10, 96, [20, 20], [(0, 0), (0, 48)], [(0, 8), (8, 0)])
    assert out.shape == (1, 3, 10, 96)
    row = out[0, 0, 0]
    to_float = (np.array([200, 100, 40]) / 255.0 - 0.5) * 2.0
    assert row[:19] == pytest.approx(to_float[0], abs=1e-6)
    assert row[19:28] == pytest.approx(to_float[1], abs=1e-6)  # a's edge, 8 px on
    assert row[28:40] == pytest.approx(0.0)  # the middle of the gap: padding
    assert row[40:68] == pytest.approx(to_float[2], abs=1e-6)  # b, with 8 px of its edge before it
    assert row[68:] == pytest.approx(0.0)


def test_packing_follows_the_clean_page_check(small: OCREngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine packs only the lines of clean pages (documents, receipts, screenshots), whose
    lines share a background; on photos of scenes packing cost IC15 0.4 points of page F1
    (docs/accuracy.md). A generated page is clean; the same page under strong noise is not."""
    from ocrcore.synth import render_page

    engine = OCREngine(profile="small", threads=1, rec=dataclasses.replace(small.config.rec, pack_width=320))
    asked: list[bool] = []
    detailed = engine.recognizer.recognize_detailed

    def spy(crops: list[np.ndarray], *, pack: bool = False) -> list:
        asked.append(pack)
        return detailed(crops, pack=pack)

    monkeypatch.setattr(engine.recognizer, "recognize_detailed", spy)
    page, _ = render_page(3)
    packed = engine.ocr(page)
    assert asked[0] is True
    plain = OCREngine(profile="small", threads=1, rec=dataclasses.replace(small.config.rec, pack_width=0)).ocr(page)
    assert [ln.text for ln in packed.lines] == [ln.text for ln in plain.lines]
    rng = np.random.default_rng(0)
    noisy = np.clip(page.astype(np.int16) + rng.integers(-90, 90, page.shape), 0, 255).astype(np.uint8)
    asked.clear()
    engine.ocr(noisy)
    assert asked and asked[0] is False


def test_small_packs_and_tiny_does_not(small: OCREngine, tiny: OCREngine) -> None:
    """PROFILE_PACK: tiny's recogniser lost 0.2 points of receipt line accuracy packed."""
    widths = [80, 80, 80]  # 80 + 32 + 80 + 32 + 80 = 304 px
    assert len(small.recognizer._rows(widths, pack=True)) == 1
    assert len(tiny.recognizer._rows(widths, pack=True)) == 3
