"""Downstream classification without the most informative codes (dlib's
``reduced_downstream_task.py``): how much of a factor leaks into the other codes.

For each training size n in ``num_train`` (n training and ``num_test`` test points,
drawn as dlib draws them) and each factor of interest f, the ``num_factors_to_remove``
codes most important for f are deleted one at a time: each time, f's column of DCI's
gradient-boosting importance matrix (:func:`disentangle.metrics.dci.importance_gbt`,
dlib's ``factorwise_dci``) is computed on the remaining codes and its largest entry
removed. Then a classifier per factor (``predictor``) learns every factor from the
remaining codes. dlib's result names: ``"n:train_accuracy_k_factor_of_interest_f"`` and
``"n:test_accuracy_k_factor_of_interest_f"``, the accuracy on factor k with f's codes
removed. We add their means, over f, on f itself (``"n:mean_test_accuracy_factor_of_interest"``:
high when a factor leaks into other codes) and over the pairs k != f
(``"n:mean_test_accuracy_other_factors"``: high when removing f's codes spares the others),
and the same for training accuracy.

dlib recomputes the whole importance matrix (a classifier per factor) for every factor
of interest and removal to read one column; we compute it once for the first removal
(the same matrix) and only f's column after. dlib draws the trees' seeds from the
global ``np.random`` (unrepeatable); here they are drawn from ``random_state`` after all
points. dlib has no study configuration for this task; the defaults are its test
configuration's (one code removed, boosted trees) with 1,000 training and 5,000 test
points (``fast``: 500 and 2,000).
"""

from __future__ import annotations

import numpy as np

from disentangle.errors import InputError
from disentangle.metrics.dci import importance_gbt
from disentangle.metrics.descriptor import metric
from disentangle.metrics.estimators.predictors import (
    accuracies,
    check_predictor,
    check_train_sizes,
    draw_seeds,
    fit_many,
)
from disentangle.metrics.sampling import sample_points


@metric(
    "reduced_downstream_task",
    headline=("1000:mean_test_accuracy_factor_of_interest", "1000:mean_test_accuracy_other_factors"),
    fast={"num_train": (500,), "num_test": 2_000},
)
def reduced_downstream_task(
    ground_truth_data,
    representation_function,
    random_state,
    *,
    num_train=(1_000,),
    num_test=5_000,
    batch_size=16,
    num_factors_to_remove=1,
    predictor="boosted_trees",
    n_jobs=None,
) -> dict:
    """Accuracies per training size and factor of interest (see the module docstring),
    plus ``"settings"``.

    Settings (``preset="fast"``: 500 training and 2,000 test points):

    - ``num_train``: training-set sizes, each a separate task;
    - ``num_test``: test points per training size; points are drawn ``batch_size`` at a time;
    - ``num_factors_to_remove``: codes removed per factor of interest;
    - ``predictor``: ``"boosted_trees"``, ``"logistic_regression"`` (or ``"boosted_trees_sklearn"``);
    - ``n_jobs``: threads for the classifiers; ``None``: the CPUs available.
    """
    train_sizes = check_train_sizes("reduced_downstream_task", num_train)
    check_predictor("reduced_downstream_task", predictor)
    points = sample_points(
        "reduced_downstream_task", ground_truth_data, representation_function, random_state,
        [count for size in train_sizes for count in (size, num_test)], batch_size,
    )
    num_codes = points[0][0].shape[1]
    if num_factors_to_remove >= num_codes:
        raise InputError(
            f"reduced_downstream_task: num_factors_to_remove must be below the number of codes "
            f"({num_codes}), got {num_factors_to_remove}"
        )
    scores = {}
    for size, (codes, factors), (codes_test, factors_test) in zip(train_sizes, points[::2], points[1::2]):
        num_factors = factors.shape[1]
        kept = kept_codes(codes, factors, codes_test, factors_test, num_factors_to_remove, n_jobs, random_state)
        problems = [(codes[:, kept[f]], factors[:, k]) for f in range(num_factors) for k in range(num_factors)]
        seeds = draw_seeds(random_state, len(problems))
        models = fit_many(predictor, problems, seeds, n_jobs)
        train, test = np.zeros((num_factors, num_factors)), np.zeros((num_factors, num_factors))
        for f in range(num_factors):
            row = models[f * num_factors : (f + 1) * num_factors]
            train[f] = accuracies(row, codes[:, kept[f]], factors, n_jobs)
            test[f] = accuracies(row, codes_test[:, kept[f]], factors_test, n_jobs)
        scores.update(reduced_scores(str(size), train, test))
    return scores


def kept_codes(
    codes, factors, codes_test, factors_test, num_factors_to_remove: int, n_jobs: int, random_state
) -> list[np.ndarray]:
    """Per factor of interest f, the indices of the codes ``(N, D)`` left after removing,
    ``num_factors_to_remove`` times, the code most important for f among those left (a
    column of DCI's importance matrix of the codes left, fitted in ``n_jobs`` threads)."""
    dci_settings = {"classifier": "gbt", "num_stages": 100, "n_jobs": n_jobs}
    num_factors = factors.shape[1]
    # The first removal reads one importance matrix of all codes (dlib's factorwise_dci),
    # its factors fitted in parallel; later ones depend on what f has left.
    importance, _, _ = importance_gbt(codes, factors, codes_test, factors_test, random_state, dci_settings)
    kept = [np.delete(np.arange(codes.shape[1]), np.argmax(importance[:, f])) for f in range(num_factors)]
    for _ in range(num_factors_to_remove - 1):
        for f in range(num_factors):
            column, column_test = factors[:, f : f + 1], factors_test[:, f : f + 1]
            importance, _, _ = importance_gbt(
                codes[:, kept[f]], column, codes_test[:, kept[f]], column_test, random_state, dci_settings
            )
            kept[f] = np.delete(kept[f], np.argmax(importance[:, 0]))
    return kept


def reduced_scores(prefix: str, train: np.ndarray, test: np.ndarray) -> dict:
    """dlib's names for the accuracies ``[f, k]`` ``(K, K)`` on factor k with the codes of
    factor f removed, after our means on the factor of interest (the diagonal: what
    leaks into the other codes) and on the other factors, each prefixed ``prefix:``."""
    others = ~np.eye(len(train), dtype=bool)
    scores = {
        f"{prefix}:mean_test_accuracy_factor_of_interest": float(np.mean(np.diag(test))),
        f"{prefix}:mean_train_accuracy_factor_of_interest": float(np.mean(np.diag(train))),
        f"{prefix}:mean_test_accuracy_other_factors": float(np.mean(test[others])) if others.any() else 0.0,
        f"{prefix}:mean_train_accuracy_other_factors": float(np.mean(train[others])) if others.any() else 0.0,
    }
    for f in range(len(train)):
        for k in range(len(train)):
            scores[f"{prefix}:train_accuracy_{k}_factor_of_interest_{f}"] = float(train[f, k])
            scores[f"{prefix}:test_accuracy_{k}_factor_of_interest_{f}"] = float(test[f, k])
    return scores



REDUCED_DOWNSTREAM_TASK = reduced_downstream_task.metric
