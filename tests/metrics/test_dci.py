import importlib

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from disentangle.errors import InputError
from disentangle.metrics import dci
from disentangle.metrics.dci import completeness, disentanglement

SMALL = {"num_train": 600, "num_test": 300}


def test_factors_as_codes_are_disentangled_complete_and_informative(toy_data, factors_as_codes):
    result = dci(toy_data([3, 4, 5]), factors_as_codes, np.random.RandomState(0), **SMALL)
    assert result["disentanglement"] == pytest.approx(1.0, abs=0.02)
    assert result["completeness"] == pytest.approx(1.0, abs=0.02)
    assert result["informativeness_test"] == pytest.approx(1.0, abs=0.01)


def test_noise_codes_score_low(toy_data, noise):
    result = dci(toy_data([3, 4, 5]), noise(4), np.random.RandomState(0), **SMALL)
    assert result["disentanglement"] < 0.15
    assert result["completeness"] < 0.15
    assert result["informativeness_test"] == pytest.approx(np.mean([1 / 3, 1 / 4, 1 / 5]), abs=0.06)


def test_permuting_and_rescaling_codes_leave_the_scores_unchanged(toy_data):
    data = toy_data([3, 4])
    mixing = np.random.RandomState(1).randn(2, 3)

    def representation(x):
        return x @ mixing + 0.5 * np.random.RandomState(len(x)).randn(len(x), 3)

    original = dci(data, representation, np.random.RandomState(0), **SMALL)
    transformed = dci(data, lambda x: (representation(x) * [4.0, 0.5, 2.0])[:, [2, 0, 1]],
                      np.random.RandomState(0), **SMALL)
    for key in ("disentanglement", "completeness", "informativeness_train", "informativeness_test"):
        assert transformed[key] == pytest.approx(original[key], abs=1e-3)


def test_the_number_of_threads_does_not_change_the_result(toy_data, noise):
    one = dci(toy_data([3, 4, 5]), noise(3), np.random.RandomState(0), n_jobs=1, **SMALL)
    two = dci(toy_data([3, 4, 5]), noise(3), np.random.RandomState(0), n_jobs=2, **SMALL)
    for key in ("disentanglement", "completeness", "informativeness_train", "informativeness_test"):
        assert one[key] == two[key]


def test_sklearns_own_classifier_gives_the_same_scores(toy_data):
    data = toy_data([3, 4])
    mixing = np.random.RandomState(1).randn(2, 3)

    def representation(x):
        return x @ mixing + 0.5 * np.random.RandomState(len(x)).randn(len(x), 3)

    ours = dci(data, representation, np.random.RandomState(0), **SMALL)
    reference = dci(data, representation, np.random.RandomState(0), classifier="sklearn", **SMALL)
    for key in ("disentanglement", "completeness", "informativeness_train", "informativeness_test"):
        assert ours[key] == pytest.approx(reference[key], abs=0.01)


def test_disentanglement_and_completeness_of_hand_made_importance_matrices():
    assert disentanglement(np.eye(3)) == pytest.approx(1.0, abs=1e-9)
    assert completeness(np.eye(3)) == pytest.approx(1.0, abs=1e-9)
    assert disentanglement(np.ones((3, 4))) == pytest.approx(0.0, abs=1e-9)
    assert completeness(np.ones((3, 4))) == pytest.approx(0.0, abs=1e-9)
    # Code 0 serves both factors (disentanglement 0, weight 1/2), code 2 only factor 0
    # (1, weight 1/2). Factor 0 spreads 1:2 over codes 0 and 2 (weight 3/4), factor 1
    # lies in code 0 alone (completeness 1, weight 1/4).
    importance = np.array([[1.0, 1.0], [0.0, 0.0], [2.0, 0.0]]) / 4
    spread = -((1 / 3) * np.log(1 / 3) + (2 / 3) * np.log(2 / 3)) / np.log(3)
    assert disentanglement(importance) == pytest.approx(0.5, abs=1e-6)
    assert completeness(importance) == pytest.approx(0.75 * (1 - spread) + 0.25, abs=1e-6)


def test_a_single_code_raises_input_error(toy_data):
    with pytest.raises(InputError, match="at least 2 code dimensions"):
        dci(toy_data([3, 4]), lambda x: x[:, :1], np.random.RandomState(0), num_train=50, num_test=20)


def test_unknown_classifier_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="classifier"):
        dci(toy_data([3, 4]), factors_as_codes, np.random.RandomState(0), classifier="forest")


REGRESSION = {"num_train": 1000, "num_test": 500}


def test_lasso_on_factors_as_codes_shrinks_each_prediction_by_alpha(toy_data, factors_as_codes):
    # Standardised codes, one per factor: the lasso weight is the factor value's standard
    # deviation s less alpha, so the residual is alpha times the standardised code and
    # NRMSE = alpha / s. Values k / (n - 1) of a uniform n-valued factor: s^2 = (n + 1) / (12 (n - 1)).
    result = dci(toy_data([3, 4, 5]), factors_as_codes, np.random.RandomState(0), predictor="lasso", **REGRESSION)
    expected = np.mean([0.02 / np.sqrt((n + 1) / (12 * (n - 1))) for n in (3, 4, 5)])
    assert result["nrmse_train"] == pytest.approx(expected, abs=0.003)
    assert result["disentanglement"] == pytest.approx(1.0, abs=1e-6)
    assert result["completeness"] == pytest.approx(1.0, abs=1e-6)
    assert "informativeness_test" not in result


