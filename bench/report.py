"""What every benchmark report carries: the machine (CPU model and ISA), versions, git state, the
model files at start and end, a Markdown table helper, and writing the JSON."""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from .engines import MODEL_DIR, REPO


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def table(head: Sequence[object], rows: Iterable[Sequence[object]]) -> list[str]:
    """A Markdown table as lines: header, separator, one line per row (cells through ``str``)."""
    out = ["| " + " | ".join(map(str, head)) + " |", "|" + "---|" * len(head)]
    return out + ["| " + " | ".join(map(str, row)) + " |" for row in rows]


def ms(seconds: float | None) -> str:
    """Seconds as whole milliseconds, "—" when unknown."""
    return "—" if seconds is None or math.isnan(seconds) else f"{seconds * 1000:.0f}"


def num(x: float | None, fmt: str = ".3f") -> str:
    return "—" if x is None or math.isnan(x) else format(x, fmt)


def dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def environment() -> dict:
    """Python, platform, CPU model and ISA (``ocrcore.host``), usable cores, library versions."""
    import cv2
    import numpy
    import onnxruntime

    from ocrcore.host import cpu_info

    cpu = cpu_info()
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu": cpu.model,
            "isa": cpu.isa_label, "int8_exact": cpu.int8_exact, "cpus": cpu.cores,
            "onnxruntime": onnxruntime.__version__, "numpy": numpy.__version__, "opencv": cv2.__version__,
            "numba": dist_version("numba"), "rapidocr": dist_version("rapidocr")}


def git_state() -> dict:
    """Short HEAD and the uncommitted changes under ocrcore/ and the model build inputs."""
    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, timeout=10, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"head": git("rev-parse", "--short", "HEAD"),
            "dirty": git("status", "--porcelain", "--", "ocrcore", "models/build.py", "models/manifest.json")}


def model_fingerprint() -> dict:
    """Per profile: the ``auto`` map of build.json and each model file's bytes, mtime and sha256
    prefix (the tree can be rebuilt under a long run: compare start and end)."""
    out: dict = {}
    for profile in ("small", "tiny"):
        info = MODEL_DIR / profile / "build.json"
        if not info.exists():
            continue
        files = {f.name: {"bytes": f.stat().st_size, "mtime": f.stat().st_mtime,
                          "sha256": hashlib.sha256(f.read_bytes()).hexdigest()[:16]}
                 for f in sorted((MODEL_DIR / profile).glob("*.onnx"))}
        out[profile] = {"auto": json.loads(info.read_text()).get("auto"), "files": files}
    return out


def open_report(command: str, config: dict) -> dict:
    """The facts taken at the start of a run."""
    from datetime import UTC, datetime

    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "command": command,
            "environment": environment(), "git": git_state(), "models_start": model_fingerprint(),
            "load_average_start": os.getloadavg(), "config": config}


def close_report(report: dict, t_begin: float) -> None:
    """End-of-run facts: load average, the model files again (a rebuild mid-run would mix two
    builds in one table), elapsed seconds."""
    report["load_average_end"] = os.getloadavg()
    report["models_end"] = model_fingerprint()
    report["models_changed_during_run"] = report["models_end"] != report["models_start"]
    if report["models_changed_during_run"]:
        log("WARNING: model files changed during the run; the figures mix two builds")
    report["elapsed_seconds"] = time.time() - t_begin


def header(report: dict) -> list[str]:
    """The lines every printed report starts its notes with: CPU model and ISA, load, commit."""
    env, la0, la1 = report["environment"], report.get("load_average_start"), report.get("load_average_end")
    out = [(f"CPU: {env['cpu']} ({env.get('isa', '?')}), {env['cpus']} cores; onnxruntime {env['onnxruntime']}, "
            f"commit {report.get('git', {}).get('head') or '?'}.")]
    if la0 and la1:
        out.append(f"Load average (1/5/15 min) at start {la0[0]:.1f}/{la0[1]:.1f}/{la0[2]:.1f}, "
                   f"at end {la1[0]:.1f}/{la1[1]:.1f}/{la1[2]:.1f}.")
    if report.get("models_changed_during_run"):
        out.append("**WARNING: the model files changed during this run; figures mix two builds. Re-run.**")
    return out


def write_report(report: dict, md: str, out: Path, md_path: Path | None) -> None:
    """The JSON report, and the Markdown tables where asked for."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=float, ensure_ascii=False), encoding="utf-8")
    if md_path:
        md_path.write_text(md + "\n", encoding="utf-8")
    log(f"wrote {out} ({report['elapsed_seconds']:.0f} s)")
