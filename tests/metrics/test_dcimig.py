import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from disentangle.errors import InputError
from disentangle.metrics import dcimig
from disentangle.metrics.dcimig import dcimig_score
from disentangle.metrics.estimators.mutual_information import discrete_entropy, discrete_mutual_info


def test_a_hand_computed_matrix():
    # Code gaps: 1.0 - 0.2 = 0.8 and 0.9 - 0.0 = 0.9 credited to factor 0, 0.5 - 0.1 = 0.4
    # to factor 1; the best per factor, 0.9 + 0.4, over H = 1.2 + 0.8.
    mutual_info = np.array([[1.0, 0.2], [0.9, 0.0], [0.1, 0.5]])
    assert dcimig_score(mutual_info, np.array([1.2, 0.8])) == pytest.approx(1.3 / 2.0)


def test_a_factor_no_code_wins_gets_nothing():
    mutual_info = np.array([[0.7, 0.6], [0.5, 0.1]])
    assert dcimig_score(mutual_info, np.array([1.0, 1.0])) == pytest.approx(0.4 / 2.0)


@settings(max_examples=40, deadline=None)
@given(arrays(np.int64, st.tuples(st.integers(5, 60), st.integers(2, 6)), elements=st.integers(0, 3)))
def test_lies_in_zero_one_on_any_labels(labels):
    codes, factors = labels[:, :-2] if labels.shape[1] > 3 else labels[:, :1], labels[:, -2:]
    score = dcimig_score(discrete_mutual_info(codes, factors), discrete_entropy(factors))
    assert -1e-12 <= score <= 1 + 1e-12


def test_factors_as_codes_score_one_and_noise_zero(toy_data, factors_as_codes, noise):
    data = toy_data([3, 4, 5])
    assert dcimig(data, factors_as_codes, np.random.RandomState(0), num_train=3000)["dcimig"] == pytest.approx(1.0, abs=0.01)
    assert dcimig(data, noise(3), np.random.RandomState(0), num_train=3000)["dcimig"] == pytest.approx(0.0, abs=0.02)


def test_a_factor_split_over_two_codes_is_half_captured(toy_data):
    # Each bit of factor 0 has gap log 2 (factor 0's best: log 2 of log 4); factor 1 is
    # whole in code 2: (log 2 + log 4) / (log 4 + log 4) = 3/4.
    def split(x):
        return np.stack([x[:, 0] // 2, x[:, 0] % 2, x[:, 1]], axis=1)

    result = dcimig(toy_data([4, 4]), split, np.random.RandomState(0), num_train=5000)
    assert result["dcimig"] == pytest.approx(0.75, abs=0.01)


def test_two_factors_in_one_code_credit_neither(toy_data, noise):
    # 3 v0 + v1 takes 9 values, each in its own of the 10 bins.
    def both_in_one(x):
        return np.hstack([x[:, :1] * 3 + x[:, 1:], noise(1)(x)])

    assert dcimig(toy_data([3, 3]), both_in_one, np.random.RandomState(0), num_train=5000)["dcimig"] < 0.02


@settings(max_examples=10, deadline=None)
@given(st.lists(st.floats(0.01, 100.0), min_size=3, max_size=3), st.permutations(range(3)))
def test_positive_rescaling_and_permutations_of_codes_leave_it_unchanged(toy_data, scales, permutation):
    data = toy_data([3, 5])
    mixing = np.random.RandomState(4).randn(2, 3)

    def representation(x):
        return x @ mixing + 0.3 * np.random.RandomState(len(x)).randn(len(x), 3)

    original = dcimig(data, representation, np.random.RandomState(0), num_train=800)["dcimig"]
    transformed = dcimig(data, lambda x: (representation(x) * scales)[:, permutation], np.random.RandomState(0),
                         num_train=800)["dcimig"]
    assert transformed == pytest.approx(original, abs=1e-12)


def test_a_single_factor_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="at least 2 factors"):
        dcimig(toy_data([3]), factors_as_codes, np.random.RandomState(0), num_train=100)


def test_rotated_codes_credit_no_factor(toy_data):
    # v0 + v1 and v0 - v1 of binary factors: each code carries log 2 / 2 of each factor.
    def rotated(x):
        return np.stack([x[:, 0] + x[:, 1], x[:, 0] - x[:, 1]], axis=1)

    assert dcimig(toy_data([2, 2]), rotated, np.random.RandomState(0), num_train=4000)["dcimig"] < 0.01
