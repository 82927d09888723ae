"""Process-level settings that make CPU training fast and repeatable."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

import torch

from disentangle.errors import InputError

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_allocator_tuned = False


def tune_allocator(threshold_bytes: int = 1 << 30) -> bool:
    """Raise glibc's mmap and trim thresholds so freed tensors stay in the heap.

    By default glibc returns every large freed block to the kernel and maps it again
    on the next step, and PyTorch's CPU training then spends much of its time in page
    faults; measured here, raising both thresholds made training 20–60 % faster.
    A no-op (returning False) where the C library is not glibc.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    _allocator_tuned = bool(mallopt(_M_MMAP_THRESHOLD, threshold_bytes)) and bool(
        mallopt(_M_TRIM_THRESHOLD, threshold_bytes)
    )
    return _allocator_tuned


def configure_threads(threads: int | None) -> int:
    """Use ``threads`` intra-op threads (default: every core) and return the number."""
    threads = threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    return threads


def check_device(device: str) -> None:
    """Raise ``InputError`` naming ``--device`` when it asks for CUDA on a machine without it."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {device}: CUDA is not available on this machine (use --device cpu)")


def uses_convolutions(module: torch.nn.Module) -> bool:
    """Whether ``module`` has 2-D (transposed) convolutions, which run faster channels-last."""
    return any(isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) for m in module.modules())
