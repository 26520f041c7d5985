"""The ``ocr`` command.

    ocr IMAGE [IMAGE ...] [--json] [--no-detect] [--no-orient] [--profile small|tiny]
    ocr eval SET_DIR [SET_DIR ...] [--fold-case] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .models import PRECISIONS, PROFILES
from .preprocess import ENHANCE_MODES


def _engine_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--profile", choices=PROFILES, default=None, help="model profile (default: OCR_PROFILE or small)")
    ap.add_argument("--precision", default=None,
                    help=f"{'|'.join(PRECISIONS)} or per model, e.g. det=int8,rec=fp32 (auto = as each model ships)")
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads (0 = all cores)")
    cls = ap.add_mutually_exclusive_group()
    cls.add_argument("--cls", dest="cls", action="store_true", default=None, help="use the 0/180 line classifier")
    cls.add_argument("--no-cls", dest="cls", action="store_false", help="skip the 0/180 line classifier")
    orient = ap.add_mutually_exclusive_group()
    orient.add_argument("--orient", dest="orient", action="store_true", default=None,
                        help="find the page's orientation (0/90/180/270) and skew, read it upright (default: OCR_ORIENT, on)")
    orient.add_argument("--no-orient", dest="orient", action="store_false", help="read the page as it lies")
    ap.add_argument("--enhance", choices=ENHANCE_MODES, default=None, help="image enhancement before detection")


def _make_engine(args: argparse.Namespace):
    from .engine import EngineConfig, OCREngine

    overrides = {k: v for k, v in {"profile": args.profile, "precision": args.precision,
                                   "threads": args.threads, "enhance": args.enhance,
                                   "orient": args.orient}.items() if v is not None}
    return OCREngine(EngineConfig.from_env(**overrides))


def predict_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="ocr", description="Print the text of each image (Chinese and English).",
                                 epilog="Also: `ocr eval SET_DIR` scores the engine on a labelled set.")
    ap.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    ap.add_argument("--json", action="store_true", help="one JSON object per image (JSON Lines)")
    ap.add_argument("--no-detect", action="store_true", help="treat each whole image as one text line")
    _engine_args(ap)
    args = ap.parse_args(argv)

    from tqdm import tqdm

    from .errors import OCRError

    engine = _make_engine(args)
    failures = 0
    many = len(args.images) > 3
    for path in tqdm(args.images, disable=not many, file=sys.stderr, unit="img"):
        try:
            data = path.read_bytes()
            t0 = time.perf_counter()
            result = engine.ocr(data, detect=not args.no_detect, cls=args.cls, orient=args.orient)
            elapsed = time.perf_counter() - t0
        except (OSError, OCRError) as exc:
            failures += 1
            code = exc.code if isinstance(exc, OCRError) else "unreadable_file"
            message = str(exc) if isinstance(exc, OCRError) else (exc.strerror or str(exc))
            print(f"ocr: {path}: {message}", file=sys.stderr)
            if args.json:
                print(json.dumps({"image": str(path), "success": False,
                                  "error": {"code": code, "message": message}}, ensure_ascii=False), flush=True)
            continue
        if args.json:
            out = {"image": str(path), "success": True, **result.to_dict(), "processing_time": round(elapsed, 4)}
            print(json.dumps(out, ensure_ascii=False), flush=True)
        else:
            if len(args.images) > 1:
                print(f"==> {path} <==")
            print(result.text, flush=True)
    return 1 if failures else 0


def eval_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="ocr eval", description="Score the engine on labelled sets "
                                 "(shared/eval format: labels.jsonl with line or full-image labels).")
    ap.add_argument("sets", nargs="+", type=Path, metavar="SET_DIR")
    ap.add_argument("--fold-case", action="store_true", help="compare case-insensitively (SROIE labels are upper-case)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N items of each set")
    ap.add_argument("--json", action="store_true", help="print one JSON object per set instead of a table")
    _engine_args(ap)
    args = ap.parse_args(argv)

    from .evaluate import evaluate_set

    engine = _make_engine(args)
    results = []
    for set_dir in args.sets:
        if not (set_dir / "labels.jsonl").exists():
            print(f"ocr eval: {set_dir}: no labels.jsonl", file=sys.stderr)
            return 2
        r = evaluate_set(engine, set_dir, fold_case=args.fold_case, limit=args.limit, cls=args.cls,
                         progress=sys.stderr.isatty())
        r.update(profile=engine.config.profile, precision=engine.precisions)
        results.append(r)
        if args.json:
            print(json.dumps(r, ensure_ascii=False), flush=True)
    if not args.json:
        print("| set | kind | n | char acc / page F1 | exact / line acc | median s |")
        print("|---|---|---|---|---|---|")
        for r in results:
            if r["kind"] == "line":
                print(f"| {r['set']} | line | {r['count']} | {r['char_accuracy']:.3f} | {r['exact_match']:.3f} "
                      f"| {r['median_seconds']:.4f} |")
            else:
                la = "—" if r["line_accuracy"] is None else f"{r['line_accuracy']:.3f}"
                print(f"| {r['set']} | full | {r['count']} | {r['page_f1']:.3f} | {la} | {r['median_seconds']:.3f} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .config import ConfigError
    from .models import ModelsMissingError

    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] == "eval":
            return eval_main(argv[1:])
        return predict_main(argv)
    except (ConfigError, ModelsMissingError) as exc:
        print(f"ocr: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
