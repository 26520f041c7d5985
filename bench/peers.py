"""One table, one run: this service's profiles and precisions against RapidOCR 3.10 and Tesseract 5.

    python -m bench.peers                                   # full run (tens of minutes), reports/peers.json
    python -m bench.peers --quick                           # 2 images per set, 1 repeat
    python -m bench.peers --quick --engines ours-tiny,tesseract --sets zh_smoke_full --limit 1

Engines (``--engines``, comma list): ``ours-<profile>[-<precision>]`` (precision ``auto`` by
default: the shipped mix of build.json; ``int8``: every model that has an int8 file; ``fp32``),
``rapidocr-small``, ``rapidocr-tiny``, ``tesseract`` (see bench/engines.py for each).

Method (every engine measured in this one process tree, on the same images, same thread count)
- Images for the speed columns: the generated page ``ocrcore.synth.render_page(0)`` plus the
  full-image eval sets (``--sets``, ``--limit`` per set), decoded once to BGR arrays; every engine
  gets the same array and decoding is outside the timed call. Tesseract gets that array as BMP
  on stdin of a new ``tesseract`` process per image, so its latency includes its process start.
- Cold start and peak RSS first, while this process is small: a fresh ``python -m
  bench.coldstart`` child per engine (spawn to first result on the generated page's file; then
  the speed images, for the peak). Tesseract: the first CLI call, and the max RSS of its processes.
- Throughput at saturation: ``--workers`` (default: cores) processes, each with the engine
  loaded at 1 thread and warmed, pull images from a shared counter; images/min = images / wall.
  For tesseract that is as many parallel CLI processes.
- Latency: engines loaded with ``--threads`` threads, warmed on the generated page, then
  ``--repeats`` rounds over the images, engines interleaved with a rotating order
  (``bench.run.interleaved``) so machine noise lands on all alike; per-image median, p95 of all.
- Accuracy: ``ocrcore.evaluate.evaluate_set`` on every eval set for every engine (page F1 / line
  accuracy, char accuracy / exact match; case folded where SOURCE.json says the labels are
  upper-case: ``ocrcore.evaluate.labels_are_upper_case``). Images are decoded by ``ocrcore.decode`` for all.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from . import engines as eng
from . import stats
from .images import BenchImage, eval_set_names, full_image_set, synth_page
from .run import (
    close_report,
    cold_starts,
    environment,
    git_state,
    interleaved,
    log,
    model_fingerprint,
    summarise,
    summarise_cold,
    write_report,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "reports" / "peers.json"
DEFAULT_ENGINES = ("ours-small", "ours-small-fp32", "ours-tiny", "ours-tiny-fp32",
                   "ours-tiny-int8", "rapidocr-small", "rapidocr-tiny", "tesseract")


# ---------------------------------------------------------------------------- images


def timing_images(sets: list[str], limit: int | None) -> list[BenchImage]:
    """The generated page, then the full-image sets' images: the same list for every engine."""
    images = [synth_page(0)]
    for name in sets:
        images += full_image_set(name, limit)
    return images


def ensure_paths(images: list[BenchImage]) -> None:
    """Child processes read files: write the generated page (PNG, lossless) where they can."""
    import cv2

    for im in images:
        if im.path is None:
            eng.CACHE_DIR.mkdir(parents=True, exist_ok=True)
            im.path = str(eng.CACHE_DIR / (im.name.replace(":", "_") + ".png"))
            cv2.imwrite(im.path, im.bgr)


# ---------------------------------------------------------------------------- cold start


def cold_phase(specs: list[str], threads: int, images: list[BenchImage], repeats: int) -> dict:
    """bench.run's cold starts (rotating order); the peak after all speed images on the last."""
    first, then = images[0].path, [im.path for im in images if im.path]
    results = cold_starts(specs, threads, first, then, repeats, numba_cold=False)  # type: ignore[arg-type]
    summary = summarise_cold(results)
    for spec, row in summary.items():
        rs = [r for r in results if r["engine"] == spec]
        floors = [r["spawner_rss"] for r in rs if r.get("spawner_rss")]
        cli = eng.parse_spec(spec).kind == "tesseract"
        # A CLI's cold start is its first call; the Python child around it is the harness.
        row["cold_start_s"] = row["split_median"]["first_call"] if cli else row["cold_start_median"]
        row["spawner_rss_mib"] = max(floors) / 2**20 if floors else None
    return {"image": images[0].name, "threads": threads, "then_images": len(then), "results": results, "summary": summary}


