"""The machine the engine runs on: CPU model, the instruction-set extensions that decide which
ONNX Runtime kernels run, and how many cores this process may use.

Every speed figure this project prints names the CPU it was measured on (:func:`cpu_info`), and
the per-host precision choice (:mod:`ocrcore.precision`) is cached under :attr:`CPUInfo.key`.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
from dataclasses import dataclass
from pathlib import Path

# Flags that change which int8/fp32 kernels ONNX Runtime's MLAS picks, in the order we print them.
X86_ISA = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8")
ARM_ISA = ("asimd", "asimddp", "i8mm", "sve", "bf16")
# Display names (lscpu spells them like /proc/cpuinfo; people write these).
_PRETTY = {"avx2": "AVX2", "fma": "FMA", "avx512f": "AVX-512F", "avx512bw": "AVX-512BW", "avx512_vnni": "AVX-512 VNNI",
           "avx_vnni": "AVX-VNNI", "avx512_bf16": "AVX-512 BF16", "amx_int8": "AMX-INT8", "asimd": "NEON",
           "asimddp": "dotprod", "i8mm": "i8mm", "sve": "SVE", "bf16": "BF16"}


@dataclass(frozen=True)
class CPUInfo:
    """What the CPU is and which of the relevant ISA extensions it has."""

    model: str  # e.g. "AMD EPYC 9R14 96-Core Processor", "Intel(R) Xeon(R) Platinum 8488C"
    arch: str  # platform.machine(): "x86_64", "aarch64", ...
    isa: tuple[str, ...]  # the subset of X86_ISA / ARM_ISA present, as /proc/cpuinfo spells them
    cores: int  # cores this process may run on (sched_getaffinity)

    @property
    def int8_exact(self) -> bool:
        """Whether ONNX Runtime multiplies full-range (8-bit) int8 weights exactly here.

        x86 without VNNI/AMX runs u8 x s8 products through AVX2's ``vpmaddubsw``, which saturates
        the sum of two products at 16 bits; only 7-bit weights (``reduce_range``) are safe there.
        VNNI (``vpdpbusd``), AMX and ARM's dot-product / widening multiplies accumulate in 32 bits.
        Source: ONNX Runtime quantization docs, "When and why do I need to try U8U8?"."""
        if self.arch in ("aarch64", "arm64"):
            return True
        return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & set(self.isa))

    @property
    def isa_label(self) -> str:
        """Human-readable ISA list, e.g. ``"AVX2 FMA AVX-512F AVX-512 VNNI"``."""
        return " ".join(_PRETTY.get(f, f) for f in self.isa) or "baseline"

    @property
    def label(self) -> str:
        """One line for logs and reports: model, ISA, cores."""
        return f"{self.model} ({self.arch}; {self.isa_label}; {self.cores} cores)"

    @property
    def key(self) -> str:
        """Short stable id of (model, arch, ISA): the precision choice is re-measured when it changes."""
        raw = f"{self.model}|{self.arch}|{','.join(self.isa)}"
        return hashlib.sha256(raw.encode()).hexdigest()[:12]

    def to_dict(self) -> dict:
        return {"model": self.model, "arch": self.arch, "isa": list(self.isa), "cores": self.cores,
                "int8_exact": self.int8_exact, "key": self.key}


def usable_cores() -> int:
    """Cores this process may run on (affinity mask, e.g. ``taskset`` or a container's cpuset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def parse_cpuinfo(text: str, arch: str, cores: int = 1) -> CPUInfo:
    """Build a :class:`CPUInfo` from the text of ``/proc/cpuinfo`` (x86 ``flags`` or ARM ``Features``)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    wanted = ARM_ISA if arch in ("aarch64", "arm64") else X86_ISA
    model = fields.get("model name") or fields.get("Hardware") or ""
    if not model and "CPU part" in fields:  # ARM: implementer and part number, e.g. 0x41 / 0xd0b (Cortex-A76)
        model = f"ARM implementer {fields.get('CPU implementer', '?')} part {fields['CPU part']}"
    return CPUInfo(model or platform.processor() or "unknown CPU", arch, tuple(f for f in wanted if f in flags), cores)


@functools.cache
def cpu_info() -> CPUInfo:
    """This machine's :class:`CPUInfo` (read once per process)."""
    arch = platform.machine().lower() or "unknown"
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux: model from platform, no ISA detail
        text = ""
    return parse_cpuinfo(text, arch, usable_cores())
