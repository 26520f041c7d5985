"""Side-by-side benchmark: our engine vs RapidOCR 3.10.0 on the same images and thread counts.

    python -m bench.run                          # full run (several minutes), reports/bench.json
    python -m bench.run --quick --no-rapidocr    # seconds: one generated page, 2 repeats

Method
- Every engine is loaded once per thread count (ONNX Runtime intra-op threads = N for every
  session, ``cv2.setNumThreads(N)`` for the whole process, so both engines get the same cores).
- Inputs are decoded once to BGR arrays; both engines get the same array, so decoding is
  outside the timed call for both.
- Warm-up: every engine OCRs every document image once before any timing (RapidOCR loads its
  models on the first call). The set is not warmed image by image: each new size's first call
  (ORT allocations) is one of its 3 samples and the median drops it, for both engines alike.
- Timed calls are interleaved: per repeat, per image, every engine runs once, the engine order
  rotating, so machine noise (the CI box is shared) lands on all engines alike.
- Latency figures are medians and p95 of those calls; ratios are RapidOCR / ours on medians.
- Cold start: a fresh ``python -m bench.coldstart`` child per measurement, spawn to first
  result (file bytes in, decoding included); peak RSS is that child's ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import os
import platform
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from . import engines as eng
from . import stats
from .images import BenchImage, char_f1, doc_images, from_paths, set_images

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "reports" / "bench.json"


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- timing


def interleaved(engines: list[eng.Engine], images: list[BenchImage], repeats: int, label: str, warm_up: bool = True) -> dict:
    """Warm up, then time ``repeats`` rounds, round-robin per image with a rotating engine order.

    ``warm_up=False`` (the image set, after the engines were warmed on the document images):
    the first sight of a new image size is part of the samples, and the median discards it.

    Returns {engine: {image: {"walls": [...], "stages": {stage: [...]}, "texts": [...]}}}.
    """
    out: dict = {e.name: {im.name: {"walls": [], "stages": {s: [] for s in eng.STAGES}, "texts": None} for im in images} for e in engines}
    for im in images if warm_up else []:  # first call per shape allocates; RapidOCR loads lazily
        for e in engines:
            out[e.name][im.name]["texts"] = e.run(im.bgr).texts
    gc.collect()
    n = len(engines)
    t_start = time.perf_counter()
    for r in range(repeats):
        for i, im in enumerate(images):
            k = (r * len(images) + i) % n
            for e in engines[k:] + engines[:k]:
                run = e.run(im.bgr)
                rec = out[e.name][im.name]
                rec["walls"].append(run.wall)
                if rec["texts"] is None:
                    rec["texts"] = run.texts
                for s in eng.STAGES:
                    rec["stages"][s].append(run.stages.get(s, 0.0))
        log(f"  {label}: repeat {r + 1}/{repeats} done ({time.perf_counter() - t_start:.0f} s)")
    return out


def summarise(samples: dict, images: list[BenchImage]) -> dict:
    truth = {im.name: im.truth for im in images}
    res: dict = {}
    for name, per_image in samples.items():
        rows = {}
        for im_name, rec in per_image.items():
            row = stats.summarise_image(rec["walls"])
            row["stages"] = {s: float(sum(v) / len(v)) for s, v in rec["stages"].items()}
            row["lines"] = len(rec["texts"] or [])
            if truth.get(im_name):
                row["f1"] = char_f1("".join(rec["texts"] or []), truth[im_name])
            rows[im_name] = row
        walls = {k: v["walls"] for k, v in per_image.items()}
        agg = stats.summarise_set(walls)
        agg["stages"] = {s: float(sum(r["stages"][s] for r in rows.values())) for s in eng.STAGES}
        f1s = [r["f1"] for r in rows.values() if "f1" in r]
        agg["f1_mean"] = float(sum(f1s) / len(f1s)) if f1s else None
        res[name] = {"images": rows, "set": agg}
    return res


def pair_ratios(samples: dict) -> dict:
    """RapidOCR/ours for each RapidOCR config whose counterpart ran, and fp32/shipped."""
    walls = {name: {k: v["walls"] for k, v in per.items()} for name, per in samples.items()}
    out = {}
    for base, ours in list(eng.RAPID_PAIRS.items()) + [("ours-small-fp32", "ours-small")]:
        if base in walls and ours in walls:
            out[f"{base}/{ours}"] = stats.ratios(walls[base], walls[ours])
    return out


def per_source(set_walls: dict) -> dict:
    """Set totals (sum of per-image medians) and ratios per source set ("zh_real_dev/...")."""
    engines_ = list(set_walls)
    sources: dict[str, list[str]] = {}
    for name in set_walls[engines_[0]]:
        sources.setdefault(name.split("/", 1)[0], []).append(name)
    out = {}
    for src, names in sources.items():
        totals = {e: sum(stats.med(set_walls[e][n]) for n in names) for e in engines_}
        ratios_ = {}
        for base, ours in list(eng.RAPID_PAIRS.items()) + [("ours-small-fp32", "ours-small")]:
            if base in totals and ours in totals and totals[ours] > 0:
                ratios_[f"{base}/{ours}"] = totals[base] / totals[ours]
        out[src] = {"images": len(names), "totals": totals, "ratios": ratios_}
    return out


# ---------------------------------------------------------------------------- cold start


def cold_starts(specs: list[str], threads: int, first_image: str, then: list[str], repeats: int, numba_cold: bool) -> list[dict]:
    results = []
    for r in range(repeats):
        k = r % len(specs)
        for spec in specs[k:] + specs[:k]:
            last = r == repeats - 1
            res = eng_measure(spec, threads, first_image, then if last else [])
            res["repeat"] = r
            res["numba_cache"] = "warm"
            results.append(res)
            log(f"  cold start {spec} t={threads}: {res['cold_start']:.2f} s, peak RSS {res['rss_peak'] / 2**20:.0f} MiB")
    if numba_cold and "ours-small" in specs:
        with tempfile.TemporaryDirectory(prefix="numba-cold-") as d:
            env = dict(os.environ, NUMBA_CACHE_DIR=d)
            res = eng_measure("ours-small", threads, first_image, [], env=env)
            res["repeat"] = 0
            res["numba_cache"] = "empty"
            results.append(res)
            log(f"  cold start ours-small, empty numba cache: {res['cold_start']:.2f} s")
    return results


def eng_measure(spec: str, threads: int, image: str, then: list[str], env: dict | None = None) -> dict:
    from .coldstart import measure

    return measure(spec, threads, image, then, env=env)


def summarise_cold(results: list[dict]) -> dict:
    out: dict = {}
    for res in results:
        key = res["engine"] + ("" if res["numba_cache"] == "warm" else " (empty numba cache)")
        out.setdefault(key, []).append(res)
    summary = {}
    for key, rs in out.items():
        summary[key] = {
            "n": len(rs),
            "cold_start_median": stats.med([r["cold_start"] for r in rs]),
            "cold_start_min": min(r["cold_start"] for r in rs),
            "split_median": {p: stats.med([r[p] for r in rs]) for p in ("startup", "import", "load", "first_call")},
            "rss_first_mib": max(r["rss_first"] for r in rs) / 2**20,
            "rss_peak_mib": max(r["rss_peak"] for r in rs) / 2**20,
            "rss_peak_after_set": any(r["then"] for r in rs),
            "ru_maxrss_wait4_mib": max(r["ru_maxrss_wait4"] for r in rs) / 2**20,
            "threads": rs[0]["threads"],
        }
    return summary


# ---------------------------------------------------------------------------- profile


def profile_ours(image: BenchImage, threads: int, calls: int = 5, spec: str = "ours-small") -> dict:
    """cProfile of our engine on one image: where the Python side spends its time."""
    engine = eng.load(spec, threads)
    engine.run(image.bgr)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        engine.run(image.bgr)
    prof.disable()
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.sort_stats("tottime").print_stats(25)
    rows = []
    for (file, line, func), (cc, nc, tt, ct, _) in st.stats.items():  # type: ignore[attr-defined]
        rows.append({"func": f"{Path(file).name}:{line}({func})", "calls": nc / calls, "tottime": tt / calls, "cumtime": ct / calls})
    rows.sort(key=lambda r: -r["tottime"])
    return {"engine": spec, "image": image.name, "threads": threads, "calls": calls, "top": rows[:25], "text": buf.getvalue()}


# ---------------------------------------------------------------------------- report


def ms(x: float | None) -> str:
    return "—" if x is None or math.isnan(x) else f"{x * 1000:.0f}"


def fmt_ratio(x: float | None) -> str:
    return "—" if x is None or math.isnan(x) else f"{x:.2f}x"


def markdown(report: dict) -> str:
    lines: list[str] = []
    specs = report["config"]["engines"]
    env = report.get("environment", {})
    lines.append(f"CPU: {env.get('cpu', '?')} ({env.get('isa', '?')}), {env.get('cpus', '?')} cores.")
    lines.append(f"Engines: {', '.join(specs)}. Times in ms (median / p95 over {report['config']['repeats']} interleaved runs per image).")
    autos = {p: v["auto"] for p, v in (report.get("models_start") or {}).items()}
    if autos:
        lines.append("Precisions `auto` may pick (build.json): " + "; ".join(f"{p}: " + ", ".join(f"{k} {'/'.join(v)}" for k, v in m.items()) for p, m in autos.items())
                     + f". Commit {report.get('git', {}).get('head', '?')}.")
    if report.get("models_changed_during_run"):
        lines.append("**WARNING: the model files changed during this run; figures mix two builds. Re-run.**")
    la0, la1 = report.get("load_average_start"), report.get("load_average_end")
    if la0 and la1:
        lines.append(f"Load average (1/5/15 min) at start {la0[0]:.1f}/{la0[1]:.1f}/{la0[2]:.1f}, at end {la1[0]:.1f}/{la1[1]:.1f}/{la1[2]:.1f} on {report['environment']['cpus']} CPUs.")
    lines.append("")
    for tkey, phase in report["threads"].items():
        t = tkey
        if "doc" in phase:
            lines.append(f"### Per-image latency, {t} thread(s)")
            lines.append("")
            head = "| image | " + " | ".join(specs) + " | " + " | ".join(phase["doc_ratios"].keys()) + " |"
            lines.append(head)
            lines.append("|" + "---|" * (1 + len(specs) + len(phase["doc_ratios"])))
            for im in phase["doc_images"]:
                cells = []
                for s in specs:
                    r = phase["doc"][s]["images"][im]
                    cells.append(f"{ms(r['median'])} / {ms(r['p95'])}")
                rcells = [fmt_ratio(v["per_image"].get(im)) for v in phase["doc_ratios"].values()]
                lines.append(f"| {im} ({phase['doc_sizes'][im]}) | " + " | ".join(cells) + " | " + " | ".join(rcells) + " |")
            lines.append("")
        if "set" in phase:
            n_img = len(phase["set_images"])
            lines.append(f"### Image set ({n_img} images, {phase['set_repeats']} runs each), {t} thread(s)")
            lines.append("")
            lines.append("| engine | total s (sum of medians) | median / p95 ms per image | mean page F1 |")
            lines.append("|---|---|---|---|")
            for s in specs:
                a = phase["set"][s]["set"]
                f1 = "—" if a["f1_mean"] is None else f"{a['f1_mean']:.3f}"
                lines.append(f"| {s} | {a['total']:.2f} | {ms(a['median'])} / {ms(a['p95'])} | {f1} |")
            lines.append("")
            if phase["set_ratios"]:
                lines.append("| ratio | set total | geomean of per-image |")
                lines.append("|---|---|---|")
                for k, v in phase["set_ratios"].items():
                    lines.append(f"| {k} | {fmt_ratio(v['total'])} | {fmt_ratio(v['geomean'])} |")
                lines.append("")
            by_source = per_source(phase["set_walls"])
            if len(by_source) > 1:
                pairs = list(phase["set_ratios"].keys())
                lines.append("| source (images) | " + " | ".join(f"{s} s" for s in specs) + "".join(f" | {p}" for p in pairs) + " |")
                lines.append("|" + "---|" * (1 + len(specs) + len(pairs)))
                for src, row in by_source.items():
                    cells = [f"{row['totals'][s]:.2f}" for s in specs]
                    rcells = [fmt_ratio(row["ratios"].get(p)) for p in pairs]
                    lines.append(f"| {src} ({row['images']}) | " + " | ".join(cells) + "".join(f" | {c}" for c in rcells) + " |")
                lines.append("")
        # stage breakdown
        src = phase.get("doc") or phase.get("set")
        if src:
            first_img = phase["doc_images"][0] if "doc" in phase else None
            lines.append(f"### Where the time goes, {t} thread(s) (mean ms per call" + (f" on {first_img}" if first_img else "") + "; set: total s)")
            lines.append("")
            lines.append("| engine | preprocess | detect | cls | recognize | other | wall" + (" | set: detect / cls / rec / other / wall (s)" if "set" in phase else "") + " |")
            lines.append("|---|---|---|---|---|---|---|" + ("---|" if "set" in phase else ""))
            for s in specs:
                cells = []
                if first_img:
                    r = phase["doc"][s]["images"][first_img]
                    cells = [ms(r["stages"][k]) for k in eng.STAGES] + [ms(r["mean"])]
                else:
                    cells = ["—"] * 6
                row = f"| {s} | " + " | ".join(cells)
                if "set" in phase:
                    a = phase["set"][s]["set"]["stages"]
                    wall = sum(phase["set"][s]["images"][im]["mean"] for im in phase["set_images"])
                    row += f" | {a['detect']:.2f} / {a['cls']:.2f} / {a['recognize']:.2f} / {a['other'] + a['preprocess']:.2f} / {wall:.2f}"
                lines.append(row + " |")
            lines.append("")
    if report.get("cold"):
        c = report["cold"]
        lines.append(f"### Cold start (spawn to first result, {c['image']}) and peak RSS, {c['threads']} thread(s)")
        lines.append("")
        lines.append("| engine | cold start s (median of n) | startup / import / load / first call s | RSS at first result MiB | peak RSS MiB |")
        lines.append("|---|---|---|---|---|")
        for k, v in c["summary"].items():
            sp = v["split_median"]
            peak = f"{v['rss_peak_mib']:.0f}" + (" (after the set)" if v["rss_peak_after_set"] else "")
            lines.append(
                f"| {k} | {v['cold_start_median']:.2f} (n={v['n']}) | {sp['startup']:.2f} / {sp['import']:.2f} / {sp['load']:.2f} / {sp['first_call']:.2f} "
                f"| {v['rss_first_mib']:.0f} | {peak} |"
            )
        lines.append("")
    if report.get("headline"):
        lines.append("### Headline: RapidOCR / ours (median latency; > 1 means ours is faster; goal >= 1.5x)")
        lines.append("")
        lines.append("| comparison | threads | figure |")
        lines.append("|---|---|---|")
        for h in report["headline"]:
            lines.append(f"| {h['pair']} | {h['threads']} | {h['what']}: {fmt_ratio(h['ratio'])} |")
        lines.append("")
    return "\n".join(lines)


def environment() -> dict:
    import cv2
    import numba
    import numpy
    import onnxruntime

    from ocrcore.host import cpu_info

    cpu = cpu_info()
    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu.model,
        "isa": cpu.isa_label,
        "int8_exact": cpu.int8_exact,
        "cpus": cpu.cores,
        "onnxruntime": onnxruntime.__version__,
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
        "numba": numba.__version__,
        "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR", "(unset: __pycache__)"),
    }
    env["rapidocr"] = _dist_version("rapidocr")
    return env


def model_fingerprint() -> dict:
    """What our engines load: per profile the ship map of build.json and each model file's size,
    mtime and sha256 (the tree changes under a long run: compare start and end)."""
    import hashlib

    out: dict = {}
    for profile in ("small", "tiny"):
        d = eng.MODEL_DIR / profile
        info_path = d / "build.json"
        if not info_path.exists():
            continue
        files = {}
        for f in sorted(d.glob("*.onnx")):
            st = f.stat()
            files[f.name] = {"bytes": st.st_size, "mtime": st.st_mtime, "sha256": hashlib.sha256(f.read_bytes()).hexdigest()[:16]}
        out[profile] = {"auto": json.loads(info_path.read_text()).get("auto"), "files": files}
    return out


def close_report(report: dict, t_begin: float) -> None:
    """End-of-run facts every report carries: load, model files again (a rebuild mid-run would
    mix two builds in one table), elapsed time."""
    report["load_average_end"] = os.getloadavg()
    report["models_end"] = model_fingerprint()
    report["models_changed_during_run"] = report["models_end"] != report["models_start"]
    if report["models_changed_during_run"]:
        log("WARNING: model files changed during the run; the figures mix two builds")
    report["elapsed_seconds"] = time.time() - t_begin


def write_report(report: dict, md: str, out: Path, md_path: Path | None) -> None:
    """The JSON report (and the Markdown tables where asked for)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=float, ensure_ascii=False), encoding="utf-8")
    if md_path:
        md_path.write_text(md + "\n", encoding="utf-8")
    log(f"wrote {out} ({report['elapsed_seconds']:.0f} s)")


