"""The ``ocr`` command.

    ocr IMAGE [IMAGE ...] [--json] [--words] [--no-detect] [--no-orient] [--profile small|tiny]
        [--allowlist CHARS] [--blocklist CHARS] [--pattern REGEX] [--hotwords FILE]
    ocr scan.pdf [--pages 1-3,7] [--force-ocr] [--searchable out.pdf] [--json]
    ocr photo.jpg --searchable out.pdf
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
    ap = argparse.ArgumentParser(prog="ocr", description="Print the text of each image, PDF or multi-page TIFF "
                                 "(Chinese and English); write a searchable PDF.",
                                 epilog="Also: `ocr eval SET_DIR` scores the engine on a labelled set.")
    ap.add_argument("images", nargs="+", type=Path, metavar="FILE", help="images, PDFs or multi-page TIFFs")
    ap.add_argument("--json", action="store_true", help="one JSON object per file (JSON Lines); documents with pages")
    ap.add_argument("--no-detect", action="store_true", help="treat each whole image as one text line")
    ap.add_argument("--searchable", type=Path, metavar="OUT.pdf", default=None,
                    help="write a searchable PDF (original pages, or the image as a page, plus an invisible text layer); "
                         "one input file only")
    ap.add_argument("--pages", default=None, metavar="SPEC", help="pages of a PDF/TIFF to read, e.g. 1-3,7 or 5- (default: all)")
    ap.add_argument("--force-ocr", action="store_true", help="OCR pages that already have a text layer too")
    ap.add_argument("--max-pages", type=int, default=0, metavar="N", help="refuse documents with more pages selected (0 = no limit)")
    voc = ap.add_argument_group("vocabulary", "constrain or bias what may be read (docs/vocabulary.md)")
    voc.add_argument("--allowlist", metavar="CHARS", default=None, help="only these characters may be read")
    voc.add_argument("--blocklist", metavar="CHARS", default=None, help="these characters are never read")
    voc.add_argument("--pattern", metavar="REGEX", default=None, help="each line must match this regular expression")
    voc.add_argument("--hotwords", metavar="FILE", type=Path, default=None,
                     help="terms to prefer: one `term` or `term:weight` per line")
    ap.add_argument("--words", action="store_true",
                    help="with --json: each line also lists its words and characters with boxes")
    _engine_args(ap)
    args = ap.parse_args(argv)
    if args.searchable is not None and len(args.images) != 1:
        ap.error("--searchable takes exactly one input file")
    if args.searchable is not None and not args.searchable.resolve().parent.is_dir():  # before any page is read
        ap.error(f"--searchable: no directory {str(args.searchable.parent)!r} to write {args.searchable.name!r} in")

    from tqdm import tqdm

    from .document import is_multipage_tiff, is_pdf
    from .errors import OCRError
    from .vocab import read_hotwords_file

    vocabulary = {k: v for k, v in {"allowlist": args.allowlist, "blocklist": args.blocklist,
                                    "pattern": args.pattern}.items() if v is not None}
    if args.hotwords is not None:
        vocabulary["hotwords"] = dict(read_hotwords_file(args.hotwords))
    engine = _make_engine(args)
    engine.decoder(engine.vocabulary.override(**vocabulary))  # a bad constraint stops here, not per image
    failures = 0
    many = len(args.images) > 3
    for path in tqdm(args.images, disable=not many, file=sys.stderr, unit="img"):
        try:
            data = path.read_bytes()
            t0 = time.perf_counter()
            if args.searchable is not None or is_pdf(data) or is_multipage_tiff(data):
                _document(engine, path, data, args, vocabulary)
                continue
            result = engine.ocr(data, detect=not args.no_detect, cls=args.cls, words=args.words,
                                orient=args.orient, **vocabulary)
            elapsed = time.perf_counter() - t0
        except (OSError, OCRError) as exc:
            failures += 1
            _report_failure(path, exc, args.json)
            continue
        if args.json:
            out = {"image": str(path), "success": True, **result.to_dict(), "processing_time": round(elapsed, 4)}
            print(json.dumps(out, ensure_ascii=False), flush=True)
        else:
            if len(args.images) > 1:
                print(f"==> {path} <==")
            print(result.text, flush=True)
    return 1 if failures else 0


def _report_failure(path: Path, exc: Exception, as_json: bool) -> None:
    from .errors import OCRError

    code = exc.code if isinstance(exc, OCRError) else "unreadable_file"
    message = str(exc) if isinstance(exc, OCRError) else (getattr(exc, "strerror", None) or str(exc))
    filename = getattr(exc, "filename", None)
    if filename is not None and str(filename) != str(path):  # the searchable PDF, not the input, failed
        message = f"{filename}: {message}"
    print(f"ocr: {path}: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"image": str(path), "success": False,
                          "error": {"code": code, "message": message}}, ensure_ascii=False), flush=True)


def _document(engine, path: Path, data: bytes, args: argparse.Namespace, vocabulary: dict) -> None:
    """A PDF or TIFF (or an image written as a searchable PDF): text page by page as each page is
    done, a progress bar per page on stderr, then the JSON object or the searchable PDF."""
    from tqdm import tqdm

    from .document import PageResult, ocr_document, searchable_pdf

    t0 = time.perf_counter()
    bar = tqdm(desc=path.name, unit="page", file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)
    shown: list[int] = []

    def on_page(page: PageResult) -> None:
        bar.update(1)
        if args.json:
            return
        if len(args.images) > 1 and not shown:
            print(f"==> {path} <==")
        shown.append(page.page)
        print(f"--- page {page.page} ---", flush=True)
        if page.result.text:
            print(page.result.text, flush=True)

    try:
        doc = ocr_document(engine, data, pages=args.pages, max_pages=args.max_pages if args.max_pages > 0 else sys.maxsize,
                           force_ocr=args.force_ocr, on_page=on_page, detect=not args.no_detect, cls=args.cls,
                           words=args.words, **vocabulary)
    finally:
        bar.close()
    if args.searchable is not None:
        args.searchable.write_bytes(searchable_pdf(data, doc))
        print(f"ocr: wrote {args.searchable} ({len(doc.pages)} page(s))", file=sys.stderr)
    if args.json:
        pages = [p.to_dict() for p in doc.pages]
        out = {"image": str(path), "success": True, "kind": doc.kind, "page_count": doc.page_count, "pages": pages,
               "text": [{**line, "page": p["page"]} for p in pages for line in p["text"]],
               "processing_time": round(time.perf_counter() - t0, 4)}
        print(json.dumps(out, ensure_ascii=False), flush=True)


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
    from .vocab import VocabularyError

    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] == "eval":
            return eval_main(argv[1:])
        return predict_main(argv)
    except (ConfigError, ModelsMissingError, VocabularyError) as exc:
        print(f"ocr: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # --hotwords FILE unreadable
        print(f"ocr: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
