"""Micro-benchmark of every numba kernel in ocrcore/kernels.py against its numpy reference.

    python -m bench.kernels [--repeats 7] [--quick] [--out reports/kernels.json]

Inputs have the sizes the engine really sees:
- sauvola_binarize: a 768x1024 grey page (window 31, k 0.2, r 128), at the process's numba
  thread count and at 1 thread
- constrained CTC decoding (ocrcore/ctc_kernels.py): one 640 px line of the small recogniser
  (80 time steps x 18,710 classes): masked greedy (12-character allowlist), top-8 candidates,
  prefix beam search (beam 8) with 1,000 hot words, Viterbi alignment of the result

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
             "ref": lambda: k.sauvola_binarize_ref(page, 31, 0.2, 128.0)}, *ctc_cases(rng)]


def ctc_cases(rng: np.random.Generator) -> list[dict]:
    """The constrained-decoding kernels on a line-sized (80, 18,710) probability matrix."""
    from ocrcore import ctc_kernels as c
    from ocrcore.vocab import build_trie

    t_len, n_cls = 80, 18_710
    logits = rng.normal(size=(t_len, n_cls)).astype(np.float32)
    logits[np.arange(t_len), rng.integers(1, n_cls, t_len)] += 12  # a confident reading ...
    logits[::2, 0] += 14  # ... with blanks between characters
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    digits = rng.choice(np.arange(1, n_cls), 12, replace=False).astype(np.int32)
    every = np.arange(1, n_cls, dtype=np.int32)
    cands = c.top_candidates(probs, every, 8)
    class_of = {chr(0x4E00 + i): i for i in range(1, n_cls)}  # stand-in characters, one per class
    words = ["".join(chr(0x4E00 + int(x)) for x in rng.integers(1, n_cls, int(rng.integers(2, 6)))) for _ in range(1000)]
    trie = build_trie(tuple((w, 1.0) for w in words), class_of, 1.0)
    dfa = (np.zeros((1, 1), np.int32), np.zeros(n_cls, np.int32), np.ones(1, np.bool_))
    labels = c.prefix_beam_search(probs, cands, 8, *dfa, *trie)[0]
    return [
        {"kernel": "masked_greedy", "size": "80x18710 float32, 12 allowed",
         "fast": lambda: c.masked_greedy(probs, digits), "ref": lambda: c.masked_greedy_ref(probs, digits)},
        {"kernel": "top_candidates", "size": "80x18710 float32, top 8",
         "fast": lambda: c.top_candidates(probs, every, 8), "ref": lambda: c.top_candidates_ref(probs, every, 8)},
        {"kernel": "prefix_beam_search", "size": "80 steps x 8 candidates, beam 8, 1000 hot words",
         "fast": lambda: c.prefix_beam_search(probs, cands, 8, *dfa, *trie),
         "ref": lambda: c.prefix_beam_search_ref(probs, cands, 8, *dfa, *trie)},
        {"kernel": "ctc_align", "size": f"80x18710 float32, {len(labels)} labels",
         "fast": lambda: c.ctc_align(probs, labels), "ref": lambda: c.ctc_align_ref(probs, labels)},
    ]


def _agree(a, b) -> bool:
    """Same output: binary images up to a handful of pixels at the threshold, numbers to 1e-4."""
    if isinstance(a, tuple):  # (labels, probs) or (labels, log P, bonus, found)
        return len(a) == len(b) and all(_agree(x, y) for x, y in zip(a, b))
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
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
