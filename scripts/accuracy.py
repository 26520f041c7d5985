"""Accuracy of every profile/precision on every set in ../shared/eval -> markdown + JSON.

    .venv/bin/python scripts/accuracy.py [--profiles small tiny] [--precisions int8 fp32] [--out reports/accuracy.json]
    .venv/bin/python scripts/accuracy.py --profiles small --precisions fp32 --min-width 320 --sets sroie_en_lines
    .venv/bin/python scripts/accuracy.py --profiles small --precisions auto --set colour_view=false lone_glyphs=false

SROIE labels are upper-case, so sets whose SOURCE.json says so are scored with case folded.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ocrcore import OCREngine  # noqa: E402
from ocrcore.detect import DetParams  # noqa: E402
from ocrcore.evaluate import evaluate_set, labels_are_upper_case  # noqa: E402
from ocrcore.recognize import RecParams  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profiles", nargs="+", default=["small", "tiny"])
    ap.add_argument("--precisions", nargs="+", default=["auto", "int8", "fp32"])
    ap.add_argument("--sets", nargs="*", default=None)
    ap.add_argument("--enhance", default=None)
    ap.add_argument("--cls", default=None, choices=["on", "off"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-width", type=int, default=None, help="recogniser's minimum padded line width (default: the engine's)")
    ap.add_argument("--set", nargs="+", default=[], metavar="FIELD=VALUE",
                    help="EngineConfig overrides, e.g. colour_view=false orient=false (booleans and numbers parsed)")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "accuracy.json")
    args = ap.parse_args()
    sets = sorted(p for p in EVAL.iterdir() if (p / "labels.jsonl").exists()) if args.sets is None else [EVAL / s for s in args.sets]
    cls = None if args.cls is None else args.cls == "on"
    results = []
    for profile in args.profiles:
        for precision in args.precisions:
            kw: dict = {"enhance": args.enhance} if args.enhance else {}
            kw.update(_overrides(args.set))
            if args.min_width is not None:
                kw["rec"] = dataclasses.replace(kw.get("rec", RecParams()), min_width=args.min_width)
            engine = OCREngine(profile=profile, precision=precision, threads=args.threads, **kw)
            for s in sets:
                r = evaluate_set(engine, s, fold_case=labels_are_upper_case(s), cls=cls)
                r.update(profile=profile, precision=precision, models=engine.precisions, overrides=args.set,
                         rec_min_width=engine.recognizer.params.min_width)
                results.append(r)
                main_metric = r.get("char_accuracy", r.get("page_f1"))
                second = r.get("exact_match", r.get("line_accuracy"))
                print(f"{profile:5} {precision:4} {s.name:22} {main_metric:.4f} {second if second is not None else '-'} "
                      f"{r['median_seconds']}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    return 0


def _overrides(pairs: list[str]) -> dict:
    """``["colour_view=false", "min_confidence=0.6"]`` -> ``{"colour_view": False, "min_confidence": 0.6}``;
    ``det.max_side=960`` / ``rec.batch_size=8`` set a field of the detector's / recogniser's parameters."""
    out: dict = {}
    nested: dict[str, dict] = {"det": {}, "rec": {}}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        value: object = raw
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        else:
            try:
                value = float(raw) if "." in raw else int(raw)
            except ValueError:
                pass
        group, dot, field = key.partition(".")
        if dot and group in nested:
            nested[group][field] = value
        else:
            out[key] = value
    for group, default in (("det", DetParams()), ("rec", RecParams())):
        if nested[group]:
            out[group] = dataclasses.replace(default, **nested[group])
    return out


if __name__ == "__main__":
    raise SystemExit(main())
