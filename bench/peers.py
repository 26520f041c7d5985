"""One table, one run: this service's profiles and precisions against RapidOCR 3.10 and Tesseract 5.

    python -m bench.peers                         # full run (tens of minutes) -> reports/peers.json
    python -m bench.peers --quick                 # 2 images per set, 1 repeat
    python -m bench.peers --quick --engines ours-tiny,tesseract --sets zh_smoke_full --limit 1
    python -m bench.peers --engines ours-small,rapidocr-small --stages --profile --cold-fresh
    python -m bench.peers --report-only reports/peers.json    # re-print the tables of a run

Engines (``--engines``, comma list): ``ours-<profile>[-<precision>]``, ``rapidocr-small``,
``rapidocr-tiny``, ``tesseract`` (bench/engines.py). Method and report contents: docs/benchmarks.md.
In short: cold starts and peak RSS first (fresh processes, bench/coldstart.py), then images/min at
saturation (``--workers`` processes x 1 thread), then latency (engines at ``--threads``, warmed,
interleaved rounds over the same decoded images), then accuracy (``ocrcore.evaluate`` on every set).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import multiprocessing as mp
import os
import pstats
import queue
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from . import engines as eng
from . import stats
from .coldstart import cold_starts, summarise_cold
from .images import (
    BenchImage,
    eval_dir,
    eval_set_names,
    from_paths,
    full_image_set,
    synth_page,
)
from .report import close_report, header, log, ms, num, open_report, table, write_report

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "reports" / "peers.json"
DEFAULT_ENGINES = ("ours-small", "ours-small-fp32", "ours-tiny", "ours-tiny-fp32",
                   "ours-tiny-int8", "rapidocr-small", "rapidocr-tiny", "tesseract")
BASELINE = "rapidocr-small"  # the speed-ratio table: this engine's median per image / ours
GOAL = 1.5  # ... at least this much faster, at equal or better page F1 and line accuracy


# ---------------------------------------------------------------------------- images and cold start


def timing_images(sets: list[str], limit: int | None, files: list[str]) -> list[BenchImage]:
    """The generated page, the full-image sets' first ``limit`` images, ``--images``: the same
    list for every engine. Child processes read files: the page is written as a PNG (lossless)."""
    import cv2

    images = [synth_page(0)] + [im for name in sets for im in full_image_set(name, limit)] + from_paths(files)
    eng.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    images[0].path = str(eng.CACHE_DIR / "synth_0.png")
    cv2.imwrite(images[0].path, images[0].bgr)
    return images


def cold_phase(specs: list[str], threads: int, images: list[BenchImage], repeats: int, fresh: bool) -> dict:
    """Cold starts on the generated page; the peak RSS after all timing images on the last."""
    then = [im.path for im in images if im.path]
    results = cold_starts(specs, threads, then[0], then, repeats, fresh)
    summary = summarise_cold(results)
    for key, row in summary.items():
        floors = [r["spawner_rss"] for r in results if r["engine"] == key and r.get("spawner_rss")]
        # A CLI's cold start is its first call; the Python child around it is the harness.
        row["cold_start_s"] = row["split_median"]["first_call"] if key == eng.TESSERACT else row["cold_start_median"]
        row["spawner_rss_mib"] = max(floors) / 2**20 if floors else None
    return {"image": images[0].name, "threads": threads, "then_images": len(then), "results": results, "summary": summary}


# ---------------------------------------------------------------------------- throughput


def _tp_worker(spec: str, paths: list[str], counter, total: int, ready, go, done) -> None:
    """One saturation worker: load at 1 thread, warm up, then take images until ``total``.
    Messages are (kind, pid, value), kind "ready", "done" (value: images run) or "error"."""
    os.environ.update(OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    pid = os.getpid()
    try:
        from ocrcore.decode import decode_image
        from ocrcore.runtime import configure_process

        configure_process()  # the service's process settings (OpenCV's pool off) for every engine
        images = [decode_image(Path(p).read_bytes()) for p in paths]
        engine = eng.load(spec, 1)
        engine.run(images[0])  # RapidOCR loads its models on the first call
    except Exception as exc:
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
    except Exception as exc:
        done.put(("error", pid, f"{spec}: {exc!r}"))
        return
    done.put(("done", pid, n))


def _collect(q, procs: list, what: str, timeout: float) -> dict[int, object]:
    """{pid: value}, one message per process from ``q``; fail fast on an error or a crash.

    A worker that exited cleanly has flushed its message into the pipe already (Queue's
    feeder is joined at exit), so only a non-zero exit code without a message is a crash."""
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
    """``workers`` processes share ``total`` images; the clock (seconds) runs from go to the last image."""
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
    out = {spec: {"images_per_min": 60 * sum(r["images"] for r in rs) / sum(r["wall"] for r in rs),
                  "images": sum(r["images"] for r in rs), "wall": sum(r["wall"] for r in rs), "runs": rs}
           for spec, rs in runs.items()}
    return {"workers": workers, "threads_per_worker": 1, "images_per_pass": total, "passes": passes, "engines": out}


# ---------------------------------------------------------------------------- latency, profile, accuracy


def latency_phase(engines: list[eng.Engine], images: list[BenchImage], repeats: int) -> dict:
    """Warm every engine on the generated page, then interleaved rounds (``stats.interleaved``)."""
    for e in engines:
        e.run(images[0].bgr)
    samples = stats.interleaved(engines, images, repeats)
    return {"images": [im.name for im in images], "sizes": {im.name: im.size for im in images}, "repeats": repeats,
            "summary": stats.summarise(samples, images),
            "walls": {n: {k: v["walls"] for k, v in per.items()} for n, per in samples.items()}}


def by_source(latency: dict, spec: str) -> dict[str, float]:
    """Median of per-image medians per source ("synth", "zh_real_dev", "files", ...), seconds."""
    groups: dict[str, list[float]] = {}
    for name, row in latency["summary"][spec]["images"].items():
        groups.setdefault(name.split("/", 1)[0].split(":", 1)[0], []).append(row["median"])
    return {src: stats.med(v) for src, v in groups.items()}


def profile_phase(engine: eng.Engine, image: BenchImage, calls: int = 5) -> dict:
    """cProfile of ``calls`` warm runs on one image; the top 25 functions by own time, per call."""
    engine.run(image.bgr)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        engine.run(image.bgr)
    prof.disable()
    rows = [{"func": f"{Path(f).name}:{line}({fn})", "calls": nc / calls, "tottime": tt / calls, "cumtime": ct / calls}
            for (f, line, fn), (_, nc, tt, ct, _) in pstats.Stats(prof).stats.items()]  # type: ignore[attr-defined]
    rows.sort(key=lambda r: -r["tottime"])
    return {"engine": engine.name, "image": image.name, "threads": engine.threads, "calls": calls, "top": rows[:25]}


class EvalView:
    """The two OCREngine methods ``ocrcore.evaluate.evaluate_set`` calls, over any bench engine,
    so every engine is scored by the same code on the same decoded pixels."""

    def __init__(self, engine: eng.Engine) -> None:
        self.engine = engine

    def ocr(self, data: bytes, cls: bool | None = None, enhance_mode: str | None = None) -> SimpleNamespace:
        from ocrcore.decode import decode_image
        from ocrcore.types import Line

        run = self.engine.run(decode_image(data))
        return SimpleNamespace(lines=[Line(t, 1.0, b) for t, b in zip(run.texts, run.boxes or [], strict=False)])

    def recognize_lines(self, crops: list, cls: bool | None = None) -> list[tuple[str, float]]:
        assert self.engine.read_line is not None, self.engine.name
        return [(self.engine.read_line(c), 1.0) for c in crops]


def accuracy_phase(engines: list[eng.Engine], sets: list[str], limit: int | None) -> dict:
    """{set: {engine: ocrcore.evaluate.evaluate_set result}}, case folded where the labels are upper-case."""
    from ocrcore.evaluate import evaluate_set, labels_are_upper_case

    root = eval_dir()
    out: dict = {}
    for name in sets:
        folded = labels_are_upper_case(root / name)  # type: ignore[operator]
        out[name] = {}
        for e in engines:
            t0 = time.perf_counter()
            r = evaluate_set(EvalView(e), root / name, fold_case=folded, limit=limit)  # type: ignore[operator]
            out[name][e.name] = dict(r, fold_case=folded)
            log(f"  accuracy {name} {e.name}: {_acc_cell(r)} ({time.perf_counter() - t0:.0f} s)")
    return out


def macro_means(accuracy: dict, spec: str) -> dict:
    """Unweighted mean over sets of page F1 (full-image sets) and char accuracy (line sets)."""
    f1 = [by[spec]["page_f1"] for by in accuracy.values() if "page_f1" in by.get(spec, {})]
    ca = [by[spec]["char_accuracy"] for by in accuracy.values() if "char_accuracy" in by.get(spec, {})]
    return {"page_f1": statistics.fmean(f1) if f1 else None, "page_sets": len(f1),
            "char_accuracy": statistics.fmean(ca) if ca else None, "line_sets": len(ca)}


def speed_ratios(report: dict) -> list[dict]:
    """Per timed full-image set: :data:`BASELINE`'s median seconds per image / each shipped
    ``ours-<profile>`` engine's (precision ``auto``), with both accuracies, and whether the goal
    holds there (ratio >= :data:`GOAL`, page F1 and line accuracy >= the baseline's)."""
    specs, lat, acc = report["config"]["engines"], report["latency"], report.get("accuracy") or {}
    ours = [s for s in specs if eng.parse_spec(s).kind == "ours" and eng.parse_spec(s).precision == "auto"]
    if BASELINE not in specs or not ours:
        return []
    rows = []
    for name in report["config"]["sets_timed"]:
        a = acc.get(name, {})
        base = {"median": by_source(lat, BASELINE)[name], **{k: a.get(BASELINE, {}).get(k) for k in ("page_f1", "line_accuracy")}}
        row = {"set": name, "images": sum(1 for n in lat["images"] if n.startswith(name + "/")), BASELINE: base}
        for s in ours:
            mine = {"median": by_source(lat, s)[name], **{k: a.get(s, {}).get(k) for k in ("page_f1", "line_accuracy")}}
            mine["ratio"] = base["median"] / mine["median"]
            as_good = all(mine[k] is None or base[k] is None or mine[k] >= base[k] for k in ("page_f1", "line_accuracy"))
            mine["goal"] = mine["ratio"] >= GOAL and as_good and a.get(s) is not None
            row[s] = mine
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------- report


def _acc_cell(r: dict | None) -> str:
    if not r:
        return "—"
    if "page_f1" in r:
        return f"{r['page_f1']:.3f} / {num(r.get('line_accuracy'))}"
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
    lat, tp, cold, cfg = report["latency"], report.get("throughput"), report.get("cold"), report["config"]
    acc = report.get("accuracy") or {}
    rows = []
    for spec in cfg["engines"]:
        agg, c, m = lat["summary"][spec]["set"], (cold or {}).get("summary", {}).get(spec), macro_means(acc, spec)
        rows.append([spec, _models(report, spec), ms(agg["median"]), ms(agg["p95"]),
                     num(tp["engines"][spec]["images_per_min"] if tp else None, ".1f"),
                     num(c["cold_start_s"] if c else None, ".2f"), num(c["rss_peak_mib"] if c else None, ".0f"),
                     num(m["page_f1"]), num(m["char_accuracy"])])
    head = ["engine", "models", "median ms", "p95 ms", f"images/min ({tp['workers'] if tp else '—'} workers)", "cold start s",
            "peak RSS MiB", "page F1 (mean of full-image sets)", "char acc (mean of line sets)"]
    return [f"### Peers, {cfg['threads']} thread(s), one run ({report['environment']['cpus']} cores, {report['date']})", "",
            *header(report), "", *table(head, rows)]


def source_table(report: dict) -> list[str]:
    """Median ms per image by source: Tesseract's cost depends on the kind of image."""
    lat, specs = report["latency"], report["config"]["engines"]
    per = {spec: by_source(lat, spec) for spec in specs}
    sources = list(per[specs[0]])
    counts = {s: sum(1 for n in lat["images"] if n.split("/", 1)[0].split(":", 1)[0] == s) for s in sources}
    return table(["median ms per image", *(f"{s} ({counts[s]})" for s in sources)],
                 ([spec, *(ms(per[spec][s]) for s in sources)] for spec in specs))


def ratio_table(report: dict) -> list[str]:
    rows = report.get("speed_ratios") or []
    if not rows:
        return [f"(needs {BASELINE} and an ours-<profile> engine, and a full-image eval set)"]
    ours = [k for k in rows[0] if k not in ("set", "images", BASELINE)]

    def cell(r: dict) -> str:
        return f"{ms(r['median'])} / {num(r['page_f1'])} / {num(r['line_accuracy'])}"

    head = ["set (images)", f"{BASELINE} ms / F1 / line acc", *(c for s in ours for c in (f"{s} ms / F1 / line acc", f"{BASELINE} / {s}"))]
    body = [[f"{r['set']} ({r['images']})", cell(r[BASELINE])]
            + [c for s in ours for c in (cell(r[s]), f"{r[s]['ratio']:.2f}x {'✓' if r[s]['goal'] else '✗'}")] for r in rows]
    body.append(["every set", ""] + [c for s in ours for c in ("", "✓" if all(r[s]["goal"] for r in rows) else "✗")])
    return table(head, body)


def accuracy_table(report: dict) -> list[str]:
    acc, specs = report.get("accuracy") or {}, report["config"]["engines"]
    if not acc:
        return ["(no eval sets found: accuracy not measured)"]
    rows = []
    for name, by in acc.items():
        first = next(iter(by.values()))
        kind = "page F1 / line acc" if first["kind"] == "full_image" else "char acc / exact"
        rows.append([f"{name} ({kind}, {first['count']}{', case folded' if first.get('fold_case') else ''})",
                     *(_acc_cell(by.get(s)) for s in specs)])
    return table(["set (kind, n)", *specs], rows)


def stage_table(report: dict) -> list[str]:
    summary = report["latency"]["summary"]
    rows = [[spec, *(ms(summary[spec]["set"]["stages"][s]) for s in eng.STAGES),
             ms(statistics.fmean(r["mean"] for r in summary[spec]["images"].values()))] for spec in report["config"]["engines"]]
    return table(["mean ms per image", *eng.STAGES, "wall"], rows)


def cold_table(report: dict) -> list[str]:
    c = report["cold"]
    rows = [[k, f"{v['cold_start_median']:.2f} (n={v['n']})",
             " / ".join(f"{v['split_median'][p]:.2f}" for p in ("startup", "import", "load", "first_call")),
             f"{v['rss_first_mib']:.0f}", f"{v['rss_peak_mib']:.0f}" + (" (after the set)" if v["rss_peak_after_set"] else ""),
             v.get("precision_source") or "—"] for k, v in c["summary"].items()]
    return table(["engine", "cold start s", "startup / import / load / first call s", "RSS at first result MiB",
                  "peak RSS MiB", "precision choice"], rows)


def profile_table(report: dict) -> list[str]:
    p = report["profile"]
    return [f"cProfile of {p['engine']} on {p['image']}, {p['threads']} thread(s), per call over {p['calls']} calls:", "",
            *table(["own ms", "cumulative ms", "calls", "function"],
                   ([f"{r['tottime'] * 1000:.2f}", f"{r['cumtime'] * 1000:.1f}", f"{r['calls']:.1f}", r["func"]] for r in p["top"][:15]))]


def notes(report: dict) -> list[str]:
    """The run's method in brief (in full: docs/benchmarks.md)."""
    cfg, lat, tp, cold = report["config"], report["latency"], report.get("throughput"), report.get("cold")
    timed = ", ".join(cfg["sets_timed"]) or "no eval set"
    out = [f"- Threads: {cfg['threads']} per engine (ONNX Runtime + OpenCV; `OMP_THREAD_LIMIT` for Tesseract).",
           (f"- Latency: {len(lat['images'])} images (the generated page, {timed}{', your files' if cfg.get('images') else ''}), "
            f"decoded once; {lat['repeats']} interleaved run(s) each after a warm-up; median of the per-image medians, "
            "p95 of all samples.")]
    if tp:
        out.append(f"- Images/min: {tp['workers']} processes x 1 thread sharing {tp['images_per_pass']} images x "
                   f"{tp['passes']} pass(es), engines loaded and warm; images / wall clock.")
    if cold:
        out.append(f"- Cold start: fresh process to the first result on {cold['image']}'s file; peak RSS: its VmHWM after "
                   "all timing images." + (" First starts: no per-host precision cache, so `auto` times FP32 vs INT8 first."
                                           if cfg.get("cold_fresh") else ""))
    if tess := report["engine_info"].get(eng.TESSERACT):
        floor = (cold or {}).get("summary", {}).get(eng.TESSERACT, {}).get("spawner_rss_mib")
        out.append(f"- Tesseract ({tess['tesseract']}, `{tess['langs']}`): one CLI process per image (`--psm 7` on line "
                   "crops), so its figures **include process start-up** every image; peak RSS: its processes' "
                   "`ru_maxrss`" + (f" (spawner {floor:.0f} MiB: a floor, not added)." if floor else "."))
    out.append("- Accuracy: `ocrcore.evaluate` for every engine; line sets recognition only; full images with each "
               "engine's default classifier (RapidOCR on, ours off); means unweighted over sets.")
    return out


def markdown(report: dict) -> str:
    cfg = report["config"]
    lines = main_table(report) + ["", "Median latency per source:", ""] + source_table(report)
    lines += ["", f"### Speed against {BASELINE} per full-image set (goal: ≥ {GOAL}x at equal or better accuracy)", "",
              *ratio_table(report)]
    if cfg.get("stages"):
        lines += ["", "### Where the time goes (engine-reported stages; other = wall − stages)", "", *stage_table(report)]
    if report.get("cold") and (cfg.get("stages") or cfg.get("cold_fresh")):
        lines += ["", f"### Cold start split, {report['cold']['threads']} thread(s), on {report['cold']['image']}", "",
                  *cold_table(report)]
    if report.get("profile"):
        lines += ["", "### Profile", "", *profile_table(report)]
    lines += ["", "### Accuracy per eval set", "", *accuracy_table(report), "", "Notes:", "", *notes(report)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", default=",".join(DEFAULT_ENGINES), help="comma list (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=1, help="threads per engine for latency and cold start (default 1)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="throughput worker processes (default: cores)")
    ap.add_argument("--sets", default=None, help="comma list of eval sets (default: all in the eval directory)")
    ap.add_argument("--limit", type=int, default=None, help="images per set (default all; --quick 2)")
    ap.add_argument("--images", nargs="+", default=[], metavar="FILE", help="also time these files (not scored)")
    ap.add_argument("--repeats", type=int, default=None, help="timed latency runs per image (default 3; --quick 1)")
    ap.add_argument("--cold-repeats", type=int, default=None, help="cold starts per engine (default 3; --quick 1; 0 = skip)")
    ap.add_argument("--cold-fresh", action="store_true", help="also a first start of each ours-<profile> with an empty precision cache")
    ap.add_argument("--passes", type=int, default=None, help="throughput passes per engine (default 2; --quick 1; 0 = skip)")
    ap.add_argument("--stages", action="store_true", help="print the stage breakdown and the cold-start split")
    ap.add_argument("--profile", nargs="?", const="", default=None, metavar="ENGINE",
                    help="cProfile one engine of the run on the generated page (default: the first ours-*)")
    ap.add_argument("--quick", action="store_true", help="a few images per set, 1 repeat: seconds to a minute")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON report (default reports/peers.json)")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    ap.add_argument("--report-only", type=Path, default=None, metavar="JSON", help="re-print the tables of an earlier run; measure nothing")
    args = ap.parse_args(argv)
    if args.report_only:
        return args
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
    if args.profile == "":
        args.profile = next((s for s in args.specs if s.startswith("ours-")), args.specs[0])
    if args.profile is not None and args.profile not in args.specs:
        ap.error(f"--profile {args.profile}: not among --engines")
    available = eval_set_names()
    wanted = available if args.sets is None else [s.strip() for s in args.sets.split(",") if s.strip()]
    if missing := [s for s in wanted if s not in available]:
        log(f"eval sets not found, skipped: {', '.join(missing)}")
    args.set_names = [s for s in wanted if s in available]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_only:
        print(markdown(json.loads(args.report_only.read_text(encoding="utf-8"))))
        return 0
    from ocrcore.runtime import configure_process

    t_begin = time.time()
    specs: list[str] = args.specs
    images = timing_images(args.set_names, args.limit, args.images)
    config = {"engines": specs, "threads": args.threads, "workers": args.workers, "sets": args.set_names,
              "sets_timed": sorted({im.meta["set"] for im in images if "set" in im.meta}), "images": args.images,
              "limit": args.limit, "repeats": args.repeats, "cold_repeats": args.cold_repeats, "cold_fresh": args.cold_fresh,
              "passes": args.passes, "stages": args.stages, "profile": args.profile, "quick": args.quick}
    report = open_report("python -m bench.peers " + " ".join(sys.argv[1:] if argv is None else argv), config)
    report["environment"]["tesseract"] = eng.tesseract_version()
    log(f"engines {specs}; {len(images)} timing images; sets {args.set_names}; threads {args.threads}")
    if args.cold_repeats > 0 or args.cold_fresh:  # first, while this process is small (bench/coldstart.py)
        report["cold"] = cold_phase(specs, args.threads, images, args.cold_repeats, args.cold_fresh)
    if args.passes > 0:
        report["throughput"] = throughput_phase(specs, images, args.workers, args.passes)
    configure_process()  # OpenCV's pool as the service runs it, for every engine (loading ours would set it anyway)
    engines = [eng.load(s, args.threads) for s in specs]
    report["engine_info"] = {e.name: e.info for e in engines}
    report["load_seconds"] = {e.name: e.load_seconds for e in engines}
    report["latency"] = latency_phase(engines, images, args.repeats)
    if args.profile:
        report["profile"] = profile_phase(engines[specs.index(args.profile)], images[0])
    report["accuracy"] = accuracy_phase(engines, args.set_names, args.limit)
    report["means"] = {s: macro_means(report["accuracy"], s) for s in specs}
    report["speed_ratios"] = speed_ratios(report)
    close_report(report, t_begin)
    report["markdown"] = md = markdown(report)
    print(md)
    write_report(report, md, args.out, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
