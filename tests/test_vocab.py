"""Domain vocabulary (ocrcore.vocab, ocrcore.ctc_kernels): each kernel against its plain
reference, the pattern automaton against ``re``, then the real small model on generated degraded
lines (gains, and no change when unused or when no hot word occurs), the API, the CLI and the
deployment defaults."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from bench import vocab as sets
from ocrcore import ctc_kernels as k
from ocrcore.config import ConfigError, EngineConfig, EngineSettings, load
from ocrcore.synth import render_line
from ocrcore.vocab import (
    Constraint,
    VocabularyError,
    build_trie,
    compile_pattern,
    line_decoder,
    parse_hotwords,
)
from tests.helpers import png_bytes

ROOT = Path(__file__).resolve().parents[1]
CHARSET = ("", *"abcdefghijklmnopqrstuvwxyz", "0", "1", " ")
NO_DFA = (np.zeros((1, 1), np.int32), np.zeros(len(CHARSET), np.int32), np.ones(1, bool))


def random_probs(seed: int, t_len: int = 40, c: int = len(CHARSET)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(t_len, c)) * 2.0
    logits[::3, 0] += 3  # plenty of blanks, like a real line
    return (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)


# --------------------------------------------------------------------------- kernels


@pytest.mark.parametrize("seed", range(8))
def test_kernels_match_references(seed: int) -> None:
    probs = random_probs(seed)
    rng = np.random.default_rng(100 + seed)
    allowed = np.arange(1, len(CHARSET), dtype=np.int32)[rng.random(len(CHARSET) - 1) < 0.6]
    got, want = k.masked_greedy(probs, allowed), k.masked_greedy_ref(probs, allowed)
    assert got[0].tolist() == want[0].tolist()
    np.testing.assert_allclose(got[1], want[1])
    cands = k.top_candidates(probs, allowed, 6)
    np.testing.assert_array_equal(cands, k.top_candidates_ref(probs, allowed, 6))
    trie = build_trie((("abc", 1.0), ("ab", 2.0), ("xyz", 1.5), ("a0", 1.0)), {c: i for i, c in enumerate(CHARSET) if i}, 1.0)
    dfa = compile_pattern("[a-m]+[01]*", CHARSET) if seed % 2 else NO_DFA
    for beam in (1, 4):
        got_b = k.prefix_beam_search(probs, cands, beam, *dfa, *trie)
        want_b = k.prefix_beam_search_ref(probs, cands, beam, *dfa, *trie)
        assert got_b[3] == want_b[3]
        assert got_b[0].tolist() == want_b[0].tolist()
        assert got_b[1] == pytest.approx(want_b[1], abs=1e-6)
        assert got_b[2] == pytest.approx(want_b[2], abs=1e-6)
        np.testing.assert_allclose(k.ctc_align(probs, got_b[0]), k.ctc_align_ref(probs, got_b[0]), rtol=1e-6)


def test_masked_greedy_reads_the_best_allowed_class() -> None:
    """A smudged "O" in a digits-only field becomes "0", not nothing (mask before the argmax)."""
    probs = np.full((3, len(CHARSET)), 0.01, np.float32)
    probs[0, CHARSET.index("o")], probs[0, CHARSET.index("0")] = 0.7, 0.2
    probs[1, 0] = 0.9
    probs[2, CHARSET.index("1")] = 0.9
    allowed = np.array([CHARSET.index("0"), CHARSET.index("1")], np.int32)
    labels, label_probs = k.masked_greedy(probs, allowed)
    assert "".join(CHARSET[i] for i in labels) == "01"
    assert label_probs[0] == pytest.approx(0.2)


def test_alignment_of_the_greedy_path_gives_greedy_probabilities() -> None:
    for seed in range(5):
        probs = random_probs(seed)
        labels, label_probs = k.masked_greedy(probs, np.arange(1, len(CHARSET), dtype=np.int32))
        np.testing.assert_allclose(k.ctc_align(probs, labels), label_probs, rtol=1e-6)


def test_beam_search_with_a_hot_word_recovers_one_wrong_character() -> None:
    """Greedy reads "cbt" (b at 0.6, a at 0.35); the hot word "cat" wins the beam search."""
    c, a, b, t = (CHARSET.index(x) for x in "cabt")
    probs = np.full((5, len(CHARSET)), 0.001, np.float32)
    probs[0, c], probs[1, 0], probs[2, b], probs[2, a], probs[3, 0], probs[4, t] = 0.95, 0.95, 0.6, 0.35, 0.95, 0.95
    allowed = np.arange(1, len(CHARSET), dtype=np.int32)
    cands = k.top_candidates(probs, allowed, 4)
    plain = k.prefix_beam_search(probs, cands, 8, *NO_DFA, *build_trie((), {}, 1.0))
    assert "".join(CHARSET[i] for i in plain[0]) == "cbt" and plain[2] == 0.0
    trie = build_trie((("cat", 1.0),), {x: i for i, x in enumerate(CHARSET) if i}, 1.0)
    boosted = k.prefix_beam_search(probs, cands, 8, *NO_DFA, *trie)
    assert "".join(CHARSET[i] for i in boosted[0]) == "cat" and boosted[2] == pytest.approx(3.0)


def test_pattern_automaton_agrees_with_re() -> None:
    rng = random.Random(0)
    for pattern in (r"[a-c]+1?", r"(ab|ba)*0", r"a.c", r"[0-1]{2,3}", r"x|yz"):
        table, group, accept = compile_pattern(pattern, CHARSET)
        for _ in range(300):
            text = "".join(rng.choice("abcxyz01 ") for _ in range(rng.randint(0, 4)))
            state = 0
            for ch in text:
                state = table[state, group[CHARSET.index(ch)]]
                if state < 0:
                    break
            assert (state >= 0 and bool(accept[state])) == bool(re.fullmatch(pattern, text)), (pattern, text)


def test_parse_hotwords_and_limits() -> None:
    assert parse_hotwords("Aspirin, 阿莫西林:2\nibuprofen:0.5 ,a:b") == (
        ("Aspirin", 1.0), ("阿莫西林", 2.0), ("ibuprofen", 0.5), ("a:b", 1.0))
    assert parse_hotwords({"x": 3}) == (("x", 3.0),)
    with pytest.raises(VocabularyError):
        Constraint(hotwords=(("x", 0.0),))
    with pytest.raises(VocabularyError):
        Constraint(allowlist="0" * 20_001)
    with pytest.raises(VocabularyError) as err:
        line_decoder(Constraint(pattern="([a-z"), CHARSET)
    assert err.value.status == 422 and "pattern" in str(err.value)
    with pytest.raises(VocabularyError):
        line_decoder(Constraint(allowlist="漢"), CHARSET)  # nothing this charset can read
    with pytest.raises(VocabularyError, match="too complex"):  # 2^20 states if determinised in full
        compile_pattern(".*a.{20}", CHARSET)


# --------------------------------------------------------------------------- the real model


@pytest.fixture(scope="module")
def engine():
    from ocrcore import OCREngine

    return OCREngine(profile="small", threads=1)


def test_unused_and_neutral_constraints_change_nothing(engine) -> None:
    """No constraint is today's greedy path; an allowlist of every class and hot words that occur
    on no line give bit-for-bit the same text and confidence."""
    _, plain = sets.hotword_sets(24, 7, sets.domain_terms(500))
    imgs = [r[0] for r in plain] + [a for a, _ in sets.amounts_set(12, 7)]
    base = engine.recognize_lines(imgs)
    assert base == engine.recognizer.recognize(imgs)
    assert engine.recognize_lines(imgs, allowlist="".join(engine.recognizer.charset[1:])) == base
    assert engine.recognize_lines(imgs, hotwords=sets.domain_terms(500)) == base


def test_measured_gains_and_no_harm(engine) -> None:
    """The generated sets of bench.vocab, small: each mode reads more lines right, and the hot
    words change no line without a term."""
    r = sets.measure(engine, n=36, seed=21)
    for name in ("amounts", "plates", "hotwords_terms"):
        assert r[name]["constrained"]["exact"] > r[name]["baseline"]["exact"], (name, r[name])
    assert r["hotwords_terms"]["term_read"]["constrained"] > r["hotwords_terms"]["term_read"]["baseline"]
    assert r["hotwords_plain"]["changed"] == 0 and r["hotwords_terms"]["harmed"] == 0


def test_lines_say_which_constraint_shaped_them(engine) -> None:
    img = render_line("Total 1O5.2O", 40)
    free = engine.ocr(img, detect=False).to_dict()["text"][0]
    assert free.get("constraint") is None and not free.get("pattern_fallback")
    digits = engine.ocr(img, detect=False, allowlist="0123456789.").to_dict()["text"][0]
    assert digits["constraint"] == "allowlist" and set(digits["text"]) <= set("0123456789.")
    assert 0 < digits["confidence"] <= 1
    shaped = engine.ocr(img, detect=False, pattern=r"Total \d+\.\d\d").to_dict()["text"][0]
    assert shaped["constraint"] == "pattern" and re.fullmatch(r"Total \d+\.\d\d", shaped["text"])
    missed = engine.ocr(img, detect=False, pattern=r"[A-Z]{12}").to_dict()["text"][0]
    assert missed.get("pattern_fallback") is True and missed["text"] == free["text"] and missed.get("constraint") is None


def test_deployment_defaults(tmp_path: Path) -> None:
    from ocrcore import OCREngine

    words = tmp_path / "hot.txt"
    words.write_text("# terms\nLevoxicillin:2\n阿莫西林\n", encoding="utf-8")
    settings = load(EngineSettings, {"OCR_ALLOWLIST": "0123456789", "OCR_HOTWORDS_FILE": str(words), "OCR_PROFILE": "tiny"})
    assert settings.allowlist == "0123456789" and settings.hotwords_file == words
    eng = OCREngine(settings.engine_config(threads=1))
    assert eng.vocabulary.hotwords == (("Levoxicillin", 2.0), ("阿莫西林", 1.0))
    img = render_line("No 4711", 40)
    assert eng.ocr(img, detect=False).lines[0].constraint == "allowlist"
    assert eng.ocr(img, detect=False, allowlist="").lines[0].constraint is None  # "" clears a default
    with pytest.raises(ConfigError, match="vocabulary"):
        OCREngine(EngineConfig(profile="tiny", threads=1, pattern="(?<=a)b"))


# --------------------------------------------------------------------------- API and CLI


def test_api_constraints(server: str) -> None:
    data = png_bytes(render_line("Total 1O5.2O", 40))
    url = f"{server}/api/ocr?detect=false"

    def post(**kw) -> httpx.Response:
        return httpx.post(kw.pop("url", url), files={"image": ("l.png", data, "image/png")}, timeout=120, **kw)

    free = post().json()
    assert free["text"][0].get("constraint") is None  # null when no constraint shaped the line
    by_query = post(url=url + "&allowlist=0123456789.").json()
    assert by_query["cached"] is False  # the cache key includes the constraint
    assert by_query["text"][0]["constraint"] == "allowlist" and set(by_query["text"][0]["text"]) <= set("0123456789.")
    by_form = post(data={"allowlist": "0123456789."}).json()
    assert by_form["text"][0]["text"] == by_query["text"][0]["text"] and by_form["cached"] is True
    bad = post(data={"pattern": "([0-9"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_constraint"
    long = post(url=url + "&allowlist=" + "0" * 20_001)
    assert long.status_code == 422 and "limit" in long.json()["error"]["message"]
    assert post().json()["text"][0]["text"] == free["text"][0]["text"]  # and the service keeps serving


def test_cli_flags(tmp_path: Path) -> None:
    img = tmp_path / "line.png"
    img.write_bytes(png_bytes(render_line("Total 1O5.2O", 40)))
    words = tmp_path / "hot.txt"
    words.write_text("Total\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "ocrcore.cli", "--json", "--no-detect", "--profile", "tiny", "--threads", "1"]
    out = subprocess.run([*cmd, "--allowlist", "0123456789.", "--hotwords", str(words), str(img)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    line = json.loads(out.stdout)["text"][0]
    assert line["constraint"].startswith("allowlist") and set(line["text"]) <= set("0123456789.")
    bad = subprocess.run([*cmd, "--pattern", "([0-9", str(img)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "pattern" in bad.stderr


def test_carry_spaces_keeps_the_free_readings_spaces_only_where_characters_line_up() -> None:
    from ocrcore.engine import carry_spaces

    assert carry_spaces("版本 Version 3.2", "版本Versi0n3.2") == "版本 Versi0n 3.2"  # one substitution: spaces kept
    assert carry_spaces("版本 Version 3.2", "版本Version3") == "版本Version3"  # lengths differ: as decoded
    assert carry_spaces("abc", "abd") == "abd"


def test_admits_only_what_the_constraint_allows() -> None:
    """A constrained reading changed after decoding (spaces put back) must still be one the
    constraint allows: every character allowed, and the pattern's automaton accepting it."""
    from ocrcore.vocab import Decoded

    shaped = Decoded("ab1", 0.9, "pattern")
    pattern = line_decoder(Constraint(pattern="[a-c]+1"), CHARSET)
    assert pattern.admits("ab1", shaped) and not pattern.admits("ab 1", shaped)
    spaced = line_decoder(Constraint(pattern="[a-c]+ 1"), CHARSET)
    assert spaced.admits("ab 1", shaped) and not spaced.admits("ab1", shaped)
    assert pattern.admits("xyz", Decoded("xyz", 0.9, None, pattern_fallback=True))  # a fallback is a free reading
    digits = line_decoder(Constraint(allowlist="01"), CHARSET)
    assert digits.admits("0110", Decoded("0110", 0.9, "allowlist")) and not digits.admits("01 10", Decoded("0110", 0.9))
    assert line_decoder(Constraint(allowlist="01 "), CHARSET).admits("01 10", Decoded("0110", 0.9))
    assert line_decoder(Constraint(hotwords=(("ab", 1.0),)), CHARSET).admits("ab 01", Decoded("ab01", 0.9, "hotwords"))


