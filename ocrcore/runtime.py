"""Runtime settings of the libraries the engine computes with, in one place: ONNX Runtime
sessions (threads, spinning, memory arena), OpenCV's thread pool, numba's cache directory,
Pillow's decompression-bomb check, and the process's malloc.

Every engine applies :func:`configure_process` when it loads (the service, the CLI, Lambda,
bulk and the benchmarks all build engines), and gets its sessions from :func:`make_session`, so
a measured default changes everywhere at once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnxruntime as ort


_CONFIGURED = False


def default_numba_cache_dir() -> str:
    """``$XDG_CACHE_HOME/ocr/numba`` (or ``~/.cache/ocr/numba``): numba's ``cache=True`` would
    otherwise write next to the package, which fails on read-only installs (Lambda, system dirs)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ocr", "numba")


def configure_process() -> None:
    """Process-wide library settings, applied once (idempotent), before any kernel runs:

    - OpenCV's own thread pool off (``cv2.setNumThreads(1)``): the engine parallelises across
      images, recognition batches and tiles itself (ocrcore.cores); OpenCV fanning out inside a
      resize or warp would run more threads than cores under load.
    - ``NUMBA_CACHE_DIR`` defaulted (:func:`default_numba_cache_dir`) while numba is not yet
      imported: numba reads it once, at import (only ``OCR_ENHANCE=binarize`` imports numba).
    - Pillow's decompression-bomb check off (``Image.MAX_IMAGE_PIXELS = None``): the engine's own
      pixel cap (``OCR_MAX_PIXELS``) is checked from the header before any pixel is decoded
      (ocrcore.decode), and Pillow's check warns through the process-global ``warnings`` module,
      which is not thread-safe to filter per call.
    """
    global _CONFIGURED
    if _CONFIGURED:
        return
    import sys

    import cv2
    from PIL import Image

    cv2.setNumThreads(1)
    if "numba" not in sys.modules:
        os.environ.setdefault("NUMBA_CACHE_DIR", default_numba_cache_dir())
    Image.MAX_IMAGE_PIXELS = None
    _CONFIGURED = True


def make_session(path: Path, threads: int, spin: bool = False) -> ort.InferenceSession:
    """A CPU session with a fixed intra-op pool; ``threads`` <= 0 lets ORT pick (all cores).

    ``spin=False`` stops idle pool threads from busy-waiting after each run: the engine has
    several sessions (and the service several workers) whose pools would otherwise spin against
    each other; measured 561 -> 492 ms per page at 2 threads (docs/performance.md)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.inter_op_num_threads = 1
    if threads > 0:
        so.intra_op_num_threads = threads
    so.log_severity_level = 3
    # Every image and line batch has a new shape; the arena keeps each high-water mark for the
    # life of the process (RSS rose in steps under the soak test). Off, as RapidOCR does too.
    so.enable_cpu_mem_arena = False
    if not spin:
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


# ----------------------------------------------------------------------------- process memory

# glibc malloc tunables for long-running processes (the service). glibc reads them only at process
# start, so the service re-executes itself once with them (:func:`reexec_with_malloc_tunables`);
# the Lambda image, the edge unit and the container set them in their environment.
# - mmap_threshold: blocks of 1 MiB and more (every tensor of an inference: the detector's
#   activations are ~190 MB at 1280x960) are mmap'ed and returned to the system when freed. By
#   default glibc raises the threshold after the first such free, so later activations come from
#   per-thread heaps that never shrink: peak RSS under the 2-user load test 1016 MB, 487 MB with
#   this (docs/performance.md).
# - hugetlb=1: those mappings are madvise'd for transparent huge pages, so re-mapping them costs a
#   page fault per 2 MiB instead of per 4 KiB: without it the same setting made the load 50%
#   slower, with it the speed is unchanged (where THP is disabled, only the memory gain remains).
MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=1048576:glibc.malloc.hugetlb=1"


def _is_glibc() -> bool:
    import platform

    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def with_malloc_tunables(env: dict[str, str]) -> dict[str, str] | None:
    """``env`` plus :data:`MALLOC_TUNABLES`, or None when nothing is to change (not glibc, the
    caller already set ``GLIBC_TUNABLES``, or ``OCR_MALLOC_TUNE`` is false or malformed).

    ``OCR_MALLOC_TUNE`` is read with the settings' own boolean parser (pydantic's: ``n`` and ``f``
    are false too), so the re-exec agrees with ``Settings.malloc_tune``; a malformed value is
    left for the settings to refuse with their message."""
    from pydantic import TypeAdapter, ValidationError

    if not _is_glibc() or "GLIBC_TUNABLES" in env:
        return None
    try:
        tune = TypeAdapter(bool).validate_python(env.get("OCR_MALLOC_TUNE", "1"))
    except ValidationError:
        return None
    return {**env, "GLIBC_TUNABLES": MALLOC_TUNABLES} if tune else None


_LIBC: object = None  # ctypes handle of glibc, loaded on first use (False: not glibc)


def release_free_heap() -> bool:
    """Give the free memory inside glibc's malloc heaps back to the system (``malloc_trim(0)``:
    every arena, not only the top of the main heap); True when it ran, False where the C
    library is not glibc. Raises nothing.

    Blocks under the 1 MiB ``mmap_threshold`` (crops, line batches, Python objects, ONNX
    Runtime's small tensors) come from per-thread arenas that keep their free pages resident:
    after the 2-user load test the service held 45 MB of them (RSS 230 -> 185 MB once trimmed,
    docs/performance.md), and that memory sat under every later detection's peak."""
    global _LIBC
    if _LIBC is None:
        _LIBC = False
        if _is_glibc():
            import ctypes

            try:
                _LIBC = ctypes.CDLL("libc.so.6")
            except OSError:
                pass
    if not _LIBC:
        return False
    _LIBC.malloc_trim(0)  # type: ignore[attr-defined]
    return True


def reexec_with_malloc_tunables(module: str, argv: list[str]) -> None:
    """Replace this process by ``python -m module *argv`` with the malloc tunables set, once
    (same pid; a no-op when they are already in the environment or cannot apply)."""
    import sys

    env = with_malloc_tunables(dict(os.environ))
    if env is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", module, *argv], env)
