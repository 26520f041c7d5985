"""Time the CLI on a tall phone screenshot: issue #9's "1080x24000 with ~200 short lines, read in
full and in order in under 10 s by the CLI".

    python -m bench.scroll                      # 1080x24000, 200 lines, small profile
    python -m bench.scroll --profile tiny --height 12000 --lines 100 --repeats 3

The page is ``ocrcore.synth.render_scroll(seed, width, height, n_lines)`` (chat bubbles and feed
text at 26-44 px, as phones render it), written as PNG to a temporary directory and read by a
fresh ``python -m ocrcore.cli FILE --json`` process each repeat, so the time is what a user of the
CLI waits: start, model load, decode, detection, recognition. The check: as many lines as drawn,
each matched in order (char accuracy > 0.8 per line, ``ocrcore.evaluate.char_accuracy``). Prints
the CPU (model, ISA, cores) with the figures; exits 1 when a line is missing or out of order.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

from ocrcore.evaluate import char_accuracy, normalize_text
from ocrcore.host import cpu_info
from ocrcore.synth import render_scroll


def run_cli(path: Path, profile: str, threads: int | None) -> tuple[float, dict]:
    """Wall seconds of one ``ocrcore.cli --json`` process on ``path`` and its JSON result."""
    cmd = [sys.executable, "-m", "ocrcore.cli", str(path), "--json", "--profile", profile]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, json.loads(out.stdout.strip().splitlines()[-1])


def in_order(texts: list[str], truth: list[str], min_acc: float = 0.8) -> int:
    """How many truth lines are read, in order: a greedy walk matching each truth line to the
    next predicted line with char accuracy above ``min_acc``."""
    found, j = 0, 0
    for want in truth:
        for k in range(j, len(texts)):
            if char_accuracy(normalize_text(texts[k]), normalize_text(want)) > min_acc:
                found, j = found + 1, k + 1
                break
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="small")
    ap.add_argument("--width", type=int, default=1080)
    ap.add_argument("--height", type=int, default=24000)
    ap.add_argument("--lines", type=int, default=200)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="the CLI's --threads (default: all cores)")
    args = ap.parse_args(argv)

    img, truth = render_scroll(args.seed, args.width, args.height, n_lines=args.lines)
    want = [t.text for t in truth]
    cpu = cpu_info()
    print(f"[scroll] {args.width}x{args.height}, {len(want)} lines drawn, profile {args.profile}; CPU {cpu.label}")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scroll.png"
        cv2.imwrite(str(path), img)
        walls = []
        for r in range(args.repeats):
            wall, result = run_cli(path, args.profile, args.threads)
            texts = [line["text"] for line in result.get("lines", result.get("text", []))]
            found = in_order(texts, want)
            walls.append(wall)
            ok &= found == len(want)
            print(f"[scroll] run {r + 1}: {wall:.2f} s wall (CLI process), {len(texts)} lines read, "
                  f"{found}/{len(want)} drawn lines found in order")
    print(f"[scroll] median {statistics.median(walls):.2f} s; {'all lines in order' if ok else 'LINES MISSING'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
