"""What scoring one run costs, metric by metric: the figures of ``disentangle.reproduce.cost``.

Trains a β-VAE on dSprites with the CPU recipe (Higgins' MLP nets, Adam 1e-3, batch 256)
for ``--steps`` steps (kept and reused in ``--dir``), then scores it with each metric
alone under each preset, as ``disentangle evaluate RUN --metrics M --preset P`` does,
each call with a fresh memo of codes, after one unprinted pass of every metric under
``fast`` (a study scores its runs in one process, so only its first run loads the
metrics' compiled kernels). For every metric it prints the distinct images encoded, the
seconds spent encoding them, and the rest: the metric's own work (sampling, fitting its
classifiers). Scoring a run of other nets costs the same rest plus the encoding time
scaled by the ratio of the nets' encoding rates, which are measured last, per
architecture, on ``--encode-images`` random dSprites images with a freshly built β-VAE
(encoding costs the same trained or not).

    python benchmarks/scoring_cost.py [--steps 400] [--dir DIR] [--presets fast dlib]
        [--metrics beta_vae factor_vae mig dci sap modularity_explicitness]
        [--architectures mlp conv-2x2 conv] [--encode-images 50000]
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

from disentangle.data import get_dataset
from disentangle.scoring.evaluate import evaluate, memoised_run_encoder
from disentangle.reproduce import STUDIES
from disentangle.train import RunConfig, train_or_resume

#: the metrics some declared study scores with
STUDY_METRICS = sorted({metric for study in STUDIES.values() for metric in study.metrics})


def train_run(folder: Path, steps: int) -> Path:
    """The benchmark's β-VAE, trained for ``steps`` steps with the CPU recipe (reused when there)."""
    run = folder / f"beta-vae-mlp-{steps}"
    train_or_resume(run, "beta-vae", "dsprites", architecture="mlp", steps=steps, batch_size=256,
                    learning_rate=1e-3, checkpoint_every=steps, seed=0, progress=False)
    return run


def score_one(run: Path, metric: str, preset: str) -> tuple[int, float, float]:
    """``(distinct images encoded, encoding seconds, other seconds)`` of scoring ``run`` with ``metric`` alone."""
    started = time.perf_counter()
    written = evaluate(run, [metric], preset=preset)
    seconds = time.perf_counter() - started
    encoding = written["encoding"]
    return encoding["distinct_images"], encoding["wall_time_s"], seconds - encoding["wall_time_s"]


def encoding_rate(architecture: str, images: int) -> float:
    """Images/s encoded by a freshly built β-VAE of ``architecture`` on ``images`` random dSprites images."""
    dataset = get_dataset("dsprites")
    config = RunConfig.from_keywords("beta-vae", "dsprites", architecture=architecture)
    memo = memoised_run_encoder(config.build_model(dataset.observation_shape), dataset)
    memo(np.random.default_rng(0).choice(len(dataset), size=images, replace=False))
    return memo.encoded / memo.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the run is made and kept (default: a temporary folder, removed at the end)")
    parser.add_argument("--presets", nargs="+", default=["fast", "dlib"])
    parser.add_argument("--metrics", nargs="+", default=STUDY_METRICS)
    parser.add_argument("--architectures", nargs="+", default=["mlp", "conv-2x2", "conv"])
    parser.add_argument("--encode-images", type=int, default=50_000)
    args = parser.parse_args()
    if args.dir is not None:
        measure(args, args.dir)
    else:
        with tempfile.TemporaryDirectory(prefix="scoring-cost-") as folder:
            measure(args, Path(folder))


def measure(args: argparse.Namespace, folder: Path) -> None:
    """Train (or find) the run in ``folder``, then print every figure."""
    started = time.perf_counter()
    run = train_run(folder, args.steps)
    print(f"{run}: {args.steps} steps ({time.perf_counter() - started:.1f} s to make or find)")
    for metric in args.metrics:
        score_one(run, metric, "fast")
    print(f"{'preset':7s} {'metric':26s} {'images':>9s} {'encoding s':>11s} {'other s':>8s} {'total s':>8s}")
    for preset in args.presets:
        for metric in args.metrics:
            images, encoding, other = score_one(run, metric, preset)
            print(f"{preset:7s} {metric:26s} {images:9,d} {encoding:11.2f} {other:8.2f} {encoding + other:8.2f}")
    print(f"{'architecture':12s} {'encoding images/s':>18s}")
    for architecture in args.architectures:
        print(f"{architecture:12s} {encoding_rate(architecture, args.encode_images):18,.0f}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{' '.join(map(shlex.quote, [os.path.basename(sys.executable), *sys.argv]))}")


if __name__ == "__main__":
    main()
