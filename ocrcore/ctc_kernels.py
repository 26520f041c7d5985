"""numba kernels of constrained CTC decoding, each next to the plain reference it must match.

Used only when a caller constrains what the recogniser may read (ocrcore.vocab): importing this
module imports numba (~160 MB of RSS, docs/performance.md), so the default path never does.
Inputs are one line's (T, C) float32 matrix of class probabilities (class 0 the CTC blank).

- :func:`masked_greedy`: best path among the allowed classes (allowlist / blocklist): the mask
  is applied before the argmax, so a digits-only field reads a smudged "O" as "0".
- :func:`top_candidates`: the k most probable allowed non-blank classes per time step, the
  only extensions the beam search considers (Hannun et al. 2014 prune the same way).
- :func:`prefix_beam_search`: CTC prefix beam search (Graves 2012, ch. 7; Hannun et al. 2014,
  "First-pass large vocabulary continuous speech recognition using bi-directional recurrent
  DNNs", alg. 1) in log space, constrained by a DFA over the charset (patterns) and biased by a
  trie of hot words (the context-graph scoring of icefall/k2's ``ContextGraph``: each matched
  character adds its bonus, a broken partial match gives its bonus back).
- :func:`ctc_align`: the best (Viterbi) CTC alignment of a given label sequence, giving each
  label's probability at the first time step of its run, as greedy decoding reports it.

Kernels are serial (``nogil``): the engine's workers call them concurrently (ocrcore.cores).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit

NEG_INF = -np.inf

# --------------------------------------------------------------------------- masked greedy


@njit(cache=True, nogil=True)
def masked_greedy(probs: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best path over ``allowed`` classes only (int32 (A,), blank excluded: it is always allowed).

    ``probs`` float32 (T, C). Returns ``(labels int64 (n,), probs float32 (n,))``: repeats
    collapsed, blanks dropped, each label's probability at the first time step of its run."""
    t_len = probs.shape[0]
    labels = np.empty(t_len, np.int64)
    label_probs = np.empty(t_len, np.float32)
    n = 0
    prev = -1
    for t in range(t_len):
        best = 0
        best_p = probs[t, 0]
        for i in range(allowed.shape[0]):
            c = allowed[i]
            if probs[t, c] > best_p:
                best_p = probs[t, c]
                best = c
        if best != 0 and best != prev:
            labels[n] = best
            label_probs[n] = best_p
            n += 1
        prev = best
    return labels[:n].copy(), label_probs[:n].copy()


