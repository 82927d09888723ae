"""Unfairness of a classifier on the codes (Locatello et al. 2019b, "On the Fairness of
Disentangled Representations", Sec. 4; dlib's ``fairness.py``).

How much a classifier's predictions of a target factor change when a sensitive factor
is intervened on. For each target factor t, a classifier (``predictor``, dlib:
``GradientBoostingClassifier()``, see :mod:`disentangle.metrics.estimators.predictors`) learns t from
the codes of ``num_train`` points. For each sensitive factor s != t,
``num_test_points_per_class`` factor vectors are drawn once, and for every value c of
s they are set to s = c and classified: column c of a count matrix (predicted value of
t x value of s). Each column's distribution of predictions has a total variation
distance to the distribution over all columns; the pair (t, s) scores their mean
(weighted by the column counts, all equal here) and their maximum. 0: the predictions
ignore s.

dlib's result names, for ``prefix`` ``mean_fairness`` and ``max_fairness`` (the pair's
mean or maximum distance): ``"prefix:pred{t}:sens{s}"`` per pair; per target factor,
the mean and maximum over sensitive factors (``"prefix:pred{t}:mean_sens"``,
``":max_sens"``); per sensitive factor, over targets (``"prefix:sens{s}:mean_pred"``,
``":max_pred"``); and the eight combinations of both (``"prefix:mean_sens:mean_pred"``
... ``"prefix:max_pred:max_sens"``). The paper's score is
``"mean_fairness:mean_pred:mean_sens"``.

Points are drawn as dlib draws them (the training set, then the test factor vectors pair
by pair); the classifiers' seeds are drawn from ``random_state`` after them (dlib leaves
the trees' unset). dlib computes the distributions in float32, we in float64.
Invariant to permuting codes; with boosted trees also to increasing maps of each code.
"""

from __future__ import annotations

import numpy as np

from disentangle.metrics.descriptor import metric
from disentangle.metrics.estimators.predictors import check_predictor, draw_seeds, fit_per_factor
from disentangle.metrics.sampling import check_factors, draw_factors, encode, factor_sizes, sample_points


@metric(
    "fairness",
    headline=("mean_fairness:mean_pred:mean_sens", "max_fairness:mean_pred:mean_sens"),
    fast={"num_train": 2_000},
)
def fairness(
    ground_truth_data,
    representation_function,
    random_state,
    *,
    num_train=10_000,
    num_test_points_per_class=100,
    batch_size=16,
    predictor="boosted_trees",
    n_jobs=None,
) -> dict:
    """Unfairness scores in [0, 1] under dlib's names (see the module docstring), plus
    ``"settings"``.

    Settings (``preset="fast"``: 2,000 training points):

    - ``num_train``, ``batch_size``: training points, drawn ``batch_size`` at a time;
    - ``num_test_points_per_class``: test factor vectors per (target, sensitive) pair;
    - ``predictor``: ``"boosted_trees"``, ``"logistic_regression"`` (or ``"boosted_trees_sklearn"``);
    - ``n_jobs``: threads for the per-factor classifiers; ``None``: the CPUs available.
    """
    check_predictor("fairness", predictor)
    [(codes, factors)] = sample_points(
        "fairness", ground_truth_data, representation_function, random_state, [num_train], batch_size,
        min_factors=2,
    )
    sizes = factor_sizes(ground_truth_data)
    num_factors = len(sizes)
    pairs = [(t, s) for t in range(num_factors) for s in range(num_factors) if s != t]
    tests = {
        pair: check_factors(draw_factors(ground_truth_data, num_test_points_per_class, random_state), sizes)
        for pair in pairs
    }
    models = fit_per_factor(predictor, codes, factors, draw_seeds(random_state, num_factors), n_jobs)
    mean_distance, max_distance = np.zeros((num_factors, num_factors)), np.zeros((num_factors, num_factors))
    for (t, s), test in tests.items():
        intervened = np.repeat(test[None], sizes[s], axis=0)  # (values of s, points, K)
        intervened[:, :, s] = np.arange(sizes[s])[:, None]
        predictions = models[t].predict(
            encode(ground_truth_data, representation_function, intervened.reshape(-1, num_factors), random_state)
        ).reshape(sizes[s], -1)
        counts = np.stack([np.bincount(row, minlength=sizes[t]) for row in predictions.astype(np.int64)], axis=1)
        mean_distance[t, s], max_distance[t, s] = inter_group_fairness(counts)
    return {**fairness_scores(mean_distance, "mean_fairness"), **fairness_scores(max_distance, "max_fairness")}


def inter_group_fairness(counts: np.ndarray) -> tuple[float, float]:
    """``(mean, max)`` over columns of ``counts`` ``(predicted values, sensitive values)`` of
    the total variation distance between the column's distribution of predictions and
    that of all columns together; the mean is weighted by the columns' counts."""
    counts = np.asarray(counts, dtype=np.float64)
    per_column = counts.sum(axis=0)
    overall = counts.sum(axis=1) / counts.sum()
    distances = 0.5 * np.abs(counts / per_column - overall[:, None]).sum(axis=0)
    return float(np.sum(distances * per_column) / per_column.sum()), float(np.max(distances))


def fairness_scores(distance: np.ndarray, prefix: str) -> dict:
    """dlib's names for a matrix ``(K, K)`` of distances ``[target, sensitive]`` (diagonal unused)."""
    num_factors = len(distance)
    off_diagonal = ~np.eye(num_factors, dtype=bool)
    scores = {
        f"{prefix}:pred{t}:sens{s}": float(distance[t, s])
        for t in range(num_factors) for s in range(num_factors) if s != t
    }
    per_target = [distance[t, off_diagonal[t]] for t in range(num_factors)]
    per_sensitive = [distance[off_diagonal[:, s], s] for s in range(num_factors)]
    for t, row in enumerate(per_target):
        scores[f"{prefix}:pred{t}:mean_sens"] = float(np.mean(row))
        scores[f"{prefix}:pred{t}:max_sens"] = float(np.max(row))
    for s, column in enumerate(per_sensitive):
        scores[f"{prefix}:sens{s}:mean_pred"] = float(np.mean(column))
        scores[f"{prefix}:sens{s}:max_pred"] = float(np.max(column))
    for first, groups in (("sens", per_sensitive), ("pred", per_target)):
        second = "pred" if first == "sens" else "sens"
        means, maxima = [np.mean(g) for g in groups], [np.max(g) for g in groups]
        scores[f"{prefix}:mean_{first}:mean_{second}"] = float(np.mean(means))
        scores[f"{prefix}:mean_{first}:max_{second}"] = float(np.mean(maxima))
        scores[f"{prefix}:max_{first}:mean_{second}"] = float(np.max(means))
        scores[f"{prefix}:max_{first}:max_{second}"] = float(np.max(maxima))
    return scores



FAIRNESS = fairness.metric
