"""Per-host precision: which built variant (FP32 or INT8) of each model ``auto`` loads here.

Two questions decide it, answered in two places:

1. **Accuracy (at development time, on the eval sets).** A variant is *eligible* for ``auto``
   only if it passed the rule of docs/models.md: within 0.3 points of FP32 in page F1 and
   per-line accuracy on every full-page dev set (and char accuracy on the line sets).
   ``models/manifest.json`` lists the eligible precisions per model (``auto``); ``build.json``
   carries the list to the host. A full-range INT8 model (8-bit weights) is eligible only where
   its products are exact (:attr:`ocrcore.host.CPUInfo.int8_exact`): the eval sets were scored
   where they are, and AVX2 without VNNI would saturate them.
2. **Speed (on the host itself).** Among the eligible variants, the fastest on this CPU at the
   engine's thread count, timed with bare ONNX Runtime sessions on fixed inputs (interleaved
   rounds, median). FP32 is the reference: another variant must be at least ``MARGIN`` faster.
   The result is cached next to the models (``<profile>/host/<cpu key>-t<threads>.json``) and
   measured again when the CPU, the thread count, ONNX Runtime or the build changes.

:func:`choose` is pure, so the decision can be tested with injected timings on any machine.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .host import CPUInfo, cpu_info

log = logging.getLogger("ocr.precision")

MODELS = ("det", "rec", "cls")
# A non-reference variant must beat FP32 by this fraction; below it the two are a tie and the
# reference (FP32, the precision the accuracy rule is measured against) is kept.
MARGIN = 0.05
# Inputs timed per model: a 480x640 page for the detector (cost is linear in pixels, and this
# keeps the first start short), a batch of four 320-pixel lines for the recogniser (the engine's
# batch), sixteen 192-pixel lines for the 0/180 classifier.
MEASURE_SHAPES: dict[str, tuple[int, int, int, int]] = {
    "det": (1, 3, 480, 640),
    "rec": (4, 3, 48, 320),
    "cls": (16, 3, 48, 192),
}
ROUNDS = 7
# Bumped when the way of measuring changes, so choices cached by the old way are measured again
# (2: only the outputs the engine fetches, 7 rounds).
METHOD = 2

Timer = Callable[[Mapping[str, Path], tuple[int, ...], int], dict[str, float]]


@dataclass(frozen=True)
class Choice:
    """The precision of each model and why. ``timings_ms``: model -> precision -> median ms."""

    precisions: dict[str, str]
    eligible: dict[str, list[str]]
    timings_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    source: str = "measured"  # "measured" | "cache" | "requested"
    threads: int = 1
    cpu: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"precisions": self.precisions, "eligible": self.eligible, "timings_ms": self.timings_ms,
                "reasons": self.reasons, "source": self.source, "threads": self.threads, "cpu": self.cpu}


def eligible(auto: list[str], full_range: bool, cpu: CPUInfo, available: set[str]) -> list[str]:
    """The precisions ``auto`` may load for one model on this CPU: those that passed the accuracy
    rule (``auto``), are built (``available``), and, for full-range INT8, compute exactly here."""
    out = []
    for p in auto:
        if p not in available:
            continue
        if p == "int8" and full_range and not cpu.int8_exact:
            continue
        out.append(p)
    return out or ["fp32"]


def choose(timings_ms: Mapping[str, float], margin: float = MARGIN) -> str:
    """The fastest precision; FP32 unless another is at least ``margin`` faster than it."""
    if not timings_ms:
        raise ValueError("no timings to choose from")
    best = min(timings_ms, key=lambda p: timings_ms[p])
    if "fp32" in timings_ms and best != "fp32" and timings_ms[best] > (1.0 - margin) * timings_ms["fp32"]:
        return "fp32"
    return best


def time_sessions(paths: Mapping[str, Path], shape: tuple[int, ...], threads: int, rounds: int = ROUNDS) -> dict[str, float]:
    """Median milliseconds per run of each model file on a fixed random input, interleaved rounds
    (machine noise lands on every variant alike) after one warm-up run each."""
    from .recognize import GREEDY_OUTPUTS
    from .runtime import make_session

    x = np.random.default_rng(0).uniform(-1.0, 1.0, shape).astype(np.float32)
    sessions = {p: make_session(path, threads) for p, path in paths.items()}
    feeds = {p: {s.get_inputs()[0].name: x} for p, s in sessions.items()}
    # The outputs the engine asks for: a recogniser's greedy pair, not its (B, T, 18,710)
    # probabilities, whose copy out of ONNX Runtime costs both variants alike and so hid half
    # of INT8's lead (4.9 % measured with it, 8-12 % without, on the same CPU).
    fetch = {p: (GREEDY_OUTPUTS if set(GREEDY_OUTPUTS) <= {o.name for o in s.get_outputs()} else None)
             for p, s in sessions.items()}
    for p, s in sessions.items():
        s.run(fetch[p], feeds[p])
    samples: dict[str, list[float]] = {p: [] for p in sessions}
    order = list(sessions)
    for r in range(rounds):
        for p in order[r % len(order):] + order[: r % len(order)]:
            t0 = time.perf_counter()
            sessions[p].run(fetch[p], feeds[p])
            samples[p].append((time.perf_counter() - t0) * 1000.0)
    return {p: round(statistics.median(v), 2) for p, v in samples.items()}


def cache_path(profile_dir: Path, cpu: CPUInfo, threads: int) -> Path:
    """Where this host's choice is kept: next to the models when writable, else in a cache dir."""
    name = f"{cpu.key}-t{threads}.json"
    beside = profile_dir / "host"
    try:
        beside.mkdir(exist_ok=True)
        if os.access(beside, os.W_OK):
            return beside / name
    except OSError:
        pass
    base = Path(os.environ.get("XDG_CACHE_HOME") or tempfile.gettempdir()) / "ocr-host" / profile_dir.name
    return base / name


