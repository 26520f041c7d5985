"""One validated configuration: environment -> Settings -> engine; bad values refused at start."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ocrcore.config import ConfigError, EngineConfig, EngineSettings, load
from ocrcore.runtime import _is_glibc, with_malloc_tunables
from ocrservice.config import Settings, load_settings, markdown_table

from .helpers import ROOT


def test_readme_table_is_the_settings_model() -> None:
    """The README's variable table is generated from Settings: a new or changed setting without
    the README regenerated (python -m ocrservice.config --markdown) fails here."""
    assert markdown_table() in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("env", "needle"), [
    ({"OCR_ENHANCE": "atuo"}, "OCR_ENHANCE='atuo'"),
    ({"OCR_THREADS": "two"}, "OCR_THREADS='two'"),
    ({"OCR_THREADS": "-1"}, "OCR_THREADS='-1'"),
    ({"OCR_PROFILE": "huge"}, "OCR_PROFILE='huge'"),
    ({"OCR_PRECISION": "det=int4"}, "OCR_PRECISION"),
    ({"OCR_WORKERS": "0"}, "OCR_WORKERS='0'"),
    ({"PORT": "70000"}, "PORT='70000'"),
    ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud'"),
    ({"OCR_CACHE": "maybe"}, "OCR_CACHE='maybe'"),
    ({"OCR_PROFLE": "tiny"}, "did you mean OCR_PROFILE"),
    ({"OCR_MAX_PIXLES": "10"}, "did you mean OCR_MAX_PIXELS"),
])
def test_malformed_or_misspelt_settings_are_refused(env: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace("?", r"\?")):
        load_settings(env)


def test_booleans_parse_alike_everywhere() -> None:
    for word, value in [("y", True), ("yes", True), ("on", True), ("1", True), ("true", True),
                        ("n", False), ("no", False), ("off", False), ("0", False), ("False", False)]:
        s = load_settings({"OCR_SPIN": word, "OCR_CLS": word, "OCR_CACHE": word, "OCR_MALLOC_TUNE": word})
        assert (s.spin, s.use_cls, s.cache, s.malloc_tune) == (value,) * 4, word
        if _is_glibc():  # the service's re-exec with malloc tunables reads OCR_MALLOC_TUNE alike
            assert (with_malloc_tunables({"OCR_MALLOC_TUNE": word}) is not None) == value, word


def test_derived_defaults_and_lists() -> None:
    s = load_settings({"OCR_WORKERS": "3", "CORS_ORIGINS": "https://a.example, https://b.example",
                       "AWS_DEFAULT_REGION": "eu-west-1", "OCR_UPLOAD_PREFIX": "/in", "OCR_CACHE": "0"})
    assert s.workers == 3 and s.max_queue == 32 and s.cache_entries == 0
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert s.aws_region == "eu-west-1" and s.upload_prefix == "in/"
    assert load_settings({"AWS_REGION": "ap-east-1", "AWS_DEFAULT_REGION": "eu-west-1"}).aws_region == "ap-east-1"
    assert load_settings({"OCR_WORKERS": "6"}).max_queue == 48


def test_settings_reach_the_engine_config() -> None:
    """Settings(profile="tiny") builds a tiny engine config whatever OCR_PROFILE says."""
    s = Settings(profile="tiny", threads=1, use_cls=True, enhance="off")
    cfg = s.engine_config()
    assert (cfg.profile, cfg.threads, cfg.use_cls, cfg.enhance) == ("tiny", 1, True, "off")
    assert load(EngineSettings, {"OCR_PROFILE": "tiny"}).engine_config(threads=2).threads == 2


def test_engine_config_validates_python_callers_too() -> None:
    for bad in ({"profile": "huge"}, {"enhance": "sharpen"}, {"precision": "int4"}, {"threads": -2}):
        with pytest.raises(ConfigError):
            EngineConfig(**bad)


def _run(module_args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("OCR_")}
    full.update(env)
    return subprocess.run([sys.executable, *module_args], capture_output=True, text=True, env=full, cwd=ROOT, timeout=60)


def test_service_refuses_to_start_on_a_bad_value() -> None:
    proc = _run(["-m", "ocrservice.serve"], {"OCR_ENHANCE": "atuo", "PORT": "0"})
    assert proc.returncode == 2
    assert "configuration error" in proc.stderr and "OCR_ENHANCE='atuo'" in proc.stderr


def test_cli_refuses_a_bad_value() -> None:
    proc = _run(["-m", "ocrcore.cli", "whatever.png"], {"OCR_THREADS": "many"})
    assert proc.returncode == 2 and "OCR_THREADS='many'" in proc.stderr


def test_service_says_so_when_the_port_is_busy() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = _run(["-m", "ocrservice.serve"], {"PORT": str(port), "HOST": "127.0.0.1"})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and "Aborted" not in proc.stderr


def test_every_engine_applies_the_runtime_settings(tmp_path) -> None:
    """ocrcore.runtime.configure_process, run by every OCREngine (service, CLI, Lambda, bench):
    OpenCV's pool off whatever the caller set before, Pillow's warning-based bomb check off (the
    engine's pixel cap replaces it), and numba's cache directory set before numba is imported, so
    the kernels compiled on first use are cached there (not next to the package, not recompiled)."""
    code = (
        "import os, sys, cv2; cv2.setNumThreads(4)\n"
        "from PIL import Image\n"
        "from ocrcore import OCREngine\n"
        "OCREngine(profile='tiny', enhance='binarize')\n"
        "import numba\n"
        "print(cv2.getNumThreads(), Image.MAX_IMAGE_PIXELS, os.environ['NUMBA_CACHE_DIR'], numba.config.CACHE_DIR)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCR_", "NUMBA_"))}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    threads, max_pixels, env_dir, numba_dir = out.stdout.split()
    want = str(tmp_path / "ocr" / "numba")
    assert (threads, max_pixels, env_dir, numba_dir) == ("1", "None", want, want)
    assert any(p.suffix == ".nbi" for p in (tmp_path / "ocr" / "numba").rglob("*")), "the Sauvola kernel was cached there"


@pytest.mark.skipif(not _is_glibc(), reason="malloc_trim is glibc's")
def test_free_heap_memory_goes_back_to_the_system() -> None:
    """ocrcore.runtime.release_free_heap (the engine's, after each image): blocks under the
    service's 1 MiB mmap threshold, freed in a worker thread (its own arena) between blocks still
    in use, stay resident until it runs; then the RSS falls by most of them."""
    from ocrcore.runtime import MALLOC_TUNABLES

    code = (
        "import threading\n"
        "from ocrcore.runtime import release_free_heap\n"
        "def rss():\n"
        "    return next(int(l.split()[1]) // 1024 for l in open('/proc/self/status') if l.startswith('VmRSS'))\n"
        "kept = []\n"
        "def work():\n"
        "    blocks = [b'x' * 500_000 for _ in range(400)]\n"
        "    kept.extend(blocks[1::2])\n"
        "t = threading.Thread(target=work); t.start(); t.join()\n"
        "before = rss()\n"
        "print(release_free_heap(), before, rss())\n"
    )
    env = {**os.environ, "GLIBC_TUNABLES": MALLOC_TUNABLES}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    ran, before, after = out.stdout.split()
    assert ran == "True"
    assert int(before) - int(after) > 60, out.stdout  # 200 freed blocks of 0.5 MB = 100 MB