# ---------------------------------------------------------------------------- throughput


def _tp_worker(spec: str, paths: list[str], counter, total: int, ready, go, done) -> None:
    """One saturation worker: load at 1 thread, warm up, then take images until ``total``.
    Messages are (kind, pid, value), kind "ready", "done" (value: images run) or "error"."""
    os.environ.update(OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    pid = os.getpid()
    try:
        import cv2

        from ocrcore.decode import decode_image

        cv2.setNumThreads(1)
        images = [decode_image(Path(p).read_bytes()) for p in paths]
        engine = eng.load(spec, 1)
        engine.run(images[0])  # RapidOCR loads its models on the first call
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which stops the pool
        ready.put(("error", pid, f"{spec}: {exc!r}"))
        return
    ready.put(("ready", pid, None))
    go.wait()
    n = 0
    try:
        while True:
            with counter.get_lock():
                i = counter.value
                counter.value += 1
            if i >= total:
                break
            engine.run(images[i % len(images)])
            n += 1
    except Exception as exc:  # noqa: BLE001
        done.put(("error", pid, f"{spec}: {exc!r}"))
        return
    done.put(("done", pid, n))


def _collect(q, procs: list, what: str, timeout: float) -> dict[int, object]:
    """{pid: value}, one message per process from ``q``; fail fast on an error or a crash.

    A worker that exited cleanly has flushed its message into the pipe already (Queue's
    feeder is joined at exit), so only a non-zero exit code without a message is a crash."""
    import queue

    out: dict[int, object] = {}
    deadline = time.monotonic() + timeout
    while len(out) < len(procs):
        try:
            kind, pid, value = q.get(timeout=1.0)
        except queue.Empty:
            crashed = [p for p in procs if p.pid not in out and p.exitcode not in (None, 0)]
            if crashed or time.monotonic() > deadline:
                codes = [p.exitcode for p in crashed]
                raise RuntimeError(f"throughput workers: {what} " + (f"crashed (exit codes {codes})" if crashed else "timed out")) from None
            continue
        if kind == "error":
            raise RuntimeError(f"throughput worker failed: {value}")
        out[pid] = value
    return out


def throughput_once(spec: str, paths: list[str], workers: int, total: int, timeout: float = 3600) -> dict:
    """``workers`` processes share ``total`` images; the clock runs from go to the last image."""
    ctx = mp.get_context("spawn")
    counter, ready, done, go = ctx.Value("l", 0), ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_tp_worker, args=(spec, paths, counter, total, ready, go, done), daemon=True)
             for _ in range(workers)]
    for p in procs:
        p.start()
    try:
        _collect(ready, procs, "loading", timeout)
        t0 = time.perf_counter()
        go.set()
        counts = list(_collect(done, procs, "the run", timeout).values())
        wall = time.perf_counter() - t0
    except BaseException:
        for p in procs:  # ours only: the workers this call started
            p.terminate()
        raise
    finally:
        for p in procs:
            p.join(timeout=30)
    return {"images": sum(counts), "wall": wall, "per_worker": counts}


def throughput_phase(specs: list[str], images: list[BenchImage], workers: int, passes: int) -> dict:
    """Each pass: every engine once, order rotating; images/min over all passes."""
    paths = [im.path for im in images if im.path]
    total = max(len(paths), 2 * workers)
    runs: dict[str, list[dict]] = {s: [] for s in specs}
    for r in range(passes):
        k = r % len(specs)
        for spec in specs[k:] + specs[:k]:
            res = throughput_once(spec, paths, workers, total)
            runs[spec].append(res)
            log(f"  throughput {spec}: {res['images']} images in {res['wall']:.1f} s with {workers} workers")
    out = {}
    for spec, rs in runs.items():
        n, wall = sum(r["images"] for r in rs), sum(r["wall"] for r in rs)
        out[spec] = {"images_per_min": 60 * n / wall, "images": n, "wall": wall, "runs": rs}
    return {"workers": workers, "threads_per_worker": 1, "images_per_pass": total, "passes": passes, "engines": out}


# ---------------------------------------------------------------------------- accuracy