def _fingerprint(profile_dir: Path, build: dict) -> dict:
    """What invalidates a cached choice besides the CPU: the build (its stamp), ONNX Runtime and
    the way of measuring (``METHOD``)."""
    stamp = profile_dir.parent / "stamp"
    return {"build": stamp.read_text().strip() if stamp.exists() else json.dumps(build.get("sizes", {}), sort_keys=True),
            "onnxruntime": ort.__version__, "method": METHOD}


def select(profile_dir: Path, build: dict, requested: Mapping[str, str], threads: int, *,
           cpu: CPUInfo | None = None, timer: Timer = time_sessions, use_cache: bool = True) -> Choice:
    """Resolve each model's precision. ``requested`` maps model -> ``auto`` | ``int8`` | ``fp32``;
    an explicit precision is honoured when built (else FP32); ``auto`` follows the module rule.

    ``build`` is the profile's build.json (``auto``: eligible precisions per model,
    ``int8_full_range``: models with 8-bit weights). ``timer`` is injectable for tests."""
    cpu = cpu or cpu_info()
    full_range = set(build.get("int8_full_range", ()))
    auto_lists: dict[str, list[str]] = build.get("auto") or {m: ["fp32"] for m in MODELS}
    available = {m: {p for p in ("fp32", "int8") if (profile_dir / f"{m}.{p}.onnx").exists()} for m in MODELS}
    elig = {m: eligible(auto_lists.get(m, ["fp32"]), m in full_range, cpu, available[m]) for m in MODELS}
    chosen: dict[str, str] = {}
    reasons: dict[str, str] = {}
    to_measure: list[str] = []
    for m in MODELS:
        want = requested.get(m, "auto")
        if want != "auto":
            chosen[m] = want if want in available[m] else "fp32"
            reasons[m] = "requested" if chosen[m] == want else f"{want} not built: fp32"
        elif len(elig[m]) == 1:
            chosen[m] = elig[m][0]
            reasons[m] = _single_reason(m, auto_lists.get(m, ["fp32"]), m in full_range, cpu, available[m])
        else:
            to_measure.append(m)
    timings: dict[str, dict[str, float]] = {}
    source = "requested" if not to_measure and all(requested.get(m, "auto") != "auto" for m in MODELS) else "measured"
    if to_measure:
        path = cache_path(profile_dir, cpu, threads)
        fingerprint = _fingerprint(profile_dir, build)
        cached = _read_cache(path, fingerprint) if use_cache else None
        for m in to_measure:
            if cached and set(cached.get(m, {})) == set(elig[m]):
                timings[m] = cached[m]
                source = "cache"
            else:
                paths = {p: profile_dir / f"{m}.{p}.onnx" for p in elig[m]}
                timings[m] = timer(paths, MEASURE_SHAPES[m], threads)
                source = "measured"
            chosen[m] = choose(timings[m])
            shown = ", ".join(f"{p} {t:.0f} ms" for p, t in sorted(timings[m].items(), key=lambda kv: kv[1]))
            reasons[m] = f"fastest here ({shown} per {'x'.join(map(str, MEASURE_SHAPES[m]))} input)"
        if use_cache and source == "measured":
            _write_cache(path, fingerprint, timings, cpu, threads)
    return Choice(chosen, elig, timings, reasons, source, threads, cpu.to_dict())


def _single_reason(model: str, auto: list[str], full_range: bool, cpu: CPUInfo, available: set[str]) -> str:
    if "int8" in auto and "int8" in available and full_range and not cpu.int8_exact:
        return "int8 has 8-bit weights, which this CPU (no VNNI) would saturate: fp32"
    if "int8" not in auto:
        return "only fp32 passes the accuracy rule (docs/models.md)"
    return "int8 is not built: fp32"


def _read_cache(path: Path, fingerprint: dict) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if data.get("fingerprint") != fingerprint:
        return None
    return data.get("timings_ms")


def _write_cache(path: Path, fingerprint: dict, timings: dict, cpu: CPUInfo, threads: int) -> None:
    body = {"fingerprint": fingerprint, "timings_ms": timings, "cpu": cpu.to_dict(), "threads": threads,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(body, indent=1) + "\n")
        tmp.replace(path)  # atomic: concurrent starts never read half a file
    except OSError as exc:  # read-only everywhere: measure again next start
        log.warning("could not cache the precision choice in %s: %s", path, exc)
