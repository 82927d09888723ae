"""How a run's disentanglement grows over training: MIG and the latent × factor
mutual information at every checkpoint it kept.

For each checkpoint it prints MIG (dlib's estimator, 10,000 points, 20 bins, seed 0)
and, for each factor, the latent that carries most of it with its share
I(z; v) / H(v) and the runner-up's share (their difference, over the factors, is what
MIG averages). Train with ``--keep-checkpoints`` large enough to keep them all:

    disentangle train --out runs/b4 --steps 3300 --checkpoint-every 550 --keep-checkpoints 20
    python benchmarks/disentanglement_over_training.py runs/b4 [--points 10000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from disentangle.scoring.evaluate import memoised_run_encoder
from disentangle.metrics.estimators.mutual_information import normalised_mutual_info
from disentangle.metrics.sampling import sample_factor_codes
from disentangle.scoring.representation import IndexedFactorData
from disentangle.train import load_run
from disentangle.run_folder import checkpoint_paths


def over_training(run: Path, points: int) -> list[dict]:
    """Per checkpoint: ``{"step", "mig", "mutual_info" (latents × factors)}``."""
    rows = []
    for path in checkpoint_paths(run):
        loaded = load_run(run, checkpoint=path)
        encoder = memoised_run_encoder(loaded.model, loaded.dataset)
        data = IndexedFactorData(loaded.dataset)
        codes, factors = sample_factor_codes(data, encoder, points, np.random.RandomState(0))
        normalised = normalised_mutual_info(codes, factors)
        ordered = np.sort(normalised, axis=0)
        rows.append({"step": loaded.step, "mig": float(np.mean(ordered[-1] - ordered[-2])),
                     "mutual_info": normalised, "factor_names": list(loaded.dataset.factor_names)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--points", type=int, default=10_000)
    args = parser.parse_args()
    print(f"command: python {' '.join(sys.argv)}")
    for run in args.runs:
        print(f"\n{run}")
        for row in over_training(run, args.points):
            normalised = row["mutual_info"]
            order = np.argsort(normalised, axis=0)
            cells = [
                f"{name} z{order[-1, k]} {normalised[order[-1, k], k]:.2f}/{normalised[order[-2, k], k]:.2f}"
                for k, name in enumerate(row["factor_names"])
            ]
            print(f"step {row['step']:6d}  MIG {row['mig']:.3f}  " + "  ".join(cells))


if __name__ == "__main__":
    main()
