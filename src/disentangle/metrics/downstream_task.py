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

from disentangle.metrics.descriptor import Metric
from disentangle.metrics.estimators.predictors import (
    accuracies,
    check_n_jobs,
    check_predictor,
    check_train_sizes,
    draw_seeds,
    fit_per_factor,
)
from disentangle.metrics.sampling import sample_factor_codes


def downstream_task(
    ground_truth_data, representation_function, random_state, preset: str = "dlib", **settings
) -> dict:
    """Accuracies per training size (see the module docstring), plus ``"settings"``.

    ``settings`` override the preset's (``DOWNSTREAM_TASK.settings``).
    """
    settings = DOWNSTREAM_TASK.resolve(preset, settings)
    train_sizes = check_train_sizes("downstream_task", settings["num_train"])
    check_predictor("downstream_task", settings["predictor"])
    settings["n_jobs"] = check_n_jobs("downstream_task", settings["n_jobs"])
    samples = [
        [
            sample_factor_codes(
                ground_truth_data, representation_function, num, random_state, settings["batch_size"]
            )
            for num in (size, settings["num_test"])
        ]
        for size in train_sizes
    ]
    scores = {}
    for size, ((codes, factors), (codes_test, factors_test)) in zip(train_sizes, samples):
        seeds = draw_seeds(random_state, factors.shape[1])
        models = fit_per_factor(settings["predictor"], codes, factors, seeds, settings["n_jobs"])
        scores.update(accuracy_scores(str(size), accuracies(models, codes, factors, settings["n_jobs"]),
                                      accuracies(models, codes_test, factors_test, settings["n_jobs"])))
    return {**scores, "settings": settings}


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


DOWNSTREAM_TASK = Metric(
    name="downstream_task",
    function=downstream_task,
    settings={
        "num_train": (10, 100, 1_000, 10_000),  # training-set sizes, each a separate task
        "num_test": 5_000,  # test points per training size
        "batch_size": 16,  # points encoded at a time
        "predictor": "logistic_regression",  # or "boosted_trees" (or "boosted_trees_sklearn")
        "n_jobs": None,  # threads for the per-factor classifiers; None: the CPUs available
    },
    fast={"num_train": (10, 100, 1_000), "num_test": 2_000},
    headline=("10000:mean_test_accuracy", "1000:mean_test_accuracy"),
)
