"""Per-host precision: CPU facts, eligibility, the choice from (injected) timings, the cache.

Nothing here depends on the CPU the suite runs on: CPUs are described by /proc/cpuinfo texts and
timings are injected, so the AVX2-only and VNNI cases are both exercised on any machine.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ocrcore.host import cpu_info, parse_cpuinfo
from ocrcore.precision import MEASURE_SHAPES, choose, eligible, select

from .helpers import ROOT

EPYC_AVX2 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7R13 Processor
flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni
"""
XEON_VNNI = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8488C
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx_vnni amx_tile amx_int8
"""
GRAVITON2 = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs
CPU implementer\t: 0x41
CPU part\t: 0xd0c
"""


def test_cpuinfo_of_an_avx2_only_x86() -> None:
    cpu = parse_cpuinfo(EPYC_AVX2, "x86_64", 2)
    assert cpu.model == "AMD EPYC 7R13 Processor"
    assert cpu.isa == ("avx2", "fma")
    assert not cpu.int8_exact
    assert "AVX2" in cpu.label and "2 cores" in cpu.label


def test_cpuinfo_of_a_vnni_x86_and_of_arm() -> None:
    xeon = parse_cpuinfo(XEON_VNNI, "x86_64")
    assert xeon.int8_exact and {"avx512_vnni", "amx_int8"} <= set(xeon.isa)
    assert "AVX-512 VNNI" in xeon.isa_label and "AMX-INT8" in xeon.isa_label
    arm = parse_cpuinfo(GRAVITON2, "aarch64")
    assert arm.int8_exact and arm.isa == ("asimd", "asimddp")
    assert arm.isa_label == "NEON dotprod" and "0xd0c" in arm.model
    assert len({xeon.key, arm.key, parse_cpuinfo(EPYC_AVX2, "x86_64").key}) == 3


def test_this_machine_is_described() -> None:
    cpu = cpu_info()
    assert cpu.model and cpu.arch and cpu.cores >= 1
    assert cpu.to_dict()["key"] == cpu.key


def test_full_range_int8_is_eligible_only_where_exact() -> None:
    avx2, vnni = parse_cpuinfo(EPYC_AVX2, "x86_64"), parse_cpuinfo(XEON_VNNI, "x86_64")
    built = {"fp32", "int8"}
    assert eligible(["fp32", "int8"], True, avx2, built) == ["fp32"]
    assert eligible(["fp32", "int8"], True, vnni, built) == ["fp32", "int8"]
    assert eligible(["fp32", "int8"], False, avx2, built) == ["fp32", "int8"]  # 7-bit: exact everywhere
    assert eligible(["fp32", "int8"], False, avx2, {"fp32"}) == ["fp32"]  # not built
    assert eligible(["fp32"], False, vnni, built) == ["fp32"]  # failed the accuracy rule


@pytest.mark.parametrize(("timings", "expected"), [
    ({"fp32": 276.0, "int8": 405.0}, "fp32"),  # small det on a 2-core EPYC (issue #9)
    ({"fp32": 133.0, "int8": 102.0}, "int8"),  # small rec on the same CPU
    ({"fp32": 100.0, "int8": 97.0}, "fp32"),   # within the margin: the accuracy reference wins
    ({"fp32": 100.0, "int8": 90.0}, "int8"),
    ({"int8": 50.0}, "int8"),
])
def test_choose_the_fastest_with_fp32_as_reference(timings: dict, expected: str) -> None:
    assert choose(timings) == expected


def _profile(tmp_path: Path, auto: dict, full_range: list[str] = ()) -> Path:
    """A profile dir with build.json and empty model files (timings are injected, no session)."""
    base = tmp_path / "models" / "small"
    base.mkdir(parents=True)
    for name, precisions in auto.items():
        for p in precisions:
            (base / f"{name}.{p}.onnx").write_bytes(b"")
    (base / "build.json").write_text(json.dumps({"auto": auto, "int8_full_range": list(full_range), "sizes": {}}))
    (base.parent / "stamp").write_text("build-1\n")
    return base


class FakeTimer:
    def __init__(self, table: dict[str, dict[str, float]]) -> None:
        self.table, self.calls = table, []

    def __call__(self, paths, shape, threads):
        model = next(iter(paths.values())).name.split(".")[0]
        self.calls.append((model, tuple(sorted(paths)), shape, threads))
        return {p: self.table[model][p] for p in paths}


AUTO = {"det": ["fp32", "int8"], "rec": ["fp32", "int8"], "cls": ["fp32"]}
AVX2_TIMES = {"det": {"fp32": 276.0, "int8": 405.0}, "rec": {"fp32": 133.0, "int8": 102.0}}


