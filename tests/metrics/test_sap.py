import numpy as np
import pytest

from disentangle.errors import InputError
from disentangle.metrics import sap
from disentangle.metrics.sap import avg_diff_top_two, score_matrix_continuous

SMALL = {"num_train": 1000, "num_test": 500}


def test_binary_factors_as_codes_score_one_half(toy_data, factors_as_codes):
    # The best code predicts its factor perfectly; the second best is at chance (1/2).
    result = sap(toy_data([2, 2, 2]), factors_as_codes, np.random.RandomState(0), **SMALL)
    assert result["SAP_score"] == pytest.approx(0.5, abs=0.05)


def test_noise_codes_score_near_zero(toy_data, noise):
    result = sap(toy_data([2, 3, 4]), noise(4), np.random.RandomState(0), **SMALL)
    assert result["SAP_score"] == pytest.approx(0.0, abs=0.05)


def test_continuous_factors_as_codes_score_one(toy_data, factors_as_codes):
    result = sap(
        toy_data([5, 7, 9]), factors_as_codes, np.random.RandomState(0), continuous_factors=True, **SMALL
    )
    assert result["SAP_score"] == pytest.approx(1.0, abs=0.02)


def test_permuting_codes_leaves_the_score_unchanged(toy_data):
    mixing = np.random.RandomState(2).randn(3, 4)
    data = toy_data([2, 3, 4])
    original = sap(data, lambda x: x @ mixing, np.random.RandomState(0), **SMALL)
    permuted = sap(data, lambda x: (x @ mixing)[:, [3, 1, 0, 2]], np.random.RandomState(0), **SMALL)
    assert permuted["SAP_score"] == pytest.approx(original["SAP_score"], abs=1e-12)


def test_continuous_score_matrix_is_the_squared_correlation():
    rng = np.random.RandomState(0)
    codes, factors = rng.randn(200, 3), rng.randint(5, size=(200, 2))
    codes[:, 0] += factors[:, 1]
    codes[:, 2] = 1.0  # constant: scored 0, as dlib
    expected = np.array(
        [[np.corrcoef(codes[:, i], factors[:, j])[0, 1] ** 2 for j in range(2)] for i in range(2)]
    )
    matrix = score_matrix_continuous(codes, factors)
    np.testing.assert_allclose(matrix[:2], expected, atol=1e-12)
    assert np.all(matrix[2] == 0.0)


def test_average_gap_between_the_two_best_codes_of_a_hand_made_matrix():
    assert avg_diff_top_two(np.array([[0.9, 0.2], [0.5, 0.3], [0.1, 0.8]])) == pytest.approx((0.4 + 0.5) / 2)


def test_a_single_code_raises_input_error(toy_data):
    with pytest.raises(InputError, match="at least 2 code dimensions"):
        sap(toy_data([2, 3]), lambda x: x[:, :1], np.random.RandomState(0), num_train=50, num_test=20)


@pytest.mark.parametrize("continuous_factors", [False, True])
def test_sap_is_dlibs_arithmetic_on_a_fixed_input(toy_data, noisy_mixing, dlib, continuous_factors):
    # dlib's sampling (train, then test points, 16 at a time), the score of every (code,
    # factor) pair — a balanced linear SVM's test accuracy on the code alone, or the squared
    # correlation — and the mean gap between the two best codes, written out; a constant code
    # (scored 0 when continuous) among them.
    data = toy_data([2, 3, 5])
    mixing = [[1.0, 0.0, 0.4, 0.0], [0.3, 1.0, 0.0, 0.0], [0.0, 0.5, 1.0, 0.0]]
    random_state = np.random.RandomState(0)
    representation = noisy_mixing(mixing, 0.6)
    codes, factors = dlib.sample(data, representation, 600, random_state)
    codes_test, factors_test = dlib.sample(data, representation, 300, random_state)
    codes[:, 3] = codes_test[:, 3] = 2.0
    expected = dlib.sap(codes, factors, codes_test, factors_test, continuous_factors)

    def constant_last(x, represent=noisy_mixing(mixing, 0.6)):
        codes = represent(x)
        codes[:, 3] = 2.0
        return codes

    result = sap(data, constant_last, np.random.RandomState(0), num_train=600, num_test=300,
                 continuous_factors=continuous_factors)
    assert result["SAP_score"] == pytest.approx(expected, rel=1e-12, abs=1e-14)
    assert 0.05 < expected < 0.8
