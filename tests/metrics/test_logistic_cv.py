import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn._loss.loss import HalfMultinomialLoss
from sklearn.linear_model import LogisticRegressionCV
from sklearn.linear_model._linear_loss import LinearModelLoss
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

from disentangle.metrics.logistic_cv import LinearClassifier, _loss_gradient, fit_logistic_regression_cv


def problem(num_samples, num_codes, labels, seed):
    """Codes ``(N, D)`` that carry the label in their first code, and labels among ``labels``."""
    rng = np.random.RandomState(seed)
    y = np.asarray(labels)[rng.randint(len(labels), size=num_samples)]
    x = rng.randn(num_samples, num_codes)
    x[:, 0] += np.searchsorted(np.unique(labels), y)
    return x, y


def sklearns(x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LogisticRegressionCV(Cs=10, cv=KFold(n_splits=5), scoring="accuracy").fit(x, y)


@settings(max_examples=60, deadline=None)
@given(
    num_samples=st.integers(1, 50), num_codes=st.integers(1, 4), num_classes=st.integers(3, 7),
    scale=st.sampled_from([0.0, 0.1, 3.0, 30.0]), l2_strength=st.sampled_from([0.0, 1e-5, 0.3, 20.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_loss_and_gradient_are_sklearns_bit_for_bit(
    num_samples, num_codes, num_classes, scale, l2_strength, seed
):
    rng = np.random.RandomState(seed)
    x = rng.randn(num_samples, num_codes)
    encoded = rng.randint(num_classes, size=num_samples).astype(np.float64)
    coef = scale * rng.randn(num_classes * (num_codes + 1))
    reference = LinearModelLoss(HalfMultinomialLoss(n_classes=num_classes), fit_intercept=True)
    with threadpool_limits(1):
        raw_shape = (num_samples, num_classes)
        work = np.empty(raw_shape), np.empty(num_samples), np.empty(raw_shape)
        loss, gradient = _loss_gradient(coef, x, encoded, l2_strength, work)
        expected_loss, expected_gradient = reference.loss_gradient(coef, x, encoded, None, l2_strength, 1)
    assert loss == expected_loss
    np.testing.assert_array_equal(gradient, expected_gradient)


@pytest.mark.slow
@pytest.mark.parametrize(
    "num_samples, labels, seed",
    [
        (10, [0, 1, 2], 0),  # dlib's smallest training set: folds of 2 points, classes missing from folds
        (10, [3, 8, 20, 21, 40], 1),
        (100, list(range(6)), 2),
        (400, list(range(12)), 3),
        (251, [5, 6, 7], 4),  # folds of unequal sizes
    ],
)
def test_fits_are_sklearns_logistic_regression_cv_bit_for_bit(num_samples, labels, seed):
    x, y = problem(num_samples, 4, labels, seed)
    x_test, _ = problem(300, 4, labels, seed + 100)
    with threadpool_limits(1):
        (ours,) = fit_logistic_regression_cv([(x, y)])
        reference = sklearns(x, y)
        assert isinstance(ours, LinearClassifier)
        assert ours.C == reference.C_[0]
        np.testing.assert_array_equal(ours.coef, reference.coef_)
        np.testing.assert_array_equal(ours.intercept, reference.intercept_)
        np.testing.assert_array_equal(ours.decision_function(x_test), reference.decision_function(x_test))
        np.testing.assert_array_equal(ours.predict(x_test), reference.predict(x_test))


@pytest.mark.slow
def test_problems_come_back_in_their_order_whatever_runs_the_tasks():
    # Two classes are scikit-learn's own fit; the tasks may run in any order in a pool.
    labels = [[0, 1, 2], [4, 9], list(range(8))]
    problems = [problem(60, 3, classes, seed) for seed, classes in enumerate(labels)]
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's notices of future defaults
        one = fit_logistic_regression_cv(problems)
        with ThreadPoolExecutor(max_workers=3) as pool:
            pooled = fit_logistic_regression_cv(problems, pool.map)
        binary = sklearns(*problems[1])
    assert isinstance(one[1], LogisticRegressionCV)
    np.testing.assert_array_equal(one[1].coef_, binary.coef_)
    for (x, y), a, b in zip(problems, one, pooled):
        np.testing.assert_array_equal(a.predict(x), b.predict(x))
        assert set(np.unique(a.predict(x))) <= set(np.unique(y))
