"""How fast each factor dataset starts and serves batches, and how much memory it holds.

Prints, with the command line that produced them, first for dSprites:

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

then for every dataset read from official files (``shapes3d``, ``smallnorb``, ``cars3d``,
``mpi3d-toy``, ``mpi3d-complex``), written by the benchmark itself in the official
layout at full size (``disentangle.testing``: zero pixels as HDF5 fill
values or sparse-file holes, so writing them costs little disk), each step in a fresh
child process:

- first use: checking the files and converting them into the cache (Shapes3D's
  gzip-chunked HDF5 is decompressed, SmallNORB and Cars3D resized), with the child's
  peak memory (``VmHWM``); MPI3D's uncompressed ``.npz`` is mapped in place, no copy;
- warm start: building the dataset again from the cache;
- random batches per second through ``observations`` from a warm page cache (the mapped
  file read once with ``read()`` first; target ≥ 50,000 images/s);
- resident memory after sampling above the child's before building the dataset, split
  into ``RssAnon`` (the process's own memory: the target is ≤ 3 GB) and ``RssFile``
  (pages of the memory-mapped images touched so far, shared with the page cache and
  dropped by the kernel under pressure), and ``VmRSS`` (their sum, plus shared memory).

With zero pixels the files compress to nothing, so the first-use time of Shapes3D is a
lower bound of the official file's (whose gzip chunks hold real images); the images
read are the same size as real ones, so the sampling rates are representative.

Usage: ``python benchmarks/data_speed.py [--cache-dir DIR] [--batch 64] [--seconds 5]
[--threads N] [--datasets dsprites,shapes3d,...] [--small]``. The default cache and
scratch folder is a temporary folder, removed afterwards; the full run writes about
7 GB of cache (Shapes3D's 5.9 GB, SmallNORB's 0.2 GB, Cars3D's 0.2 GB). ``--small``
writes Shapes3D contiguous and uncompressed, so that it is mapped in place instead of
converted (no 5.9 GB cache), and samples for a tenth of ``--seconds``: a quick check
that everything runs, not the figures. On a machine whose cores are busy with other
work, torch's multi-threaded kernels wait on each other; ``--threads 1`` shows the cost
of the work itself.
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

from disentangle import testing
from disentangle.data import get_dataset
from disentangle.data.dsprites import DSprites

#: the datasets read from official files, in the order they are measured
FILE_DATASETS = ("shapes3d", "smallnorb", "cars3d", "mpi3d-toy", "mpi3d-complex")


def memory_mb() -> dict[str, float]:
    """``VmRSS`` (resident now), ``VmHWM`` (peak resident), ``RssAnon`` (anonymous memory)
    and ``RssFile`` (file-backed pages, e.g. of a memory map) of this process, in MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
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


def write_official_files(name: str, folder: Path, small: bool) -> Path:
    """Write ``name``'s files in the official layout at full size under ``folder``; their path."""
    if name == "shapes3d":
        return testing.write_shapes3d(folder / "3dshapes.h5", contiguous=small)
    if name == "smallnorb":
        return testing.write_smallnorb(folder / "smallnorb")
    if name == "cars3d":
        return testing.write_cars3d(folder / "cars")
    images = (1_036_800 if name == "mpi3d-toy" else 460_800, 64, 64, 3)
    return testing.write_npz_images(folder / f"{name}.npz", images)


def build(name: str, path: str, cache_dir: str) -> tuple[float, dict[str, float], dict[str, float]]:
    """Seconds to build dataset ``name`` from ``path``, and the process's memory before and after."""
    before = memory_mb()
    start = time.perf_counter()
    get_dataset(name, path=path, cache_dir=cache_dir)
    return time.perf_counter() - start, before, memory_mb()


def warm_figures(name: str, path: str, cache_dir: str, batch: int, seconds: float, threads: int | None) -> dict:
    """Warm start seconds, sampling rate and memory (before building, after sampling) of ``name``."""
    if threads:
        torch.set_num_threads(threads)
    before = memory_mb()
    start = time.perf_counter()
    dataset = get_dataset(name, path=path, cache_dir=cache_dir)
    start_s = time.perf_counter() - start
    start = time.perf_counter()
    warmed = read_through(dataset.mapped_file)
    warm_s = time.perf_counter() - start
    rate, batches = sampling_rate(dataset, batch, seconds)
    return {"start_s": start_s, "rate": rate, "batches": batches, "before": before, "after": memory_mb(),
            "images": len(dataset), "warmed_gb": warmed / 1e9, "warm_s": warm_s}


