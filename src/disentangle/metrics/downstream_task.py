"""Downstream classification (Locatello et al. 2019, Sec. 5; dlib's ``downstream_task.py``).

How well each factor can be learned from the codes with few labels: for each training
size n in ``num_train``, n points to train and ``num_test`` points to test are drawn,
and a classifier per factor (``predictor``, see :mod:`disentangle.metrics.estimators.predictors`)
learns the factor from all codes. dlib's result names, for every size n:

- ``"n:mean_test_accuracy"``, ``"n:mean_train_accuracy"``: mean accuracy over factors;
- ``"n:min_test_accuracy"``, ``"n:min_train_accuracy"``: the worst factor's;
- ``"n:test_accuracy_factor_k"``, ``"n:train_accuracy_factor_k"``: factor k's.

dlib's configurations: sizes 10, 100, 1,000 and 10,000, 5,000 test points, with
``LogisticRegressionCV`` (``predictor="logistic_regression"``, the default) or
``GradientBoostingClassifier()`` (``"boosted_trees"``). The points are drawn as dlib
draws them (training then test set, size after size); the classifiers' seeds are
drawn from ``random_state`` after all points (dlib leaves the trees' unset).
Invariant to permuting codes; with boosted trees also to increasing maps of each code
(trees depend only on the order of values), up to the trees' ties.
"""

from __future__ import annotations

import numpy as np

from disentangle.metrics.descriptor import metric
from disentangle.metrics.estimators.predictors import (
    accuracies,
    check_predictor,
    check_train_sizes,
    draw_seeds,
    fit_per_factor,
)
from disentangle.metrics.sampling import sample_points


@metric(
    "downstream_task",
    headline=("10000:mean_test_accuracy", "1000:mean_test_accuracy"),
    fast={"num_train": (10, 100, 1_000), "num_test": 2_000},
)
def downstream_task(
    ground_truth_data,
    representation_function,
    random_state,
    *,
    num_train=(10, 100, 1_000, 10_000),
    num_test=5_000,
    batch_size=16,
    predictor="logistic_regression",
    n_jobs=None,
) -> dict:
    """Accuracies per training size (see the module docstring), plus ``"settings"``.

    Settings (``preset="fast"``: no 10,000-point task, 2,000 test points):

    - ``num_train``: training-set sizes, each a separate task;
    - ``num_test``: test points per training size; points are drawn ``batch_size`` at a time;
    - ``predictor``: ``"logistic_regression"``, ``"boosted_trees"`` (or ``"boosted_trees_sklearn"``);
    - ``n_jobs``: threads for the per-factor classifiers; ``None``: the CPUs available.
    """
    train_sizes = check_train_sizes("downstream_task", num_train)
    check_predictor("downstream_task", predictor)
    points = sample_points(
        "downstream_task", ground_truth_data, representation_function, random_state,
        [count for size in train_sizes for count in (size, num_test)], batch_size,
    )
    scores = {}
    for size, (codes, factors), (codes_test, factors_test) in zip(train_sizes, points[::2], points[1::2]):
        seeds = draw_seeds(random_state, factors.shape[1])
        models = fit_per_factor(predictor, codes, factors, seeds, n_jobs)
        scores.update(accuracy_scores(str(size), accuracies(models, codes, factors, n_jobs),
                                      accuracies(models, codes_test, factors_test, n_jobs)))
    return scores


def accuracy_scores(prefix: str, train: np.ndarray, test: np.ndarray) -> dict:
    """dlib's names for per-factor train and test accuracies ``(K,)``, each prefixed ``prefix:``."""
    scores = {
        f"{prefix}:mean_test_accuracy": float(np.mean(test)),
        f"{prefix}:mean_train_accuracy": float(np.mean(train)),
        f"{prefix}:min_test_accuracy": float(np.min(test)),
        f"{prefix}:min_train_accuracy": float(np.min(train)),
    }
    for k in range(len(train)):
        scores[f"{prefix}:train_accuracy_factor_{k}"] = float(train[k])
        scores[f"{prefix}:test_accuracy_factor_{k}"] = float(test[k])
    return scores



DOWNSTREAM_TASK = downstream_task.metric
