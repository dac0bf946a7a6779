"""Which device and numeric precision a run uses, said plainly."""
from __future__ import annotations

import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
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


def cpu_supports_bf16() -> bool:
    """True where the CPU has native bf16 instructions (AVX-512 BF16 or AMX)."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(requested: str, device: str) -> str:
    """One of fp32 / bf16 / fp16. auto: bf16 (or fp16) autocast on CUDA, fp32 elsewhere."""
    if requested not in PRECISIONS:
        raise ValueError(f"unknown precision {requested!r}; valid: {', '.join(PRECISIONS)}")
    if requested == "auto":
        if device == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32"  # CPU bf16 is faster here but is offered, not imposed (see README)
    if requested == "fp16" and device == "cpu":
        raise ValueError("fp16 autocast is not supported on the CPU; use bf16 or fp32")
    return requested


def fabric_precision(precision: str) -> str:
    return _FABRIC_PRECISION[precision]
