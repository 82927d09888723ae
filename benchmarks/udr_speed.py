"""Time ``disentangle udr`` over a set of dSprites runs (target: 10 runs in at most 60 s).

Makes ``--runs`` run folders under ``--dir`` (kept and reused when they are there):
β-VAEs with dlib's conv nets and 10 latents, each trained for ``--steps`` steps
(default 1: nothing is learned, making them is cheap, and encoding costs the same as
for a trained model) with its own seed. Then runs ``disentangle udr DIR`` in a fresh
process, as a user would (loading every run, encoding dlib's 1,000 observations with
each, the UDR, writing each metrics.json), and prints its wall time, the load average
and the command line. The runs' KL is near zero after one step, so most latents are
filtered out and the Lasso fits are cheap; with trained runs they take well under a
second more (90 fits of 1,000 x 10 for 10 runs).

    python benchmarks/udr_speed.py [--runs 10] [--steps 1] [--dir DIR] [--correlation-matrix lasso|spearman]
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from disentangle.train import train_or_resume


def make_runs(folder: Path, num_runs: int, steps: int) -> None:
    """``num_runs`` β-VAE runs of ``steps`` steps on dSprites, ``folder/runs/seed=<s>``."""
    for seed in range(num_runs):
        train_or_resume(folder / "runs" / f"seed={seed}", "beta-vae", "dsprites", steps=steps, seed=seed,
                        batch_size=64, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None, help="where the runs are made (default: a temporary folder)")
    parser.add_argument("--correlation-matrix", default="lasso")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="udr-speed-"))
    started = time.perf_counter()
    make_runs(folder, args.runs, args.steps)
    print(f"{args.runs} runs of {args.steps} step(s) in {folder} ({time.perf_counter() - started:.1f} s to make)")
    command = [sys.executable, "-m", "disentangle", "udr", str(folder / "runs"), "--quiet",
               "--correlation-matrix", args.correlation_matrix]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - started
    print(f"disentangle udr of {args.runs} runs: {seconds:.1f} s (target for 10: <= 60 s)")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {' '.join(map(shlex.quote, sys.argv))}")


if __name__ == "__main__":
    main()
