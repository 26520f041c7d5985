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


def cases(rng: np.random.Generator) -> list[dict]:
    """Each kernel with its reference, as closures over an input of the size the engine sees."""
    from ocrcore import kernels as k
    from ocrcore.synth import render_page

    page = np.ascontiguousarray(render_page(int(rng.integers(0, 1000)), (1024, 768))[0][:, :, 0])
    return [{"kernel": "sauvola_binarize", "size": "768x1024 uint8, window 31",
             "fast": lambda: k.sauvola_binarize(page, 31, 0.2, 128.0),
             "ref": lambda: k.sauvola_binarize_ref(page, 31, 0.2, 128.0)}]


def _agree(a, b) -> bool:
    """Same output: binary images up to a handful of pixels at the threshold, numbers to 1e-4."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype == np.uint8:
        return a.shape == b.shape and float(np.mean(a != b)) < 1e-3
    return bool(np.allclose(a, b, rtol=1e-4, atol=1e-5))


def _loops(fn: Callable, budget: float) -> int:
    t = time.perf_counter()
    fn()
    dt = time.perf_counter() - t
    return max(1, int(budget / max(dt, 1e-7)))


def time_pair(fast: Callable, ref: Callable, repeats: int, budget: float = 0.1) -> tuple[float, float]:
    """Median seconds per call of each, sampled alternately."""
    nf, nr = _loops(fast, budget), _loops(ref, budget)
    tf: list[float] = []
    tr: list[float] = []
    for _ in range(repeats):
        for fn, n, acc in ((fast, nf, tf), (ref, nr, tr)):
            t = time.perf_counter()
            for _ in range(n):
                fn()
            acc.append((time.perf_counter() - t) / n)
    return median(tf), median(tr)


def run(repeats: int = 7, budget: float = 0.1, one_thread_too: bool = True) -> dict:
    """Every case at numba's thread count (and at 1 thread too when that differs); seconds per call."""
    import numba

    from ocrcore.host import cpu_info

    threads = numba.get_num_threads()
    results = []
    for case in cases(np.random.default_rng(0)):
        agree = _agree(case["fast"](), case["ref"]())  # warm-up (JIT / cache load) + agreement check
        for n in [threads] + ([1] if threads > 1 and one_thread_too else []):
            numba.set_num_threads(n)
            try:
                tf, tr = time_pair(case["fast"], case["ref"], repeats, budget)
            finally:
                numba.set_num_threads(threads)
            results.append({"kernel": case["kernel"], "size": case["size"] + ("" if n == threads else f", {n} numba thread"),
                            "numba_threads": n, "kernel_s": tf, "ref_s": tr, "speedup": tr / tf, "agree": agree})
    cpu = cpu_info()
    return {"cpu": cpu.model, "isa": cpu.isa_label, "numba": numba.__version__, "numpy": np.__version__,
            "numba_threads": threads, "repeats": repeats, "results": results}


def _fmt(s: float) -> str:
    return f"{s * 1e3:.3f} ms" if s < 1 else f"{s:.2f} s"


def markdown(rep: dict) -> str:
    from .report import table

    rows = ([r["kernel"], r["size"], _fmt(r["kernel_s"]), _fmt(r["ref_s"]), f"{r['speedup']:.1f}x", "yes" if r["agree"] else "NO"]
            for r in rep["results"])
    return "\n".join([f"CPU: {rep['cpu']} ({rep['isa']}), numba {rep['numba']}, {rep['numba_threads']} numba thread(s).", "",
                      *table(["kernel", "input", "numba", "numpy reference", "speedup", "agree"], rows)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.kernels", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7, help="samples per kernel and reference (median is reported)")
    ap.add_argument("--quick", action="store_true", help="2 short samples each, no 1-thread sauvola re-run (smoke test)")
    ap.add_argument("--out", type=Path, default=REPO / "reports" / "kernels.json")
    args = ap.parse_args(argv)
    rep = run(2, 0.005, False) if args.quick else run(args.repeats, 0.1)
    rep["markdown"] = markdown(rep)
    print(rep["markdown"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rep, indent=1), encoding="utf-8")
    return 0 if all(r["agree"] for r in rep["results"]) else 1


if __name__ == "__main__":
    sys.exit(main())