def test_shaped_lines_get_spaces_back_only_where_the_constraint_allows_them(engine) -> None:
    """The free reading's restored spaces are put back into a constrained line only if the
    result still matches the pattern / uses allowed characters (a line that said "pattern" but
    did not match it was the bug)."""
    img = render_line("2024 03 15", 40)
    assert engine.ocr(img, detect=False).lines[0].text == "2024 03 15"  # the free reading has the spaces
    for kw in ({"pattern": r"\d{8}"}, {"allowlist": "0123456789"}):
        line = engine.ocr(img, detect=False, **kw).lines[0]
        assert line.constraint == next(iter(kw)) and line.text == "20240315", (kw, line)
        assert engine.recognize_lines([img], **kw)[0][0] == "20240315"
    assert engine.ocr(img, detect=False, pattern=r"\d{4} \d{2} \d{2}").lines[0].text == "2024 03 15"
    assert engine.ocr(img, detect=False, allowlist="0123456789 ").lines[0].text == "2024 03 15"


def test_hotwords_file_that_is_not_utf8(tmp_path: Path, capsys) -> None:
    from ocrcore.cli import main
    from ocrcore.vocab import read_hotwords_file

    bad = tmp_path / "hot.txt"
    bad.write_bytes("阿莫西林\n".encode("gbk"))
    with pytest.raises(VocabularyError, match="not UTF-8"):
        read_hotwords_file(bad)
    assert main(["--hotwords", str(bad), str(tmp_path / "any.png")]) == 2  # stops before loading a model
    assert "not UTF-8" in capsys.readouterr().err


