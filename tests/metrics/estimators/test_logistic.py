"""dlib's LogisticRegression fits: the same model as scikit-learn's, without the lbfgs warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from disentangle.metrics.estimators.logistic import fit_logistic_regression


def test_the_fit_is_scikit_learns_and_says_nothing_when_lbfgs_stops_early():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)) * np.array([1, 10, 100, 1000, 1, 1])  # badly scaled: lbfgs stops at 100
    y = (x[:, 0] + x[:, 3] / 1000 + rng.normal(size=300) > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = fit_logistic_regression(x, y, max_iter=5)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        reference = LogisticRegression(max_iter=5).fit(x, y)
    np.testing.assert_array_equal(model.coef_, reference.coef_)
