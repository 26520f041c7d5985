"""Diagnostics behind the hot spots in docs/performance.md (measure only; they change nothing).

    python -m bench.diagnose ops models/build/small/det.int8.onnx 1,3,768,1024 --threads 2
        ONNX Runtime per-operator profile: share of kernel time per op type, nodes per run.
    python -m bench.diagnose spinning --threads 2 --rounds 3
        ours-small (shipped INT8 and FP32) with ORT intra-op spinning on (ORT's default, what
        ocrcore.models.make_session uses) and off, each config in its own fresh process,
        alternating, on the generated 1024x768 page.
    python -m bench.diagnose sessions det models/build/small/det.fp32.onnx models/build/small/det.int8.onnx --threads 1
        bare ONNX Runtime sessions (ocrcore.models.make_session) of several model files on the
        same real input, interleaved: the generated page's det tensor (1, 3, 768, 1024), or for
        ``rec`` a batch of 4 of its line crops at 48x320.
    python -m bench.diagnose fold-bias models/build/small/det.fp32.onnx /tmp/det.folded.onnx [--quantize det --keep-fp32 Conv.0 ...]
        writes outside the repo: models/build.py's fold of each bias-free Conv's following
        Add(constant) into the Conv's bias (what the small recogniser's INT8 build does), then
        optionally quantise with models/build.py's own calibration and quantize().
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parent.parent


def op_profile(model: str, shape: tuple[int, ...], threads: int, runs: int = 4) -> dict:
    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    so.enable_profiling = True
    so.profile_file_prefix = str(Path(tempfile.gettempdir()) / "ortprof")
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    name = sess.get_inputs()[0].name
    walls = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, {name: x})
        walls.append(time.perf_counter() - t)
    path = sess.end_profiling()
    events = json.loads(Path(path).read_text())
    os.remove(path)
    by_op: dict[str, float] = collections.defaultdict(float)
    nodes: collections.Counter = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            op = e["args"].get("op_name", "?")
            by_op[op] += e["dur"]
            nodes[op] += 1
    total = sum(by_op.values()) or 1.0
    rows = [{"op": op, "share": d / total, "nodes_per_run": nodes[op] / runs} for op, d in sorted(by_op.items(), key=lambda kv: -kv[1])]
    return {"model": model, "shape": shape, "threads": threads, "wall_median_s": median(walls[1:] or walls), "ops": rows}


_SPIN_CHILD = r"""
import json, sys, time, cv2, onnxruntime as ort
import ocrcore.engine as en
from ocrcore import OCREngine
from ocrcore.synth import render_page
prec, spin, threads, n = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]), int(sys.argv[4])
cv2.setNumThreads(threads)
img = render_page(0)[0]
e = OCREngine(profile="small", precision=prec, threads=threads, spin=spin)
e.ocr(img)
walls = []
for _ in range(n):
    t = time.perf_counter(); e.ocr(img); walls.append(time.perf_counter() - t)
print(json.dumps(walls))
"""


def spinning(threads: int, rounds: int, calls: int) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache" / "numba"))
    res: dict[str, list[float]] = {}
    for _ in range(rounds):
        for prec in ("auto", "fp32"):
            for spin in ("1", "0"):
                out = subprocess.run([sys.executable, "-c", _SPIN_CHILD, prec, spin, str(threads), str(calls)],
                                     cwd=REPO, env=env, capture_output=True, text=True, check=True).stdout
                res.setdefault(f"precision={prec} spinning={'on' if spin == '1' else 'off'}", []).extend(json.loads(out.strip().splitlines()[-1]))
    return {"threads": threads, "load_average": os.getloadavg(), "median_s": {k: median(v) for k, v in res.items()}, "n": {k: len(v) for k, v in res.items()}}


def _inputs(kind: str):
    import numpy as np

    from ocrcore.preprocess import det_tensor, line_tensor_batch
    from ocrcore.synth import render_page

    img, lines = render_page(0)
    if kind == "det":
        return det_tensor(img, (768, 1024))
    crops = [img[l.box[1] : l.box[3], l.box[0] : l.box[2]] for l in lines[:4]]
    return np.ascontiguousarray(line_tensor_batch(crops, 48, 320))


def sessions(kind: str, models: list[str], threads: int, repeats: int) -> dict:
    import numpy as np

    from ocrcore.models import make_session

    x = _inputs(kind)
    sess = {}
    for m in models:
        s = make_session(Path(m), threads)
        name = s.get_inputs()[0].name
        s.run(None, {name: x})
        sess[m] = (s, name)
    walls: dict[str, list[float]] = {m: [] for m in models}
    outs = {}
    for r in range(repeats):
        k = r % len(models)
        for m in models[k:] + models[:k]:
            s, name = sess[m]
            t = time.perf_counter()
            outs[m] = s.run(None, {name: x})[0]
            walls[m].append(time.perf_counter() - t)
    ref = outs[models[0]]
    return {
        "kind": kind, "shape": list(x.shape), "threads": threads, "repeats": repeats,
        "rows": [{"model": m, "median_s": median(walls[m]), "vs_first": median(walls[models[0]]) / median(walls[m]),
                  "mean_abs_diff_vs_first": float(np.abs(outs[m] - ref).mean())} for m in models],
    }


def _build_module():
    """models/build.py (not a package) loaded as a module: the fold and quantise steps it ships."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_models_build", REPO / "models" / "build.py")
    build = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(build)  # type: ignore[union-attr]
    return build