def git_state() -> dict:
    import subprocess

    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, timeout=10, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"head": git("rev-parse", "--short", "HEAD"), "dirty": git("status", "--porcelain", "--", "ocrcore", "models/build.py", "models/manifest.json")}


# ---------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="ONNX Runtime/OpenCV thread counts (default: 1 2)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per document image (default 10; --quick 2)")
    ap.add_argument("--set-repeats", type=int, default=None, help="timed runs per set image (default 3)")
    ap.add_argument("--quick", action="store_true", help="one generated page, 2 repeats, no image set, 1 cold start")
    ap.add_argument("--no-rapidocr", action="store_true", help="only our engines")
    ap.add_argument("--engines", default=None, help=f"comma list: ours-<profile>[-<precision>], rapidocr-small, rapidocr-tiny, tesseract (default: {','.join(eng.ALL_ENGINES)})")
    ap.add_argument("--images", nargs="+", default=None, help="image files to use as the set instead of the eval sets")
    ap.add_argument("--no-set", action="store_true", help="skip the image set")
    ap.add_argument("--no-eurotext", action="store_true", help="only the generated page as document image")
    ap.add_argument("--ic15", type=int, default=20, help="how many ic15_test_en_scene images go in the set (default 20)")
    ap.add_argument("--cold-repeats", type=int, default=None, help="cold starts per engine (default 3; --quick 1; 0 = skip)")
    ap.add_argument("--no-numba-cold", action="store_true", help="skip the extra cold start with an empty numba cache")
    ap.add_argument("--profile", action="store_true", help="also cProfile ours-small on the generated page")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON report path (default reports/bench.json)")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the markdown tables here")
    ap.add_argument("--report-only", type=Path, default=None, metavar="JSON", help="re-print the tables of an earlier run's JSON; measure nothing")
    args = ap.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 10
    if args.set_repeats is None:
        args.set_repeats = min(3, args.repeats)
    if args.cold_repeats is None:
        args.cold_repeats = 1 if args.quick else 3
    if args.quick:
        args.no_set = args.images is None
        args.no_eurotext = True
        args.no_numba_cold = True
    specs = args.engines.split(",") if args.engines else list(eng.ALL_ENGINES)
    if args.no_rapidocr:
        specs = [s for s in specs if s not in eng.RAPID]
    for s in specs:
        try:
            eng.check_spec(s)
        except ValueError as exc:
            ap.error(str(exc))
    if not specs:
        ap.error("no engines left to measure")
    args.specs = specs
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_only:
        print(markdown(json.loads(args.report_only.read_text(encoding="utf-8"))))
        return 0
    import cv2

    specs: list[str] = args.specs
    t_begin = time.time()
    report: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.run " + " ".join(sys.argv[1:] if argv is None else argv),
        "environment": environment(),
        "git": git_state(),
        "models_start": model_fingerprint(),
        "load_average_start": os.getloadavg(),
        "config": {
            "engines": specs,
            "threads": args.threads,
            "repeats": args.repeats,
            "set_repeats": args.set_repeats,
            "quick": args.quick,
        },
        "threads": {},
    }
    docs = doc_images(include_eurotext=not args.no_eurotext)
    if args.images:
        the_set = from_paths(args.images)
    elif args.no_set:
        the_set = []
    else:
        the_set = set_images({"ic15_test_en_scene": args.ic15})
    log(f"engines {specs}; document images {[d.name for d in docs]}; set of {len(the_set)} images; threads {args.threads}")
    # Cold starts first, while this process is still small (see bench/coldstart.py on RSS).
    if args.cold_repeats > 0:
        threads = max(args.threads)
        first = docs[0]
        if first.path is None:  # the generated page: write it where the children can read it
            eng.CACHE_DIR.mkdir(parents=True, exist_ok=True)
            first.path = str(eng.CACHE_DIR / "synth_0.png")
            cv2.imwrite(first.path, first.bgr)
        then = [im.path for im in (docs[1:] + the_set) if im.path]
        log(f"cold starts at {threads} thread(s), {args.cold_repeats} per engine")
        results = cold_starts(specs, threads, first.path, then, args.cold_repeats, not args.no_numba_cold)
        report["cold"] = {
            "image": first.name,
            "threads": threads,
            "then_images": len(then),
            "results": results,
            "summary": summarise_cold(results),
        }
    headline: list[dict] = []

    for threads in args.threads:
        cv2.setNumThreads(threads)
        log(f"threads={threads}: loading engines")
        engines = [eng.load(s, threads) for s in specs]
        phase: dict = {"load_seconds": {e.name: e.load_seconds for e in engines}, "engine_info": {e.name: e.info for e in engines}}
        doc_samples = interleaved(engines, docs, args.repeats, f"t={threads} document images")
        phase["doc_images"] = [d.name for d in docs]
        phase["doc_sizes"] = {d.name: d.size for d in docs}
        phase["doc"] = summarise(doc_samples, docs)
        phase["doc_ratios"] = pair_ratios(doc_samples)
        phase["doc_walls"] = {n: {k: v["walls"] for k, v in per.items()} for n, per in doc_samples.items()}
        for pair, r in phase["doc_ratios"].items():
            for im, v in r["per_image"].items():
                headline.append({"pair": pair, "threads": threads, "what": im, "ratio": v})
        if the_set:
            set_samples = interleaved(engines, the_set, args.set_repeats, f"t={threads} image set", warm_up=False)
            phase["set_images"] = [d.name for d in the_set]
            phase["set_repeats"] = args.set_repeats
            phase["set"] = summarise(set_samples, the_set)
            phase["set_ratios"] = pair_ratios(set_samples)
            phase["set_walls"] = {n: {k: v["walls"] for k, v in per.items()} for n, per in set_samples.items()}
            for pair, r in phase["set_ratios"].items():
                headline.append({"pair": pair, "threads": threads, "what": f"set total ({len(the_set)} images)", "ratio": r["total"]})
        report["threads"][str(threads)] = phase
        del engines
        gc.collect()

    report["headline"] = headline
    if args.profile:
        log("profiling ours-small")
        report["profile"] = profile_ours(docs[0], max(args.threads))
    close_report(report, t_begin)

    md = markdown(report)
    report["markdown"] = md
    print(md)
    if args.profile:
        print("\n### cProfile of ours-small (per call, top by own time)\n")
        print("```")
        for row in report["profile"]["top"][:15]:
            print(f"{row['tottime'] * 1000:8.2f} ms  {row['calls']:8.1f} calls  {row['func']}")
        print("```")
    write_report(report, md, args.out, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
