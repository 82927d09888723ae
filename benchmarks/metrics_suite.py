"""Time the metrics of dlib's contract in ``disentangle.metrics`` on a cheap representation.

By default dlib's evaluations: the seven ``evaluate`` runs by default plus IRS, the
downstream, reduced and strong downstream tasks, fairness and the unified scores;
``--metrics`` names any others (``dci_es``, ``infomec``, ...).

The dataset has dSprites' factor sizes (3, 6, 40, 32, 32) and its observations are the
factor values scaled to [0, 1], so the time measured is the metrics' own. Three
representations of 10 codes, each a fixed function of the factors (the "noise" is a
hash of the observation, uniform with the stated standard deviation, so that two runs
see the same codes):

- ``linear`` (default): a fixed linear map (5 codes near one factor each, 5 weak
  mixtures) plus noise of standard deviation 0.05;
- ``factors``: the 5 scaled factors followed by 5 codes of noise;
- ``noise``: 10 codes of noise.

Prints one line per metric (seconds, headline scores), the total, the load average and
the command line. ``--compare`` runs both presets and prints fast minus dlib per scalar
score. ``--dci-classifier sklearn`` runs DCI with scikit-learn's own gradient boosting,
``--trees sklearn`` does the same for every metric whose ``predictor`` is boosted trees
(the task-based evaluations), and ``--downstream-predictor`` picks the downstream task's
classifier (dlib's two configurations), to compare values and time on the same inputs.

    python benchmarks/metrics_suite.py [--preset dlib|fast] [--representation linear|factors|noise]
                                       [--metrics mig dci ...] [--seed 0] [--compare]
                                       [--dci-classifier gbt|sklearn] [--trees gbt|sklearn]
                                       [--downstream-predictor logistic_regression|boosted_trees]
                                       [--dci-predictor gradient_boosting|lasso|random_forest]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

import numpy as np

from disentangle.metrics import CODES, METRICS
from disentangle.metrics.dci import PREDICTORS

#: the metrics that score codes alone (the diagnostics need a model's posterior)
CODE_METRICS = [name for name, metric in METRICS.items() if metric.needs == (CODES,)]
#: what runs unless ``--metrics`` names others: dlib's evaluations (the seven ``evaluate``
#: runs by default and its task-based ones; UDR scores several models, see udr_speed.py)
DLIB_SUITE = [name for name in CODE_METRICS if METRICS[name].default] + [
    "irs", "downstream_task", "reduced_downstream_task", "strong_downstream_task", "fairness", "unified_scores",
]


class FactorValues:
    """Factor dataset whose observation is the factor vector scaled to [0, 1]."""

    factors_num_values = [3, 6, 40, 32, 32]
    factor_names = ["shape", "scale", "orientation", "posX", "posY"]
    categorical_factors = (0,)  # shape, as dSprites declares it
    num_factors = 5
    observation_shape = (5,)

    def sample_factors(self, num, random_state):
        return np.stack([random_state.randint(n, size=num) for n in self.factors_num_values], axis=1)

    def sample_observations_from_factors(self, factors, random_state):
        return factors / (np.asarray(self.factors_num_values) - 1.0)


class Representation:
    """One of the three representations above."""

    def __init__(self, kind: str = "linear", seed: int = 1):
        rng = np.random.RandomState(seed)
        self.kind = kind
        self.weights = 0.1 * rng.randn(5, 10)
        self.weights[:, :5] += np.eye(5)
        self.hash_weights = 100.0 * rng.randn(5, 10)

    def __call__(self, observations):
        uniform = np.modf(np.abs(np.sin(observations @ self.hash_weights)) * 43758.5453)[0]
        noise = (uniform - 0.5) * np.sqrt(12.0)  # mean 0, standard deviation 1
        if self.kind == "linear":
            return observations @ self.weights + 0.05 * noise
        if self.kind == "factors":
            return np.hstack([observations, noise[:, 5:]])
        return noise


def overrides(name: str, dci_classifier: str = "gbt", trees: str = "gbt", downstream_predictor: str | None = None,
              dci_predictor: str = "gradient_boosting"):
    """The settings this script changes for metric ``name``: DCI's classifier and predictor,
    and for the metrics with a ``predictor`` setting its choice and whose boosted trees run."""
    if name == "dci":
        return {"classifier": dci_classifier, "predictor": dci_predictor}
    settings = METRICS[name].settings
    if "predictor" not in settings:
        return {}
    predictor = downstream_predictor if name == "downstream_task" and downstream_predictor else settings["predictor"]
    if predictor == "boosted_trees" and trees == "sklearn":
        predictor = "boosted_trees_sklearn"
    return {"predictor": predictor}


def run_suite(
    preset: str, kind: str, metrics: list[str], seed: int, dci_classifier: str = "gbt", trees: str = "gbt",
    downstream_predictor: str | None = None, dci_predictor: str = "gradient_boosting",
) -> tuple[dict, float]:
    """``({metric: result}, total seconds)``, printing a line per metric with its headline scores."""
    data, representation = FactorValues(), Representation(kind)
    results, total = {}, 0.0
    for name in metrics:
        extra = overrides(name, dci_classifier, trees, downstream_predictor, dci_predictor)
        start = time.perf_counter()
        results[name] = METRICS[name](data, representation, np.random.RandomState(seed), preset=preset, **extra)
        seconds = time.perf_counter() - start
        total += seconds
        scalars = _scores(results[name])
        shown = [key for key in METRICS[name].headline if key in scalars] or list(scalars)[:3]
        scores = ", ".join(f"{key}={scalars[key]:.4f}" for key in shown)
        print(f"{name:28s} {seconds:8.2f}  {scores}", flush=True)
    return results, total


def _scores(result: dict) -> dict:
    """The scalar scores of a result (not its settings or per-code lists)."""
    return {key: value for key, value in result.items() if isinstance(value, (int, float)) and key != "settings"}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="dlib", choices=["dlib", "fast"])
    parser.add_argument("--representation", default="linear", choices=["linear", "factors", "noise"])
    parser.add_argument("--metrics", nargs="+", default=DLIB_SUITE, choices=CODE_METRICS,
                        help="default: the metrics evaluate runs by default (the later ones by name)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare", action="store_true", help="run both presets, print fast - dlib")
    parser.add_argument("--dci-classifier", default="gbt", choices=["gbt", "sklearn"],
                        help="DCI's classifier: ours (default) or scikit-learn's own, to compare values and time")
    parser.add_argument("--trees", default="gbt", choices=["gbt", "sklearn"],
                        help="boosted trees of the task-based metrics: ours (default) or scikit-learn's own")
    parser.add_argument("--downstream-predictor", choices=["logistic_regression", "boosted_trees"],
                        help="downstream_task's classifier (default: the metric's, logistic regression)")
    parser.add_argument("--dci-predictor", default="gradient_boosting", choices=list(PREDICTORS),
                        help="DCI's model: dlib's gradient boosting (default) or Eastwood & Williams' regressors")
    args = parser.parse_args(argv)

    presets = ["dlib", "fast"] if args.compare else [args.preset]
    runs = {}
    for preset in presets:
        print(f"preset {preset}, representation {args.representation}")
        print(f"{'metric':28s} {'seconds':>8s}  scores")
        runs[preset], total = run_suite(preset, args.representation, args.metrics, args.seed, args.dci_classifier,
                                        args.trees, args.downstream_predictor, args.dci_predictor)
        print(f"{'total':28s} {total:8.2f}")
    if args.compare:
        print("fast - dlib:")
        for name in args.metrics:
            fast = _scores(runs["fast"][name])
            for key, value in _scores(runs["dlib"][name]).items():
                if key not in fast:  # a training size the fast preset drops
                    continue
                difference = fast[key] - value
                print(f"  {name:28s} {key:40s} {difference:+.4f}  (dlib {value:.4f})")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min): {load} on {os.cpu_count()} CPUs")
    print("command:", shlex.join([os.path.basename(sys.executable), *sys.argv]))


if __name__ == "__main__":
    main()
