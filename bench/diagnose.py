"""Diagnostics behind the hot spots in docs/performance.md (measure only; they change nothing).

    python -m bench.diagnose ops models/build/small/det.int8.onnx 1,3,768,1024 --threads 2
        ONNX Runtime per-operator profile: share of kernel time per op type, nodes per run.
    python -m bench.diagnose spinning --threads 2 --rounds 3
        ours-small (shipped INT8 and FP32) with ORT intra-op spinning on (ORT's default, what
        ocrcore.models.make_session uses) and off, each config in its own fresh process,
        alternating, on the generated 1024x768 page.
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
if not spin:
    made = en.make_session
    def make_session(path, threads):
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.inter_op_num_threads = 1
        if threads > 0:
            so.intra_op_num_threads = threads
        so.log_severity_level = 3
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
    en.make_session = make_session
e = OCREngine(profile="small", precision=prec, threads=threads)
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
    args = ap.parse_args(argv)
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