def test_api_options_that_are_not_utf8_text(server: str) -> None:
    """Invalid UTF-8 in a vocabulary option (query or multipart field) and a non-string JSON option
    are a 422 invalid_constraint, not a silently different constraint (starlette would decode
    them as U+FFFD or Latin-1)."""
    import base64

    data = png_bytes(render_line("12.50", 40))
    url = f"{server}/api/ocr?detect=false"
    r = httpx.post(url + "&allowlist=%FF%FE0", files={"image": ("l.png", data, "image/png")}, timeout=120)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_constraint" and "allowlist" in r.text
    boundary = "vocabtest"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="l.png"\r\n'
            "Content-Type: image/png\r\n\r\n").encode() + data + (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="hotwords"\r\n\r\n').encode() + \
        "阿莫西林".encode("gbk") + f"\r\n--{boundary}--\r\n".encode()
    r = httpx.post(url, content=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"}, timeout=120)
    assert r.status_code == 422 and "hotwords" in r.json()["error"]["message"]
    r = httpx.post(url, json={"image_base64": base64.b64encode(data).decode(), "hotwords": ["12.50"]}, timeout=120)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_constraint"
    ok = httpx.post(url, content=body.replace("阿莫西林".encode("gbk"), "阿莫西林".encode()),
                    headers={"content-type": f"multipart/form-data; boundary={boundary}"}, timeout=120)
    assert ok.status_code == 200 and ok.json()["success"] is True


def test_hotwords_leave_pages_without_them_as_they_were(engine) -> None:
    """Lines without the terms are unchanged on whole pages too: the lone glyphs (table cells,
    fields), the second readings of coloured or tall lines and the upside-down lines turned
    (ocrcore.orientation) are read as without hot words."""
    from ocrcore.synth_marks import fonts_available, render_lone_glyphs, render_marked_text
    from ocrcore.synth_pages import mixed_page, vertical_header_table

    if not fonts_available():
        pytest.skip("DejaVu/Liberation/WenQuanYi fonts not installed")
    terms = sets.domain_terms(500)
    pages = [render_lone_glyphs(seed)[0] for seed in range(6)] + [render_marked_text(seed)[0] for seed in range(4)]
    pages += [mixed_page(3000 + seed).image for seed in range(3)] + [vertical_header_table(seed).image for seed in range(2)]
    for n, img in enumerate(pages):
        free = [(line.text, line.confidence, line.box) for line in engine.ocr(img).lines]
        biased = engine.ocr(img, hotwords=terms).lines
        assert [(line.text, line.confidence, line.box) for line in biased] == free, n
        assert not any(line.constraint for line in biased)


def test_constrained_pages_read_upside_down_lines_turned(engine) -> None:
    """An upside-down line on an upright page is turned before the constraint decodes it (read
    as it lies, an allowlist made digits of it and hot words garbage)."""
    from ocrcore.synth_pages import mixed_page

    for seed in range(3):
        page = mixed_page(3000 + seed)
        free = [line.text for line in engine.ocr(page.image).lines]
        assert [line.text for line in engine.ocr(page.image, blocklist="¤").lines] == free, seed


def test_hostile_constraints_fail_fast_with_a_vocabulary_error() -> None:
    """What a hostile caller may send (docs/vocabulary.md, "Hostile inputs"): each one a
    VocabularyError (HTTP 422) from bounded work, never a runaway compile; patterns that make
    backtracking engines explode are just small DFAs here."""
    for pattern in ("a{1000}", "(.*){1000}", "(ab|cd|ef|gh|ij|kl|mn|op|qr|st|uv|wx|yz){1,60}", r"(a)\1", "a{2,1}"):
        with pytest.raises(VocabularyError):
            line_decoder(Constraint(pattern=pattern), CHARSET)
    for pattern in ("(a|aa)*b", "(a*)*b", "(x+x+)+y"):
        assert line_decoder(Constraint(pattern=pattern), CHARSET).dfa.shape[0] <= 16, pattern  # a few states, not 2^n
    for weight in ("nan", "inf", "-1", "1e309"):
        with pytest.raises(VocabularyError):
            Constraint(hotwords=parse_hotwords(f"term:{weight}"))
    with pytest.raises(VocabularyError, match="limit"):
        parse_hotwords(",".join(f"t{i}" for i in range(100_000)))


def test_constraint_digest_keys_the_result_cache() -> None:
    a = Constraint(allowlist="01", hotwords=(("阿莫西林", 2.0),))
    assert a.digest == Constraint(allowlist="01", hotwords=(("阿莫西林", 2.0),)).digest
    assert a.digest != Constraint(allowlist="01", hotwords=(("阿莫西林", 1.0),)).digest
    assert a.digest != Constraint(blocklist="01", hotwords=(("阿莫西林", 2.0),)).digest
    assert Constraint().digest == "" and len(Constraint(hotwords=(("\ud800", 1.0),)).digest) == 64  # lone surrogate (JSON)
