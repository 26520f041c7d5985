"""Build numba's on-disk cache of ocrcore's kernels, then prove a fresh process only loads it.

Run by infra/Dockerfile while the Lambda image is built, so no container ever compiles:

    NUMBA_CPU_NAME=generic NUMBA_CACHE_DIR=/opt/numba-cache python infra/build_numba_cache.py

1. compile: warm every kernel (ocrcore.kernels, and ocrcore.ctc_kernels of constrained decoding:
   ~20 s to compile, which a request with an allowlist, pattern or hot words would otherwise pay
   in each new container), then load the engine of each built profile and OCR a synthetic page,
   free and constrained, so every specialisation a request uses is compiled and written to the cache;
2. verify: a second interpreter does the same and must load every kernel from the cache
   (no cache misses), otherwise the script fails and so does the image build.

numba keys its cache on (source hash, signature, target triple, CPU name, CPU features);
``NUMBA_CPU_NAME=generic`` makes CPU name and features machine-independent, which is why it
must be set both here and at run time (the Dockerfile's ENV does both). At run time
ocrservice/lambda_handler.py copies the cache to /tmp (Lambda's only writable place) first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def kernel_stats() -> dict[str, dict]:
    """Per numba kernel of ocrcore.kernels and ocrcore.ctc_kernels: compiled signatures, cache
    hits and misses."""
    from numba.core.dispatcher import Dispatcher

    from ocrcore import ctc_kernels, kernels

    out: dict[str, dict] = {}
    for name, obj in sorted([*vars(kernels).items(), *vars(ctc_kernels).items()], key=lambda kv: kv[0]):
        if isinstance(obj, Dispatcher):
            st = obj.stats
            out[name] = {
                "signatures": len(obj.signatures),
                "hits": sum(st.cache_hits.values()),
                "misses": sum(st.cache_misses.values()),
                "cache_path": st.cache_path,
            }
    return out


def exercise(profiles: list[str]) -> dict:
    """Everything a request does: kernel warm-up, engine load, one OCR of a synthetic page."""
    import cv2

    from ocrcore import EngineConfig, OCREngine, ctc_kernels, kernels
    from ocrcore.models import ModelsMissingError
    from ocrcore.synth import render_page

    t0 = time.perf_counter()
    kernels.warm_up()
    ctc_kernels.warm_up()
    page, _ = render_page(7, (640, 480), n_lines=4)
    png = cv2.imencode(".png", page)[1].tobytes()
    done = []
    for profile in profiles:
        try:
            engine = OCREngine(EngineConfig.from_env(profile=profile, threads=1))
        except ModelsMissingError:
            continue
        engine.ocr(png)
        engine.ocr(png, detect=False)
        engine.ocr(png, enhance_mode="binarize")  # the one mode of the default path that runs a numba kernel
        engine.ocr(png, allowlist="0123456789", pattern=r"\d+", hotwords=["4711"])  # constrained decoding (ocrcore.vocab)
        done.append(profile)
    return {"seconds": round(time.perf_counter() - t0, 2), "profiles": done, "kernels": kernel_stats()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", action="append", help="engine profiles to exercise (default: small and tiny)")
    ap.add_argument("--no-verify", action="store_true", help="skip the fresh-process check")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    profiles = args.profile or ["small", "tiny"]

    cache_dir = os.environ.get("NUMBA_CACHE_DIR", "")
    if not cache_dir:
        ap.error("set NUMBA_CACHE_DIR to the directory to build the cache in")
    if os.environ.get("NUMBA_CPU_NAME", "").lower() != "generic":
        ap.error("set NUMBA_CPU_NAME=generic (here and at run time), or the cache only fits this CPU")
    os.makedirs(cache_dir, exist_ok=True)

    report = exercise(profiles)
    if args.child:
        print(json.dumps(report))
        return 0
    if not report["profiles"]:
        print("no built models found: run `python models/build.py` first", file=sys.stderr)
        return 1
    print(f"compiled into {cache_dir} in {report['seconds']}s (profiles: {', '.join(report['profiles'])})")
    if args.no_verify:
        return 0

    cmd = [sys.executable, os.path.abspath(__file__), "--child"] + [f"--profile={p}" for p in profiles]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=os.environ.copy())
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, file=sys.stderr)
        return 1
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    used = {k: v for k, v in child["kernels"].items() if v["signatures"]}
    missed = {k: v for k, v in used.items() if v["misses"] or not v["hits"]}
    for name, v in sorted(used.items()):
        print(f"  {name:24s} signatures={v['signatures']} cache hits={v['hits']} misses={v['misses']}")
    if missed:
        print(f"kernels compiled again in a fresh process (cache not used): {sorted(missed)}", file=sys.stderr)
        return 1
    print(f"verified: a fresh process loads all {len(used)} kernels from the cache ({child['seconds']}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
