"""Generated wide banners with big text (``ocrcore.synth_docs.render_banner``), read and scored:
how many are read exactly (the whole text, spaces aside), the mean char accuracy, and the time
per banner, with the CPU. docs/accuracy.md ("Wide banners with big text").

    .venv/bin/python scripts/banners.py [--profiles small tiny] [--n 90] [--threads 1]

Prints one line per profile, and each banner not read exactly (seed, size, truth -> reading).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ocrcore import OCREngine  # noqa: E402
from ocrcore.evaluate import char_accuracy, normalize_text  # noqa: E402
from ocrcore.host import cpu_info  # noqa: E402
from ocrcore.synth_docs import fonts_available, render_banner  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profiles", nargs="+", default=["small", "tiny"])
    ap.add_argument("--n", type=int, default=90, help="banners (seeds 0 .. n-1)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if not fonts_available():
        print("the generator's fonts are not installed (see ocrcore/synth_docs.py)", file=sys.stderr)
        return 2
    banners = [render_banner(seed) for seed in range(args.n)]
    print(f"[banners] {args.n} banners; CPU {cpu_info().label}")
    for profile in args.profiles:
        engine = OCREngine(profile=profile, threads=args.threads)
        exact, accs, times = 0, [], []
        for seed, (img, truth) in enumerate(banners):
            result = engine.ocr(img)
            got = normalize_text("".join(line.text for line in result.lines)).replace(" ", "")
            want = normalize_text("".join(t.text for t in truth)).replace(" ", "")
            acc = char_accuracy(got, want)
            exact += got == want
            accs.append(acc)
            times.append(result.timings["total"])
            if got != want:
                print(f"  {profile} seed {seed} {img.shape[1]}x{img.shape[0]}: {want!r} -> {got!r}")
        print(f"{profile}: {exact}/{args.n} read exactly, mean char accuracy {statistics.fmean(accs):.4f}, "
              f"{1000 * statistics.fmean(times):.0f} ms per banner (mean, {args.threads} thread(s))")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
