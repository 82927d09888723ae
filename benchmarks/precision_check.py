"""Does bf16 autocast (or TF32) keep the results of fp32? Loss curves and scores over seeds.

For each recipe, trains every seed under every precision (the same seed starts from the
same weights and draws the same batches, so a seed's runs differ by their arithmetic
only), scores each run (MIG, DCI, BetaVAE, preset ``fast``; ``--metrics`` for fewer) and
prints, per precision, the final loss and scores of every seed, the largest relative gap
of its loss curve from fp32's of the same seed, and a verdict: a precision keeps fp32's
results when, for the final loss and every score, its mean over the seeds lies inside
the range of fp32's seeds. That is the check ``train.precision=auto`` rests on
(``disentangle.train.precision``).

Recipes: ``dlib-beta-vae`` (configs/beta-vae-dsprites.yaml: dlib's conv β-VAE, β = 4,
batch 64; 3,000 steps by default, 1 % of its budget) and ``quickstart``
(configs/quickstart-dsprites.yaml: the MLP β-TCVAE of scripts/demo.sh, its 1,060 steps).

    python benchmarks/precision_check.py [--recipes dlib-beta-vae,quickstart] [--seeds 0,1,2]
        [--device cpu] [--precisions fp32,bf16] [--steps N] [--metrics mig,dci,beta_vae] [--json results.json]

``--steps`` replaces every recipe's steps (a short check, or the tiny mode of
benchmarks/gpu_session.py); the images/s printed beside each run are the run's own log
(the precisions alternate, but this is a check of results, not a benchmark).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from disentangle.scoring.evaluate import evaluate
from disentangle.train import RunConfig, train
from disentangle.train.config import read_config_file
from disentangle.train.precision import PRECISIONS, has_bf16_instructions

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
#: recipe → (configuration file, steps, log every)
RECIPES = {
    "dlib-beta-vae": (CONFIGS / "beta-vae-dsprites.yaml", 3000, 100),
    "quickstart": (CONFIGS / "quickstart-dsprites.yaml", 1060, 53),
}
#: the scores compared: (metric, score) → the name printed
SCORES = {("mig", "discrete_mig"): "MIG", ("dci", "disentanglement"): "DCI", ("beta_vae", "eval_accuracy"): "BetaVAE"}


def recipe_config(recipe: str, seed: int, precision: str, device: str, steps: int | None) -> RunConfig:
    """The run of ``recipe`` for one seed and precision, ``steps`` long (None: the recipe's)."""
    path, default_steps, log_every = RECIPES[recipe]
    steps = steps or default_steps
    config = RunConfig.from_dict(read_config_file(path), source=str(path))
    return config.with_train(steps=steps, seed=seed, precision=precision, device=device,
                             log_every=min(log_every, steps), checkpoint_every=steps, keep_checkpoints=1)


def one_run(folder: Path, config: RunConfig, device: str, metrics: list[str]) -> dict:
    """Train ``config`` into ``folder`` and score it with ``metrics`` (of ``SCORES``): its
    logged loss curve, images/s and scores."""
    run = train(folder, config, progress=False)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    results = evaluate(run, metrics=metrics, preset="fast", device=device)["results"]
    return {
        "curve": [entry["loss"] for entry in log],
        "images_per_second": log[-1]["images_per_second"],
        "scores": {name: results[metric][0][key] for (metric, key), name in SCORES.items() if metric in results},
    }


def quantity(run: dict, name: str) -> float:
    """A run's final logged loss (``name`` "loss") or its score ``name``."""
    return run["curve"][-1] if name == "loss" else run["scores"][name]


def verdict(runs: dict[str, dict[int, dict]], precision: str, names: list[str]) -> list[str]:
    """The quantities ``names`` whose mean over seeds under ``precision`` lies outside the
    range of fp32's seeds: empty when ``precision`` keeps fp32's results."""
    outside = []
    for name in names:
        reference = [quantity(run, name) for run in runs["fp32"].values()]
        mean = statistics.fmean(quantity(run, name) for run in runs[precision].values())
        if not min(reference) <= mean <= max(reference):
            outside.append(f"{name} {mean:.4g} outside fp32's [{min(reference):.4g}, {max(reference):.4g}]")
    return outside


def curve_gap(curve: list[float], reference: list[float]) -> float:
    """The largest relative difference between two logged loss curves, point by point."""
    return max(abs(a - b) / abs(b) for a, b in zip(curve, reference))


def report(recipe: str, runs: dict[str, dict[int, dict]]) -> dict:
    """Print one recipe's table and verdicts; return them for the JSON."""
    seeds = sorted(runs["fp32"])
    seed_gaps = [curve_gap(runs["fp32"][a]["curve"], runs["fp32"][b]["curve"]) for a in seeds for b in seeds if a < b]
    names = ["loss", *runs["fp32"][seeds[0]]["scores"]]
    print(f"{recipe}: seeds {', '.join(map(str, seeds))}")
    print(f"  {'':5s} {'seed':>4s} {'final loss':>10s} " + " ".join(f"{n:>7s}" for n in names[1:])
          + f" {'gap to fp32':>11s} {'images/s':>8s}")
    verdicts = {}
    for precision, by_seed in runs.items():
        for seed, run in by_seed.items():
            gap = curve_gap(run["curve"], runs["fp32"][seed]["curve"])
            print(f"  {precision:5s} {seed:4d} {run['curve'][-1]:10.3f} "
                  + " ".join(f"{run['scores'][n]:7.3f}" for n in names[1:])
                  + f" {gap:11.2%} {run['images_per_second']:8.0f}")
    if seed_gaps:
        print(f"  fp32 seed to seed: largest relative gap between curves {max(seed_gaps):.2%}")
    for precision in runs:
        if precision == "fp32":
            continue
        outside = verdict(runs, precision, names) if len(seeds) > 1 else ["one seed: no spread to compare with"]
        verdicts[precision] = outside
        kept = "keeps fp32's results" if not outside else "departs from fp32: " + "; ".join(outside)
        print(f"  {precision}: {kept} (mean over seeds inside fp32's seed range)")
    return {"runs": runs, "fp32_seed_gap": max(seed_gaps) if seed_gaps else None, "outside": verdicts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default=",".join(RECIPES), help=f"some of {', '.join(RECIPES)}")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (at least 2 for a verdict)")
    parser.add_argument("--steps", type=int, help="steps of every run (default: each recipe's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", default="fp32,bf16", help=f"from {', '.join(PRECISIONS[1:])}, fp32 first")
    parser.add_argument("--metrics", default=",".join(sorted({metric for metric, _ in SCORES})),
                        help="the metrics scored, some of " + ", ".join(sorted({metric for metric, _ in SCORES})))
    parser.add_argument("--json", type=Path, help="also write the curves, scores and verdicts here")
    args = parser.parse_args()
    precisions, recipes = args.precisions.split(","), args.recipes.split(",")
    if precisions[0] != "fp32" or not set(precisions) <= set(PRECISIONS[1:]):
        parser.error(f"--precisions: fp32 first, then some of {', '.join(PRECISIONS[2:])}")
    metrics = args.metrics.split(",")
    if not set(metrics) <= {metric for metric, _ in SCORES}:
        parser.error(f"--metrics: expected some of {', '.join(sorted({metric for metric, _ in SCORES}))}")
    if not set(recipes) <= set(RECIPES):
        parser.error(f"--recipes: expected some of {', '.join(RECIPES)}")
    try:
        seeds = [int(seed) for seed in args.seeds.split(",")]
    except ValueError:
        parser.error("--seeds: expected comma-separated integers")
    if args.steps is not None and args.steps < 1:
        parser.error("--steps: expected a positive integer")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"device {args.device} (this CPU {'has' if has_bf16_instructions() else 'has no'} bfloat16 instructions)")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for recipe in recipes:
            runs: dict[str, dict[int, dict]] = {precision: {} for precision in precisions}
            for seed in seeds:
                for precision in precisions:
                    config = recipe_config(recipe, seed, precision, args.device, args.steps)
                    runs[precision][seed] = one_run(Path(folder) / f"{recipe}-{seed}-{precision}", config, args.device,
                                                     metrics)
            results[recipe] = report(recipe, runs)
    if args.json:
        args.json.write_text(json.dumps({"command": sys.argv, "device": args.device, "recipes": results}, indent=1))


if __name__ == "__main__":
    main()
