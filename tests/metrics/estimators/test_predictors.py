import numpy as np
import pytest

from disentangle.errors import InputError
from disentangle.metrics.estimators.predictors import (
    ConstantPredictor,
    check_predictor,
    check_train_sizes,
    fit_many,
    fit_predictor,
)


def problem(num_samples, num_classes, seed):
    rng = np.random.RandomState(seed)
    y = rng.randint(num_classes, size=num_samples)
    return np.c_[y + 0.8 * rng.randn(num_samples), rng.randn(num_samples, 2)], y


def test_our_boosted_trees_predict_as_sklearns():
    x, y = problem(150, 3, seed=0)
    x_test, _ = problem(200, 3, seed=1)
    ours = fit_predictor("boosted_trees", x, y, seed=0).predict(x_test)
    reference = fit_predictor("boosted_trees_sklearn", x, y, seed=0).predict(x_test)
    assert np.mean(ours == reference) > 0.97


def test_a_single_class_gets_the_constant_predictor():
    x = np.random.RandomState(0).randn(10, 2)
    for predictor in ("logistic_regression", "boosted_trees"):
        model = fit_predictor(predictor, x, np.full(10, 4), seed=0)
        assert isinstance(model, ConstantPredictor) and model.predict(x[:3]).tolist() == [4, 4, 4]


@pytest.mark.slow
def test_fits_come_back_in_the_order_of_the_problems_whatever_the_threads():
    problems = [problem(40, c, seed=c) for c in (2, 4, 3)]
    for predictor in ("logistic_regression", "boosted_trees"):
        one = fit_many(predictor, problems, np.arange(3), n_jobs=1)
        two = fit_many(predictor, problems, np.arange(3), n_jobs=2)
        for (x, y), a, b in zip(problems, one, two):
            assert set(np.unique(a.predict(x))) <= set(np.unique(y))
            assert np.array_equal(a.predict(x), b.predict(x))


def test_settings_are_checked():
    assert check_train_sizes("m", 5) == (5,) and check_train_sizes("m", [10, 100]) == (10, 100)
    for bad in (0, [], [10, -1], "10", [True], None):
        with pytest.raises(InputError, match="m: num_train"):
            check_train_sizes("m", bad)
    with pytest.raises(InputError, match="m: predictor"):
        check_predictor("m", "svm")
