import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import mutual_info_score

from disentangle.errors import InputError
from disentangle.metrics import jemmig
from disentangle.metrics.jemmig import jemmig_per_factor
from disentangle.metrics.estimators.mutual_information import discrete_entropy, discrete_mutual_info


def test_a_hand_computed_example():
    # Factor 0: top code 0, H(v, z) = 0.7 + 0.9 - 0.6 = 1.0, minus 0.6 plus the runner-up 0.2.
    # Factor 1: top code 1, H(v, z) = 0.6 + 0.8 - 0.3 = 1.1, minus 0.3 plus 0.1.
    mutual_info = np.array([[0.6, 0.1], [0.2, 0.3], [0.0, 0.05]])
    result = jemmig_per_factor(mutual_info, np.array([0.7, 0.6]), np.array([0.9, 0.8, 0.5]))
    np.testing.assert_allclose(result, [0.6, 0.9])


def _joint_entropy(a, b):
    _, counts = np.unique(np.stack([a, b], axis=1), axis=0, return_counts=True)
    p = counts / counts.sum()
    return -np.sum(p * np.log(p))


@settings(max_examples=25, deadline=None)
@given(arrays(np.int64, st.tuples(st.integers(5, 60), st.integers(4, 5)), elements=st.integers(0, 3)))
def test_equals_the_definition_with_a_joint_entropy_from_a_contingency_table(labels):
    codes, factors = labels[:, :-2], labels[:, -2:]
    result = jemmig_per_factor(discrete_mutual_info(codes, factors), discrete_entropy(factors), discrete_entropy(codes))
    for k in range(2):
        mi = np.array([mutual_info_score(factors[:, k], codes[:, j]) for j in range(codes.shape[1])])
        code_entropy = np.array([mutual_info_score(codes[:, j], codes[:, j]) for j in range(codes.shape[1])])
        top, second = np.lexsort((code_entropy, -np.round(mi, 12)))[:2]  # ties: the code of least entropy
        expected = _joint_entropy(factors[:, k], codes[:, top]) - mi[top] + mi[second]
        assert result[k] == pytest.approx(expected, abs=1e-9)
        assert -1e-9 <= result[k] <= discrete_entropy(factors[:, k:k + 1])[0] + np.log(4) + 1e-9


def test_factors_as_codes_score_one_and_noise_low(toy_data, factors_as_codes, noise):
    data = toy_data([3, 4, 5])
    perfect = jemmig(data, factors_as_codes, np.random.RandomState(0), num_train=3000)
    assert perfect["normalized_jemmig"] == pytest.approx(1.0, abs=0.005) and perfect["jemmig"] < 0.02
    # Noise: H(v | z*) = H(v) and H(z* | v) = H(z*), a Gaussian's entropy over 20 bins.
    assert jemmig(data, noise(3), np.random.RandomState(0), num_train=3000)["normalized_jemmig"] < 0.2


def test_a_factor_split_over_two_codes(toy_data):
    # Factor 0 = two bits: H(v0, z*) - I(v0; z*) + I(v0; z°) = log 4 - log 2 + log 2, out of
    # log 4 + log 10 (10 bins); factor 1 (code 2) is perfect.
    def split(x):
        return np.stack([x[:, 0] // 2, x[:, 0] % 2, x[:, 1]], axis=1)

    result = jemmig(toy_data([4, 4]), split, np.random.RandomState(0), num_train=5000)
    expected = 1 - 0.5 * np.log(4) / (np.log(4) + np.log(10))
    assert result["normalized_jemmig"] == pytest.approx(expected, abs=0.01)
    assert result["jemmig"] == pytest.approx(np.log(4) / 2, abs=0.01)


def test_two_factors_in_one_code_are_penalised_for_the_other_factor(toy_data, noise):
    # z0 = 3 v0 + v1 (9 values, each in its own of the 10 bins) determines both: per
    # factor H(z0 | v) = log 3 stays.
    def both_in_one(x):
        return np.hstack([x[:, :1] * 3 + x[:, 1:], noise(1)(x)])

    result = jemmig(toy_data([3, 3]), both_in_one, np.random.RandomState(0), num_train=5000)
    assert result["jemmig"] == pytest.approx(np.log(3), abs=0.02)


@settings(max_examples=10, deadline=None)
@given(st.lists(st.floats(0.01, 100.0), min_size=3, max_size=3), st.permutations(range(3)))
def test_positive_rescaling_and_permutations_of_codes_leave_it_unchanged(toy_data, scales, permutation):
    data = toy_data([3, 5])
    mixing = np.random.RandomState(4).randn(2, 3)

    def representation(x):
        return x @ mixing + 0.3 * np.random.RandomState(len(x)).randn(len(x), 3)

    original = jemmig(data, representation, np.random.RandomState(0), num_train=800)
    transformed = jemmig(data, lambda x: (representation(x) * scales)[:, permutation], np.random.RandomState(0),
                         num_train=800)
    assert transformed["jemmig"] == pytest.approx(original["jemmig"], abs=1e-9)


def test_a_single_code_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="at least 2 code dimensions"):
        jemmig(toy_data([3, 4]), lambda x: x[:, :1], np.random.RandomState(0), num_train=100)


def test_rotated_codes(toy_data):
    # z = v0 + v1 (values 0, 1, 2 with probabilities 1/4, 1/2, 1/4) for binary factors:
    # H(v0, z) = H(z) + H(v0 | z) = 1.5 log 2 + 0.5 log 2, I(v0; z) = I(v0; v0 - v1) = log 2 / 2,
    # so JEMMIG(v0) = 2 log 2 - log 2 / 2 + log 2 / 2 = 2 log 2; the same for v1.
    def rotated(x):
        return np.stack([x[:, 0] + x[:, 1], x[:, 0] - x[:, 1]], axis=1)

    result = jemmig(toy_data([2, 2]), rotated, np.random.RandomState(0), num_train=4000)
    assert result["jemmig"] == pytest.approx(2 * np.log(2), abs=0.01)
    assert result["normalized_jemmig"] == pytest.approx(1 - 2 * np.log(2) / (np.log(2) + np.log(10)), abs=0.01)
