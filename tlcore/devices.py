"""Which device and numeric precision a run uses, said plainly."""
from __future__ import annotations

import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
MEMORY_FORMATS = ("auto", "channels_last", "contiguous")
_FABRIC_PRECISION = {"fp32": "32-true", "bf16": "bf16-mixed", "fp16": "16-mixed"}


def mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def resolve_device(requested: str = "auto") -> str:
    """auto picks CUDA, then Apple MPS, then the CPU; an unavailable choice is an error."""
    if requested not in DEVICES:
        raise ValueError(f"unknown device {requested!r}; valid: {', '.join(DEVICES)}")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if mps_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but no CUDA GPU is visible; use auto or cpu")
    if requested == "mps" and not mps_available():
        raise ValueError("device 'mps' asked for, but Apple MPS is not available; use auto or cpu")
    return requested


def cpu_flags() -> set[str]:
    """The CPU's instruction-set flags (Linux's /proc/cpuinfo; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            line = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return set()
    return set(line.partition(":")[2].split())


def cpu_supports_bf16() -> bool:
    """True where the CPU has native bf16 instructions (AVX-512 BF16 or AMX)."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def choose_memory_format(requested: str, device: str) -> tuple[str, str]:
    """(channels_last | contiguous, why) for a run's convolutions. auto: channels_last on CUDA
    (tensor cores want NHWC) and on a CPU with AVX-512, where oneDNN's NHWC kernels are the
    fast ones; contiguous on an AVX2-only CPU and on Apple MPS. Measured on a training step of
    efficientnet_lite0 at 160 px, batch 32, 2 threads: 1.55x (full fine-tune) and 1.38x (last
    two stages) on an AMX/AVX-512 Xeon; 0.95x on an AVX2 CPU (issue 21). The numbers a run gives
    move by float rounding only (BENCHMARKS.md, speed-kernels)."""
    if requested not in MEMORY_FORMATS:
        raise ValueError(f"unknown memory format {requested!r}; valid: {', '.join(MEMORY_FORMATS)}")
    if requested != "auto":
        return requested, "asked for"
    if device == "cuda":
        return "channels_last", "CUDA: tensor-core kernels take NHWC"
    if device == "cpu" and "avx512f" in cpu_flags():
        return "channels_last", "CPU with AVX-512: oneDNN's NHWC kernels are faster (1.4-1.6x measured)"
    return "contiguous", ("CPU without AVX-512: NHWC measured 0.95x" if device == "cpu"
                          else f"{device}: no faster layout known")


def resolve_precision(requested: str, device: str) -> str:
    """One of fp32 / bf16 / fp16. auto: bf16 (or fp16) autocast on CUDA, fp32 elsewhere."""
    if requested not in PRECISIONS:
        raise ValueError(f"unknown precision {requested!r}; valid: {', '.join(PRECISIONS)}")
    if requested == "auto":
        if device == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        # CPU bf16 is offered, not imposed: it changes the numbers, and on the AMX Xeon here a
        # channels_last fp32 step was faster (1.55x) than bf16 autocast (1.37x, 1.34x with both).
        return "fp32"
    if requested == "fp16" and device == "cpu":
        raise ValueError("fp16 autocast is not supported on the CPU; use bf16 or fp32")
    return requested


def fabric_precision(precision: str) -> str:
    return _FABRIC_PRECISION[precision]
