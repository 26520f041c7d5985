"""Model profiles and where their built files live.

``make setup`` (models/build.py) writes, per profile, ``det``/``rec``/``cls`` in two precisions
(``*.fp32.onnx`` and, where quantised, ``*.int8.onnx``) plus ``dict.txt`` and ``build.json``
whose ``ship`` map says which precision each model uses by default. Nothing is fetched here.
"""

from __future__ import annotations

import functools
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import onnxruntime as ort

Profile = Literal["small", "tiny"]
Precision = Literal["auto", "int8", "fp32"]
PROFILES: tuple[str, ...] = ("small", "tiny")
PRECISIONS: tuple[str, ...] = ("auto", "int8", "fp32")

REPO_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "build"


def model_dir() -> Path:
    """``OCR_MODEL_DIR`` if set (container images, edge installs), else the repo's build dir."""
    return Path(os.environ.get("OCR_MODEL_DIR") or REPO_MODEL_DIR)


class ModelsMissingError(RuntimeError):
    """The models were not built: run ``make setup`` (or ``python models/build.py``)."""


@dataclass(frozen=True)
class ProfileFiles:
    det: Path
    rec: Path
    cls: Path
    charset: Path
    precisions: dict[str, str]


def parse_precision(precision: str) -> dict[str, str]:
    """``auto`` | ``int8`` | ``fp32`` for all models, or per model: ``det=int8,rec=fp32``."""
    if precision in PRECISIONS:
        return {name: precision for name in ("det", "rec", "cls")}
    chosen = {name: "auto" for name in ("det", "rec", "cls")}
    for part in precision.split(","):
        name, _, value = part.partition("=")
        if name.strip() not in chosen or value.strip() not in PRECISIONS:
            raise ValueError(f"bad precision {precision!r}: use auto, int8, fp32 or e.g. det=int8,rec=fp32")
        chosen[name.strip()] = value.strip()
    return chosen


@functools.cache
def int8_is_exact() -> bool:
    """Whether ONNX Runtime's int8 kernels compute 8-bit weights exactly on this CPU.

    ARM (dot-product or widening multiplies) and x86 with VNNI do. x86 without VNNI uses AVX2's
    ``vpmaddubsw``, which saturates sums of two u8*s8 products: there only models built with
    7-bit weights (``reduce_range``) are exact, so ``auto`` loads the others in FP32."""
    machine = platform.machine().lower()
    if machine in ("aarch64", "arm64"):
        return True
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & set(flags))


def profile_files(profile: str, precision: str = "auto", root: Path | None = None) -> ProfileFiles:
    """Resolve the files of a profile; ``auto`` takes each model's shipped precision, except a
    full-range INT8 model on a CPU where its products would saturate (:func:`int8_is_exact`)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    wanted = parse_precision(precision)
    base = (root or model_dir()) / profile
    info_path = base / "build.json"
    if not info_path.exists():
        raise ModelsMissingError(f"no built models in {base}: run `make setup` (python models/build.py)")
    info = json.loads(info_path.read_text())
    ship: dict[str, str] = info["ship"]
    full_range = set(info.get("int8_full_range", ()))
    chosen: dict[str, str] = {}
    paths: dict[str, Path] = {}
    for name in ("det", "rec", "cls"):
        want = ship[name] if wanted[name] == "auto" else wanted[name]
        if wanted[name] == "auto" and want == "int8" and name in full_range and not int8_is_exact():
            want = "fp32"
        path = base / f"{name}.{want}.onnx"
        if not path.exists():  # e.g. int8 asked for a model that is only built in fp32
            want, path = "fp32", base / f"{name}.fp32.onnx"
        chosen[name], paths[name] = want, path
    return ProfileFiles(paths["det"], paths["rec"], paths["cls"], base / "dict.txt", chosen)


def make_session(path: Path, threads: int, spin: bool = False) -> ort.InferenceSession:
    """A CPU session with a fixed intra-op pool; ``threads`` <= 0 lets ORT pick (all cores).

    ``spin=False`` stops idle pool threads from busy-waiting after each run: the engine has
    several sessions (and the service several workers) whose pools would otherwise spin against
    each other; measured 561 -> 492 ms per page at 2 threads (docs/performance.md)."""
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
