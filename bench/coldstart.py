"""Cold start and peak RSS: one fresh interpreter per measurement (method: docs/benchmarks.md).

The parent (:func:`measure`) spawns ``python -m bench.coldstart`` and stops the clock when the
child prints its first result on the image *file*; the child's timestamps split that into
startup / import / load / first call. Peak RSS is the child's own ``VmHWM`` (``ru_maxrss`` of
``wait4`` only as a cross-check: Linux carries the spawner's high-water mark into a child, so
cold starts run before the bench loads any engine). ``tesseract``: the first CLI call, and the
``ru_maxrss`` of the tesseract processes, above their small spawner's own (``spawner_rss``).
:func:`fresh_model_dir`: the first start on a new host, with no per-host precision cache.
"""

from __future__ import annotations

import time

T_MAIN = time.time()  # as early as possible: everything before this is interpreter start-up

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
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
        from ocrcore.runtime import configure_process

        configure_process()  # the service's process settings (OpenCV's pool off), as ours applies on load
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
        "precision_source": engine.info.get("precision_source"),
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
        "precision_source": first.get("precision_source"),  # ours: "measured" on a first start
    }


@contextlib.contextmanager
def fresh_model_dir(profile: str) -> Iterator[Path]:
    """A temporary model root: ``<profile>/`` holds symlinks to the built files (no ``host/``
    precision cache), plus the build ``stamp``. Point ``OCR_MODEL_DIR`` at it."""
    from bench.engines import MODEL_DIR

    with tempfile.TemporaryDirectory(prefix="ocr-first-start-") as d:
        (Path(d) / profile).mkdir()
        for f in (MODEL_DIR / profile).iterdir():
            if f.is_file():
                (Path(d) / profile / f.name).symlink_to(f)
        if (MODEL_DIR / "stamp").exists():
            (Path(d) / "stamp").symlink_to(MODEL_DIR / "stamp")
        yield Path(d)


def cold_starts(specs: list[str], threads: int, first_image: str, then: list[str], repeats: int,
                fresh: bool = False) -> list[dict]:
    """``repeats`` rounds of one cold start per engine, order rotating; the last round also OCRs
    ``then`` (for the peak RSS). ``fresh``: one more first start per ``ours-*`` engine with
    precision ``auto``, from :func:`fresh_model_dir`."""
    from bench.engines import parse_spec
    from bench.report import log

    results = []
    for r in range(repeats):
        k = r % len(specs)
        for spec in specs[k:] + specs[:k]:
            res = measure(spec, threads, first_image, then if r == repeats - 1 else [])
            results.append(dict(res, repeat=r, fresh=False))
            log(f"  cold start {spec} t={threads}: {res['cold_start']:.2f} s, peak RSS {res['rss_peak'] / 2**20:.0f} MiB")
    for spec in specs if fresh else []:
        parsed = parse_spec(spec)
        if parsed.kind != "ours" or parsed.precision != "auto":
            continue
        with fresh_model_dir(parsed.profile or "") as root:
            res = measure(spec, threads, first_image, [], env=dict(os.environ, OCR_MODEL_DIR=str(root)))
        results.append(dict(res, repeat=0, fresh=True))
        log(f"  first start {spec} (empty precision cache, {res['precision_source']}): {res['cold_start']:.2f} s")
    return results


FRESH = " (first start: empty precision cache)"


def summarise_cold(results: list[dict]) -> dict:
    """Per engine (first starts under ``engine + FRESH``): medians of the cold start and its split
    (seconds), RSS at the first result and peak (MiB), how the precision was chosen."""
    groups: dict[str, list[dict]] = {}
    for res in results:
        groups.setdefault(res["engine"] + (FRESH if res["fresh"] else ""), []).append(res)
    med = statistics.median
    return {key: {"n": len(rs), "cold_start_median": med(r["cold_start"] for r in rs),
                  "cold_start_min": min(r["cold_start"] for r in rs),
                  "split_median": {p: med(r[p] for r in rs) for p in ("startup", "import", "load", "first_call")},
                  "rss_first_mib": max(r["rss_first"] for r in rs) / 2**20,
                  "rss_peak_mib": max(r["rss_peak"] for r in rs) / 2**20,
                  "rss_peak_after_set": any(r["then"] for r in rs),
                  "ru_maxrss_wait4_mib": max(r["ru_maxrss_wait4"] for r in rs) / 2**20,
                  "precision_source": rs[-1]["precision_source"], "threads": rs[0]["threads"]}
            for key, rs in groups.items()}


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
