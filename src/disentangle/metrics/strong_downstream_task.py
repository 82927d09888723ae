"""Downstream classification under covariate shift (dlib's ``strong_downstream_task.py``).

For each training size n in ``num_train``: n training and ``num_test`` test factor
vectors are drawn (dlib draws them whole, without ``batch_size``), and a classifier per
factor (``predictor``) learns it from the codes, as in ``downstream_task``. Then, for
each target factor t, ``n_experiment`` times: another factor s is drawn, the training
set is intervened on (every point gets the same value of s, drawn at random) and the
test set gets values of s drawn among the others; a classifier learns t from the
intervened training codes and is tested on the shifted test codes. dlib's result names,
for every size n:

- ``"n:mean_train_accuracy"``, ``"n:mean_test_accuracy"``: without intervention;
- ``"n:mean_strong_train_accuracy"``, ``"n:mean_strong_test_accuracy"``: with it, mean
  over factors and experiments;
- ``"n:strong_generalization_gap"``: 1 - strong test accuracy / test accuracy.

dlib draws the interventions from the global ``np.random``, so its results cannot be
repeated; here they are drawn from ``random_state`` after the factors of every training
size (which are then dlib's), in dlib's loop order, and so are the classifiers' seeds.
A factor with a single value cannot be shifted and is never drawn as s (dlib would fail). dlib has no study configuration for
this task; the defaults are its function's (10 experiments) with boosted trees (its test
configuration), 1,000 training and 5,000 test points.
"""

from __future__ import annotations

import numpy as np

from disentangle.errors import InputError
from disentangle.metrics.descriptor import metric
from disentangle.metrics.estimators.predictors import (
    accuracies,
    check_predictor,
    check_train_sizes,
    draw_seeds,
    fit_many,
    predictions,
)
from disentangle.metrics.sampling import check_factors, draw_factors, encode, factor_sizes


@metric(
    "strong_downstream_task",
    headline=("1000:strong_generalization_gap", "1000:mean_strong_test_accuracy"),
    fast={"num_test": 2_000, "n_experiment": 3},
)
def strong_downstream_task(
    ground_truth_data,
    representation_function,
    random_state,
    *,
    num_train=(1_000,),
    num_test=5_000,
    n_experiment=10,
    predictor="boosted_trees",
    n_jobs=None,
) -> dict:
    """Accuracies with and without a shift per training size (see the module docstring),
    plus ``"settings"``.

    Settings (``preset="fast"``: 2,000 test points, 3 shifts per factor):

    - ``num_train``: training-set sizes, each a separate task;
    - ``num_test``: test points per training size;
    - ``n_experiment``: shifts per factor;
    - ``predictor``: ``"boosted_trees"``, ``"logistic_regression"`` (or ``"boosted_trees_sklearn"``);
    - ``n_jobs``: threads for the classifiers; ``None``: the CPUs available.
    """
    train_sizes = check_train_sizes("strong_downstream_task", num_train)
    check_predictor("strong_downstream_task", predictor)
    sizes = factor_sizes(ground_truth_data)
    draws = [
        [check_factors(draw_factors(ground_truth_data, num, random_state), sizes) for num in (size, num_test)]
        for size in train_sizes
    ]
    scores = {}
    for size, (factors, factors_test) in zip(train_sizes, draws):
        scores.update(
            shift_scores(str(size), ground_truth_data, representation_function, factors, factors_test, sizes,
                         random_state, n_experiment, predictor, n_jobs)
        )
    return scores


def shift_scores(prefix, ground_truth_data, representation_function, factors, factors_test, sizes, random_state,
                 n_experiment, predictor, n_jobs) -> dict:
    """One training size's scores, prefixed ``prefix:``, from its training and test factors
    ``(N, K)``, ``(M, K)``: ``n_experiment`` interventions per factor, then the seeds of the
    ``predictor`` classifiers (fitted in ``n_jobs`` threads), drawn from ``random_state``."""
    num_factors = len(sizes)
    shifts = [
        (t, *intervene(factors, factors_test, t, sizes, random_state))
        for t in range(num_factors)
        for _ in range(n_experiment)
    ]
    codes, codes_test, shifted = (
        encode(ground_truth_data, representation_function, factors, random_state),
        encode(ground_truth_data, representation_function, factors_test, random_state),
        [
            (
                encode(ground_truth_data, representation_function, train, random_state),
                encode(ground_truth_data, representation_function, test, random_state),
                train[:, t],
                test[:, t],
            )
            for t, train, test in shifts
        ],
    )
    problems = [(codes, factors[:, t]) for t in range(num_factors)]
    problems += [(train_codes, labels) for train_codes, _, labels, _ in shifted]
    seeds = draw_seeds(random_state, len(problems))
    models = fit_many(predictor, problems, seeds, n_jobs)
    test_accuracy = float(np.mean(accuracies(models[:num_factors], codes_test, factors_test, n_jobs)))
    jobs = [(model, x) for model, (train_codes, test_codes, _, _) in zip(models[num_factors:], shifted)
            for x in (train_codes, test_codes)]
    predicted = iter(predictions(jobs, n_jobs))
    strong_train, strong_test = np.array(
        [
            (np.mean(next(predicted) == labels), np.mean(next(predicted) == labels_test))
            for _, _, labels, labels_test in shifted
        ]
    ).mean(axis=0)
    return {
        f"{prefix}:strong_generalization_gap": 1.0 - float(strong_test) / test_accuracy,
        f"{prefix}:mean_strong_test_accuracy": float(strong_test),
        f"{prefix}:mean_strong_train_accuracy": float(strong_train),
        f"{prefix}:mean_test_accuracy": test_accuracy,
        f"{prefix}:mean_train_accuracy": float(np.mean(accuracies(models[:num_factors], codes, factors, n_jobs))),
    }


def intervene(
    factors, factors_test, target: int, sizes: np.ndarray, random_state
) -> tuple[np.ndarray, np.ndarray]:
    """Copies of ``factors`` ``(N, K)`` and ``factors_test`` ``(M, K)`` with one factor s other
    than ``target`` (and with at least two values) shifted: set to one random value in
    training, to random other values in test. dlib's ``intervene``, drawing from ``random_state``."""
    candidates = [s for s in range(len(sizes)) if s != target and sizes[s] > 1]
    if not candidates:
        raise InputError(
            f"strong_downstream_task: factor {target} has no other factor with two or more values to shift "
            f"(factors_num_values = {sizes.tolist()})"
        )
    shifted = candidates[random_state.randint(len(candidates))]
    values = list(range(sizes[shifted]))
    train_value = values.pop(random_state.randint(len(values)))
    train, test = factors.copy(), factors_test.copy()
    train[:, shifted] = train_value
    test[:, shifted] = np.asarray(values)[random_state.randint(len(values), size=len(test))]
    return train, test



STRONG_DOWNSTREAM_TASK = strong_downstream_task.metric
