"""The per-factor classifiers of dlib's task-based evaluations (its ``utils.make_predictor_fn``).

- ``logistic_regression``: dlib's ``logistic_regression_cv``, scikit-learn's
  ``LogisticRegressionCV(Cs=10, cv=KFold(n_splits=5))`` (lbfgs, 100 iterations, the
  regularisation chosen by 5-fold accuracy over 10 values of C from 1e-4 to 1e4, then
  refitted on all points); deterministic. Computed by :mod:`disentangle.metrics.estimators.logistic_cv`
  (the same coefficients bit for bit, with fewer Python calls).
- ``boosted_trees``: dlib's ``gradient_boosting_classifier``, ``GradientBoostingClassifier()``
  with its defaults, computed by :mod:`disentangle.metrics.estimators.gbt` (the same model, several
  times faster); ``boosted_trees_sklearn`` runs scikit-learn's own class, to compare.

A factor is predicted from all codes ``(N, D)``; its labels are integers ``(N,)``. A
training set in which a factor takes one value (possible at dlib's 10 training points)
gets the constant predictor of that value, where scikit-learn refuses to fit. The
factors' classifiers are independent and fit in ``n_jobs`` threads (the compiled trees and
loss loops release the GIL), the factors with most classes first; logistic regression's
tasks are its folds, which keeps the threads busier. Each tree model gets its own seed,
so results do not depend on ``n_jobs``.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from threadpoolctl import threadpool_limits

from disentangle.errors import InputError
from disentangle.metrics.estimators.gbt import fit_gradient_boosting
from disentangle.metrics.estimators.logistic_cv import fit_logistic_regression_cv

PREDICTORS = ("logistic_regression", "boosted_trees", "boosted_trees_sklearn")


class ConstantPredictor:
    """Predicts the one label its training set held."""

    def __init__(self, label):
        self.label = label

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.full(len(x), self.label)


def check_predictor(metric: str, predictor: str) -> str:
    """``predictor`` if it is one of ``PREDICTORS``, else ``InputError`` naming ``metric``."""
    if predictor not in PREDICTORS:
        raise InputError(f"{metric}: predictor must be one of {', '.join(PREDICTORS)}, got {predictor!r}")
    return predictor


def check_train_sizes(metric: str, num_train) -> tuple[int, ...]:
    """The training-set sizes ``num_train`` as a tuple of positive integers, else ``InputError``."""
    sizes = (num_train,) if isinstance(num_train, (int, np.integer)) else num_train
    try:
        sizes = tuple(sizes)
    except TypeError:
        sizes = ()
    if not sizes or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in sizes):
        raise InputError(f"{metric}: num_train must be a positive integer or a list of them, got {num_train!r}")
    return tuple(int(n) for n in sizes)


def fit_predictor(predictor: str, x: np.ndarray, y: np.ndarray, seed: int, map_tasks=map, num_groups: int = 1):
    """The ``predictor`` fitted on codes ``(N, D)`` and labels ``(N,)``; ``seed`` breaks the
    trees' ties (logistic regression is deterministic). Our boosted trees grow a large
    stage's trees in ``num_groups`` groups run by ``map_tasks`` (the same model)."""
    classes = np.unique(y)
    if len(classes) == 1:
        return ConstantPredictor(classes[0])
    if predictor == "logistic_regression":
        return fit_logistic_regression_cv([(x, y)])[0]
    if predictor == "boosted_trees":
        return fit_gradient_boosting(
            x, y, np.random.RandomState(seed), map_tasks=map_tasks, num_groups=num_groups
        )
    return GradientBoostingClassifier(random_state=seed).fit(x, y)


def fit_per_factor(
    predictor: str, codes: np.ndarray, factors: np.ndarray, seeds: np.ndarray, n_jobs: int
) -> list:
    """One fitted ``predictor`` per factor (column of ``factors`` ``(N, K)``), from ``codes``
    ``(N, D)``, the k-th with ``seeds[k]``, in ``n_jobs`` threads."""
    return fit_many(predictor, [(codes, factors[:, k]) for k in range(factors.shape[1])], seeds, n_jobs)


def fit_many(
    predictor: str, problems: list[tuple[np.ndarray, np.ndarray]], seeds: np.ndarray, n_jobs: int
) -> list:
    """``fit_predictor`` on each ``(x, y)`` of ``problems`` with its seed, in ``n_jobs`` threads,
    each on one BLAS and OpenMP thread (so sums run in one order whatever ``n_jobs``); the
    fitted predictors in the order of ``problems``.

    Without repeating lbfgs's "failed to converge" warning (dlib's 100 iterations are the
    protocol) or scikit-learn's notices of future defaults (the ones that matter are pinned).
    """
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="lbfgs failed to converge")
        warnings.filterwarnings("ignore", category=FutureWarning, module="sklearn.linear_model")
        with ThreadPoolExecutor(max_workers=n_jobs) as pool, ThreadPoolExecutor(max_workers=n_jobs) as trees:
            if predictor == "logistic_regression":
                return _logistic_regressions(problems, pool.map)
            # Most classes first: the slowest fits start first, which shortens the wall time;
            # the trees of a large stage grow in n_jobs groups, so the last fits use every thread.
            order = np.argsort([-len(np.unique(y)) for _, y in problems], kind="stable")
            fitted = list(pool.map(
                lambda i: fit_predictor(predictor, *problems[i], seeds[i], trees.map, n_jobs), order
            ))
    models = [None] * len(problems)
    for i, model in zip(order, fitted):
        models[i] = model
    return models


def _logistic_regressions(problems: list[tuple[np.ndarray, np.ndarray]], map_tasks) -> list:
    """dlib's ``LogisticRegressionCV`` per problem, its folds run by ``map_tasks``; the constant
    predictor where the labels take one value."""
    models = [ConstantPredictor(y[0]) for _, y in problems]
    varied = [i for i, (_, y) in enumerate(problems) if len(np.unique(y)) > 1]
    for i, model in zip(varied, fit_logistic_regression_cv([problems[i] for i in varied], map_tasks)):
        models[i] = model
    return models


def predictions(jobs: list[tuple], n_jobs: int = 1) -> list[np.ndarray]:
    """``model.predict(x)`` for each ``(model, x)`` of ``jobs``, in ``n_jobs`` threads (our
    trees' kernel releases the GIL), each on one BLAS thread; in the order of ``jobs``."""
    with threadpool_limits(1), ThreadPoolExecutor(max_workers=max(1, n_jobs)) as pool:
        return list(pool.map(lambda job: job[0].predict(job[1]), jobs))


def accuracies(models: list, codes: np.ndarray, factors: np.ndarray, n_jobs: int = 1) -> np.ndarray:
    """Accuracy ``(K,)`` of the k-th of ``models`` on column k of ``factors`` ``(N, K)``, the
    predictions made in ``n_jobs`` threads."""
    predicted = predictions([(model, codes) for model in models], n_jobs)
    return np.array([np.mean(labels == factors[:, k]) for k, labels in enumerate(predicted)])


def draw_seeds(random_state: np.random.RandomState, num: int) -> np.ndarray:
    """``num`` classifier seeds from ``random_state``."""
    return random_state.randint(np.iinfo(np.int32).max, size=num)
