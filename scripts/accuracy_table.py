"""Render reports/*.json from scripts/accuracy.py as the markdown tables of docs/accuracy.md.

    .venv/bin/python scripts/accuracy_table.py reports/acc_small.json reports/acc_tiny.json
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def cell(r: dict) -> str:
    if r["kind"] == "line":
        return f"{r['char_accuracy']:.3f} / {r['exact_match']:.3f}"
    la = "—" if r.get("line_accuracy") is None else f"{r['line_accuracy']:.3f}"
    return f"{r['page_f1']:.3f} / {la}"


def main(paths: list[str]) -> None:
    rows: dict[str, dict[str, dict]] = defaultdict(dict)
    columns: list[str] = []
    for path in paths:
        for r in json.loads(Path(path).read_text()):
            col = f"{r['profile']} {r['precision']}"
            if col not in columns:
                columns.append(col)
            rows[r["set"]][col] = r
    print("| set | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name in sorted(rows):
        print(f"| {name} | " + " | ".join(cell(rows[name][c]) if c in rows[name] else "" for c in columns) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
