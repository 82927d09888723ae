"""Process-level settings that make CPU training fast and repeatable."""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import sys

import torch

from disentangle.errors import InputError
from disentangle.resources import available_memory, gibibytes
from disentangle.resources import available_cpus

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
    """Use ``threads`` intra-op threads (default: every CPU this process may run on,
    ``available_cpus``) and return the number."""
    threads = threads or available_cpus()
    torch.set_num_threads(threads)
    return threads


def check_device(device: str) -> None:
    """Raise ``InputError`` naming ``--device`` unless it is a torch device this machine has."""
    try:
        torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"--device {device}: not a torch device (expected cpu, cuda or cuda:N)") from None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {device}: CUDA is not available on this machine (use --device cpu)")


def check_memory(
    config, observation_shape: tuple[int, ...], device: str, training: bool, source: str | None = None
) -> None:
    """Raise ``InputError`` when a model of ``config`` (a ``RunConfig``), with a batch when
    ``training``, cannot fit in the memory ``device`` has available, before anything is
    allocated: an allocation that cannot succeed is refused with the size it would need.
    The message names the flags, or the keys of ``source`` (a run folder's config.json).

    Lower bounds: float32 weights (and, to train, their gradients and two optimizer
    moments) counted on a model built on the meta device, and a batch's observations
    and reconstructions; activations come on top, so what passes may still not fit.
    """
    available = available_memory(device)
    if available is None:
        return
    batch = config.train.batch_size * math.prod(observation_shape) * 4 * 2 if training else 0
    where = f"{source}: " if source else ""
    if batch > available:
        option = "train.batch_size" if source else "--batch-size"
        raise InputError(
            f"{where}{option} {config.train.batch_size}: a batch of observations {tuple(observation_shape)} and "
            f"their reconstructions needs at least {gibibytes(batch)}, more than the {gibibytes(available)} "
            f"available on {device}"
        )
    try:
        with torch.device("meta"):
            model = config.build_model(observation_shape)
    except Exception:  # noqa: BLE001 - a net that cannot be built on the meta device is built for real instead
        return
    parameters = sum(tensor.numel() for tensor in (*model.parameters(), *model.buffers()))
    weights = parameters * 4 * (4 if training else 1)
    if weights + batch > available:
        purpose = "train (weights, gradients and two optimizer moments)" if training else "hold its weights"
        option, hints = ("model.name", "model.latent_dim") if source else ("--model", "--latent-dim")
        raise InputError(
            f"{where}{option} {config.model_name}: its {parameters:,} parameters need at least {gibibytes(weights)} "
            f"to {purpose}, more than the {gibibytes(available)} available on {device} (see {hints} and the "
            "architecture)"
        )


def uses_convolutions(module: torch.nn.Module) -> bool:
    """Whether ``module`` has 2-D (transposed) convolutions, which run faster channels-last."""
    return any(isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) for m in module.modules())
