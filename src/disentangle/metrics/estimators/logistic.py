"""scikit-learn's ``LogisticRegression`` fitted the way dlib's protocols fit it."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits


def fit_logistic_regression(x: np.ndarray, y: np.ndarray, **options) -> LogisticRegression:
    """``LogisticRegression(**options).fit(x, y)`` on one BLAS thread (the matrices are
    small: more threads only add overhead), without reporting that lbfgs stopped before
    converging. dlib's default ``LogisticRegression()`` (lbfgs, 100 iterations) often stops
    there on codes; that is the reference protocol, so the warning would only repeat itself
    once per fit."""
    with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="lbfgs failed to converge")
        return LogisticRegression(**options).fit(x, y)
