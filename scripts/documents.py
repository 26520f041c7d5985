"""Generated documents of the kinds issue #11 is about, scored: reading order of multi-column
pages and of forms/tables, spaces in mixed Chinese/English lines, word/character box quality.

    .venv/bin/python scripts/documents.py make DIR [--n 30]       # the inputs (PNG + truth.json)
    .venv/bin/python scripts/documents.py predict DIR after.json [--root TREE] [--profiles small tiny]
    .venv/bin/python scripts/documents.py score DIR before.json after.json   # markdown table

``predict`` only uses ``OCREngine.ocr`` and result fields, so ``--root ../main`` runs an older
tree on the same inputs (before/after); ``score`` uses this tree's metrics. docs/accuracy.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make(out: Path, n: int) -> None:
    import cv2

    sys.path.insert(0, str(ROOT))
    from ocrcore.synth_docs import render_columns, render_form, render_mixed_line

    out.mkdir(parents=True, exist_ok=True)
    truth: dict[str, dict] = {}
    for i in range(n):
        for kind, (img, lines) in {"columns_en": render_columns(i, "en", 2 + (i % 4 == 3)),
                                   "columns_zh": render_columns(500 + i, "zh", 2 + (i % 4 == 3)),
                                   "forms": render_form(i)}.items():
            name = f"{kind}_{i:03d}.png"
            cv2.imwrite(str(out / name), img)
            truth[name] = {"kind": kind, "lines": [ln.text for ln in lines]}
        img, text, chars = render_mixed_line(1000 + i)  # held out: SPACE_GAP was set on seeds 0-79
        name = f"mixed_{i:03d}.png"
        cv2.imwrite(str(out / name), img)
        truth[name] = {"kind": "mixed", "text": text, "chars": [[c.char, list(c.box)] for c in chars]}
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=0))


def _truth_words(text: str, chars: list) -> list[tuple[str, tuple]]:
    """Words as ocrcore.words makes them (Latin runs between spaces, each CJK character alone)
    with the union of their characters' boxes."""
    sys.path.insert(0, str(ROOT))
    from ocrcore.synth_docs import is_cjk

    out: list[tuple[str, list]] = []
    k = 0
    prev_space = True
    for ch in text:
        if ch == " ":
            prev_space = True
            continue
        box = chars[k][1]
        k += 1
        if prev_space or is_cjk(ch) or (out and is_cjk(out[-1][0][-1])):
            out.append((ch, list(box)))
        else:
            w, b = out[-1]
            out[-1] = (w + ch, [min(b[0], box[0]), min(b[1], box[1]), max(b[2], box[2]), max(b[3], box[3])])
        prev_space = False
    return [(w, tuple(b)) for w, b in out]


def predict(data: Path, tree: Path, profiles: list[str], threads: int) -> dict:
    """Run ``tree``'s engine on every input: {profile: {image: {"lines", "words", "seconds"}}}.
    Only OCREngine.ocr and result fields are used, so an older tree works too."""
    sys.path.insert(0, str(tree))
    from ocrcore import OCREngine

    truth = json.loads((data / "truth.json").read_text())
    has_words = "words" in OCREngine.ocr.__code__.co_varnames
    out: dict = {}
    for profile in profiles:
        engine = OCREngine(profile=profile, threads=threads)
        out[profile] = {}
        for name, t in sorted(truth.items()):
            t0 = time.perf_counter()
            result = engine.ocr((data / name).read_bytes(), **({"words": True} if has_words and t["kind"] == "mixed" else {}))
            secs = time.perf_counter() - t0
            words = [[w.text, [list(p) for p in w.box]] for ln in result.lines for w in (getattr(ln, "words", None) or ())]
            out[profile][name] = {"lines": [ln.text for ln in result.lines], "words": words, "seconds": secs,
                                  "timings": result.timings}
    return out


def score(data: Path, pred: dict, label: str) -> None:
    """Print the markdown table of predictions ``pred`` (from :func:`predict`)."""
    sys.path.insert(0, str(ROOT))
    from ocrcore.evaluate import box_iou, char_accuracy, normalize_text, order_score

    truth = json.loads((data / "truth.json").read_text())
    for profile, by_name in pred.items():
        for kind in sorted({t["kind"] for t in truth.values()}):
            names = sorted(n for n, t in truth.items() if t["kind"] == kind)
            orders, full, accs, exact, ious, cerrs = [], 0, [], 0, [], []
            secs = [by_name[n]["seconds"] for n in names]
            for name in names:
                t, lines = truth[name], by_name[name]["lines"]
                if kind == "mixed":
                    got, want = " ".join(" ".join(lines).split()), " ".join(t["text"].split())
                    exact += got == want
                    accs.append(char_accuracy(got, want))
                    words = by_name[name]["words"]
                    tw = _truth_words(t["text"], t["chars"])
                    if [w[0] for w in words] == [w for w, _ in tw]:
                        for (_, box), (_, b) in zip(words, tw):
                            xs, ys = [p[0] for p in box], [p[1] for p in box]
                            pb = (min(xs), min(ys), max(xs), max(ys))
                            ious.append(box_iou(pb, b))
                            cerrs.append(((0.5 * (pb[0] + pb[2] - b[0] - b[2])) ** 2
                                          + (0.5 * (pb[1] + pb[3] - b[1] - b[3])) ** 2) ** 0.5 / max(b[3] - b[1], 1))
                    continue
                o, _ = order_score(lines, t["lines"])
                orders.append(o)
                full += o == 1.0
                accs.append(char_accuracy(normalize_text("".join(lines)), normalize_text("".join(t["lines"]))))
            n, med = len(names), statistics.median(secs)
            if kind == "mixed":
                box = f"{statistics.fmean(ious):.3f} / {statistics.fmean(cerrs):.3f} ({len(ious)})" if ious else "—"
                print(f"| {label} | {profile} | {kind} | {n} | — | — | {statistics.fmean(accs):.4f} | {exact / n:.3f} "
                      f"| {box} | {med:.3f} |", flush=True)
            else:
                print(f"| {label} | {profile} | {kind} | {n} | {statistics.fmean(orders):.3f} | {full / n:.3f} "
                      f"| {statistics.fmean(accs):.4f} | — | — | {med:.3f} |", flush=True)


HEADER = ("| tree | profile | kind | n | order (adjacent pairs right) | pages fully in order "
          "| char acc (order- and space-sensitive) | exact with spaces | word IoU / centre err in line heights (words) "
          "| median s |\n|---|---|---|---|---|---|---|---|---|---|")


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("out", type=Path)
    m.add_argument("--n", type=int, default=30)
    p = sub.add_parser("predict", help="run a tree's engine, write predictions JSON")
    p.add_argument("data", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--root", type=Path, default=ROOT, help="the source tree whose engine runs")
    p.add_argument("--profiles", nargs="+", default=["small", "tiny"])
    p.add_argument("--threads", type=int, default=1)
    s = sub.add_parser("score", help="markdown table of prediction files")
    s.add_argument("data", type=Path)
    s.add_argument("preds", type=Path, nargs="+")
    args = ap.parse_args()
    if args.cmd == "make":
        make(args.out, args.n)
    elif args.cmd == "predict":
        args.out.write_text(json.dumps(predict(args.data, args.root.resolve(), args.profiles, args.threads),
                                       ensure_ascii=False))
    else:
        print(HEADER)
        for path in args.preds:
            score(args.data, json.loads(path.read_text()), path.stem)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