def masked_greedy_ref(probs: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy reference of :func:`masked_greedy`."""
    keep = np.zeros(probs.shape[1], bool)
    keep[0] = True
    keep[allowed] = True
    masked = np.where(keep[None, :], probs, -1.0)
    best = masked.argmax(axis=1)
    first = (best != 0) & np.concatenate([[True], best[1:] != best[:-1]])
    return best[first].astype(np.int64), probs[np.arange(len(best)), best][first].astype(np.float32)


# --------------------------------------------------------------------------- candidates


@njit(cache=True, nogil=True)
def top_candidates(probs: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` most probable classes of ``allowed`` (int32 (A,), no blank) at each time step,
    most probable first: int32 (T, k), -1 where fewer than ``k`` are allowed."""
    t_len = probs.shape[0]
    out = np.full((t_len, k), -1, np.int32)
    vals = np.empty(k, np.float32)
    for t in range(t_len):
        m = 0
        for i in range(allowed.shape[0]):
            c = allowed[i]
            p = probs[t, c]
            if m < k:
                j = m
                m += 1
            elif p > vals[k - 1]:
                j = k - 1
            else:
                continue
            while j > 0 and vals[j - 1] < p:  # insertion into the sorted top-k
                vals[j] = vals[j - 1]
                out[t, j] = out[t, j - 1]
                j -= 1
            vals[j] = p
            out[t, j] = c
    return out


def top_candidates_ref(probs: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
    """numpy reference of :func:`top_candidates` (stable sort: ties keep the ``allowed`` order)."""
    sub = probs[:, allowed]
    order = np.argsort(-sub, axis=1, kind="stable")[:, :k]
    out = np.full((probs.shape[0], k), -1, np.int32)
    out[:, : order.shape[1]] = allowed[order]
    return out


# --------------------------------------------------------------------------- prefix beam search


@njit(cache=True, nogil=True)
def _logadd(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


@njit(cache=True, nogil=True)
def _trie_child(start: np.ndarray, labels: np.ndarray, nodes: np.ndarray, node: int, c: int) -> int:
    lo = start[node]
    hi = start[node + 1]
    while lo < hi:  # children sorted by label: binary search
        mid = (lo + hi) // 2
        if labels[mid] < c:
            lo = mid + 1
        else:
            hi = mid
    if lo < start[node + 1] and labels[lo] == c:
        return nodes[lo]
    return -1


@njit(cache=True, nogil=True)
def prefix_beam_search(probs: np.ndarray, cands: np.ndarray, beam: int,
                       dfa: np.ndarray, dfa_group: np.ndarray, dfa_accept: np.ndarray,
                       trie_start: np.ndarray, trie_label: np.ndarray, trie_node: np.ndarray,
                       trie_bonus: np.ndarray, trie_end: np.ndarray) -> tuple[np.ndarray, float, float, bool]:
    """CTC prefix beam search over ``probs`` float32 (T, C), extending prefixes only by the
    classes in ``cands`` int32 (T, K) (-1 = none).

    Pattern: ``dfa`` int32 (S, G) is the next state per (state, symbol group), -1 dead,
    ``dfa_group`` int32 (C,) each class's group, ``dfa_accept`` bool (S,); state 0 is initial;
    only prefixes whose state is not dead survive, only accepting ones may end.
    Hot words: a trie in CSR form (``trie_start`` int32 (N+1,), children ``trie_label`` /
    ``trie_node`` int32 (E,) sorted by label per node), ``trie_bonus`` float32 (N,) the log-space
    bonus for reaching a node, ``trie_end`` bool (N,) a term ends there; node 0 is the root.

    Beams are ranked by log P(prefix) + completed bonuses + the current partial match's bonus.
    Returns ``(labels int64 (n,), log P(labels), completed bonus, found)``; ``found`` is False
    when no surviving prefix ends in an accepting state (then labels are empty).
    """
    t_len = probs.shape[0]
    k = cands.shape[1]
    cap = 1 + t_len * beam * k
    parent = np.empty(cap, np.int32)
    label = np.empty(cap, np.int32)
    dstate = np.empty(cap, np.int32)
    cstate = np.empty(cap, np.int32)
    partial = np.empty(cap, np.float64)
    total = np.empty(cap, np.float64)
    first_child = np.full(cap, -1, np.int32)
    sibling = np.full(cap, -1, np.int32)
    pb = np.full(cap, NEG_INF)
    pnb = np.full(cap, NEG_INF)
    npb = np.full(cap, NEG_INF)
    npnb = np.full(cap, NEG_INF)
    parent[0] = -1
    label[0] = -1
    dstate[0] = 0
    cstate[0] = 0
    partial[0] = 0.0
    total[0] = 0.0
    n_nodes = 1
    pb[0] = 0.0
    beams = np.zeros(1, np.int32)
    touched = np.empty(beam * (k + 1), np.int32)
    for t in range(t_len):
        n_touched = 0
        lp_blank = math.log(max(probs[t, 0], 1e-30))
        for bi in range(beams.shape[0]):
            n = beams[bi]
            tot = _logadd(pb[n], pnb[n])
            if npb[n] == NEG_INF and npnb[n] == NEG_INF:
                touched[n_touched] = n
                n_touched += 1
            npb[n] = _logadd(npb[n], tot + lp_blank)
            if n != 0:
                npnb[n] = _logadd(npnb[n], pnb[n] + math.log(max(probs[t, label[n]], 1e-30)))
            for j in range(k):
                c = cands[t, j]
                if c < 0:
                    break
                s2 = dfa[dstate[n], dfa_group[c]]
                if s2 < 0:
                    continue
                child = first_child[n]
                while child >= 0 and label[child] != c:
                    child = sibling[child]
                if child < 0:
                    child = n_nodes
                    n_nodes += 1
                    parent[child] = n
                    label[child] = c
                    dstate[child] = s2
                    sibling[child] = first_child[n]
                    first_child[n] = child
                    cs = cstate[n]
                    part = partial[n]
                    tt = total[n]
                    nxt = _trie_child(trie_start, trie_label, trie_node, cs, c)
                    if nxt < 0:  # the partial match breaks: its bonus is given back
                        part = 0.0
                        nxt = _trie_child(trie_start, trie_label, trie_node, 0, c)
                    if nxt >= 0:
                        part += trie_bonus[nxt]
                        cs = nxt
                        if trie_end[cs]:
                            tt += part
                            part = 0.0
                            if trie_start[cs + 1] == trie_start[cs]:
                                cs = 0
                    else:
                        cs = 0
                    cstate[child] = cs
                    partial[child] = part
                    total[child] = tt
                lp = math.log(max(probs[t, c], 1e-30))
                if npb[child] == NEG_INF and npnb[child] == NEG_INF:
                    touched[n_touched] = child
                    n_touched += 1
                if c == label[n]:
                    npnb[child] = _logadd(npnb[child], pb[n] + lp)
                else:
                    npnb[child] = _logadd(npnb[child], tot + lp)
        for bi in range(beams.shape[0]):
            n = beams[bi]
            pb[n] = NEG_INF
            pnb[n] = NEG_INF
        scores = np.empty(n_touched, np.float64)
        for i in range(n_touched):
            n = touched[i]
            scores[i] = _logadd(npb[n], npnb[n]) + total[n] + partial[n]
        order = np.argsort(-scores, kind="mergesort")
        keep = min(beam, n_touched)
        beams = np.empty(keep, np.int32)
        for i in range(keep):
            beams[i] = touched[order[i]]
        for i in range(keep):
            n = beams[i]
            pb[n] = npb[n]
            pnb[n] = npnb[n]
        for i in range(n_touched):
            n = touched[i]
            npb[n] = NEG_INF
            npnb[n] = NEG_INF
    best = -1
    best_score = NEG_INF
    for bi in range(beams.shape[0]):
        n = beams[bi]
        if not dfa_accept[dstate[n]]:
            continue
        s = _logadd(pb[n], pnb[n]) + total[n]
        if s > best_score:
            best_score = s
            best = n
    if best < 0:
        return np.zeros(0, np.int64), NEG_INF, 0.0, False
    length = 0
    n = best
    while n > 0:
        length += 1
        n = parent[n]
    out = np.empty(length, np.int64)
    n = best
    for i in range(length - 1, -1, -1):
        out[i] = label[n]
        n = parent[n]
    return out, _logadd(pb[best], pnb[best]), total[best], True


def prefix_beam_search_ref(probs: np.ndarray, cands: np.ndarray, beam: int,
                           dfa: np.ndarray, dfa_group: np.ndarray, dfa_accept: np.ndarray,
                           trie_start: np.ndarray, trie_label: np.ndarray, trie_node: np.ndarray,
                           trie_bonus: np.ndarray, trie_end: np.ndarray) -> tuple[np.ndarray, float, float, bool]:
    """Plain-Python reference of :func:`prefix_beam_search` (prefixes as tuples in dicts)."""

    def child(node: int, c: int) -> int:
        for e in range(int(trie_start[node]), int(trie_start[node + 1])):
            if trie_label[e] == c:
                return int(trie_node[e])
        return -1

    def lse(a: float, b: float) -> float:
        return float(np.logaddexp(a, b))

    def lg(p: float) -> float:
        return math.log(max(float(p), 1e-30))

    # prefix -> (dfa state, trie state, partial bonus, completed bonus)
    ctx: dict[tuple, tuple[int, int, float, float]] = {(): (0, 0, 0.0, 0.0)}
    beams: dict[tuple, tuple[float, float]] = {(): (0.0, -math.inf)}
    for t in range(probs.shape[0]):
        nxt: dict[tuple, list[float]] = {}
        for prefix, (b, nb) in beams.items():
            tot = lse(b, nb)
            slot = nxt.setdefault(prefix, [-math.inf, -math.inf])
            slot[0] = lse(slot[0], tot + lg(probs[t, 0]))
            if prefix:
                slot[1] = lse(slot[1], nb + lg(probs[t, prefix[-1]]))
            ds, cs, part, done = ctx[prefix]
            for c in cands[t]:
                c = int(c)
                if c < 0:
                    break
                s2 = int(dfa[ds, dfa_group[c]])
                if s2 < 0:
                    continue
                ext = prefix + (c,)
                if ext not in ctx:
                    p2, d2, n2 = part, done, child(cs, c)
                    if n2 < 0:
                        p2 = 0.0
                        n2 = child(0, c)
                    if n2 >= 0:
                        p2 += float(trie_bonus[n2])
                        if trie_end[n2]:
                            d2 += p2
                            p2 = 0.0
                            if trie_start[n2 + 1] == trie_start[n2]:
                                n2 = 0
                    else:
                        n2 = 0
                    ctx[ext] = (s2, n2, p2, d2)
                slot2 = nxt.setdefault(ext, [-math.inf, -math.inf])
                src = b if prefix and c == prefix[-1] else tot
                slot2[1] = lse(slot2[1], src + lg(probs[t, c]))
        ranked = sorted(nxt.items(), key=lambda kv: -(lse(*kv[1]) + ctx[kv[0]][3] + ctx[kv[0]][2]))
        beams = {p: (v[0], v[1]) for p, v in ranked[:beam]}
    finals = [(lse(*v) + ctx[p][3], p) for p, v in beams.items() if dfa_accept[ctx[p][0]]]
    if not finals:
        return np.zeros(0, np.int64), -math.inf, 0.0, False
    _, p = max(finals, key=lambda x: x[0])
    return np.array(p, np.int64), lse(*beams[p]), ctx[p][3], True


# --------------------------------------------------------------------------- alignment


@njit(cache=True, nogil=True)
def ctc_align(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each of ``labels`` (int64 (n,)) probability at the first time step of its run in the most
    probable CTC alignment of ``labels`` to ``probs`` float32 (T, C) (Viterbi over the
    blank-interleaved sequence, Graves et al. 2006 sec. 3.1). float32 (n,); zeros if no
    alignment exists (T too short)."""
    t_len = probs.shape[0]
    n = labels.shape[0]
    s_len = 2 * n + 1
    out = np.zeros(n, np.float32)
    if n == 0 or t_len == 0:
        return out
    ext = np.zeros(s_len, np.int64)
    for i in range(n):
        ext[2 * i + 1] = labels[i]
    score = np.full((t_len, s_len), NEG_INF)
    back = np.zeros((t_len, s_len), np.int8)  # steps back in s: 0, 1 or 2
    score[0, 0] = math.log(max(probs[0, 0], 1e-30))
    score[0, 1] = math.log(max(probs[0, ext[1]], 1e-30))
    for t in range(1, t_len):
        for s in range(s_len):
            best = score[t - 1, s]
            step = 0
            if s >= 1 and score[t - 1, s - 1] > best:
                best = score[t - 1, s - 1]
                step = 1
            if s >= 2 and ext[s] != 0 and ext[s] != ext[s - 2] and score[t - 1, s - 2] > best:
                best = score[t - 1, s - 2]
                step = 2
            if best == NEG_INF:
                continue
            score[t, s] = best + math.log(max(probs[t, ext[s]], 1e-30))
            back[t, s] = step
    s = s_len - 1
    if score[t_len - 1, s_len - 2] > score[t_len - 1, s]:
        s = s_len - 2
    if score[t_len - 1, s] == NEG_INF:
        return out
    for t in range(t_len - 1, -1, -1):
        if s % 2 == 1 and (t == 0 or back[t, s] != 0):  # first step of this label's run
            out[s // 2] = probs[t, ext[s]]
        s -= back[t, s]
    return out


def ctc_align_ref(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Plain-Python reference of :func:`ctc_align`."""
    ext = [0]
    for c in labels:
        ext += [int(c), 0]
    t_len, s_len = probs.shape[0], len(ext)
    out = np.zeros(len(labels), np.float32)
    if not len(labels) or not t_len:
        return out
    lg = np.log(np.maximum(probs.astype(np.float64), 1e-30))
    score = [[-math.inf] * s_len for _ in range(t_len)]
    back = [[0] * s_len for _ in range(t_len)]
    score[0][0], score[0][1] = lg[0, 0], lg[0, ext[1]]
    for t in range(1, t_len):
        for s in range(s_len):
            opts = [(score[t - 1][s], 0)]
            if s >= 1:
                opts.append((score[t - 1][s - 1], 1))
            if s >= 2 and ext[s] != 0 and ext[s] != ext[s - 2]:
                opts.append((score[t - 1][s - 2], 2))
            best, step = opts[0]
            for v, st in opts[1:]:
                if v > best:
                    best, step = v, st
            if best != -math.inf:
                score[t][s], back[t][s] = best + lg[t, ext[s]], step
    s = s_len - 1 if score[-1][s_len - 1] >= score[-1][s_len - 2] else s_len - 2
    if score[-1][s] == -math.inf:
        return out
    for t in range(t_len - 1, -1, -1):
        if s % 2 == 1 and (t == 0 or back[t][s] != 0):
            out[s // 2] = probs[t, ext[s]]
        s -= back[t][s]
    return out


@functools.cache
def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel now, not on a request (once per process)."""
    probs = np.full((4, 3), 1 / 3, np.float32)
    allowed = np.array([1, 2], np.int32)
    masked_greedy(probs, allowed)
    cands = top_candidates(probs, allowed, 2)
    z = np.zeros(1, np.int32)
    prefix_beam_search(probs, cands, 2, np.zeros((1, 1), np.int32), np.zeros(3, np.int32), np.ones(1, np.bool_),
                       np.zeros(2, np.int32), z[:0], z[:0], np.zeros(1, np.float32), np.zeros(1, np.bool_))
    ctc_align(probs, np.array([1], np.int64))