def fold_conv_bias(src: str, dst: str) -> tuple[int, int]:
    """models/build.py's fold, on files given by path."""
    return _build_module().fold_conv_bias(Path(src), Path(dst))


def _quantize_like_build(fp32: str, out: str, kind: str, keep_fp32: list[str]) -> None:
    build = _build_module()
    feeds = build.det_calibration(8) if kind == "det" else build.line_calibration(64, 48, 320)
    build.quantize(Path(fp32), Path(out), feeds, "percentile", keep_fp32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.diagnose", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("ops", help="per-operator profile of one ONNX model")
    a.add_argument("model")
    a.add_argument("shape", help="input shape, e.g. 1,3,768,1024 (det) or 8,3,48,576 (rec)")
    a.add_argument("--threads", type=int, default=2)
    a.add_argument("--top", type=int, default=12)
    b = sub.add_parser("spinning", help="ORT intra-op spinning on vs off, fresh process per config")
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--rounds", type=int, default=3)
    b.add_argument("--calls", type=int, default=6)
    c = sub.add_parser("sessions", help="bare ORT sessions of several model files, interleaved")
    c.add_argument("kind", choices=["det", "rec"])
    c.add_argument("models", nargs="+")
    c.add_argument("--threads", type=int, default=1)
    c.add_argument("--repeats", type=int, default=15)
    d = sub.add_parser("fold-bias", help="prototype: fold Conv+Add(const) into Conv bias (writes a new file)")
    d.add_argument("src")
    d.add_argument("dst")
    d.add_argument("--quantize", choices=["det", "rec"], default=None, help="then quantise dst to dst.int8.onnx like models/build.py")
    d.add_argument("--keep-fp32", nargs="*", default=[], help="node names left FP32 (as manifest.json keep_fp32)")
    args = ap.parse_args(argv)
    if args.cmd == "sessions":
        rep = sessions(args.kind, args.models, args.threads, args.repeats)
        print(f"{rep['kind']} input {rep['shape']}, {rep['threads']} thread(s), {rep['repeats']} interleaved runs")
        print("| model | median ms | speed vs first | mean abs output diff vs first |\n|---|---|---|---|")
        for r in rep["rows"]:
            print(f"| {r['model']} | {r['median_s'] * 1000:.0f} | {r['vs_first']:.2f}x | {r['mean_abs_diff_vs_first']:.4f} |")
        return 0
    if args.cmd == "fold-bias":
        if Path(args.dst).resolve().is_relative_to(REPO / "models"):
            ap.error("write the prototype outside models/ (the build owns that directory)")
        folded, kept = fold_conv_bias(args.src, args.dst)
        print(f"{args.dst}: folded {folded} Conv+Add pairs, kept {kept} (GELU inputs)")
        if args.quantize:
            out = str(Path(args.dst).with_suffix("")) + ".int8.onnx"
            _quantize_like_build(args.dst, out, args.quantize, args.keep_fp32)
            print(f"quantised -> {out}")
        return 0
    if args.cmd == "ops":
        rep = op_profile(args.model, tuple(int(x) for x in args.shape.split(",")), args.threads)
        print(f"{rep['model']} {rep['shape']} threads={rep['threads']}: {rep['wall_median_s'] * 1000:.0f} ms per run (median)")
        print("| op | share of kernel time | nodes per run |\n|---|---|---|")
        for r in rep["ops"][: args.top]:
            print(f"| {r['op']} | {r['share'] * 100:.1f}% | {r['nodes_per_run']:.0f} |")
    else:
        rep = spinning(args.threads, args.rounds, args.calls)
        print(f"ours-small, synth page 1024x768, {rep['threads']} threads, load average {rep['load_average']}")
        for k, v in rep["median_s"].items():
            print(f"  {k:32s} median {v * 1000:.0f} ms (n={rep['n'][k]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
