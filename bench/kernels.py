"""Micro-benchmark of every numba kernel in ocrcore/kernels.py against its numpy reference.

    python -m bench.kernels [--repeats 7] [--quick] [--out reports/kernels.json]

Inputs have the sizes the engine really sees:
- sauvola_binarize: a 768x1024 grey page (window 31, k 0.2, r 128), at the process's numba
  thread count and at 1 thread

(The default path's normalisation, box scores, CTC collapse and percentiles left numba for
numpy/OpenCV: docs/performance.md, "numba on the default path", has the measurement.)

Kernel and reference are timed alternately (several loops per sample, median of samples),
after a warm-up call that also checks they agree.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def _page(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    from ocrcore.synth import render_page

    img, _ = render_page(int(rng.integers(0, 1000)), (w, h))
    return img


def cases(rng: np.random.Generator) -> list[dict]:
    from ocrcore import kernels as k

    page = np.ascontiguousarray(_page(rng, 768, 1024)[:, :, 0])
    return [{"kernel": "sauvola_binarize", "size": "768x1024 uint8, window 31",
             "fast": lambda: k.sauvola_binarize(page, 31, 0.2, 128.0),
             "ref": lambda: k.sauvola_binarize_ref(page, 31, 0.2, 128.0)}]


def _agree(a, b) -> bool:
    if isinstance(a, tuple):
        return all(_agree(x, y) for x, y in zip(a, b))
    if isinstance(a, list):
        return all(_agree(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        if a.dtype == np.uint8:  # binarisation: allow a handful of pixels at the threshold
            return float(np.mean(a != b)) < 1e-3
        return bool(np.allclose(a, b, rtol=1e-4, atol=1e-5))
    return bool(np.isclose(float(a), float(b), rtol=1e-4, atol=1e-5))


def _loops(fn: Callable, budget: float) -> int:
    t = time.perf_counter()
    fn()
    dt = time.perf_counter() - t
    return max(1, int(budget / max(dt, 1e-7)))


def time_pair(fast: Callable, ref: Callable, repeats: int, budget: float = 0.1) -> tuple[float, float]:
    """Median seconds per call of each, sampled alternately."""
    nf, nr = _loops(fast, budget), _loops(ref, budget)
    tf, tr = [], []
    for _ in range(repeats):
        for fn, n, acc in ((fast, nf, tf), (ref, nr, tr)):
            t = time.perf_counter()
            for _ in range(n):
                fn()
            acc.append((time.perf_counter() - t) / n)
    return median(tf), median(tr)


def run(repeats: int = 7, budget: float = 0.1, one_thread_too: bool = True) -> dict:
    import numba

    rng = np.random.default_rng(0)
    results = []
    threads = numba.get_num_threads()
    for case in cases(rng):
        a, b = case["fast"](), case["ref"]()  # warm-up (JIT / cache load) + agreement check
        agree = _agree(a, b)
        tf, tr = time_pair(case["fast"], case["ref"], repeats, budget)
        results.append({"kernel": case["kernel"], "size": case["size"], "numba_threads": threads,
                        "kernel_s": tf, "ref_s": tr, "speedup": tr / tf, "agree": agree})
        if case["kernel"] == "sauvola_binarize" and threads > 1 and one_thread_too:
            numba.set_num_threads(1)
            try:
                tf1, tr1 = time_pair(case["fast"], case["ref"], repeats, budget)
            finally:
                numba.set_num_threads(threads)
            results.append({"kernel": case["kernel"], "size": case["size"] + ", 1 numba thread", "numba_threads": 1,
                            "kernel_s": tf1, "ref_s": tr1, "speedup": tr1 / tf1, "agree": agree})
    return {"numba": numba.__version__, "numpy": np.__version__, "numba_threads": threads, "repeats": repeats, "results": results}


def _fmt(s: float) -> str:
    return f"{s * 1e3:.3f} ms" if s < 1 else f"{s:.2f} s"


def markdown(rep: dict) -> str:
    lines = ["| kernel | input | numba | numpy reference | speedup | agree |", "|---|---|---|---|---|---|"]
    for r in rep["results"]:
        lines.append(f"| {r['kernel']} | {r['size']} | {_fmt(r['kernel_s'])} | {_fmt(r['ref_s'])} | {r['speedup']:.1f}x | {'yes' if r['agree'] else 'NO'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.kernels", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7, help="samples per kernel and reference (median is reported)")
    ap.add_argument("--quick", action="store_true", help="2 short samples each, no 1-thread sauvola re-run (smoke test)")
    ap.add_argument("--out", type=Path, default=REPO / "reports" / "kernels.json")
    args = ap.parse_args(argv)
    rep = run(2, 0.005, False) if args.quick else run(args.repeats, 0.1)
    md = markdown(rep)
    rep["markdown"] = md
    print(md)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rep, indent=1), encoding="utf-8")
    return 0 if all(r["agree"] for r in rep["results"]) else 1


if __name__ == "__main__":
    sys.exit(main())