def test_select_measures_on_the_host_and_explains(tmp_path: Path) -> None:
    base = _profile(tmp_path, AUTO)
    timer = FakeTimer(AVX2_TIMES)
    avx2 = parse_cpuinfo(EPYC_AVX2, "x86_64", 2)
    choice = select(base, json.loads((base / "build.json").read_text()), {}, 1, cpu=avx2, timer=timer)
    assert choice.precisions == {"det": "fp32", "rec": "int8", "cls": "fp32"}
    assert choice.source == "measured"
    assert [c[0] for c in timer.calls] == ["det", "rec"]  # cls has one candidate: not timed
    assert timer.calls[0][2] == MEASURE_SHAPES["det"] and timer.calls[0][3] == 1
    assert "int8 102 ms" in choice.reasons["rec"] and "only fp32" in choice.reasons["cls"]


def test_select_uses_the_cache_until_cpu_build_or_threads_change(tmp_path: Path) -> None:
    base = _profile(tmp_path, AUTO)
    build = json.loads((base / "build.json").read_text())
    avx2, vnni = parse_cpuinfo(EPYC_AVX2, "x86_64"), parse_cpuinfo(XEON_VNNI, "x86_64")
    select(base, build, {}, 1, cpu=avx2, timer=FakeTimer(AVX2_TIMES))
    again = FakeTimer(AVX2_TIMES)
    cached = select(base, build, {}, 1, cpu=avx2, timer=again)
    assert again.calls == [] and cached.source == "cache"
    assert cached.precisions == {"det": "fp32", "rec": "int8", "cls": "fp32"}
    other = FakeTimer({"det": {"fp32": 280.0, "int8": 150.0}, "rec": {"fp32": 90.0, "int8": 60.0}})
    assert select(base, build, {}, 1, cpu=vnni, timer=other).precisions["det"] == "int8"  # new CPU: measured
    assert other.calls
    more_threads = FakeTimer(AVX2_TIMES)
    select(base, build, {}, 2, cpu=avx2, timer=more_threads)
    assert more_threads.calls
    (base.parent / "stamp").write_text("build-2\n")  # rebuilt models: measured again
    rebuilt = FakeTimer(AVX2_TIMES)
    select(base, build, {}, 1, cpu=avx2, timer=rebuilt)
    assert rebuilt.calls


def test_full_range_int8_is_never_timed_on_avx2(tmp_path: Path) -> None:
    base = _profile(tmp_path, AUTO, full_range=["rec"])
    build = json.loads((base / "build.json").read_text())
    timer = FakeTimer(AVX2_TIMES)
    choice = select(base, build, {}, 1, cpu=parse_cpuinfo(EPYC_AVX2, "x86_64"), timer=timer)
    assert choice.precisions["rec"] == "fp32" and "saturate" in choice.reasons["rec"]
    assert [c[0] for c in timer.calls] == ["det"]
    vnni = select(base, build, {}, 1, cpu=parse_cpuinfo(XEON_VNNI, "x86_64"), timer=FakeTimer(AVX2_TIMES))
    assert vnni.precisions["rec"] == "int8"


def test_explicit_precisions_are_honoured_without_measuring(tmp_path: Path) -> None:
    base = _profile(tmp_path, {"det": ["fp32"], "rec": ["fp32", "int8"], "cls": ["fp32"]})
    build = json.loads((base / "build.json").read_text())
    timer = FakeTimer(AVX2_TIMES)
    choice = select(base, build, {"det": "int8", "rec": "int8", "cls": "fp32"}, 1,
                    cpu=parse_cpuinfo(EPYC_AVX2, "x86_64"), timer=timer)
    assert choice.precisions == {"det": "fp32", "rec": "int8", "cls": "fp32"}  # det int8 is not built
    assert "not built" in choice.reasons["det"] and choice.reasons["rec"] == "requested"
    assert timer.calls == [] and choice.source == "requested"


def test_read_only_model_dir_caches_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from ocrcore import precision

    base = _profile(tmp_path, AUTO)
    build = json.loads((base / "build.json").read_text())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    real_access = os.access
    monkeypatch.setattr(precision.os, "access", lambda p, m: False if Path(p).parent == base else real_access(p, m))
    cpu = parse_cpuinfo(EPYC_AVX2, "x86_64")
    path = precision.cache_path(base, cpu, 1)
    assert str(path).startswith(str(tmp_path / "xdg"))
    select(base, build, {}, 1, cpu=cpu, timer=FakeTimer(AVX2_TIMES))
    assert path.exists()


def test_real_models_are_timed_on_this_machine(tmp_path: Path) -> None:
    """The real timer on the real small recogniser pair (whatever this CPU is): both variants
    get a positive median and the choice is one of them."""
    from ocrcore.precision import time_sessions

    base = ROOT / "models" / "build" / "small"
    timings = time_sessions({"fp32": base / "rec.fp32.onnx", "int8": base / "rec.int8.onnx"}, (1, 3, 48, 96), 1, rounds=2)
    assert set(timings) == {"fp32", "int8"} and all(t > 0 for t in timings.values())
    assert choose(timings) in timings
    shutil.rmtree(tmp_path, ignore_errors=True)
