"""Choices that depend on the machine: mixed precision and CPU threads, decided by capability, never by one benchmark.

Measured (docs/BENCHMARKS.md): bf16 autocast on a CPU without native bf16 (Ice Lake: no avx512_bf16, no AMX) ran
2.5x slower than fp32; with AMX it ran 1.9x faster. So ``auto`` asks the CPU what it has.
"""

from __future__ import annotations

import logging
import os

import torch

logger = logging.getLogger("facegen")

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# CPU features with native bf16 arithmetic (x86 AMX / AVX-512 BF16; ARM's bf16 dot products under either name).
NATIVE_BF16_CPU_FEATURES = ("amx_bf16", "avx512_bf16", "bf16", "sve_bf16")


def cpu_capabilities() -> dict:
    """torch's view of this CPU's features (``{}`` where this torch build cannot tell)."""
    get = getattr(torch.cpu, "get_capabilities", None)
    try:
        return dict(get()) if get is not None else {}
    except Exception:  # noqa: BLE001 - an unknown CPU must not stop training: fall back to fp32
        return {}


def cpu_has_native_bf16(capabilities: dict | None = None) -> bool:
    capabilities = cpu_capabilities() if capabilities is None else capabilities
    return any(bool(capabilities.get(name)) for name in NATIVE_BF16_CPU_FEATURES)


def resolve_precision(requested: str, device: torch.device | str, capabilities: dict | None = None) -> str:
    """``auto`` -> ``bf16`` on a CUDA device that supports it or a CPU with native bf16, else ``fp32``."""
    if requested not in PRECISIONS:
        raise ValueError(f"mixed_precision={requested!r}: choose one of {list(PRECISIONS)}")
    if requested != "auto":
        return requested
    device = torch.device(device)
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_has_native_bf16(capabilities) else "fp32"
    return "fp32"


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a resolved precision (None: run in fp32)."""
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, which containers and ``taskset`` narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def configure_cpu_threads(requested: int | None = None) -> int:
    """Set torch's intra-op threads: ``requested``, else ``$OMP_NUM_THREADS`` if set, else every usable core.

    Returns the count in use. The OpenMP wait policy is read when the runtime starts, so it is set by the CLI
    entry point (see :func:`prefer_passive_omp_wait`), not here.
    """
    if requested is not None:
        if requested < 1:
            raise ValueError(f"num_threads={requested} must be >= 1")
        threads = requested
    elif os.environ.get("OMP_NUM_THREADS", "").strip().isdigit():
        threads = max(1, int(os.environ["OMP_NUM_THREADS"]))
    else:
        threads = usable_cores()
    torch.set_num_threads(threads)
    return threads


def describe_cpu(capabilities: dict | None = None) -> str:
    """One line for logs and benchmark records: CPU name, cores and the features that decide precision."""
    capabilities = cpu_capabilities() if capabilities is None else capabilities
    features = [name for name in ("avx2", "avx512_f", "avx512_bf16", "amx_bf16") if capabilities.get(name)]
    return f"{capabilities.get('cpu_name', 'cpu')}, {usable_cores()} usable cores, features: {' '.join(features)}"


def compile_options(device: torch.device | str) -> dict:
    """``torch.compile`` settings: on CUDA autotuned kernels without CUDA graphs (training changes the weights
    between calls and the sampler's shapes vary); on the CPU inductor's defaults, as autotuning there mostly
    lengthens the compile (docs/BENCHMARKS.md: compiling did not pay for the small UNet on 2 CPU cores)."""
    return {"mode": "max-autotune-no-cudagraphs"} if torch.device(device).type == "cuda" else {}