class EvalView:
    """The two OCREngine methods ``ocrcore.evaluate.evaluate_set`` calls, over any bench engine,
    so every engine is scored by the same code on the same decoded pixels."""

    def __init__(self, engine: eng.Engine) -> None:
        self.engine = engine

    def ocr(self, data: bytes, cls: bool | None = None, enhance_mode: str | None = None) -> SimpleNamespace:
        from ocrcore.decode import decode_image
        from ocrcore.types import Line

        run = self.engine.run(decode_image(data))
        boxes = run.boxes or []
        return SimpleNamespace(lines=[Line(t, 1.0, b) for t, b in zip(run.texts, boxes)])

    def recognize_lines(self, crops: list, cls: bool | None = None) -> list[tuple[str, float]]:
        assert self.engine.read_line is not None, self.engine.name
        return [(self.engine.read_line(c), 1.0) for c in crops]


def accuracy_phase(engines: list[eng.Engine], sets: list[str], limit: int | None) -> dict:
    """{set: {engine: evaluate_set result}}; sets in the order given."""
    from ocrcore.evaluate import evaluate_set, labels_are_upper_case

    from .images import EVAL_DIR

    out: dict = {}
    for name in sets:
        set_dir = EVAL_DIR / name
        folded = labels_are_upper_case(set_dir)
        out[name] = {}
        for e in engines:
            t0 = time.perf_counter()
            r = evaluate_set(EvalView(e), set_dir, fold_case=folded, limit=limit)
            r["fold_case"] = folded
            out[name][e.name] = r
            log(f"  accuracy {name} {e.name}: {_acc_cell(r)} ({time.perf_counter() - t0:.0f} s)")
    return out


def macro_means(accuracy: dict, spec: str) -> dict:
    """Mean over sets of page F1 (full-image sets) and char accuracy (line sets)."""
    f1 = [by[spec]["page_f1"] for by in accuracy.values() if spec in by and "page_f1" in by[spec]]
    ca = [by[spec]["char_accuracy"] for by in accuracy.values() if spec in by and "char_accuracy" in by[spec]]
    return {"page_f1": statistics.fmean(f1) if f1 else None, "page_sets": len(f1),
            "char_accuracy": statistics.fmean(ca) if ca else None, "line_sets": len(ca)}


# ---------------------------------------------------------------------------- latency


def latency_phase(engines: list[eng.Engine], images: list[BenchImage], repeats: int) -> dict:
    """Warm every engine on the generated page, then bench.run's interleaved rounds."""
    for e in engines:
        e.run(images[0].bgr)
    gc.collect()
    samples = interleaved(engines, images, repeats, "latency", warm_up=False)
    return {
        "images": [im.name for im in images],
        "sizes": {im.name: im.size for im in images},
        "repeats": repeats,
        "summary": summarise(samples, images),
        "walls": {n: {k: v["walls"] for k, v in per.items()} for n, per in samples.items()},
    }


def by_source(latency: dict, spec: str) -> dict[str, float]:
    """Median of per-image medians per source ("synth", "zh_real_dev", ...), seconds."""
    groups: dict[str, list[float]] = {}
    for name, row in latency["summary"][spec]["images"].items():
        groups.setdefault(name.split("/", 1)[0].split(":", 1)[0], []).append(row["median"])
    return {src: stats.med(v) for src, v in groups.items()}


# ---------------------------------------------------------------------------- report


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.0f}"


def _num(x: float | None, fmt: str = ".3f") -> str:
    return "—" if x is None else format(x, fmt)


def _acc_cell(r: dict | None) -> str:
    if not r:
        return "—"
    if "page_f1" in r:
        return f"{r['page_f1']:.3f} / {_num(r.get('line_accuracy'))}"
    return f"{r['char_accuracy']:.3f} / {r['exact_match']:.3f}"


def _models(report: dict, spec: str) -> str:
    info = report["engine_info"].get(spec, {})
    if "precisions" in info:
        return " ".join(f"{k} {v}" for k, v in info["precisions"].items())
    if "rapidocr" in info:
        where = "our tiny files" if "Det.model_path" in info.get("params", {}) else "its wheel's"
        return f"fp32 ({where}), cls {'on' if info.get('use_cls') else 'off'}"
    return info.get("langs", "")


