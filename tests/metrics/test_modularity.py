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


def test_modularity_and_explicitness_are_dlibs_arithmetic_on_a_fixed_input(toy_data, noisy_mixing, dlib):
    # dlib's sampling (train, then test points, 16 at a time); modularity of the binned training
    # codes' mutual information; explicitness, the macro ROC AUC of LogisticRegression() on the
    # codes standardised by the training statistics, one-hot labels by MultiLabelBinarizer;
    # written out, with a two-valued factor among them.
    from threadpoolctl import threadpool_limits

    data = toy_data([2, 4, 5])
    mixing = [[1.0, 0.0, 0.3, 0.2], [0.4, 1.0, 0.0, 0.0], [0.0, 0.3, 1.0, 0.5]]
    random_state = np.random.RandomState(0)
    representation = noisy_mixing(mixing, 0.8)
    codes, factors = dlib.sample(data, representation, 800, random_state)
    codes_test, factors_test = dlib.sample(data, representation, 400, random_state)
    with threadpool_limits(1, user_api="blas"):
        expected = dlib.modularity_explicitness(codes, factors, codes_test, factors_test)
    result = modularity_explicitness(data, noisy_mixing(mixing, 0.8), np.random.RandomState(0), num_train=800,
                                     num_test=400)
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, rel=1e-12, abs=1e-14), key
    assert 0.3 < expected["modularity_score"] < 0.95 and expected["explicitness_score_test"] < 0.95
