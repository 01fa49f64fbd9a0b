"""What this CPU and this TensorFlow build offer, read once, without importing TensorFlow.

Used by training (warnings for settings that are slow on the machine at hand), by the
benchmarks (feature detection instead of crashes; the CPU recorded beside every figure) and by
the package import (:func:`enable_onednn`).  Linux reads ``/proc/cpuinfo``; elsewhere the
answers are ``None`` (unknown) and nothing is warned about.
"""
from __future__ import annotations

import functools
import os
import platform
import sys
from pathlib import Path

# Vector extensions that decide which kernels TensorFlow, oneDNN and PyTorch run.
VECTOR_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
                "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")
# TensorFlow >= 2.9 turns oneDNN on by default only where one of these is present
# (tensorflow/core/util/util.cc, IsMKLEnabled: AVX512_VNNI, AVX512_BF16, AVX_VNNI, AMX).
ONEDNN_DEFAULT_FLAGS = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"


def parse_cpuinfo(text: str) -> tuple[str | None, frozenset[str] | None]:
    """(model name, flags) of the first processor listed in ``/proc/cpuinfo`` text."""
    model, flags = None, None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model is None:
            model = value.strip()
        elif key == "flags" and flags is None:
            flags = frozenset(value.split())
        if model is not None and flags is not None:
            break
    return model, flags


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str | None, frozenset[str] | None]:
    """:func:`parse_cpuinfo` of this machine, or (None, None) off Linux."""
    try:
        return parse_cpuinfo(Path("/proc/cpuinfo").read_text())
    except OSError:
        return None, None


def cpu_model() -> str:
    """The processor's name (``/proc/cpuinfo``), else what ``platform`` knows."""
    return _cpuinfo()[0] or platform.processor() or platform.machine() or "unknown CPU"


def vector_extensions() -> list[str] | None:
    """The :data:`VECTOR_FLAGS` this CPU has, in that order; ``None`` where unknown."""
    flags = _cpuinfo()[1]
    return None if flags is None else [f for f in VECTOR_FLAGS if f in flags]


def has_native_bf16() -> bool | None:
    """True where the CPU computes in bfloat16 (AVX512_BF16 or AMX); ``None`` where unknown."""
    flags = _cpuinfo()[1]
    return None if flags is None else any(f in flags for f in NATIVE_BF16_FLAGS)


def onednn_on_by_default(flags: frozenset[str] | None = None, machine: str | None = None) -> bool | None:
    """Whether TensorFlow turns its oneDNN kernels on when ``TF_ENABLE_ONEDNN_OPTS`` is unset:
    only on x86 CPUs with one of :data:`ONEDNN_DEFAULT_FLAGS` (default: this machine)."""
    flags = _cpuinfo()[1] if flags is None else flags
    machine = platform.machine() if machine is None else machine
    if flags is None or machine.lower() not in ("x86_64", "amd64"):
        return None
    return any(f in flags for f in ONEDNN_DEFAULT_FLAGS)


def enable_onednn(environ=os.environ, tensorflow_imported: bool | None = None,
                  flags: frozenset[str] | None = None, machine: str | None = None) -> bool:
    """Set ``TF_ENABLE_ONEDNN_OPTS=1`` in ``environ`` on an x86 CPU where TensorFlow would leave
    oneDNN off (AVX2-only CPUs), unless the variable is set already (the user's choice wins) or
    TensorFlow is already imported (too late).  Returns whether it set the variable.

    Why: TensorFlow's Eigen kernels are what an AVX2-only CPU gets by default, and the AugIntAE
    step is faster with oneDNN's (by how much: benchmarks/RESULTS.md, "Train step vs the PyTorch twin").
    """
    if tensorflow_imported is None:
        tensorflow_imported = "tensorflow" in sys.modules
    if ONEDNN_ENV in environ or tensorflow_imported or onednn_on_by_default(flags, machine) is not False:
        return False
    environ[ONEDNN_ENV] = "1"
    return True


def onednn_enabled() -> bool | None:
    """Whether the imported TensorFlow runs its oneDNN kernels (private TF API; ``None`` if it
    moved)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None


def describe() -> dict:
    """The machine, for benchmark JSON: CPU model, cores, vector extensions, bf16, oneDNN."""
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "vector_extensions": vector_extensions(),
            "native_bf16": has_native_bf16(), "onednn_default": onednn_on_by_default(),
            "onednn_env": os.environ.get(ONEDNN_ENV), "onednn": onednn_enabled()}


# Where the warnings below send the user for the numbers: measured numbers live in one place
# (they change with the machine and TensorFlow's version), not in the messages.
MEASURED = 'benchmarks/RESULTS.md, "Train step vs the PyTorch twin"'


def slow_setting_warnings(precision: str, jit: str, gpu: bool, *, native_bf16: bool | None,
                          onednn: bool | None, onednn_env: str | None) -> list[str]:
    """One line per training setting that is known to be slow on this CPU (none on a GPU).

    - ``mixed_bfloat16`` without native bf16: TensorFlow falls back to Eigen's emulated bf16.
    - ``train.jit: on`` with oneDNN on: XLA's CPU convolutions are not oneDNN's.
    - oneDNN off while the user did not ask for that (TensorFlow imported before augintae_tf on
      an AVX2-only CPU, so :func:`enable_onednn` came too late).
    """
    if gpu:
        return []
    lines = []
    if precision == "mixed_bfloat16" and native_bf16 is False:
        lines.append(f"train.precision 'mixed_bfloat16': this CPU ({cpu_model()}) has no native "
                     f"bfloat16 (AVX512_BF16 or AMX); the train step measured several times "
                     f"slower than float32 on such a CPU ({MEASURED}); use --precision float32")
    if jit == "on" and onednn:
        lines.append(f"train.jit 'on': XLA on a CPU measured slower than without it with "
                     f"TensorFlow's oneDNN kernels on ({MEASURED}); use --jit auto (off on a CPU)")
    if onednn is False and onednn_env is None:
        lines.append(f"TensorFlow's oneDNN kernels are off (tensorflow was imported before "
                     f"augintae_tf on a CPU without AVX512_VNNI/BF16 or AMX); the train step "
                     f"measured faster with them ({MEASURED}): set {ONEDNN_ENV}=1 before importing "
                     "tensorflow")
    return lines
