"""What this machine can still give a process: CPUs and memory, read the way the kernel
reports them."""

from __future__ import annotations

import os
from pathlib import Path

import torch


def _read_int(path: str) -> int | None:
    """The integer a file of the kernel holds (``max`` and other words: None)."""
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_cpus() -> int:
    """The CPUs this process may run on: its affinity mask (a batch scheduler's or
    ``taskset``'s share of the machine), else the machine's count; at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity masks on this platform (macOS, Windows)
        return os.cpu_count() or 1


def available_memory(device: str = "cpu") -> int | None:
    """Bytes that a new allocation on ``device`` can still get, or None when unknown:
    for the CPU, the kernel's MemAvailable, bounded by the cgroup's limit (a container's);
    for a GPU, its free memory."""
    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    available = None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    limit, used = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if limit is not None and used is not None:
        available = min(available or limit - used, limit - used)
    return available


def gibibytes(size: float) -> str:
    """A byte count for people: ``12.3 GiB``."""
    return f"{size / 2**30:,.1f} GiB"
