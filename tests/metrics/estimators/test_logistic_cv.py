import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.optimize
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn._loss.loss import HalfMultinomialLoss
from sklearn.linear_model import LogisticRegressionCV
from sklearn.linear_model._linear_loss import LinearModelLoss
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

from disentangle.metrics.estimators.logistic_cv import LinearClassifier, _loss_gradient, fit_logistic_regression_cv


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
def test_a_dlib_sized_fit_in_two_threads_is_sklearns_bit_for_bit():
    # dlib's downstream task: 10,000 points of a 10-code representation, a factor of 6 values
    # (dSprites' scale); the folds run in a pool of two threads, BLAS in two threads. The codes
    # are mixed and scaled over three decades, so that lbfgs often stops at its 100 iterations,
    # as it does on learned codes.
    rng = np.random.RandomState(5)
    y = rng.randint(6, size=10_000)
    x = rng.randn(10_000, 10) @ (np.eye(10) + 0.5 * rng.randn(10, 10))
    x[:, :3] += np.outer(y, [1.0, -0.5, 0.3])
    x *= np.logspace(-1.5, 1.5, 10)
    with threadpool_limits(2):
        with ThreadPoolExecutor(max_workers=2) as pool:
            (ours,) = fit_logistic_regression_cv([(x, y)], pool.map)
        reference = sklearns(x, y)
    assert (reference.n_iter_ == 100).sum() > 10
    assert isinstance(ours, LinearClassifier)
    assert ours.C == reference.C_[0]
    np.testing.assert_array_equal(ours.coef, reference.coef_)
    np.testing.assert_array_equal(ours.intercept, reference.intercept_)
    np.testing.assert_array_equal(ours.decision_function(x[:2000]), reference.decision_function(x[:2000]))


def l2_logistic_regression(x, positive, c):
    """Weights and intercept ``(D + 1,)`` minimising C·Σ log(1 + exp(−s·(x·w + b))) + ||w||²/2
    (s = ±1 by ``positive``; the intercept not penalised), solved far past scikit-learn's tolerance."""
    sign = np.where(positive, 1.0, -1.0)

    def loss_gradient(wb):
        margin = sign * (x @ wb[:-1] + wb[-1])
        loss = c * np.sum(np.logaddexp(0.0, -margin)) + 0.5 * wb[:-1] @ wb[:-1]
        d_raw = -c * sign * scipy.special.expit(-margin)
        return loss, np.append(x.T @ d_raw + wb[:-1], d_raw.sum())

    options = {"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10_000}
    return scipy.optimize.minimize(loss_gradient, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B",
                                   options=options).x


def test_two_classes_are_a_cross_validated_l2_logistic_regression_written_out_by_hand():
    # dlib's protocol, independently of scikit-learn: 5 consecutive folds, 10 values of C from
    # 1e-4 to 1e4, held-out accuracy summed over the folds, the first best C refitted on all
    # points. Here C = 2.78 and 21.5 tie at the best accuracy (the first wins), and scoring by
    # log loss (scikit-learn's coming default) would choose C = 0.046.
    rng = np.random.RandomState(3)
    y = np.where(rng.rand(80) < 0.5, 3, 8)
    x = rng.randn(80, 3)
    x[:, 0] += 0.7 * (y == 8)
    x[:, 1] *= 5
    cs = np.logspace(-4, 4, 10)
    correct = np.zeros(len(cs))
    for held_out in np.array_split(np.arange(80), 5):
        train = np.setdiff1d(np.arange(80), held_out)
        for i, c in enumerate(cs):
            wb = l2_logistic_regression(x[train], y[train] == 8, c)
            correct[i] += np.sum((x[held_out] @ wb[:-1] + wb[-1] > 0) == (y[held_out] == 8))
    best = int(np.argmax(correct))
    assert best == 5 and correct[6] == correct[5] and correct[5] > np.delete(correct, [5, 6]).max()
    wb = l2_logistic_regression(x, y == 8, cs[best])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (ours,) = fit_logistic_regression_cv([(x, y)])
    assert ours.C_[0] == cs[best]
    np.testing.assert_allclose(ours.coef_[0], wb[:-1], rtol=0, atol=1e-4)
    assert ours.intercept_[0] == pytest.approx(wb[-1], abs=1e-4)
    x_test = rng.randn(500, 3) * [1, 5, 1]
    raw = x_test @ wb[:-1] + wb[-1]
    np.testing.assert_allclose(ours.decision_function(x_test), raw, rtol=0, atol=1e-3)
    clear = np.abs(raw) > 1e-2
    np.testing.assert_array_equal(ours.predict(x_test)[clear], np.where(raw > 0, 8, 3)[clear])


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
    assert isinstance(one[1], LogisticRegressionCV)
    for (x, y), a, b in zip(problems, one, pooled):
        np.testing.assert_array_equal(a.predict(x), b.predict(x))
        assert set(np.unique(a.predict(x))) <= set(np.unique(y))
