"""How fast dSprites starts and serves batches, and how much memory it holds.

Prints, with the command line that produced them:

- first start: rendering all 737,280 images and writing the cache (target ≤ 60 s),
  measured in a fresh child process, with that process's peak memory (``VmHWM``) and
  how far the peak rose above its resident memory just before the render;
- second start: loading the cache (read from the OS page cache when it is warm);
- the dataset's resident memory: ``VmRSS`` after loading minus ``VmRSS`` just before
  constructing the dataset, with torch already imported (importing torch alone costs
  about 220 MB, which is not the dataset's). This is the figure compared with the
  target (≤ 500 MB); the process's total is printed beside it;
- random batches sampled per second through ``DSprites.observations``
  (target ≥ 50,000 images/s);
- the process's total resident memory after sampling.

Usage: ``python benchmarks/data_speed.py [--cache-dir DIR] [--batch 64] [--seconds 5] [--threads N]``
(default cache: a temporary folder, removed afterwards). On a machine whose cores are
busy with other work, torch's multi-threaded kernels wait on each other; ``--threads 1``
shows the cost of the work itself.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shlex
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from disentangle.data.dsprites import DSprites


def memory_mb() -> dict[str, float]:
    """``VmRSS`` (resident now) and ``VmHWM`` (peak resident) of this process, in MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024 / 1e6  # the kernel reports kB
    return fields


def first_start(cache_dir: str) -> tuple[float, dict[str, float], dict[str, float]]:
    """Seconds to build dSprites with an empty cache, and the process's memory before and after."""
    before = memory_mb()
    start = time.perf_counter()
    DSprites(cache_dir=cache_dir)
    return time.perf_counter() - start, before, memory_mb()


def sampling_rate(dataset: DSprites, batch: int, seconds: float) -> tuple[float, int]:
    """Images per second and batches drawn by ``observations(sample_indices(batch))``."""
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):  # warm up the allocator and the lookup table
        dataset.observations(dataset.sample_indices(batch, generator))
    batches = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            dataset.observations(dataset.sample_indices(batch, generator))
        batches += 50
    return batches * batch / elapsed, batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache-dir", help="where to write the cache (default: a temporary folder)")
    parser.add_argument("--batch", type=int, default=64, help="images per batch (default 64, as dlib)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to sample (default 5)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"$ {shlex.join(sys.orig_argv)}")
    load = os.getloadavg()[0]
    print(f"cpus: {os.cpu_count()} (load average {load:.2f}), torch threads: {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory(prefix="dsprites-cache-") as scratch:
        cache_dir = args.cache_dir or scratch
        if any(Path(cache_dir).glob("dsprites-procedural-*.npy")):
            sys.exit(f"{cache_dir}: already holds a dSprites cache; give an empty --cache-dir")
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as child:
            render_s, before_render, after_render = child.submit(first_start, cache_dir).result()
        print(
            f"first start, render 737,280 images + write cache: {render_s:8.2f} s   (target <= 60 s)\n"
            f"  child peak memory VmHWM {after_render['VmHWM']:.0f} MB, of which "
            f"{after_render['VmHWM'] - before_render['VmRSS']:.0f} MB above its VmRSS of "
            f"{before_render['VmRSS']:.0f} MB before the render (the packed images are 377 MB)"
        )

        before = memory_mb()
        start = time.perf_counter()
        dataset = DSprites(cache_dir=cache_dir)
        load_s = time.perf_counter() - start
        loaded = memory_mb()
        print(f"second start, load from cache:                  {load_s:8.2f} s")
        own = loaded["VmRSS"] - before["VmRSS"]
        print(
            f"dataset resident memory: {own:6.0f} MB  (VmRSS {loaded['VmRSS']:.0f} MB after loading "
            f"- {before['VmRSS']:.0f} MB before constructing, torch already imported)\n"
            f"process resident memory: {loaded['VmRSS']:6.0f} MB  (VmRSS after loading, torch included)\n"
            f"compared with the target (<= 500 MB): the dataset's own {own:.0f} MB -> "
            f"{'met' if own <= 500 else 'NOT met'}"
        )

        rate, batches = sampling_rate(dataset, args.batch, args.seconds)
        print(
            f"random batches of {args.batch} via observations():        {rate:8,.0f} images/s "
            f"(target >= 50,000; {batches:,} batches)"
        )
        memory = memory_mb()
        print(
            f"process memory after sampling:   VmRSS {memory['VmRSS']:6.0f} MB, "
            f"VmHWM {memory['VmHWM']:6.0f} MB   (torch included; not the target's figure)"
        )

if __name__ == "__main__":
    main()
