import numpy as np
import pytest

from disentangle.errors import InputError
from disentangle.metrics import modularity_explicitness
from disentangle.metrics.modularity import modularity

SMALL = {"num_train": 2000, "num_test": 1000}


def test_modularity_of_hand_made_mutual_information():
    assert modularity(np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 1.0]])) == 1.0
    # Equal information with all three factors: delta = (3 - 1) / (1 * 2) = 1.
    assert modularity(np.array([[1.0, 1.0, 1.0]])) == pytest.approx(0.0)
    # A code sharing nothing with any factor scores 0, as dlib.
    assert modularity(np.array([[1.0, 0.0], [0.0, 0.0]])) == pytest.approx(0.5)
    # m = (2, 1): delta = 1 / (4 * 1) = 1/4.
    assert modularity(np.array([[2.0, 1.0]])) == pytest.approx(0.75)


def test_factors_as_codes_are_modular_and_explicit(toy_data, factors_as_codes):
    result = modularity_explicitness(toy_data([3, 4, 5]), factors_as_codes, np.random.RandomState(0), **SMALL)
    assert result["modularity_score"] == pytest.approx(1.0, abs=0.01)
    assert result["explicitness_score_test"] > 0.95


def test_noise_codes_are_not_explicit(toy_data, noise):
    result = modularity_explicitness(toy_data([3, 4, 5]), noise(4), np.random.RandomState(0), **SMALL)
    assert result["explicitness_score_test"] == pytest.approx(0.5, abs=0.03)


def test_permuting_and_rescaling_codes_leave_the_scores_unchanged(toy_data):
    data = toy_data([3, 4, 5])
    mixing = np.random.RandomState(1).randn(3, 4)

    def representation(x):
        return x @ mixing + np.random.RandomState(len(x)).randn(len(x), 4)

    original = modularity_explicitness(data, representation, np.random.RandomState(0), **SMALL)
    transformed = modularity_explicitness(
        data, lambda x: (representation(x) * [3.0, 0.1, 1.0, 7.0] + 5.0)[:, [1, 3, 0, 2]],
        np.random.RandomState(0), **SMALL,
    )
    for key in ("modularity_score", "explicitness_score_train", "explicitness_score_test"):
        assert transformed[key] == pytest.approx(original[key], abs=1e-6)


def test_a_constant_code_is_kept_without_failing(toy_data):
    result = modularity_explicitness(
        toy_data([3, 4]), lambda x: np.hstack([x, np.ones((len(x), 1))]), np.random.RandomState(0), **SMALL
    )
    assert result["explicitness_score_test"] > 0.95


def test_a_single_factor_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="at least 2 factors"):
        modularity_explicitness(
            toy_data([3]), factors_as_codes, np.random.RandomState(0), num_train=50, num_test=20
        )
