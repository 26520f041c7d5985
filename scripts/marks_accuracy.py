"""Issue #11 items 3-4 on generated inputs: lone glyphs, coloured marks over text, highlights.

    .venv/bin/python scripts/marks_accuracy.py [--profiles small tiny] [--n 40] [--threads 1]

For each profile, the engine without and with the issue's steps (``colour_view``,
``lone_glyphs``), in the same run: the share of images read exactly right
(:func:`ocrcore.evaluate.reads_as`; highlights must also keep each line whole) and the median
seconds per image. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ocrcore import OCREngine  # noqa: E402
from ocrcore.evaluate import reads_as  # noqa: E402
from ocrcore.synth_marks import render_highlight, render_lone_glyphs, render_marked_text  # noqa: E402

KINDS = {"lone glyphs": (render_lone_glyphs, False), "marks over text": (render_marked_text, False),
         "highlights": (render_highlight, True)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profiles", nargs="+", default=["small", "tiny"])
    ap.add_argument("--n", type=int, default=40, help="images per kind")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--show-failures", action="store_true")
    args = ap.parse_args()
    inputs = {k: [f(1000 + s) for s in range(args.n)] for k, (f, _) in KINDS.items()}
    print("| profile | kind | before: right / median s | after: right / median s |")
    print("|---|---|---|---|")
    for profile in args.profiles:
        engines = {flag: OCREngine(profile=profile, threads=args.threads, colour_view=flag, lone_glyphs=flag)
                   for flag in (False, True)}
        for kind, (_, whole) in KINDS.items():
            cells = []
            for flag, engine in engines.items():
                right, secs = 0, []
                for seed, (img, truth) in enumerate(inputs[kind]):
                    t0 = time.perf_counter()
                    lines = [line.text for line in engine.ocr(img).lines]
                    secs.append(time.perf_counter() - t0)
                    ok = reads_as(lines, truth, whole_lines=whole)
                    right += ok
                    if flag and not ok and args.show_failures:
                        print(f"  {profile} {kind} seed {1000 + seed}: {truth} -> {lines}", file=sys.stderr)
                cells.append(f"{right}/{len(secs)} / {statistics.median(secs):.3f}")
            print(f"| {profile} | {kind} | {cells[0]} | {cells[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
