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

from disentangle.evaluate import memoised_run_encoder, score_representation
from disentangle.metrics.mutual_information import normalised_mutual_info
from disentangle.metrics.sampling import sample_factor_codes
from disentangle.representation import IndexedFactorData
from disentangle.train import load_run
from disentangle.train.run_folder import checkpoint_paths

HEADLINES = [
    ("mig", "discrete_mig", "MIG"), ("dci", "disentanglement", "DCI D"), ("beta_vae", "eval_accuracy", "BetaVAE"),
]
FACTORS_SHOWN = ("posX", "posY", "scale")


def recipe_of(choices: dict) -> str:
    """The run's settings beyond the base, but for the seed and the step counts."""
    shown = {k: v for k, v in choices.items() if k not in ("train.seed", "train.steps", "train.checkpoint_every")}
    return " ".join(f"{k.split('.')[-1]}={v:g}" if isinstance(v, float) else f"{k.split('.')[-1]}={v}"
                    for k, v in shown.items()) or "base"


def training_seconds(run: Path, step: int) -> float:
    """Seconds of training up to ``step``, from the run's log (scaled from the nearest line)."""
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    line = min(lines, key=lambda entry: abs(entry["step"] - step))
    return line["time"] * step / line["step"]


def score_checkpoint(run: Path, checkpoint: Path, evaluation: dict) -> tuple[dict, np.ndarray, list[str]]:
    """Headline scores of one checkpoint, and its latent × factor information shares."""
    loaded = load_run(run, checkpoint=checkpoint)
    memo = memoised_run_encoder(loaded.model, loaded.dataset)
    data = IndexedFactorData(loaded.dataset)
    content = score_representation(data, memo, evaluation["metrics"], evaluation["seeds"], evaluation["preset"])
    scores = {label: content["summary"][m][k]["mean"] for m, k, label in HEADLINES}
    codes, factors = sample_factor_codes(data, memo, 10_000, np.random.RandomState(0))
    return scores, normalised_mutual_info(codes, factors), list(loaded.dataset.factor_names)


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
