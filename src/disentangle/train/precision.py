"""The arithmetic a run trains in: float32, TF32 matmuls on a GPU, or bfloat16 autocast.

``train.precision`` is ``auto`` (default), ``fp32``, ``tf32`` or ``bf16``. ``auto`` is
resolved when a run starts, on its machine, and its ``config.json`` records what it
resolved to (``environment.precision``); a resumed run goes on in that precision wherever
it resumes (``resumed_precision``), so that it ends as the uninterrupted run.

- ``fp32``: float32 throughout (on a GPU, TF32 turned off for matmuls and convolutions).
- ``tf32``: float32 weights and results, matmuls and convolutions on a GPU's TF32 units
  (10-bit mantissa inputs); on a CPU the same as ``fp32``.
- ``bf16``: the forward pass under ``torch.autocast(dtype=torch.bfloat16)`` (matmuls and
  convolutions in bfloat16, losses and reductions in float32); weights, gradients and
  optimizer state stay float32.

``auto`` is ``tf32`` on a GPU and ``fp32`` on every CPU. ``bf16`` pays only on CPUs with
bfloat16 instructions (AVX512-BF16 or AMX-BF16: ``has_bf16_instructions``, read from
``/proc/cpuinfo``): on an Intel Xeon with AMX, dlib's conv β-VAE trained 1.6–1.8×
faster than fp32 in ``benchmarks/precision_check.py`` (three seeds, docs/benchmarks.md).
That check found bf16 keeps fp32's final loss and scores for dlib's β-VAE at 3,000 steps,
but not the quick-start recipe's final loss (its mean over seeds fell outside fp32's
narrow range), so ``auto`` does not pick it; it is asked for by name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import torch

PRECISIONS = ("auto", "fp32", "tf32", "bf16")
#: /proc/cpuinfo flags of CPUs that compute bfloat16 dot products natively
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@lru_cache(maxsize=1)
def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The feature flags of the first CPU listed in ``cpuinfo`` (empty where there is none)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def has_bf16_instructions(flags: frozenset[str] | None = None) -> bool:
    """Whether a CPU with these ``flags`` (default: this machine's) computes bfloat16 dot
    products natively (``BF16_CPU_FLAGS``), where ``bf16`` can be faster than ``fp32``."""
    return bool(BF16_CPU_FLAGS & (cpu_flags() if flags is None else flags))


def resolve_precision(requested: str, device: str) -> str:
    """The precision ``requested`` means on ``device``: itself, or for ``auto`` ``tf32`` on a
    GPU and ``fp32`` on a CPU (whatever its instructions: see the module)."""
    if requested != "auto":
        return requested
    return "tf32" if torch.device(device).type == "cuda" else "fp32"


def resumed_precision(requested: str, written: Mapping, device: str) -> str:
    """The precision a resumed run goes on in: for ``auto``, what it resolved to when the
    run started (``written``, its ``config.json``: ``environment.precision``), so that a run
    resumed on another machine continues in the arithmetic it started with; else (a named
    precision, or a folder that records none) ``resolve_precision`` on ``device``."""
    recorded = written.get("environment", {}).get("precision")
    if requested == "auto" and recorded in PRECISIONS[1:]:
        return recorded
    return resolve_precision(requested, device)


def configure_matmuls(precision: str, device: str) -> None:
    """Turn a GPU's TF32 matmuls and convolutions on for ``tf32`` and off otherwise (no-op on a CPU)."""
    if torch.device(device).type != "cuda":
        return
    allowed = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = allowed
    torch.backends.cudnn.allow_tf32 = allowed


def autocast(precision: str, device: str) -> contextlib.AbstractContextManager:
    """The context a forward pass of ``precision`` runs in: bfloat16 autocast for ``bf16``, else nothing."""
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
