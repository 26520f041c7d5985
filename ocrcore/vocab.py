"""Domain vocabulary: constrain or bias what the CTC recogniser may read.

A :class:`Constraint` (what the caller asked for: allowlist, blocklist, pattern, hot words) is
compiled once per charset into a :class:`LineDecoder` (class masks, a DFA over the charset, a
trie of hot words) that decodes one line's (T, C) probability matrix with the numba kernels of
ocrcore.ctc_kernels:

- allowlist / blocklist only: best path among the allowed classes (mask before the argmax);
- pattern and/or hot words: CTC prefix beam search over the allowed classes, constrained by the
  pattern's automaton (regex -> DFA by ``interegular``; the whole line must match), biased by
  the hot-word trie. A line whose best path spells no hot word keeps its greedy reading, so
  lines without the terms are unchanged; a pattern no path matches well (none survives, or the
  match's confidence is under :data:`PATTERN_MIN_CONFIDENCE`) falls back to free decoding and
  the line says so (``pattern_fallback``).

Confidence stays a probability: the mean over the read characters of each one's probability at
the first time step of its run (in the best alignment of the chosen text, :func:`ctc_align`).
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import OCRError

# Limits of one request's constraint (422 beyond): they bound compile time and memory.
MAX_LIST_CHARS = 20_000  # allowlist / blocklist characters
MAX_PATTERN_CHARS = 500
MAX_DFA_STATES = 500
# Transitions interegular may compute while compiling one pattern (all its construction steps):
# bounds the compile time of a hostile pattern to about a second.
MAX_DFA_STEPS = 100_000
MAX_HOTWORDS = 5_000
MAX_HOTWORD_CHARS = 64
MAX_WEIGHT = 10.0
# Defaults of the beam search. BOOST: log-space bonus per matched hot-word character (times the
# term's weight), chosen on a generated development set (seeds apart from the measured sets,
# docs/vocabulary.md): 1.0 recovers most one-character misreads without rewriting other words.
BEAM_WIDTH = 8
CANDIDATES = 8  # classes tried per time step (top-k of the allowed ones)
HOTWORD_BOOST = 1.0
# A pattern's best matching path is taken only if its confidence (mean character probability)
# is at least this; under it the line is decoded freely and flagged: a path the network barely
# supports is a guess shaped like the pattern, not a reading.
PATTERN_MIN_CONFIDENCE = 0.5


class VocabularyError(OCRError):
    """An invalid constraint: bad pattern, too long a list, a bad hot-word weight (HTTP 422)."""

    code = "invalid_constraint"
    status = 422


@dataclass(frozen=True)
class Constraint:
    """What a caller allows or prefers. Empty fields constrain nothing; hashable (cache keys).

    ``hotwords``: ``(term, weight)`` pairs, weight > 0 (1.0 = the default boost)."""

    allowlist: str = ""
    blocklist: str = ""
    pattern: str = ""
    hotwords: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        for name in ("allowlist", "blocklist"):
            if len(getattr(self, name)) > MAX_LIST_CHARS:
                raise VocabularyError(f"{name} has {len(getattr(self, name)):,} characters; the limit is {MAX_LIST_CHARS:,}")
        if len(self.pattern) > MAX_PATTERN_CHARS:
            raise VocabularyError(f"pattern has {len(self.pattern)} characters; the limit is {MAX_PATTERN_CHARS}")
        if len(self.hotwords) > MAX_HOTWORDS:
            raise VocabularyError(f"{len(self.hotwords):,} hot words; the limit is {MAX_HOTWORDS:,}")
        for term, weight in self.hotwords:
            if not term or len(term) > MAX_HOTWORD_CHARS:
                raise VocabularyError(f"hot word {term[:20]!r}: 1 to {MAX_HOTWORD_CHARS} characters")
            if not 0 < weight <= MAX_WEIGHT:
                raise VocabularyError(f"hot word {term!r}: weight {weight} must be in (0, {MAX_WEIGHT}]")

    @property
    def active(self) -> bool:
        return bool(self.allowlist or self.blocklist or self.pattern or self.hotwords)

    @functools.cached_property
    def digest(self) -> str:
        """SHA-256 of the whole constraint (hex): what a result cache keys on, so a cached entry
        does not keep up to a megabyte of hot words alive ("" when inactive)."""
        if not self.active:
            return ""
        return hashlib.sha256(repr((self.allowlist, self.blocklist, self.pattern, self.hotwords)).encode("utf-8",
                                                                                                        "surrogatepass")).hexdigest()

    def as_kwargs(self) -> dict[str, Any]:
        """The keywords of :meth:`ocrcore.OCREngine.ocr` that give exactly this constraint."""
        return {"allowlist": self.allowlist, "blocklist": self.blocklist, "pattern": self.pattern,
                "hotwords": dict(self.hotwords)}

    def override(self, *, allowlist: str | None = None, blocklist: str | None = None, pattern: str | None = None,
                 hotwords: str | Iterable[str] | Mapping[str, float] | None = None) -> Constraint:
        """This constraint (a deployment's defaults) with the given fields replaced; ``None``
        keeps a field, ``""`` clears it."""
        return Constraint(
            self.allowlist if allowlist is None else allowlist,
            self.blocklist if blocklist is None else blocklist,
            self.pattern if pattern is None else pattern,
            self.hotwords if hotwords is None else parse_hotwords(hotwords),
        )


def parse_hotwords(value: str | Iterable[str] | Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    """Hot words from a mapping ``{term: weight}``, an iterable of terms, or text: one term per
    line or comma-separated, each optionally ``term:weight`` (e.g. ``阿莫西林:2``). Blank
    entries and duplicates are dropped (the last weight wins). Raises :class:`VocabularyError`."""
    pairs: dict[str, float] = {}
    if isinstance(value, Mapping):
        items = [(str(k), v) for k, v in value.items()]
    else:
        entries = re.split(r"[\n,]", value) if isinstance(value, str) else list(value)
        items = []
        for entry in entries:
            term, weight = entry.strip(), 1.0
            head, sep, tail = term.rpartition(":")
            if sep and head.strip():
                try:
                    term, weight = head.strip(), float(tail)
                except ValueError:
                    pass  # a colon inside the term
            items.append((term, weight))
    for term, weight in items:
        term = term.strip()
        if term:
            try:
                pairs[term] = float(weight)
            except (TypeError, ValueError):
                raise VocabularyError(f"hot word {term!r}: weight {weight!r} is not a number") from None
    if len(pairs) > MAX_HOTWORDS:
        raise VocabularyError(f"{len(pairs):,} hot words; the limit is {MAX_HOTWORDS:,}")
    return tuple(pairs.items())


def read_hotwords_file(path: Path) -> tuple[tuple[str, float], ...]:
    """Hot words from a UTF-8 file: one ``term`` or ``term:weight`` per line (``#`` comments).
    Raises :class:`VocabularyError` for a file that is not UTF-8, ``OSError`` for one unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise VocabularyError(f"hot words file {path}: not UTF-8 (byte {exc.start}: {exc.reason})") from None
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    return parse_hotwords([ln for ln in lines if ln.strip()])


@dataclass(frozen=True)
class Decoded:
    """One line's reading: text, confidence (0..1), the constraint(s) that shaped it
    (``"allowlist"``, ``"pattern"``, ``"hotwords"``... joined by ``+``; None = none did) and
    whether a requested pattern could not be matched (then the reading is free)."""

    text: str
    confidence: float
    constraint: str | None = None
    pattern_fallback: bool = False


class LineDecoder:
    """A :class:`Constraint` compiled for one charset (class 0 the CTC blank).

    Raises :class:`VocabularyError` for a pattern ``interegular`` cannot compile, one whose
    automaton is over :data:`MAX_DFA_STATES`, or a constraint that leaves no class readable."""

    def __init__(self, constraint: Constraint, charset: tuple[str, ...], *, beam: int = BEAM_WIDTH,
                 boost: float = HOTWORD_BOOST) -> None:
        self.constraint = constraint
        self.charset = np.array(charset, dtype=object)
        self.beam = beam
        n = len(charset)
        allowed = np.ones(n, bool)
        allowed[0] = False
        if constraint.allowlist:
            keep = set(constraint.allowlist)
            allowed &= np.array([ch in keep for ch in charset])
        if constraint.blocklist:
            drop = set(constraint.blocklist)
            allowed &= ~np.array([ch in drop for ch in charset])
        if not allowed.any():
            raise VocabularyError("the allowlist/blocklist leaves no character this model can read")
        self.masked = bool(constraint.allowlist or constraint.blocklist)
        self._listed = allowed.copy()  # what the allowlist/blocklist allow (a free reading's characters)
        self.mask_names = "+".join(x for x in ("allowlist", "blocklist") if getattr(constraint, x))
        if constraint.pattern:
            self.dfa, self.dfa_group, self.dfa_accept = compile_pattern(constraint.pattern, charset)
            live = np.asarray((self.dfa >= 0).any(axis=0))  # symbol groups some state accepts
            allowed &= live[self.dfa_group]
            if not allowed.any():
                raise VocabularyError("the pattern matches no character this model can read")
        else:
            self.dfa = np.zeros((1, 1), np.int32)
            self.dfa_group = np.zeros(n, np.int32)
            self.dfa_accept = np.ones(1, bool)
        self.allowed = np.flatnonzero(allowed).astype(np.int32)
        self._class_of = _class_index(charset)
        self.trie = build_trie(constraint.hotwords, self._class_of, boost)

    @property
    def searches(self) -> bool:
        """True when decoding needs the beam search (pattern or hot words)."""
        return bool(self.constraint.pattern or self.constraint.hotwords)

    @property
    def only_hotwords(self) -> bool:
        """True when the constraint only biases (hot words, no list or pattern): every line the
        hot words do not shape must read as without them, lone glyphs and second readings too."""
        return not self.masked and not self.constraint.pattern

    def decode(self, probs: np.ndarray, greedy: tuple[np.ndarray, np.ndarray]) -> Decoded:
        """One line: ``probs`` float32 (T, C), ``greedy`` its unconstrained ``(labels, probs)``
        (ocrcore.ctc.greedy_collapse), returned as is when no constraint shapes the line."""
        from . import ctc_kernels as k

        probs = np.ascontiguousarray(probs, dtype=np.float32)
        base = k.masked_greedy(probs, self.allowed) if self.masked else greedy
        base_name = self.mask_names or None
        if not self.searches:
            return self._decoded(base, base_name)
        cands = k.top_candidates(probs, self.allowed, CANDIDATES)
        labels, _, bonus, found = k.prefix_beam_search(probs, cands, self.beam, self.dfa, self.dfa_group, self.dfa_accept,
                                                       *self.trie)
        names = [base_name] if base_name else []
        if self.constraint.pattern:
            conf = _mean(k.ctc_align(probs, labels)) if found else 0.0
            if not found or conf < PATTERN_MIN_CONFIDENCE:
                return self._decoded(base, base_name, fallback=True)
            names.append("pattern")
            if bonus > 0:
                names.append("hotwords")
            return self._decoded((labels, k.ctc_align(probs, labels)), "+".join(names))
        if bonus <= 0 or np.array_equal(labels, base[0]):
            # No hot word on the best path, or one the greedy reading already had: the line keeps
            # its (masked) greedy reading, and the hot words did not shape it.
            return self._decoded(base, base_name)
        return self._decoded((labels, k.ctc_align(probs, labels)), "+".join([*names, "hotwords"]))

    def admits(self, text: str, decoded: Decoded) -> bool:
        """Whether ``text`` (``decoded.text`` changed after decoding, e.g. with the free reading's
        spaces put back, ocrcore.engine.carry_spaces) is still a reading this constraint allows:
        every character allowed by the allowlist/blocklist and, if the pattern shaped the line, the
        whole text accepted by the pattern's automaton."""
        ids = [self._class_of.get(ch, -1) for ch in text]
        if any(i < 0 or not self._listed[i] for i in ids):
            return False
        if not (decoded.constraint and "pattern" in decoded.constraint.split("+")):
            return True
        state = 0
        for i in ids:
            state = int(self.dfa[state, self.dfa_group[i]])
            if state < 0:
                return False
        return bool(self.dfa_accept[state])

    def _decoded(self, path: tuple[np.ndarray, np.ndarray], name: str | None, fallback: bool = False) -> Decoded:
        labels, label_probs = path
        text = "".join(self.charset[labels]).strip()
        return Decoded(text, _mean(label_probs), name, fallback)


@functools.lru_cache(maxsize=4)
def _class_index(charset: tuple[str, ...]) -> dict[str, int]:
    """Character -> class id (blank excluded), one per charset for every cached decoder."""
    return {ch: i for i, ch in enumerate(charset) if i}


def _mean(p: np.ndarray) -> float:
    return float(p.mean()) if len(p) else 0.0


def compile_pattern(pattern: str, charset: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A regular expression -> its DFA over the charset's classes (interegular: Python ``re``
    syntax without back-references or look-arounds; the whole line must match).

    Returns ``(table int32 (S, G) next state or -1, group int32 (C,) each class's symbol group,
    accept bool (S,))`` with state 0 initial. Raises :class:`VocabularyError`."""
    import interegular

    _bound_interegular()
    _limit.states, _limit.steps = MAX_DFA_STATES, [MAX_DFA_STEPS]
    try:
        fsm = interegular.parse_pattern(pattern).to_fsm()
    except _TooManyStates:
        raise VocabularyError(f"pattern {pattern!r} is too complex: its automaton needs over {MAX_DFA_STATES:,} "
                              "states or too many steps to build") from None
    except Exception as exc:  # InvalidSyntax, Unsupported, and re-like errors from its parser
        raise VocabularyError(f"pattern {pattern!r} is not supported: {type(exc).__name__} {exc}".strip()) from None
    finally:
        _limit.states = None
    states = sorted(fsm.states, key=lambda s: (s != fsm.initial, s))
    if len(states) > MAX_DFA_STATES:
        raise VocabularyError(f"pattern {pattern!r} compiles to {len(states):,} states; the limit is {MAX_DFA_STATES:,}")
    index = {s: i for i, s in enumerate(states)}
    groups = sorted(set(fsm.alphabet.values()))
    gindex = {g: i for i, g in enumerate(groups)}
    table = np.full((len(states), len(groups)), -1, np.int32)
    for s, arcs in fsm.map.items():
        for g, s2 in arcs.items():
            table[index[s], gindex[g]] = index[s2]
    group = np.full(len(charset), -1, np.int32)
    for i, ch in enumerate(charset):
        try:
            group[i] = gindex[fsm.alphabet[ch]]  # a character the pattern never names: "anything else"
        except KeyError:
            pass
    if (group < 0).any():  # no "anything else" arc: those characters go to a group no state accepts
        table = np.concatenate([table, np.full((len(states), 1), -1, np.int32)], axis=1)
        group[group < 0] = table.shape[1] - 1
    accept = np.array([s in fsm.finals for s in states], bool)
    return table, group, accept


class _TooManyStates(Exception):
    pass


_limit = threading.local()


@functools.cache
def _bound_interegular() -> None:
    """Make interegular's subset construction stop at ``_limit.states`` states or after
    ``_limit.steps`` transitions (in this thread):
    a determinised pattern can be exponential in its length (``.*a.{20}``: 2^20 states), and
    interegular has no limit of its own. Its operations all build through ``fsm.crawl``."""
    import interegular.fsm as fsm_module

    crawl = fsm_module.crawl

    def bounded_crawl(alphabet, initial, final, follow):
        limit = getattr(_limit, "states", None)
        if limit is None:
            return crawl(alphabet, initial, final, follow)
        steps = _limit.steps
        states = [0, None]  # states crawled so far (crawl follows each state's transitions in a row), the last

        def counted_follow(state, transition):
            steps[0] -= 1
            if state is not states[1]:
                states[0] += 1
                states[1] = state
            if states[0] > limit or steps[0] < 0:
                raise _TooManyStates
            return follow(state, transition)

        return crawl(alphabet, initial, final, counted_follow)

    fsm_module.crawl = bounded_crawl


def build_trie(hotwords: tuple[tuple[str, float], ...], class_of: Mapping[str, int],
               boost: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hot words -> a trie over class ids in CSR form ``(start int32 (N+1,), label int32 (E,),
    node int32 (E,), bonus float32 (N,), end bool (N,))`` (ctc_kernels.prefix_beam_search);
    node 0 is the root. A term with a character the charset lacks can never be read and is
    skipped. Each node's bonus is ``boost`` x the largest weight of the terms through it."""
    children: list[dict[int, int]] = [{}]
    bonus = [0.0]
    end = [False]
    for term, weight in hotwords:
        ids = [class_of.get(ch) for ch in term]
        if any(i is None for i in ids):
            continue
        node = 0
        for c in ids:
            nxt = children[node].get(c)  # type: ignore[arg-type]
            if nxt is None:
                nxt = len(children)
                children[node][c] = nxt  # type: ignore[index]
                children.append({})
                bonus.append(0.0)
                end.append(False)
            bonus[nxt] = max(bonus[nxt], boost * weight)
            node = nxt
        end[node] = True
    start = np.zeros(len(children) + 1, np.int32)
    labels: list[int] = []
    nodes: list[int] = []
    for i, ch in enumerate(children):
        for c in sorted(ch):
            labels.append(c)
            nodes.append(ch[c])
        start[i + 1] = len(labels)
    return (start, np.array(labels, np.int32), np.array(nodes, np.int32), np.array(bonus, np.float32),
            np.array(end, bool))


@functools.lru_cache(maxsize=16)
def line_decoder(constraint: Constraint, charset: tuple[str, ...], beam: int = BEAM_WIDTH,
                 boost: float = HOTWORD_BOOST) -> LineDecoder:
    """The compiled decoder of ``constraint`` for ``charset`` (cached: requests repeat them).
    16 kept: the largest allowed constraint (5,000 hot words of 64 characters) compiles in about
    a second and keeps ~7 MB (its trie), so the cache stays under ~120 MB."""
    return LineDecoder(constraint, charset, beam=beam, boost=boost)