def read_through(path: Path) -> int:
    """Read ``path`` once with ``read()`` so that the page cache holds it (warm), without
    mapping it into this process; the bytes read."""
    done = 0
    with open(path, "rb", buffering=0) as handle:
        while chunk := handle.read(64 * 2**20):
            done += len(chunk)
    return done


def file_datasets(names: list[str], scratch: Path, cache_dir: str, args, spawn) -> None:
    """Print the figures of each dataset read from official files."""
    for name in names:
        folder = scratch / f"{name}-files"
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        path = str(write_official_files(name, folder, args.small))
        written = time.perf_counter() - start
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as child:
            first_s, before, after = child.submit(build, name, path, cache_dir).result()
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as child:
            seconds = args.seconds / 10 if args.small else args.seconds
            warm = child.submit(warm_figures, name, path, cache_dir, args.batch, seconds, args.threads).result()
        grown = {key: warm["after"][key] - warm["before"][key] for key in ("VmRSS", "RssAnon", "RssFile")}
        print(
            f"{name} ({warm['images']:,} images; official files written in {written:.1f} s)\n"
            f"  first use, check + convert into the cache: {first_s:8.2f} s   "
            f"(child VmHWM {after['VmHWM']:.0f} MB, {after['VmHWM'] - before['VmRSS']:.0f} MB above its VmRSS before)\n"
            f"  warm start:                                {warm['start_s']:8.2f} s\n"
            f"  page cache warmed by reading the mapped file ({warm['warmed_gb']:.1f} GB) once: {warm['warm_s']:.1f} s\n"
            f"  random batches of {args.batch} via observations(): {warm['rate']:10,.0f} images/s "
            f"(target >= 50,000; {warm['batches']:,} batches)\n"
            f"  resident memory above the child's before building, after sampling: RssAnon {grown['RssAnon']:6.0f} MB "
            f"(target <= 3,000 MB: {'met' if grown['RssAnon'] <= 3000 else 'NOT met'}), "
            f"RssFile {grown['RssFile']:6.0f} MB (mapped images touched), VmRSS {grown['VmRSS']:6.0f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache-dir", help="where to write the cache (default: a temporary folder)")
    parser.add_argument("--batch", type=int, default=64, help="images per batch (default 64, as dlib)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to sample (default 5)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--datasets", default=",".join(("dsprites", *FILE_DATASETS)),
                        help=f"comma-separated, from dsprites,{','.join(FILE_DATASETS)} (default: all)")
    parser.add_argument("--small", action="store_true",
                        help="Shapes3D mapped in place instead of converted, a tenth of the sampling time")
    args = parser.parse_args()
    names = [name for name in args.datasets.split(",") if name]
    unknown = sorted(set(names) - {"dsprites", *FILE_DATASETS})
    if unknown:
        parser.error(f"--datasets: unknown {', '.join(unknown)}")
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"$ {shlex.join(sys.orig_argv)}")
    load = os.getloadavg()[0]
    print(f"cpus: {os.cpu_count()} (load average {load:.2f}), torch threads: {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory(prefix="data-speed-") as scratch:
        cache_dir = args.cache_dir or scratch
        if any(Path(cache_dir).glob("*.npy")):
            sys.exit(f"{cache_dir}: already holds a cache; give an empty --cache-dir")
        spawn = multiprocessing.get_context("spawn")
        if "dsprites" in names:
            dsprites(cache_dir, args, spawn)
        file_datasets([name for name in names if name != "dsprites"], Path(scratch), cache_dir, args, spawn)


def dsprites(cache_dir: str, args, spawn) -> None:
    """Print dSprites' figures (render, cache, memory, sampling)."""
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

    rate, batches = sampling_rate(dataset, args.batch, args.seconds / 10 if args.small else args.seconds)
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
