"""Page orientation and deskew on generated pages (ocrcore.synth_pages), before/after, and the
cost of the step on upright pages: docs/accuracy.md, "Page orientation".

    OCR_THREADS=1 .venv/bin/python -m bench.orientation [--pages 48] [--upright 24] [--profile small]

Accuracy: share of pages whose every line is read, in order (``lines_in_order``), and the
character accuracy of the page's joined text, with ``orient`` off (the old path) and on, per
orientation. Cost: the same upright, unskewed pages timed alternately with ``orient`` off and on
in the same run (median ratio; the machine is shared, so only the ratio is meaningful).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

from ocrcore import OCREngine, orientation
from ocrcore.evaluate import char_accuracy, lines_in_order, normalize_text
from ocrcore.host import cpu_info
from ocrcore.synth_pages import mixed_page, rotated_page, rotated_pages

from .report import table


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=48)
    ap.add_argument("--upright", type=int, default=24)
    ap.add_argument("--mixed", type=int, default=24)
    ap.add_argument("--profile", default="small")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    engine = OCREngine(profile=args.profile, threads=args.threads)
    print(f"CPU: {cpu_info().model}; profile {args.profile}; threads {args.threads}")
    score: dict[tuple[bool, int], list[tuple[bool, float, bool]]] = defaultdict(list)
    for page in rotated_pages(args.pages):
        for orient in (False, True):
            r = engine.ocr(page.image, orient=orient)
            ok = lines_in_order([ln.text for ln in r.lines], page.lines)
            acc = char_accuracy(normalize_text("".join(ln.text for ln in r.lines)), normalize_text("".join(page.lines)))
            score[(orient, page.orientation)].append((ok, acc, r.orientation == page.orientation))
            if orient and not ok:
                print(f"  miss: orientation {page.orientation} skew {page.skew} found {r.orientation}/{r.skew} "
                      f"{page.lines} -> {[ln.text for ln in r.lines]}")
    rows = [[o, len(a), f"{sum(x[0] for x in b)}/{len(b)}", f"{sum(x[0] for x in a)}/{len(a)}",
             f"{statistics.mean(x[1] for x in b):.3f}", f"{statistics.mean(x[1] for x in a):.3f}", f"{sum(x[2] for x in a)}/{len(a)}"]
            for o in (0, 90, 180, 270) for b, a in [(score[(False, o)], score[(True, o)])] if a]
    print("\n".join(table(["orientation", "pages", "in order, before", "after", "char acc before", "after",
                           "orientation found"], rows)))
    # pages with one upside-down line: nothing, the unsure-line check (orient), the classifier on every line (cls)
    modes = {"neither": {"orient": False, "cls": False}, "orient (unsure lines)": {"orient": True, "cls": False},
             "orient, classifier-gated": {"orient": True, "cls": False, "gate": "classifier"},
             "cls on every line": {"orient": False, "cls": True}}
    mixed = [mixed_page(2000 + i) for i in range(args.mixed)]
    rows = []
    for name, kw in modes.items() if mixed else ():
        oks, accs, secs, steps = [], [], [], []
        orientation.GATE = kw.pop("gate", "recogniser")  # type: ignore[assignment]
        for page in mixed:
            t0 = time.perf_counter()
            r = engine.ocr(page.image, **kw)
            secs.append(time.perf_counter() - t0)
            steps.append(r.timings.get("orient", 0.0) + r.timings.get("cls", 0.0))
            oks.append(lines_in_order([ln.text for ln in r.lines], page.lines))
            accs.append(char_accuracy(normalize_text("".join(ln.text for ln in r.lines)), normalize_text("".join(page.lines))))
        rows.append([name, f"{sum(oks)}/{len(oks)}", f"{statistics.mean(accs):.3f}", f"{statistics.median(secs):.3f}",
                     f"{statistics.median(steps) * 1000:.1f}"])
    print("\n".join(table(["one line upside down", "pages in order", "char acc", "median s/image", "median step ms"], rows)))
    orientation.GATE = "recogniser"
    # cost on upright pages, no skew: alternate off/on so drift hits both alike
    pages = [rotated_page(1000 + i, orientation=0, skew=0.0) for i in range(args.upright)]
    ratios, t_off, t_on, t_step = [], [], [], []
    if not pages:
        return 0
    for page in pages:
        for _ in range(3):
            t0 = time.perf_counter()
            engine.ocr(page.image, orient=False)
            t1 = time.perf_counter()
            r = engine.ocr(page.image, orient=True)
            t2 = time.perf_counter()
            t_off.append(t1 - t0)
            t_on.append(t2 - t1)
            t_step.append(r.timings.get("orient", 0.0))
            ratios.append((t2 - t1) / (t1 - t0))
    print(f"upright pages: median s/image off {statistics.median(t_off):.4f}, on {statistics.median(t_on):.4f}, "
          f"ratio on/off median {statistics.median(ratios):.3f}; orient step median {statistics.median(t_step) * 1000:.1f} ms "
          f"({statistics.median(t_step) / statistics.median(t_off) * 100:.1f} % of the old time)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
