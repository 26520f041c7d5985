"""Every item's reading on the sets in ../shared/eval, to show that a change leaves the default
path's output bit for bit as it was (text, confidence, box of every line).

    .venv/bin/python scripts/dump_outputs.py --root . --out /tmp/new.json
    git archive BASE | tar -x -C /tmp/base && ln -s "$PWD/models/build" /tmp/base/models/build
    .venv/bin/python scripts/dump_outputs.py --root /tmp/base --out /tmp/old.json
    .venv/bin/python scripts/dump_outputs.py --compare /tmp/old.json /tmp/new.json

``--root`` is the source tree whose ``ocrcore`` is imported (first on ``sys.path``). Line sets
are read with ``recognize_lines``, full-image sets with ``ocr``, as ``ocrcore.evaluate`` does.
``--precision`` is pinned (default ``det=fp32,cls=fp32,rec=int8``, the small profile's choice on
the machines measured): with ``auto`` each run times INT8 against FP32 again when the cached
choice is stale, and two runs that choose differently differ in every confidence.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"


def dump(root: Path, out: Path, profile: str, sets: list[str] | None, precision: str = "auto") -> None:
    sys.path.insert(0, str(root.resolve()))
    from ocrcore import OCREngine
    from ocrcore.decode import decode_image
    from ocrcore.evaluate import load_set

    engine = OCREngine(profile=profile, threads=1, precision=precision)
    print(f"precisions: {engine.precisions}", file=sys.stderr)
    dirs = sorted(p for p in EVAL.iterdir() if (p / "labels.jsonl").exists()) if not sets else [EVAL / s for s in sets]
    result: dict[str, list] = {}
    for set_dir in dirs:
        kind, rows = load_set(set_dir)
        items = []
        for row in rows:
            data = (set_dir / row["image"]).read_bytes()
            if kind == "line":
                items.append([list(r) for r in engine.recognize_lines([decode_image(data)])])
            else:
                items.append(engine.ocr(data).to_dict()["text"])
        result[set_dir.name] = items
        print(f"{set_dir.name}: {len(items)} items", file=sys.stderr, flush=True)
    out.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


def compare(a: Path, b: Path) -> int:
    """Print one row per set (items, items that differ); exit 1 if any differs."""
    old, new = (json.loads(p.read_text(encoding="utf-8")) for p in (a, b))
    differ = 0
    print("| set | items | identical | differ |")
    print("|---|---|---|---|")
    for name in sorted(set(old) | set(new)):
        x, y = old.get(name, []), new.get(name, [])
        n_diff = sum(p != q for p, q in zip(x, y)) + abs(len(x) - len(y))
        differ += n_diff
        print(f"| {name} | {max(len(x), len(y))} | {max(len(x), len(y)) - n_diff} | {n_diff} |")
    return 1 if differ else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, help="source tree to import ocrcore from")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--profile", default="small")
    ap.add_argument("--sets", nargs="*", default=None)
    ap.add_argument("--precision", default="det=fp32,cls=fp32,rec=int8", help="auto, int8, fp32 or per model")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"))
    args = ap.parse_args()
    if args.compare:
        return compare(*args.compare)
    if not args.root or not args.out:
        ap.error("--root and --out (or --compare OLD NEW)")
    dump(args.root, args.out, args.profile, args.sets, args.precision)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
