"""The quick-start recipe study at each budget: scores at the mid-run checkpoint and at
the end of every run of a sweep folder, by recipe (mean ± std over seeds).

The sweep (``configs/sweeps/quickstart-recipes.yaml``) trains each recipe for 3 minutes
and keeps a checkpoint at half its steps. This script scores that half-way checkpoint
with the sweep's own metrics, seeds and preset (nothing in the run folders is written),
reads the end-of-run scores from each run's ``metrics.json``, and prints one row per
recipe and budget with the training wall time the sweep recorded. It also prints, per
recipe at the end, the latent that carries most of each of posX, posY and scale
(I(z; v) / H(v), 10,000 images) beside the runner-up: a factor is carried mainly by
one latent when the first share is well above the second.

    python benchmarks/recipe_budgets.py sweeps/recipes
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from checkpoint_scores import HEADLINES, recipe_of, score_checkpoint, training_seconds  # benchmarks/, beside this

from disentangle.run_folder import checkpoint_paths

FACTORS_SHOWN = ("posX", "posY", "scale")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path)
    args = parser.parse_args()
    print(f"command: python {' '.join(sys.argv)}")
    runs = json.loads((args.sweep / "sweep.json").read_text())["runs"]
    rows: dict[tuple[str, str], list[dict]] = defaultdict(list)
    shares: dict[str, list[np.ndarray]] = defaultdict(list)
    names: list[str] = []
    for entry in runs:
        run = args.sweep / "runs" / entry["name"]
        status = json.loads((args.sweep / "status" / f"{entry['name']}.json").read_text())
        if status["state"] != "done":
            print(f"skipped {entry['name']}: {status['state']}")
            continue
        recipe = recipe_of(entry["choices"])
        paths = checkpoint_paths(run)
        steps = entry["train"]["steps"]
        for label, path, step in (("1.5 min", paths[-2], steps // 2), ("3 min", paths[-1], steps)):
            scores, normalised, names = score_checkpoint(run, path, entry["evaluation"])
            rows[(recipe, label)].append({**scores, "train_s": training_seconds(run, step)})
            if label == "3 min":
                shares[recipe].append(normalised)
    print("\n| recipe | budget | training (s) | seeds | " + " | ".join(label for _, _, label in HEADLINES) + " |")
    print("|---|---|---|---|" + "---|" * len(HEADLINES))
    for (recipe, budget), values in rows.items():
        cells = [f"{np.mean([v[label] for v in values]):.3f} ± {np.std([v[label] for v in values]):.3f}"
                 for _, _, label in HEADLINES]
        seconds = np.mean([v["train_s"] for v in values])
        print(f"| {recipe} | {budget} | {seconds:.0f} | {len(values)} | " + " | ".join(cells) + " |")
    print("\nAt 3 min, per seed: the latent carrying most of each factor, its share / the runner-up's")
    for recipe, matrices in shares.items():
        parts = []
        for normalised in matrices:
            cells = []
            for name in FACTORS_SHOWN:
                column = normalised[:, names.index(name)]
                first, second = np.argsort(column)[::-1][:2]
                cells.append(f"{name} z{first} {column[first]:.2f}/{column[second]:.2f}")
            parts.append(", ".join(cells))
        print(f"- {recipe}: " + " | ".join(parts))


if __name__ == "__main__":
    main()
