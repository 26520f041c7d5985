"""Seconds per PDF page and memory for a long PDF (docs/pdf.md).

    OCR_PROFILE=small .venv/bin/python -m bench.pdf_doc --pages 100 --threads 1 2

For each thread count, in a fresh process: the engine loads, the same page is OCRed as a plain
image ``--repeat`` times (the baseline), then a ``--pages``-page scanned PDF (tests/pdfs.py,
A4 at 150 dpi, JPEG, several text lines per page) goes through ``ocrcore.document.iter_document``
and then ``searchable_pdf``. Printed per run: seconds per page, its ratio to the baseline image
(the cost of rendering the page), the median render and OCR seconds of a page and the render's
share of the two (measured on the same pages, so less disturbed by other jobs than the ratio),
and resident memory: after loading, the peak over the
document, and the growth from page 10 to the last page (a leak would show there).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from .report import table


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def run_one(pages: int, threads: int, repeat: int) -> dict:
    import resource

    from ocrcore.document import DocumentResult, iter_document, searchable_pdf
    from ocrcore.engine import EngineConfig, OCREngine
    from tests import pdfs

    lines = pdfs.ENGLISH + pdfs.CHINESE + pdfs.ENGLISH + pdfs.CHINESE
    data = pdfs.scanned_pdf([lines] * pages)
    image = pdfs.text_image(lines)
    engine = OCREngine(EngineConfig.from_env(threads=threads))
    rss_loaded = _rss_mb()
    engine.ocr(image)
    t0 = time.perf_counter()
    for _ in range(repeat):
        engine.ocr(image)
    image_s = (time.perf_counter() - t0) / repeat
    rss_10 = 0.0
    results = []
    t0 = time.perf_counter()
    for page in iter_document(engine, data, max_pages=pages):
        results.append(page)
        if page.page == 10:
            rss_10 = _rss_mb()
    doc_s = time.perf_counter() - t0
    rss_end = _rss_mb()
    t1 = time.perf_counter()
    out = searchable_pdf(data, DocumentResult(tuple(results), pages, "pdf"))
    pdf_s = time.perf_counter() - t1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import statistics

    render_s = statistics.median(p.result.timings["render"] for p in results)
    ocr_s = statistics.median(p.result.timings["total"] for p in results)
    return {"threads": threads, "pages": pages, "dpi": results[0].dpi,
            "render_s": round(render_s, 3), "ocr_s": round(ocr_s, 3), "render_share": round(render_s / (render_s + ocr_s), 3),
            "image_s": round(image_s, 3), "page_s": round(doc_s / pages, 3), "ratio": round(doc_s / pages / image_s, 2),
            "searchable_pdf_s": round(pdf_s, 2), "pdf_mb_in": round(len(data) / 2**20, 1), "pdf_mb_out": round(len(out) / 2**20, 1),
            "rss_loaded_mb": round(rss_loaded), "rss_page10_mb": round(rss_10), "rss_end_mb": round(rss_end), "peak_mb": round(peak)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=5, help="baseline image OCRs")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # the fresh child process
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.pages, args.threads[0], args.repeat)))
        return 0
    rows = []
    for threads in args.threads:
        proc = subprocess.run([sys.executable, "-m", "bench.pdf_doc", "--one", "--pages", str(args.pages),
                               "--threads", str(threads), "--repeat", str(args.repeat)],
                              capture_output=True, text=True, env={**os.environ, "OCR_THREADS": str(threads)})
        if proc.returncode:
            print(proc.stderr, file=sys.stderr)
            return 1
        rows.append(json.loads(proc.stdout.splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    print("\n".join(table(
        ["threads", "s/page (PDF)", "s/image", "ratio", "render share", "dpi", "searchable PDF s", "RSS loaded / page 10 / end / peak MB"],
        [[r["threads"], r["page_s"], r["image_s"], r["ratio"], r["render_share"], r["dpi"], r["searchable_pdf_s"],
          f"{r['rss_loaded_mb']} / {r['rss_page10_mb']} / {r['rss_end_mb']} / {r['peak_mb']}"] for r in rows])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
