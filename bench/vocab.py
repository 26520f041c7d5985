"""Measured gains of the domain vocabulary (ocrcore.vocab) on generated degraded text lines.

    python -m bench.vocab [--n 150] [--profile small] [--seed 1] [--out reports/vocab.json]

Each set is rendered (`ocrcore.synth.render_line` with system fonts: DejaVu/Liberation for Latin,
WenQuanYi Micro Hei for Chinese) at a small height, then damaged (down-scaled, blurred, noisy,
JPEG: :func:`damage`), and read twice: free (greedy, today's default) and constrained.

- ``amounts``: amounts, dates and phone numbers, allowlist :data:`AMOUNT_ALLOWLIST`;
- ``plates``: Chinese licence plates, pattern :data:`PLATE_PATTERN`;
- ``hotwords``: 500 generated Chinese and English domain terms (drug-like names) as hot words,
  on lines that contain one (``terms``) and on lines that contain none (``plain``: no harm).

Also the cost of the beam search: per line, constrained recognition (beam 8, 1,000 hot words)
against the default recognition, same lines, same run (ratio; the CPU is named).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from statistics import median

import cv2
import numpy as np

from ocrcore.synth import degrade, random_text, render_line

REPO = Path(__file__).resolve().parent.parent
FONT_DIR = Path("/usr/share/fonts/truetype")
LATIN_FONTS = ["dejavu/DejaVuSans.ttf", "dejavu/DejaVuSerif.ttf", "dejavu/DejaVuSansMono.ttf",
               "liberation/LiberationSans-Regular.ttf", "liberation/LiberationSerif-Regular.ttf"]
CJK_FONT = "wqy/wqy-microhei.ttc"
AMOUNT_ALLOWLIST = "0123456789.,-/¥年月日"
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # plates use no I or O
PLATE_PATTERN = f"[{PROVINCES}][A-Z][A-Z0-9]{{5,6}}"
# Drug-like name parts: the terms are generated, so no model has seen them as words.
EN_HEAD = ["amo", "cef", "lora", "meto", "ator", "sima", "pra", "clo", "vala", "dexa", "keto", "levo", "ome", "panto",
           "rosu", "tamsu", "ibu", "napro", "gaba", "sertra", "fluo", "cita", "dulo", "quet", "olan"]
EN_MID = ["xi", "ta", "pro", "lo", "va", "ra", "zo", "mi", "ti", "ce", "ne", "du"]
EN_TAIL = ["cillin", "pril", "statin", "olol", "sartan", "azole", "tidine", "mab", "vir", "mycin", "profen", "pine",
           "xetine", "pam", "done"]
ZH_PARTS = "阿莫西林头孢克肟布洛芬氨氯地平奥美拉唑左氧氟沙星甲硝替硫酸钠钾胺醇酮诺瑞格列卡托普利舒巴坦维磺尼多帕特罗雷曲米那非"
ZH_SUFFIX = ["片", "胶囊", "颗粒", "注射液", "缓释片", ""]
# Everyday Chinese for lines without terms (no character of ZH_PARTS).
ZH_PLAIN = "我们的公司在北京市朝阳区电话号码发票金额合计日期客户名称单位数量备注收款人开户银行账号中国人民共和国上海广州深圳天气今明后年月日时分秒学校医院商店"


def fonts() -> tuple[list[str], str]:
    """Latin fonts found on this machine and the CJK one; raises FileNotFoundError without it."""
    latin = [str(FONT_DIR / f) for f in LATIN_FONTS if (FONT_DIR / f).exists()]
    cjk = FONT_DIR / CJK_FONT
    if not latin or not cjk.exists():
        raise FileNotFoundError(f"fonts missing under {FONT_DIR} (fonts-dejavu-core, fonts-wqy-microhei)")
    return latin, str(cjk)


def damage(img: np.ndarray, rng: random.Random, low: tuple[int, int] = (9, 11)) -> np.ndarray:
    """Low resolution (down to ``low`` px of height, then back up), then ocrcore.synth.degrade
    (blur, noise, JPEG, inversion at random). At 9-11 px the small model misreads ~1 line in 3."""
    h, w = img.shape[:2]
    small_h = rng.randint(*low)
    scale = small_h / h
    img = cv2.resize(img, (max(1, round(w * scale)), small_h), interpolation=cv2.INTER_AREA)
    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    return degrade(img, rng)


def _line(text: str, font: str, rng: random.Random, low: tuple[int, int] = (9, 11)) -> np.ndarray:
    img = render_line(text, rng.choice([32, 40]), font_path=font, fg=rng.randint(0, 70), bg=rng.randint(200, 255))
    return damage(img, rng, low)


def amounts_set(n: int, seed: int) -> list[tuple[np.ndarray, str]]:
    """Amounts (``¥2,886.07``, ``-45.00``), dates (``2024年3月15日``, ``15/03/2024``, ``2024-03-15``)
    and phone-like numbers (``60-113-8869``), damaged harder (8-10 px): digits are the model's
    easiest characters."""
    rng = random.Random(seed)
    latin, cjk = fonts()
    out = []
    for i in range(n):
        kind, font = i % 6, rng.choice(latin)
        if kind == 0:
            text, font = f"¥{rng.randint(1, 99_999):,}.{rng.randint(0, 99):02d}", cjk
        elif kind == 1:
            text = f"-{rng.randint(0, 999)}.{rng.randint(0, 99):02d}"
        elif kind == 2:
            text, font = f"{rng.randint(1990, 2030)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日", cjk
        elif kind == 3:
            text = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1990, 2030)}"
        elif kind == 4:
            text = f"{rng.randint(1990, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        else:
            text = f"{rng.randint(10, 99)}-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
        out.append((_line(text, font, rng, (8, 10)), text))
    return out


def plates_set(n: int, seed: int) -> list[tuple[np.ndarray, str]]:
    """Chinese licence plates: a province character, a letter, then 5 (or 6, new-energy) letters/digits."""
    rng = random.Random(seed)
    _, cjk = fonts()
    out = []
    for _ in range(n):
        tail = "".join(rng.choice(PLATE_LETTERS + "0123456789" * 2) for _ in range(rng.choice([5, 5, 6])))
        text = rng.choice(PROVINCES) + rng.choice(PLATE_LETTERS) + tail
        out.append((_line(text, cjk, rng), text))
    return out


def domain_terms(count: int = 500, seed: int = 0) -> list[str]:
    """``count`` generated drug-like terms, half English (``Levoxicillin``), half Chinese (``阿莫替林``)."""
    rng = random.Random(seed)
    terms: list[str] = []
    seen: set[str] = set()
    while len(terms) < count:
        if len(terms) % 2 == 0:
            term = (rng.choice(EN_HEAD) + rng.choice(EN_MID) * rng.randint(0, 1) + rng.choice(EN_TAIL)).capitalize()
        else:
            term = "".join(rng.choice(ZH_PARTS) for _ in range(rng.randint(3, 5)))
        if term not in seen:
            seen.add(term)
            terms.append(term)
    return terms


def hotword_sets(n: int, seed: int, terms: list[str]) -> tuple[list[tuple[np.ndarray, str, str]], list[tuple[np.ndarray, str]]]:
    """``n`` lines each containing one of ``terms`` (image, text, term) and ``n`` lines with none."""
    rng = random.Random(seed)
    latin, cjk = fonts()
    with_terms = []
    for _ in range(n):
        term = rng.choice(terms)
        if term.isascii():
            text = rng.choice([f"{term} {rng.choice([5, 10, 20, 50, 100, 250, 500])}mg", f"Rx {term} tablets", f"{term} x{rng.randint(1, 9)}"])
            font = rng.choice(latin + [cjk])
        else:
            text = rng.choice([f"{term}{rng.choice(ZH_SUFFIX)}", f"注射用{term}", f"{term} {rng.randint(1, 9)}盒"])
            font = cjk
        with_terms.append((_line(text, font, rng), text, term))
    plain = []
    for i in range(n):
        if i % 2:
            text = random_text(rng, 2, 4)
            font = rng.choice(latin)
        else:
            text = "".join(rng.choice(ZH_PLAIN) for _ in range(rng.randint(5, 10)))
            font = cjk
        plain.append((_line(text, font, rng), text))
    return with_terms, plain


def _score(preds: list[str], truths: list[str]) -> dict:
    from ocrcore.evaluate import char_accuracy

    return {"exact": sum(p == t for p, t in zip(preds, truths)) / max(len(truths), 1),
            "char_accuracy": sum(char_accuracy(p, t) for p, t in zip(preds, truths)) / max(len(truths), 1)}


def measure(engine, n: int = 150, seed: int = 1) -> dict:
    """Baseline (free) vs constrained on each set; counts of lines each mode changed."""
    out: dict = {}
    rec = engine.recognize_lines
    amounts = amounts_set(n, seed)
    imgs, truths = [a for a, _ in amounts], [t for _, t in amounts]
    base, cons = [t for t, _ in rec(imgs)], [t for t, _ in rec(imgs, allowlist=AMOUNT_ALLOWLIST)]
    out["amounts"] = {"n": n, "constraint": f"allowlist {AMOUNT_ALLOWLIST}", "baseline": _score(base, truths),
                      "constrained": _score(cons, truths), "changed": sum(a != b for a, b in zip(base, cons))}
    plates = plates_set(n, seed + 1)
    imgs, truths = [a for a, _ in plates], [t for _, t in plates]
    base = [t for t, _ in rec(imgs)]
    decoded = engine.recognizer.recognize_constrained(imgs, engine.decoder(engine.vocabulary.override(pattern=PLATE_PATTERN)))
    cons = [d.text for d in decoded]
    out["plates"] = {"n": n, "constraint": f"pattern {PLATE_PATTERN}", "baseline": _score(base, truths),
                     "constrained": _score(cons, truths), "changed": sum(a != b for a, b in zip(base, cons)),
                     "fallbacks": sum(d.pattern_fallback for d in decoded)}
    terms = domain_terms(500)
    with_terms, plain = hotword_sets(n, seed + 2, terms)
    for name, rows in (("hotwords_terms", with_terms), ("hotwords_plain", plain)):
        imgs, truths = [r[0] for r in rows], [r[1] for r in rows]
        base, cons = [t for t, _ in rec(imgs)], [t for t, _ in rec(imgs, hotwords=terms)]
        entry = {"n": n, "constraint": "500 hot words", "baseline": _score(base, truths), "constrained": _score(cons, truths),
                 "changed": sum(a != b for a, b in zip(base, cons)),
                 "harmed": sum(a == t != b for a, b, t in zip(base, cons, truths))}
        if name == "hotwords_terms":
            entry["term_read"] = {"baseline": sum(r[2] in b for r, b in zip(rows, base)) / n,
                                  "constrained": sum(r[2] in c for r, c in zip(rows, cons)) / n}
        out[name] = entry
    return out


def cost(engine, n: int = 60, seed: int = 3, repeats: int = 3) -> dict:
    """Per line: seconds of default recognition and of recognition with a beam of 8 over 1,000
    hot words (full probabilities fetched + decoded), alternated, median of ``repeats``."""
    terms = domain_terms(1000, seed=5)
    with_terms, plain = hotword_sets(n // 2, seed, terms)
    lines = [r[0] for r in with_terms] + [r[0] for r in plain]
    decoder = engine.decoder(engine.vocabulary.override(hotwords=terms))
    rec = engine.recognizer
    base, cons = [], []
    for crop in lines:
        tb, tc = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            rec.recognize([crop])
            tb.append(time.perf_counter() - t)
            t = time.perf_counter()
            rec.recognize_constrained([crop], decoder)
            tc.append(time.perf_counter() - t)
        base.append(median(tb))
        cons.append(median(tc))
    overhead = [(c - b) / b for b, c in zip(base, cons)]
    return {"lines": len(lines), "hotwords": len(terms), "beam": decoder.beam, "recognize_median_s": median(base),
            "constrained_median_s": median(cons), "overhead_median": median(overhead),
            "overhead_p90": float(np.percentile(overhead, 90))}


def markdown(rep: dict) -> str:
    from .report import table

    rows = []
    for name, r in rep["sets"].items():
        extra = ""
        if "term_read" in r:
            extra = f"term read {r['term_read']['baseline']:.2f} -> {r['term_read']['constrained']:.2f}"
        if "harmed" in r:
            extra += ("; " if extra else "") + f"{r['harmed']} right lines made wrong"
        if "fallbacks" in r:
            extra = f"{r['fallbacks']} fell back"
        rows.append([name, r["n"], r["constraint"], f"{r['baseline']['exact']:.3f}", f"{r['constrained']['exact']:.3f}",
                     f"{r['baseline']['char_accuracy']:.3f}", f"{r['constrained']['char_accuracy']:.3f}", r["changed"], extra])
    c = rep["cost"]
    return "\n".join([f"CPU: {rep['cpu']}, profile {rep['profile']}, 1 thread.", "",
                      *table(["set", "lines", "constraint", "exact free", "exact constrained", "char acc free",
                              "char acc constrained", "lines changed", "notes"], rows), "",
                      f"Cost per line (beam {c['beam']}, {c['hotwords']} hot words, {c['lines']} lines): default recognition "
                      f"median {c['recognize_median_s'] * 1e3:.1f} ms, constrained {c['constrained_median_s'] * 1e3:.1f} ms: "
                      f"overhead median {c['overhead_median'] * 100:.1f} %, p90 {c['overhead_p90'] * 100:.1f} %."])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.vocab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=150, help="lines per set")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", default="small")
    ap.add_argument("--out", type=Path, default=REPO / "reports" / "vocab.json")
    args = ap.parse_args(argv)

    from ocrcore import OCREngine
    from ocrcore.host import cpu_info

    engine = OCREngine(profile=args.profile, threads=1)
    rep = {"cpu": cpu_info().model, "profile": args.profile, "precisions": dict(engine.precisions),
           "sets": measure(engine, args.n, args.seed), "cost": cost(engine)}
    rep["markdown"] = markdown(rep)
    print(rep["markdown"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rep, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
