"""Cold start and peak RSS: one fresh interpreter per measurement.

The parent (:func:`measure`) notes the wall clock, spawns ``python -m bench.coldstart``, and
stops the clock when the child prints its first result (which it does right after OCR-ing the
image *file*, decoding included). The child stamps the wall clock after interpreter start,
after importing the engine's package, after loading the models and after the first result, so
the total splits into startup / import / load / first call. RapidOCR loads its models lazily,
inside the first call, so its "load" is near zero and its "first" includes the model loading.

Peak RSS is the child's own ``VmHWM`` (/proc/self/status: high-water RSS of its address
space), read right after the first result and again at exit. ``ru_maxrss`` from ``os.wait4`` is
kept as a cross-check only: Linux carries the *parent's* high-water mark into a child across
fork+exec (with vfork, which CPython uses, the child even starts in the parent's address
space), so a child spawned from a big process reports at least the parent's size. The bench
therefore runs the cold starts before it loads any engine itself.

``tesseract`` is a CLI, one process per image: its cold start is the first CLI call (the
child's "first call"; the Python child's own start-up is the harness's cost, not tesseract's),
and its peak RSS is ``ru_maxrss`` of the tesseract processes this child waited for
(``RUSAGE_CHILDREN``). The same inheritance applies there: a tesseract process reports at least
its spawner's high-water mark, so the child imports nothing heavy for it and also reports its
own (``spawner_rss``), the floor under that figure.
"""

from __future__ import annotations

import time

T_MAIN = time.time()  # as early as possible: everything before this is interpreter start-up

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def vm_hwm() -> int:
    """Peak resident set of this process's address space, bytes (Linux); ru_maxrss elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _child(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.coldstart")
    ap.add_argument("--engine", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--then", nargs="*", default=[], help="more image files to OCR after the first result (peak RSS)")
    args = ap.parse_args(argv)
    data = Path(args.image).read_bytes()
    from bench.engines import load, parse_spec

    kind = parse_spec(args.engine).kind
    if kind != "tesseract":  # a CLI: keep this spawner small (see the module docstring)
        import cv2

        cv2.setNumThreads(args.threads)
    if kind == "ours":
        import ocrcore  # noqa: F401
    elif kind == "rapidocr":
        import rapidocr  # noqa: F401
    t_imported = time.time()
    engine = load(args.engine, args.threads)
    peak = engine.peak_rss or vm_hwm
    t_loaded = time.time()
    first = engine.run(data)
    t_first = time.time()
    out = {
        "t_main": T_MAIN,
        "t_imported": t_imported,
        "t_loaded": t_loaded,
        "t_first": t_first,
        "lines": len(first.texts),
        "rss_first": peak(),
        "spawner_rss": vm_hwm() if engine.peak_rss else None,
    }
    print(json.dumps(out), flush=True)
    for path in args.then:
        engine.run(Path(path).read_bytes())
    print(json.dumps({"rss_after": peak(), "then": len(args.then)}), flush=True)
    return 0


def measure(engine: str, threads: int, image: str, then: list[str] | None = None, env: dict | None = None, timeout: float = 300) -> dict:
    """Spawn one child; return seconds from spawn to first result, its split, and peak RSS."""
    cmd = [sys.executable, "-m", "bench.coldstart", "--engine", engine, "--threads", str(threads), "--image", image]
    if then:
        cmd += ["--then", *then]
    child_env = dict(os.environ if env is None else env)
    child_env["PYTHONPATH"] = str(REPO) + (os.pathsep + child_env["PYTHONPATH"] if child_env.get("PYTHONPATH") else "")
    with tempfile.TemporaryFile("w+") as errf:
        t0 = time.time()
        proc = subprocess.Popen(cmd, cwd=REPO, env=child_env, stdout=subprocess.PIPE, stderr=errf, text=True)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            t_line = time.time()
            rest = proc.stdout.read()  # type: ignore[union-attr]
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not all children's
            proc.returncode = os.waitstatus_to_exitcode(status)
        finally:
            killer.cancel()
            proc.stdout.close()  # type: ignore[union-attr]
        errf.seek(0)
        err = errf.read()
    if not line or proc.returncode != 0:
        raise RuntimeError(f"cold-start child for {engine} failed (rc={proc.returncode}): {err[-2000:]}")
    first = json.loads(line)
    after = json.loads(rest.strip().splitlines()[-1]) if rest.strip() else {}
    return {
        "engine": engine,
        "threads": threads,
        "cold_start": t_line - t0,
        "startup": first["t_main"] - t0,
        "import": first["t_imported"] - first["t_main"],
        "load": first["t_loaded"] - first["t_imported"],
        "first_call": first["t_first"] - first["t_loaded"],
        "lines": first["lines"],
        "rss_first": first["rss_first"],
        "rss_peak": after.get("rss_after", first["rss_first"]),
        "ru_maxrss_wait4": usage.ru_maxrss * 1024,  # Linux reports KiB; see the module docstring
        "then": after.get("then", 0),
        "spawner_rss": first.get("spawner_rss"),  # tesseract: floor under rss_first/rss_peak
    }


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
