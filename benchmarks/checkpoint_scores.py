"""The scores of a sweep's runs at every checkpoint they kept: a learning curve of
disentanglement, by method (mean ± std over seeds).

Each finished run of the sweep folder is loaded at each of its checkpoints and scored with
the sweep's own metrics, seeds and preset (nothing in the run folders is written); the
table has one row per method and checkpoint step, with the training seconds the run's log
recorded up to that step. A method is a run's settings beyond the base, but for the seed.

    python benchmarks/checkpoint_scores.py SWEEP_DIR [--metrics mig,dci]

``--metrics`` scores only these of the sweep's metrics (a cheaper curve).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from disentangle.scoring.evaluate import memoised_run_encoder, score_representation
from disentangle.metrics.estimators.mutual_information import normalised_mutual_info
from disentangle.metrics.sampling import sample_factor_codes
from disentangle.scoring.representation import IndexedFactorData
from disentangle.train import load_run
from disentangle.run_folder import checkpoint_paths

HEADLINES = [
    ("mig", "discrete_mig", "MIG"), ("dci", "disentanglement", "DCI D"), ("beta_vae", "eval_accuracy", "BetaVAE"),
]


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
    """Headline scores of one checkpoint, and its latent × factor information shares
    (I(z_j; v_k) / H(v_k) on 10,000 images)."""
    loaded = load_run(run, checkpoint=checkpoint)
    memo = memoised_run_encoder(loaded.model, loaded.dataset)
    data = IndexedFactorData(loaded.dataset)
    content = score_representation(data, memo, evaluation["metrics"], evaluation["seeds"], evaluation["preset"])
    scores = {label: content["summary"][m][k]["mean"] for m, k, label in HEADLINES if m in content["summary"]}
    codes, factors = sample_factor_codes(data, memo, 10_000, np.random.RandomState(0))
    return scores, normalised_mutual_info(codes, factors), list(loaded.dataset.factor_names)


def finished_runs(sweep: Path):
    """``(run folder, sweep entry)`` of every run of the sweep whose status is done."""
    for entry in json.loads((sweep / "sweep.json").read_text())["runs"]:
        status = sweep / "status" / f"{entry['name']}.json"
        if status.is_file() and json.loads(status.read_text())["state"] == "done":
            yield sweep / "runs" / entry["name"], entry
        else:
            print(f"skipped {entry['name']}: not finished")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--metrics", help="comma-separated: only these of the sweep's metrics")
    args = parser.parse_args()
    print(f"command: python {' '.join(sys.argv)}")
    rows: dict[tuple[str, int], list[dict]] = defaultdict(list)
    final: dict[str, list[tuple[np.ndarray, list[str]]]] = defaultdict(list)
    for run, entry in finished_runs(args.sweep):
        recipe = recipe_of(entry["choices"])
        paths = checkpoint_paths(run)
        evaluation = dict(entry["evaluation"])
        if args.metrics:
            evaluation["metrics"] = [name for name in evaluation["metrics"] if name in args.metrics.split(",")]
        for path in paths:
            step = int(path.stem.split("-")[1])
            scores, shares, names = score_checkpoint(run, path, evaluation)
            rows[(recipe, step)].append({**scores, "train_s": training_seconds(run, step)})
            if path == paths[-1]:
                final[recipe].append((shares, names))
    labels = [label for _, _, label in HEADLINES if any(label in v for values in rows.values() for v in values)]
    print("\n| method | step | training (s) | seeds | " + " | ".join(labels) + " |")
    print("|---|---|---|---|" + "---|" * len(labels))
    for (recipe, step), values in sorted(rows.items()):
        cells = [f"{np.mean([v[label] for v in values]):.3f} ± {np.std([v[label] for v in values]):.3f}"
                 for label in labels]
        seconds = np.mean([v["train_s"] for v in values])
        print(f"| {recipe} | {step} | {seconds:.0f} | {len(values)} | " + " | ".join(cells) + " |")
    print("\nAt the last checkpoint, per seed: for each factor, the latent carrying most of it, "
          "its share / the runner-up's")
    for recipe, runs in final.items():
        for shares, names in runs:
            cells = []
            for k, name in enumerate(names):
                first, second = np.argsort(shares[:, k])[::-1][:2]
                cells.append(f"{name} z{first} {shares[first, k]:.2f}/{shares[second, k]:.2f}")
            print(f"- {recipe}: " + ", ".join(cells))


if __name__ == "__main__":
    main()