def test_lasso_on_rotated_codes_is_neither_disentangled_nor_complete(toy_data):
    angle = np.pi / 4
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

    def rotated(x):
        return (x / [2.0, 2.0]) @ rotation

    result = dci(toy_data([3, 3]), rotated, np.random.RandomState(0), predictor="lasso", **REGRESSION)
    assert result["disentanglement"] < 0.05 and result["completeness"] < 0.05
    assert result["nrmse_test"] < 0.1


def test_random_forest_regressors_on_factors_and_on_noise(toy_data, factors_as_codes, noise):
    data = toy_data([3, 4, 5])
    perfect = dci(data, factors_as_codes, np.random.RandomState(0), predictor="random_forest", **REGRESSION)
    assert perfect["nrmse_test"] == pytest.approx(0.0, abs=1e-9)
    assert perfect["disentanglement"] > 0.99 and perfect["completeness"] > 0.99
    random = dci(data, noise(3), np.random.RandomState(0), predictor="random_forest", **REGRESSION)
    assert random["nrmse_test"] > 0.95 and random["disentanglement"] < 0.1


def test_unknown_predictor_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="predictor must be one of gradient_boosting, lasso, random_forest"):
        dci(toy_data([3, 4]), factors_as_codes, np.random.RandomState(0), predictor="svm")


def test_lasso_scores_are_blind_to_permuting_and_rescaling_codes(toy_data):
    # The lasso sees standardised codes: any nonzero scale, a shift and a permutation
    # leave its weights (up to sign, order and coordinate descent's tolerance) unchanged.
    data = toy_data([3, 4])
    mixing = np.random.RandomState(1).randn(2, 3)

    def representation(x):
        return x @ mixing + 0.5 * np.random.RandomState(len(x)).randn(len(x), 3)

    original = dci(data, representation, np.random.RandomState(0), predictor="lasso", **REGRESSION)
    transformed = dci(data, lambda x: (representation(x) * [-4.0, 0.5, 2.0] + 3.0)[:, [2, 0, 1]],
                      np.random.RandomState(0), predictor="lasso", **REGRESSION)
    for key in ("disentanglement", "completeness", "nrmse_train", "nrmse_test"):
        assert transformed[key] == pytest.approx(original[key], abs=2e-3)


def test_an_importance_matrix_asked_for_again_is_not_refitted(monkeypatch):
    module = importlib.import_module("disentangle.metrics.dci")  # the package's name is the function

    rng = np.random.RandomState(0)
    x, y = rng.randn(60, 3), rng.randint(3, size=(60, 2))
    settings = {"classifier": "gbt", "num_stages": 5, "n_jobs": 1}
    fits, fit = [], module._fit_gbt
    monkeypatch.setattr(module, "_fit_gbt", lambda *args: fits.append(args) or fit(*args))
    first = module.importance_gbt(x, y, x, y, np.random.RandomState(1), settings)
    assert len(fits) == 2  # one classifier per factor
    again = module.importance_gbt(x, y, x, y, np.random.RandomState(1), {**settings, "n_jobs": 2})
    assert len(fits) == 2 and all(np.array_equal(a, b) for a, b in zip(first, again))
    again[0][:] = -1  # the memo hands out copies
    assert np.array_equal(module.importance_gbt(x, y, x, y, np.random.RandomState(1), settings)[0], first[0])
    module.importance_gbt(x, y, x, y, np.random.RandomState(2), settings)  # other seeds: fitted anew
    module.importance_gbt(x + 1e-9, y, x, y, np.random.RandomState(1), settings)  # other codes: fitted anew
    assert len(fits) == 6


@pytest.mark.parametrize("classifier", ["gbt", "sklearn"])
def test_dci_is_dlibs_arithmetic_on_a_fixed_input(toy_data, noisy_mixing, dlib, classifier):
    # dlib's sampling (train, then test points, 16 at a time), one 100-stage boosted-trees
    # classifier per factor, |feature_importances_|, accuracies, and the entropy-weighted
    # disentanglement and completeness, written out. dlib leaves the classifiers' random_state
    # unset (any seed is dlib's); here each gets the seed ours draws from random_state after
    # the points, so the classifier is the same and the scores agree to rounding.
    from disentangle.metrics.estimators.gbt import fit_gradient_boosting

    data = toy_data([3, 4])
    mixing = [[1.0, 0.1, 0.5], [0.2, 0.8, -0.5]]
    random_state = np.random.RandomState(0)
    representation = noisy_mixing(mixing, 0.4)
    codes, factors = dlib.sample(data, representation, 500, random_state)
    codes_test, factors_test = dlib.sample(data, representation, 200, random_state)
    seeds = random_state.randint(np.iinfo(np.int32).max, size=2)

    def fit(x, y, k):
        if classifier == "sklearn":
            return GradientBoostingClassifier(random_state=seeds[k]).fit(x, y)
        model = fit_gradient_boosting(x, y, np.random.RandomState(seeds[k]))
        model.feature_importances_ = model.feature_importances
        return model

    expected = dlib.dci(codes, factors, codes_test, factors_test, fit)
    result = dci(data, noisy_mixing(mixing, 0.4), np.random.RandomState(0), num_train=500, num_test=200,
                 classifier=classifier)
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, rel=1e-12, abs=1e-14), key
    assert 0.2 < expected["disentanglement"] < 0.9 and 0.2 < expected["completeness"] < 0.9
