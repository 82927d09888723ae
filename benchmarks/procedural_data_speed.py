"""How fast the procedural RGB factor datasets start and serve batches.

For each of color-dsprites, noisy-dsprites, scream-dsprites and shapes3d-procedural,
prints the seconds to construct it (the first construction of shapes3d-procedural
renders its 480 scenes into the cache; the dSprites variants load or render dSprites)
and the random batches served per second through ``observations(sample_indices(...))``,
the training hot path (target >= 50,000 images/s for batches of 64), with glibc's
allocator tuned as training tunes it (``tune_allocator``; ``--default-allocator`` leaves
it alone, as a script that only samples data would).

Usage: ``python benchmarks/procedural_data_speed.py [--cache-dir DIR] [--batch 64]
[--seconds 5] [--background IMAGE] [--datasets NAME ...] [--default-allocator]`` (default cache: a temporary
folder, removed afterwards, so shapes3d-procedural's start includes its render and the
dSprites variants' includes rendering dSprites once; default background: a random
350×274 image, as large as dlib's thumbnail of The Scream).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from disentangle.data import get_dataset
from disentangle.train.runtime import tune_allocator

DATASETS = ["color-dsprites", "noisy-dsprites", "scream-dsprites", "shapes3d-procedural"]


def sampling_rate(dataset, batch: int, seconds: float) -> tuple[float, int]:
    """Images per second and batches drawn by ``observations(sample_indices(batch))``."""
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):  # warm up: numba's compiled kernels, the allocator
        dataset.observations(dataset.sample_indices(batch, generator))
    batches = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            dataset.observations(dataset.sample_indices(batch, generator))
        batches += 20
    return batches * batch / elapsed, batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache-dir", help="where the caches live (default: a temporary folder)")
    parser.add_argument("--batch", type=int, default=64, help="images per batch (default 64, as dlib)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to sample each (default 5)")
    parser.add_argument("--background", help="scream-dsprites' background image (default: a random one)")
    parser.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    parser.add_argument("--default-allocator", action="store_true", help="leave glibc's allocator as it is")
    args = parser.parse_args()
    tuned = not args.default_allocator and tune_allocator()

    print(f"$ {shlex.join(sys.orig_argv)}")
    print(f"cpus: {os.cpu_count()} (load average {os.getloadavg()[0]:.2f}), torch threads: {torch.get_num_threads()}, "
          f"allocator tuned as in training: {'yes' if tuned else 'no'}")
    with tempfile.TemporaryDirectory(prefix="procedural-data-") as scratch:
        cache_dir = args.cache_dir or scratch
        background = args.background
        if background is None:
            background = str(Path(scratch) / "background.png")
            pixels = np.random.default_rng(0).integers(0, 256, (274, 350, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(background)
        for name in args.datasets:
            options = {"cache_dir": cache_dir}
            if name == "scream-dsprites":
                options["path"] = background
            start = time.perf_counter()
            dataset = get_dataset(name, **options)
            start_s = time.perf_counter() - start
            rate, batches = sampling_rate(dataset, args.batch, args.seconds)
            print(
                f"{name:20s} start {start_s:7.2f} s   batches of {args.batch}: {rate:9,.0f} images/s "
                f"({batches:,} batches; target >= 50,000: {'met' if rate >= 50_000 else 'NOT met'})"
            )


if __name__ == "__main__":
    main()
