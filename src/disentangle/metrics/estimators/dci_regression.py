"""DCI's importance matrix from regressors of the factor values (Eastwood & Williams 2018,
"A Framework for the Quantitative Evaluation of Disentangled Representations").

The original paper regresses each factor's value on the codes and measures
informativeness by the prediction error; dlib classifies the factor with gradient
boosting and measures accuracy (:mod:`disentangle.metrics.dci`). Here, per factor k:

- the target is the factor's value, its index scaled to [0, 1] (index / (|V_k| - 1)),
  a continuous stand-in for the factor, as the paper's factors are continuous;
- ``"lasso"``: scikit-learn's ``Lasso(alpha)`` (the paper's alpha = 0.02) on codes
  standardised with the training mean and standard deviation; R[i, k] = |coefficient i|;
- ``"random_forest"``: ``RandomForestRegressor(n_estimators=num_trees)`` on the raw codes
  (trees are invariant to monotone maps), seeded from ``random_state``;
  R[i, k] = its impurity importance of code i;
- NRMSE_k = sqrt(mean squared error) / std(target) on the training and the test points:
  0 for a perfect prediction, 1 for predicting the mean (a factor constant in the sample
  scores 0).

Reported as ``nrmse_train`` and ``nrmse_test``, the mean over factors (lower is better,
as the paper's informativeness "prediction error").
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Lasso
from threadpoolctl import threadpool_limits

REGRESSORS = ("lasso", "random_forest")


def importance_regression(x_train, y_train, x_test, y_test, sizes, random_state, settings):
    """Importance ``(D, K)`` and NRMSE on train and test ``(K,)`` each, of the regressor
    ``settings["predictor"]`` (``"lasso"``: ``alpha``; ``"random_forest"``: ``num_trees``,
    ``n_jobs``) from codes ``(N, D)`` to the values of integer factors ``(N, K)`` of
    ``sizes`` ``(K,)`` values each."""
    top = np.maximum(np.asarray(sizes) - 1, 1)
    targets_train, targets_test = y_train / top, y_test / top
    if settings["predictor"] == "lasso":
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    num_codes, num_factors = x_train.shape[1], y_train.shape[1]
    importance = np.zeros((num_codes, num_factors))
    nrmse_train, nrmse_test = np.zeros(num_factors), np.zeros(num_factors)
    for k in range(num_factors):
        if settings["predictor"] == "lasso":
            with threadpool_limits(1, user_api="blas"):
                model = Lasso(alpha=settings["alpha"]).fit(x_train, targets_train[:, k])
            importance[:, k] = np.abs(model.coef_)
        else:
            model = RandomForestRegressor(
                n_estimators=settings["num_trees"], random_state=random_state.randint(np.iinfo(np.int32).max),
                n_jobs=settings["n_jobs"],
            ).fit(x_train, targets_train[:, k])
            importance[:, k] = model.feature_importances_
        nrmse_train[k] = nrmse(model.predict(x_train), targets_train[:, k])
        nrmse_test[k] = nrmse(model.predict(x_test), targets_test[:, k])
    return importance, nrmse_train, nrmse_test


def nrmse(predicted: np.ndarray, target: np.ndarray) -> float:
    """Root mean squared error over the standard deviation of ``target`` (0 if it is constant)."""
    std = target.std()
    return float(np.sqrt(np.mean((predicted - target) ** 2)) / std) if std > 0 else 0.0
