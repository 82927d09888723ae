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
repeated; here they are drawn from ``random_state`` (after all points, in dlib's loop
order), and so are the classifiers' seeds. A factor with a single value cannot be
shifted and is never drawn as s (dlib would fail). dlib has no study configuration for
this task; the defaults are its function's (10 experiments) with boosted trees (its test
configuration), 1,000 training and 5,000 test points.
"""

from __future__ import annotations

import numpy as np

from disentangle.errors import InputError
from disentangle.metrics.descriptor import Metric
from disentangle.metrics.predictors import (
    accuracies,
    check_n_jobs,
    check_predictor,
    check_train_sizes,
    draw_seeds,
    fit_many,
)
from disentangle.metrics.sampling import check_factors, draw_factors, encode, factor_sizes


def strong_downstream_task(
    ground_truth_data, representation_function, random_state, preset: str = "dlib", **settings
) -> dict:
    """Accuracies with and without a shift per training size (see the module docstring),
    plus ``"settings"``. ``settings`` override the preset's (``STRONG_DOWNSTREAM_TASK.settings``)."""
    settings = STRONG_DOWNSTREAM_TASK.resolve(preset, settings)
    train_sizes = check_train_sizes("strong_downstream_task", settings["num_train"])
    check_predictor("strong_downstream_task", settings["predictor"])
    settings["n_jobs"] = check_n_jobs("strong_downstream_task", settings["n_jobs"])
    sizes = factor_sizes(ground_truth_data)
    scores = {}
    for size in train_sizes:
        factors = check_factors(draw_factors(ground_truth_data, size, random_state), sizes)
        factors_test = check_factors(draw_factors(ground_truth_data, settings["num_test"], random_state), sizes)
        codes = encode(ground_truth_data, representation_function, factors, random_state)
        codes_test = encode(ground_truth_data, representation_function, factors_test, random_state)
        shifts = [
            (t, *intervene(factors, factors_test, t, sizes, random_state))
            for t in range(len(sizes))
            for _ in range(settings["n_experiment"])
        ]
        problems = [(codes, factors[:, t]) for t in range(len(sizes))]
        shifted = [
            (
                encode(ground_truth_data, representation_function, train, random_state),
                encode(ground_truth_data, representation_function, test, random_state),
                train[:, t],
                test[:, t],
            )
            for t, train, test in shifts
        ]
        problems += [(train_codes, labels) for train_codes, _, labels, _ in shifted]
        models = fit_many(settings["predictor"], problems, draw_seeds(random_state, len(problems)), settings["n_jobs"])
        train_accuracy = accuracies(models[: len(sizes)], codes, factors)
        test_accuracy = accuracies(models[: len(sizes)], codes_test, factors_test)
        strong_train = [
            np.mean(model.predict(train_codes) == labels)
            for model, (train_codes, _, labels, _) in zip(models[len(sizes) :], shifted)
        ]
        strong_test = [
            np.mean(model.predict(test_codes) == labels)
            for model, (_, test_codes, _, labels) in zip(models[len(sizes) :], shifted)
        ]
        prefix = str(size)
        scores[f"{prefix}:strong_generalization_gap"] = 1.0 - float(np.mean(strong_test)) / float(
            np.mean(test_accuracy)
        )
        scores[f"{prefix}:mean_strong_test_accuracy"] = float(np.mean(strong_test))
        scores[f"{prefix}:mean_strong_train_accuracy"] = float(np.mean(strong_train))
        scores[f"{prefix}:mean_test_accuracy"] = float(np.mean(test_accuracy))
        scores[f"{prefix}:mean_train_accuracy"] = float(np.mean(train_accuracy))
    return {**scores, "settings": settings}


def intervene(factors, factors_test, target: int, sizes: np.ndarray, random_state) -> tuple[np.ndarray, np.ndarray]:
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


STRONG_DOWNSTREAM_TASK = Metric(
    name="strong_downstream_task",
    function=strong_downstream_task,
    settings={
        "num_train": (1_000,),  # training-set sizes, each a separate task
        "num_test": 5_000,  # test points per training size
        "n_experiment": 10,  # shifts per factor
        "predictor": "boosted_trees",  # or "logistic_regression" (or "boosted_trees_sklearn")
        "n_jobs": None,  # threads for the classifiers; None: the CPUs available
    },
    fast={"num_test": 2_000, "n_experiment": 3},
    headline=("1000:strong_generalization_gap", "1000:mean_strong_test_accuracy"),
)
