"""The `ocr` console script, run as a user would: text, JSON, --no-detect, bad files, eval."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from ocrcore.synth import render_line, render_page

OCR = [str(Path(sys.executable).parent / "ocr")]
ENV = {**os.environ, "OCR_PROFILE": "tiny"}


def run(*args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run(OCR + list(args), capture_output=True, text=True, env=ENV, timeout=timeout)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict:
    d = tmp_path_factory.mktemp("cli")
    page, truth = render_page(77, (800, 600), n_lines=4)
    cv2.imwrite(str(d / "page.png"), page)
    cv2.imwrite(str(d / "line.jpg"), render_line("PAYMENT 42.00", height=40))
    (d / "notes.txt").write_text("not an image")
    return {"dir": d, "truth": truth}


def test_text_json_and_bad_file(images: dict) -> None:
    d = images["dir"]
    proc = run("--json", str(d / "page.png"), str(d / "notes.txt"), str(d / "missing.png"), str(d / "line.jpg"),
               "--no-detect")
    assert proc.returncode == 1  # failures reported ...
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [r["success"] for r in rows] == [True, False, False, True]  # ... and the rest still processed
    assert rows[1]["error"]["code"] == "invalid_image" and rows[2]["error"]["code"] == "unreadable_file"
    assert "notes.txt" in proc.stderr and "missing.png" in proc.stderr
    assert rows[3]["text"][0]["text"].replace(" ", "") == "PAYMENT42.00"
    assert rows[0]["image"].endswith("page.png") and rows[0]["processing_time"] > 0


def test_plain_text_output(images: dict) -> None:
    proc = run(str(images["dir"] / "page.png"))
    assert proc.returncode == 0
    got = [ln.replace(" ", "") for ln in proc.stdout.splitlines()]
    want = [t.text.replace(" ", "") for t in images["truth"]]
    assert sum(g == w for g, w in zip(got, want)) >= len(want) - 1


def test_json_box_is_four_points_clockwise(images: dict) -> None:
    proc = run("--json", str(images["dir"] / "page.png"))
    row = json.loads(proc.stdout)
    for item in row["text"]:
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = item["box"]
        assert x1 > x0 and y2 > y1 and x2 > x3 and y3 > y0
        assert {"text", "confidence", "box"} <= set(item) <= {"text", "confidence", "box", "block"}


def test_eval_on_generated_sets(tmp_path: Path) -> None:
    lines_dir = tmp_path / "lines"
    (lines_dir / "images").mkdir(parents=True)
    rows = []
    for i, text in enumerate(["INVOICE", "Total 12.50", "Beijing Road"]):
        cv2.imwrite(str(lines_dir / "images" / f"{i}.png"), render_line(text, height=40))
        rows.append({"image": f"images/{i}.png", "text": text.upper()})
    (lines_dir / "labels.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    full_dir = tmp_path / "full"
    (full_dir / "images").mkdir(parents=True)
    page, truth = render_page(5, (800, 600), n_lines=4)
    cv2.imwrite(str(full_dir / "images" / "p.png"), page)
    (full_dir / "labels.jsonl").write_text(json.dumps(
        {"image": "images/p.png", "lines": [{"text": t.text, "box": list(t.box)} for t in truth]}))
    proc = run("eval", str(lines_dir), str(full_dir), "--fold-case", "--json")
    assert proc.returncode == 0, proc.stderr
    line_res, full_res = [json.loads(x) for x in proc.stdout.splitlines()]
    assert line_res["kind"] == "line" and line_res["char_accuracy"] > 0.9 and line_res["count"] == 3
    assert full_res["kind"] == "full_image" and full_res["page_f1"] > 0.9 and full_res["line_accuracy"] > 0.9
    # without case folding the upper-case labels no longer match
    strict = json.loads(run("eval", str(lines_dir), "--json").stdout)
    assert strict["char_accuracy"] < line_res["char_accuracy"]
