import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import log_loss

from disentangle.metrics import infomec
from disentangle.metrics.infomec import concentration, predictive_information
from disentangle.metrics.estimators.logistic import fit_logistic_regression


def test_infom_and_infoc_of_hand_made_matrices():
    assert concentration(np.eye(2), axis=0) == concentration(np.eye(2), axis=1) == 1.0
    assert concentration(np.full((2, 3), 0.5), axis=0) == pytest.approx(0.0)
    # (factors x codes). Per code, max / sum: 1, 2/3, 1 -> mean 8/9, rescaled over K = 2: 7/9.
    # Per factor: 0.75 and 0.5 -> mean 5/8, rescaled over J = 3: (5/8 - 1/3) / (2/3) = 7/16.
    nmi = np.array([[0.6, 0.2, 0.0], [0.0, 0.4, 0.4]])
    assert concentration(nmi, axis=0) == pytest.approx(7 / 9)
    assert concentration(nmi, axis=1) == pytest.approx(7 / 16)


def test_a_code_that_carries_nothing_scores_zero_and_one_code_counts_as_compact():
    assert concentration(np.array([[0.5, 0.0], [0.0, 0.0]]), axis=0) == pytest.approx(0.5)
    assert concentration(np.array([[0.7], [0.0]]), axis=1) == pytest.approx(0.5)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 5)), elements=st.floats(0.0, 1.0)),
       st.integers(0, 1))
def test_concentration_lies_in_zero_one(nmi, axis):
    assert -1e-12 <= concentration(nmi, axis) <= 1 + 1e-12


def test_the_balanced_null_model_has_log_loss_log_c():
    # The closed form InfoE uses for H_0, checked against the fitted no-input model.
    factor = np.repeat([0, 1, 2, 3], [5, 20, 40, 135])
    model = fit_logistic_regression(np.zeros((len(factor), 1)), factor, C=np.inf, class_weight="balanced")
    assert log_loss(factor, model.predict_proba(np.zeros((len(factor), 1)))) == pytest.approx(np.log(4), abs=1e-4)


def test_predictive_information_is_one_for_a_linearly_separable_factor_and_zero_for_noise():
    rng = np.random.RandomState(0)
    factor = rng.randint(3, size=600)
    separable = factor[:, None] * 10.0 + rng.rand(600, 1)
    assert predictive_information(separable, factor[:, None], False)[0] == pytest.approx(1.0, abs=0.01)
    assert predictive_information(rng.randn(600, 2), factor[:, None], False)[0] == pytest.approx(0.0, abs=0.02)


def test_factors_as_codes_score_one_and_noise_carries_no_information(toy_data, factors_as_codes, noise):
    data = toy_data([3, 4, 5])
    perfect = infomec(data, factors_as_codes, np.random.RandomState(0), num_train=1500)
    assert perfect["infom"] == pytest.approx(1.0, abs=0.02) and perfect["infoc"] == pytest.approx(1.0, abs=0.02)
    assert perfect["infoe"] == pytest.approx(1.0, abs=0.01) and perfect["num_active_dims"] == 3
    assert infomec(data, noise(3), np.random.RandomState(0), num_train=1500)["infoe"] == pytest.approx(0.0, abs=0.02)


def test_a_factor_split_over_two_codes_is_modular_but_not_compact(toy_data):
    # Factor 0 in two bits (each carrying half of it), factor 1 in code 2. Per code the
    # information goes to one factor (InfoM 1); factor 0 spreads 1/2, 1/2 over the three
    # codes: max / sum = 1/2, factor 1: 1 -> mean 3/4, rescaled over J = 3: 5/8.
    def split(x):
        return np.stack([x[:, 0] // 2, x[:, 0] % 2, x[:, 1]], axis=1).astype(float)

    result = infomec(toy_data([4, 4]), split, np.random.RandomState(0), num_train=2000, discrete_codes=True)
    assert result["infom"] == pytest.approx(1.0, abs=0.01)
    assert result["infoc"] == pytest.approx(5 / 8, abs=0.01)
    assert result["infoe"] == pytest.approx(1.0, abs=0.01)


def test_two_factors_in_one_code_are_not_modular(toy_data, noise):
    # Code 0 = 4 v0 + v1 carries both factors whole (discrete): max / sum = 1/2, InfoM 0
    # for it; the noise code carries nothing and scores 0 too.
    def both_in_one(x):
        return np.hstack([x[:, :1] * 4 + x[:, 1:], np.round(noise(1)(x))])

    result = infomec(toy_data([4, 4]), both_in_one, np.random.RandomState(0), num_train=2000, discrete_codes=True)
    assert result["infom"] == pytest.approx(0.0, abs=0.05)


def test_affine_maps_and_permutations_of_codes_leave_it_nearly_unchanged(toy_data):
    data = toy_data([3, 4])
    mixing = np.eye(2, 3) + 0.3 * np.random.RandomState(1).randn(2, 3)

    def representation(x):
        return x @ mixing + 0.3 * np.random.RandomState(len(x)).randn(len(x), 3)

    original = infomec(data, representation, np.random.RandomState(0), num_train=800)
    transformed = infomec(data, lambda x: (representation(x) * [3.0, -0.5, 2.0] + 7.0)[:, [2, 0, 1]],
                          np.random.RandomState(0), num_train=800)
    for key in ("infom", "infoc", "infoe"):
        assert transformed[key] == pytest.approx(original[key], abs=0.02)
