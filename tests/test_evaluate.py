"""Scoring conventions: normalisation, edit-distance accuracy, page F1, box matching, ignore regions."""

from __future__ import annotations

import pytest

from ocrcore.evaluate import char_accuracy, multiset_f1, normalize_text, score_page
from ocrcore.types import Line


def line(text: str, x0: int, y0: int, x1: int, y1: int) -> Line:
    return Line(text, 0.9, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


def test_normalisation_folds_width_and_whitespace() -> None:
    assert normalize_text("３０°Ｃ  A b") == "30°CAb"
    assert normalize_text("Total", fold_case=True) == "total"


def test_char_accuracy_and_f1() -> None:
    assert char_accuracy("abc", "abc") == 1.0
    assert char_accuracy("abd", "abc") == pytest.approx(2 / 3)
    assert char_accuracy("", "abcd") == 0.0
    assert multiset_f1("ab", "ba") == 1.0
    assert multiset_f1("aab", "ab") == pytest.approx(0.8)


def test_score_page_matches_by_box_and_skips_ignored() -> None:
    labels = [
        {"text": "洗涤说明", "box": [0, 0, 100, 20]},
        {"text": "常规程序", "box": [[0, 30], [100, 30], [100, 50], [0, 50]]},
        {"text": "30", "box": [200, 0, 220, 20], "ignore": True},
    ]
    preds = [line("洗涤说明", 2, 2, 98, 18), line("常规程", 2, 32, 98, 48), line("30", 201, 2, 219, 18)]
    s = score_page(preds, labels)
    assert s.line_accs == [1.0, pytest.approx(0.75)]
    assert s.f1 == pytest.approx(multiset_f1("洗涤说明常规程", "洗涤说明常规程序"))  # "30" ignored both ways


def test_pages_without_boxes_score_f1_only() -> None:
    s = score_page([line("hello world", 0, 0, 10, 10)], [{"text": "hello", "box": None}, {"text": "world", "box": None}])
    assert s.f1 == 1.0 and s.line_accs == []


def test_case_folding_follows_the_sets_source_note(tmp_path) -> None:
    from ocrcore.evaluate import labels_are_upper_case

    upper, plain, bare = tmp_path / "upper", tmp_path / "plain", tmp_path / "bare"
    for d in (upper, plain, bare):
        d.mkdir()
    (upper / "SOURCE.json").write_text('{"caveats": "labels are UPPER-CASE"}')
    (plain / "SOURCE.json").write_text('{"caveats": "as written on the image"}')
    assert labels_are_upper_case(upper)
    assert not labels_are_upper_case(plain)
    assert not labels_are_upper_case(bare)  # no SOURCE.json at all
