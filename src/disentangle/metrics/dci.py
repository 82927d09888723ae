"""Disentanglement, completeness, informativeness (Eastwood & Williams 2018, "A Framework
for the Quantitative Evaluation of Disentangled Representations"; dlib's ``dci.py``).

Per factor, a scikit-learn ``GradientBoostingClassifier()`` with its defaults learns
the factor from all codes (``num_train`` points) and gives an importance per code,
``R[i, j] = |feature_importances_[i]|`` of code i for factor j. By default the classifier
is :mod:`disentangle.metrics.estimators.gbt`, the same model computed several times faster
(``classifier="sklearn"`` runs scikit-learn's own). From R (codes x factors):

- disentanglement = sum_i rho_i (1 - H_K(R_i. / sum_j R_ij)), rho_i = sum_j R_ij / sum R;
- completeness = sum_j rho_j (1 - H_D(R_.j / sum_i R_ij)), rho_j = sum_i R_ij / sum R
  (dlib weights each factor by its share of the importance, not equally);
- informativeness_train / _test = mean classification accuracy over factors,

entropies in base K (factors) and D (codes), with dlib's 1e-11 added to R.

``predictor`` chooses the model behind R: ``"gradient_boosting"`` (dlib's, above),
or the original paper's regressors of the factor values, ``"lasso"`` (alpha = 0.02, on
standardised codes) and ``"random_forest"``, whose informativeness is the normalised
root mean squared error ``nrmse_train`` / ``nrmse_test`` instead of an accuracy
(:mod:`disentangle.metrics.estimators.dci_regression`).

The per-factor classifiers are independent and run in ``n_jobs`` threads (default: the
CPUs available; the compiled tree growing releases the GIL), the factors with most classes
first. dlib leaves the classifiers' ``random_state`` unset (the global RNG, which only
breaks ties between equally good splits); here each gets a seed drawn from
``random_state`` after the data, so a result is reproducible and does not depend on
``n_jobs``. Invariant to permuting code dimensions and to positive rescaling of each
(trees depend only on the order of values), up to those ties.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.stats
from sklearn.ensemble import GradientBoostingClassifier

from disentangle.errors import InputError
from disentangle.metrics.estimators.dci_regression import REGRESSORS, importance_regression
from disentangle.metrics.descriptor import metric
from disentangle.metrics.estimators.gbt import fit_gradient_boosting
from disentangle.metrics.sampling import factor_sizes, sample_points

PREDICTORS = ("gradient_boosting", *REGRESSORS)


@metric(
    "dci",
    headline=("disentanglement", "completeness", "informativeness_test", "nrmse_test"),
    fast={"num_train": 1_500, "num_test": 1_000, "num_stages": 15},
    default=True,
)
def dci(
    ground_truth_data,
    representation_function,
    random_state,
    *,
    num_train=10_000,
    num_test=5_000,
    batch_size=16,
    classifier="gbt",
    num_stages=100,
    n_jobs=None,
    predictor="gradient_boosting",
    alpha=0.02,
    num_trees=10,
) -> dict:
    """DCI: ``{"disentanglement", "completeness", "informativeness_train",
    "informativeness_test", "settings"}``, each in [0, 1]; with a regressor as
    ``predictor``, ``nrmse_train`` and ``nrmse_test`` (>= 0, lower is better) replace the
    informativeness accuracies.

    Settings (``preset="fast"``: 1,500 / 1,000 points, 15 stages):

    - ``num_train``, ``num_test``: training and test points, drawn ``batch_size`` at a time;
    - ``classifier``: ``"gbt"`` (ours) or ``"sklearn"`` (scikit-learn's own boosting);
    - ``num_stages``: boosting stages;
    - ``n_jobs``: threads for the per-factor classifiers; ``None``: the CPUs available;
    - ``predictor``: ``"gradient_boosting"`` (dlib's), or Eastwood & Williams' ``"lasso"``
      or ``"random_forest"``;
    - ``alpha``: the lasso's L1 weight (Eastwood & Williams');
    - ``num_trees``: the random forest's trees (ours; scikit-learn's other defaults).
    """
    if classifier not in ("gbt", "sklearn"):
        raise InputError(f"dci: classifier must be 'gbt' or 'sklearn', got {classifier!r}")
    if predictor not in PREDICTORS:
        raise InputError(f"dci: predictor must be one of {', '.join(PREDICTORS)}, got {predictor!r}")
    (codes_train, factors_train), (codes_test, factors_test) = sample_points(
        "dci", ground_truth_data, representation_function, random_state, [num_train, num_test], batch_size,
        min_codes=2, min_factors=2,
    )
    if predictor in REGRESSORS:
        importance, nrmse_train, nrmse_test = importance_regression(
            codes_train, factors_train, codes_test, factors_test, factor_sizes(ground_truth_data),
            random_state, {"predictor": predictor, "alpha": alpha, "num_trees": num_trees, "n_jobs": n_jobs},
        )
        return {
            "nrmse_train": float(np.mean(nrmse_train)),
            "nrmse_test": float(np.mean(nrmse_test)),
            "disentanglement": disentanglement(importance),
            "completeness": completeness(importance),
        }
    importance, train_accuracy, test_accuracy = importance_gbt(
        codes_train, factors_train, codes_test, factors_test, random_state,
        {"classifier": classifier, "num_stages": num_stages, "n_jobs": n_jobs},
    )
    return {
        "informativeness_train": float(np.mean(train_accuracy)),
        "informativeness_test": float(np.mean(test_accuracy)),
        "disentanglement": disentanglement(importance),
        "completeness": completeness(importance),
    }


def _fit_gbt(x_train, y_train, x_test, y_test, seed, classifier, num_stages, map_tasks, num_groups):
    if classifier == "sklearn":
        model = GradientBoostingClassifier(n_estimators=num_stages, random_state=seed).fit(x_train, y_train)
        importance = model.feature_importances_
    else:
        model = fit_gradient_boosting(
            x_train, y_train, np.random.RandomState(seed), num_stages, map_tasks, num_groups
        )
        importance = model.feature_importances
    return (
        np.abs(importance),
        np.mean(model.predict(x_train) == y_train),
        np.mean(model.predict(x_test) == y_test),
    )


def importance_gbt(x_train, y_train, x_test, y_test, random_state, settings):
    """dlib's ``compute_importance_gbt`` on ``(N, D)`` codes and ``(N, K)`` factors.

    ``settings`` gives ``classifier``, ``num_stages`` and ``n_jobs``. Returns
    ``(importance (D, K), train accuracy (K,), test accuracy (K,))``.
    """
    num_factors = y_train.shape[1]
    seeds = random_state.randint(np.iinfo(np.int32).max, size=num_factors)
    key = _importance_key(x_train, y_train, x_test, y_test, seeds, settings)
    if key in _IMPORTANCE_MEMO:
        _IMPORTANCE_MEMO.move_to_end(key)
        return tuple(array.copy() for array in _IMPORTANCE_MEMO[key])
    # Most classes first: the slowest fits start first, which shortens the wall time.
    order = np.argsort([-len(np.unique(y_train[:, k])) for k in range(num_factors)], kind="stable")

    # The trees of a large stage grow in n_jobs groups, so that the last factors use every thread.
    with ThreadPoolExecutor(max_workers=settings["n_jobs"]) as pool, \
            ThreadPoolExecutor(max_workers=settings["n_jobs"]) as trees:
        results = list(pool.map(
            lambda k: _fit_gbt(x_train, y_train[:, k], x_test, y_test[:, k], seeds[k], settings["classifier"],
                               settings["num_stages"], trees.map, settings["n_jobs"]),
            order,
        ))
    importance = np.zeros((x_train.shape[1], num_factors))
    train_accuracy, test_accuracy = np.zeros(num_factors), np.zeros(num_factors)
    for k, (factor_importance, train, test) in zip(order, results):
        importance[:, k], train_accuracy[k], test_accuracy[k] = factor_importance, train, test
    _IMPORTANCE_MEMO[key] = (importance.copy(), train_accuracy.copy(), test_accuracy.copy())
    while len(_IMPORTANCE_MEMO) > _IMPORTANCE_MEMO_SIZE:
        _IMPORTANCE_MEMO.popitem(last=False)
    return importance, train_accuracy, test_accuracy


#: the last few importance matrices, by their inputs: DCI, the unified scores and the
#: reduced downstream task draw the same points under the same seed and would otherwise
#: fit the same classifiers again in one evaluation
_IMPORTANCE_MEMO: OrderedDict = OrderedDict()
_IMPORTANCE_MEMO_SIZE = 4


def _importance_key(x_train, y_train, x_test, y_test, seeds, settings) -> tuple:
    """What ``importance_gbt``'s result depends on: the arrays' bytes, the classifiers' seeds
    and settings (``n_jobs`` changes nothing)."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (x_train, y_train, x_test, y_test, seeds):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest(), settings["classifier"], settings["num_stages"]


def disentanglement(importance: np.ndarray) -> float:
    """Importance-weighted mean over codes of 1 - entropy (base K) of each code's row."""
    per_code = 1.0 - scipy.stats.entropy(importance.T + 1e-11, base=importance.shape[1])
    if importance.sum() == 0.0:
        importance = np.ones_like(importance)
    return float(np.sum(per_code * importance.sum(axis=1) / importance.sum()))


def completeness(importance: np.ndarray) -> float:
    """Importance-weighted mean over factors of 1 - entropy (base D) of each factor's column."""
    per_factor = 1.0 - scipy.stats.entropy(importance + 1e-11, base=importance.shape[0])
    if importance.sum() == 0.0:
        importance = np.ones_like(importance)
    return float(np.sum(per_factor * importance.sum(axis=0) / importance.sum()))



DCI = dci.metric