def main_table(report: dict) -> list[str]:
    lat, tp, cold, acc = report["latency"], report.get("throughput"), report.get("cold"), report.get("accuracy") or {}
    cfg = report["config"]
    out = [
        f"### Peers, {cfg['threads']} thread(s), one run ({report['environment']['cpus']} cores, {report['date']})",
        "",
        f"CPU: {report['environment']['cpu']} ({report['environment'].get('isa', '?')})",
        "",
        (f"| engine | models | median ms | p95 ms | images/min ({tp['workers'] if tp else '—'} workers) | cold start s "
         "| peak RSS MiB | page F1 (mean of full-image sets) | char acc (mean of line sets) |"),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for spec in cfg["engines"]:
        agg = lat["summary"][spec]["set"]
        per_min = tp["engines"][spec]["images_per_min"] if tp else None
        c = cold["summary"].get(spec) if cold else None
        m = macro_means(acc, spec)
        out.append(
            f"| {spec} | {_models(report, spec)} | {_ms(agg['median'])} | {_ms(agg['p95'])} | {_num(per_min, '.1f')} "
            f"| {_num(c['cold_start_s'] if c else None, '.2f')} | {_num(c['rss_peak_mib'] if c else None, '.0f')} "
            f"| {_num(m['page_f1'])} | {_num(m['char_accuracy'])} |"
        )
    return out


def source_table(report: dict) -> list[str]:
    """Median ms per image by source: Tesseract's cost depends on the kind of image."""
    lat, specs = report["latency"], report["config"]["engines"]
    rows = {spec: by_source(lat, spec) for spec in specs}
    sources = list(rows[specs[0]])
    counts = {s: sum(1 for n in lat["images"] if n.split("/", 1)[0].split(":", 1)[0] == s) for s in sources}
    out = ["| median ms per image | " + " | ".join(f"{s} ({counts[s]})" for s in sources) + " |",
           "|---|" + "---|" * len(sources)]
    for spec in specs:
        out.append(f"| {spec} | " + " | ".join(_ms(rows[spec][s]) for s in sources) + " |")
    return out


def accuracy_table(report: dict) -> list[str]:
    acc, specs = report.get("accuracy") or {}, report["config"]["engines"]
    if not acc:
        return ["(no eval sets found: accuracy not measured)"]
    out = ["| set (kind, n) | " + " | ".join(specs) + " |", "|---|" + "---|" * len(specs)]
    for name, by in acc.items():
        first = next(iter(by.values()))
        kind = "page F1 / line acc" if first["kind"] == "full_image" else "char acc / exact"
        fold = ", case folded" if first.get("fold_case") else ""
        out.append(f"| {name} ({kind}, {first['count']}{fold}) | " + " | ".join(_acc_cell(by.get(s)) for s in specs) + " |")
    return out


def notes(report: dict) -> list[str]:
    cfg, lat, tp, cold = report["config"], report["latency"], report.get("throughput"), report.get("cold")
    tess = report["engine_info"].get("tesseract")
    out = [
        (f"- Threads: {cfg['threads']} ONNX Runtime intra-op + OpenCV thread(s) for ours and RapidOCR, "
         f"`OMP_THREAD_LIMIT={cfg['threads']}` for Tesseract."),
        (f"- Latency: {len(lat['images'])} images (the generated page + {', '.join(cfg['sets_timed']) or 'no eval set'}), "
         f"{lat['repeats']} timed run(s) each after a warm-up on the generated page, engines interleaved; median of the "
         "per-image medians, p95 of all samples. Input is the decoded BGR array, decoding outside the timed call."),
    ]
    if tp:
        out.append(f"- Images/min: {tp['workers']} worker processes × 1 thread, each with the engine loaded and warm, sharing "
                   f"{tp['images_per_pass']} images × {tp['passes']} pass(es); images / wall clock.")
    if cold:
        out.append(f"- Cold start: fresh Python process to the first result on {cold['image']} (file bytes in, decoding and "
                   "model loading included; page cache warm); peak RSS: the process's VmHWM after that and all speed images.")
    if tess:
        floor = (cold or {}).get("summary", {}).get("tesseract", {}).get("spawner_rss_mib")
        out.append(
            f"- Tesseract ({tess['tesseract']}, `{tess['langs']}`, default page segmentation; `--psm 7` on line crops): one CLI "
            "process per image, the image as BMP on stdin, so its latency and images/min **include process start-up** "
            "(loading the language models) every image. Its cold start is the first CLI call; its peak RSS is the "
            "largest `ru_maxrss` of its processes" + (f" (spawned from a {floor:.0f} MiB Python: a floor, not added)" if floor else "") + "."
        )
    out.append("- Accuracy: `ocrcore.evaluate` scoring for every engine, every image decoded by `ocrcore.decode`; line sets are "
               "recognition only (RapidOCR classifier off, as in the eval README's reference figures); full images with each "
               "engine's default classifier setting (RapidOCR on, ours off). Means are unweighted over sets.")
    return out


def markdown(report: dict) -> str:
    lines = main_table(report) + ["", "Median latency per source:", ""] + source_table(report)
    lines += ["", "### Accuracy per eval set", ""] + accuracy_table(report) + ["", "Notes:", ""] + notes(report)
    return "\n".join(lines)


# ---------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", default=",".join(DEFAULT_ENGINES), help="comma list (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=1, help="threads per engine for latency and cold start (default 1)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="throughput worker processes (default: cores)")
    ap.add_argument("--sets", default=None, help="comma list of eval sets (default: all in the eval directory)")
    ap.add_argument("--limit", type=int, default=None, help="images per set (default all; --quick 2)")
    ap.add_argument("--repeats", type=int, default=None, help="timed latency runs per image (default 3; --quick 1)")
    ap.add_argument("--cold-repeats", type=int, default=None, help="cold starts per engine (default 3; --quick 1; 0 = skip)")
    ap.add_argument("--passes", type=int, default=None, help="throughput passes per engine (default 2; --quick 1; 0 = skip)")
    ap.add_argument("--quick", action="store_true", help="a few images per set, 1 repeat: seconds to a minute")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON report (default reports/peers.json)")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    args = ap.parse_args(argv)
    quick = args.quick
    args.limit = args.limit if args.limit is not None else (2 if quick else None)
    args.repeats = args.repeats if args.repeats is not None else (1 if quick else 3)
    args.cold_repeats = args.cold_repeats if args.cold_repeats is not None else (1 if quick else 3)
    args.passes = args.passes if args.passes is not None else (1 if quick else 2)
    args.specs = [s.strip() for s in args.engines.split(",") if s.strip()]
    for s in args.specs:
        try:
            if eng.check_spec(s).kind == "tesseract" and eng.tesseract_version() == "not installed":
                ap.error(f"tesseract is not installed (apt-get install {eng.TESSERACT_DEBS})")
        except ValueError as exc:
            ap.error(str(exc))
    available = eval_set_names()
    wanted = available if args.sets is None else [s.strip() for s in args.sets.split(",") if s.strip()]
    missing = [s for s in wanted if s not in available]
    if missing:
        log(f"eval sets not found, skipped: {', '.join(missing)}")
    args.set_names = [s for s in wanted if s in available]
    return args


def new_report(args: argparse.Namespace, argv: list[str] | None, images: list[BenchImage]) -> dict:
    env = environment()
    env["tesseract"] = eng.tesseract_version()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.peers " + " ".join(sys.argv[1:] if argv is None else argv),
        "environment": env,
        "git": git_state(),
        "models_start": model_fingerprint(),
        "load_average_start": os.getloadavg(),
        "config": {"engines": args.specs, "threads": args.threads, "workers": args.workers, "sets": args.set_names,
                   "sets_timed": sorted({im.meta["set"] for im in images if "set" in im.meta}), "limit": args.limit,
                   "repeats": args.repeats, "cold_repeats": args.cold_repeats, "passes": args.passes, "quick": args.quick},
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import cv2

    t_begin = time.time()
    images = timing_images(args.set_names, args.limit)
    ensure_paths(images)
    report = new_report(args, argv, images)
    specs: list[str] = args.specs
    log(f"engines {specs}; {len(images)} timing images; sets {args.set_names}; threads {args.threads}")
    if args.cold_repeats > 0:  # first, while this process is small (bench/coldstart.py)
        report["cold"] = cold_phase(specs, args.threads, images, args.cold_repeats)
    if args.passes > 0:
        report["throughput"] = throughput_phase(specs, images, args.workers, args.passes)
    cv2.setNumThreads(args.threads)
    engines = [eng.load(s, args.threads) for s in specs]
    report["engine_info"] = {e.name: e.info for e in engines}
    report["load_seconds"] = {e.name: e.load_seconds for e in engines}
    report["latency"] = latency_phase(engines, images, args.repeats)
    report["accuracy"] = accuracy_phase(engines, args.set_names, args.limit)
    report["means"] = {s: macro_means(report["accuracy"], s) for s in specs}
    close_report(report, t_begin)
    report["markdown"] = md = markdown(report)
    print(md)
    write_report(report, md, args.out, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
