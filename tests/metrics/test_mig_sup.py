import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from disentangle.errors import InputError
from disentangle.metrics import mig, mig_sup
from disentangle.metrics.mig_sup import code_gaps


def test_code_gaps_of_a_hand_made_matrix():
    normalised = np.array([[0.9, 0.1, 0.3], [0.2, 0.2, 0.0], [0.0, 0.5, 0.6]])
    np.testing.assert_allclose(code_gaps(normalised), [0.6, 0.0, 0.1])


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(2, 5)), elements=st.floats(0.0, 1.0)))
def test_code_gaps_lie_between_zero_and_each_codes_largest_share(normalised):
    gaps = code_gaps(normalised)
    assert np.all(gaps >= 0) and np.all(gaps <= normalised.max(axis=1) + 1e-12)


def test_factors_as_codes_score_one_and_noise_zero(toy_data, factors_as_codes, noise):
    data = toy_data([3, 4, 5])
    assert mig_sup(data, factors_as_codes, np.random.RandomState(0), num_train=3000)["mig_sup"] == pytest.approx(1.0, abs=0.01)
    assert mig_sup(data, noise(3), np.random.RandomState(0), num_train=3000)["mig_sup"] == pytest.approx(0.0, abs=0.02)


def split_and_duplicated(x):
    """Codes: factor 0's high bit, its low bit, factor 1, and factor 1 again."""
    return np.stack([x[:, 0] // 2, x[:, 0] % 2, x[:, 1], x[:, 1]], axis=1)


def test_a_factor_split_over_two_codes_and_a_duplicated_factor(toy_data):
    # Each bit is all about factor 0 (its log 2 nats, of its own log 2) and nothing about
    # factor 1: gap 1 by the code's entropy; by factor 0's entropy (log 4) half, gap 1/2.
    # The two copies of factor 1 each carry it whole: gap 1 both ways (MIG, per factor,
    # gives them 0).
    data = toy_data([4, 4])
    result = mig_sup(data, split_and_duplicated, np.random.RandomState(0), num_train=5000)
    assert result["mig_sup"] == pytest.approx(1.0, abs=0.01)
    by_factor = mig_sup(data, split_and_duplicated, np.random.RandomState(0), num_train=5000, normalise_by="factor")
    assert by_factor["mig_sup"] == pytest.approx((0.5 + 0.5 + 1 + 1) / 4, abs=0.01)
    assert mig(data, split_and_duplicated, np.random.RandomState(0), num_train=5000)["discrete_mig"] < 0.26


def test_two_factors_in_one_code_score_zero(toy_data, noise):
    # 3 v0 + v1 (9 values, each in its own of the 10 bins) is half about each factor.
    def both_in_one(x):
        return np.hstack([x[:, :1] * 3 + x[:, 1:], noise(1)(x)])

    result = mig_sup(toy_data([3, 3]), both_in_one, np.random.RandomState(0), num_train=5000)
    assert result["mig_sup"] == pytest.approx(0.0, abs=0.02)


@settings(max_examples=10, deadline=None)
@given(
    st.lists(st.floats(0.01, 100.0), min_size=3, max_size=3),
    st.lists(st.floats(-10.0, 10.0), min_size=3, max_size=3),
    st.permutations(range(3)),
)
def test_positive_affine_maps_and_permutations_of_codes_leave_it_unchanged(toy_data, scales, shifts, permutation):
    data = toy_data([3, 5])
    mixing = np.random.RandomState(4).randn(2, 3)

    def representation(x):
        return x @ mixing + 0.3 * np.random.RandomState(len(x)).randn(len(x), 3)

    original = mig_sup(data, representation, np.random.RandomState(0), num_train=800)
    transformed = mig_sup(data, lambda x: (representation(x) * scales + shifts)[:, permutation],
                          np.random.RandomState(0), num_train=800)
    assert transformed["mig_sup"] == pytest.approx(original["mig_sup"], abs=1e-12)


def test_a_single_factor_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="at least 2 factors"):
        mig_sup(toy_data([3]), factors_as_codes, np.random.RandomState(0), num_train=100)


def rotated(x):
    """Two binary factors rotated by 45 degrees (unscaled): v0 + v1 and v0 - v1."""
    return np.stack([x[:, 0] + x[:, 1], x[:, 0] - x[:, 1]], axis=1)


def test_rotated_codes_carry_half_of_each_factor_and_score_zero(toy_data):
    # v0 + v1 = 1 leaves v0 a coin flip, otherwise determines it: I = log 2 / 2 for each
    # (code, factor), so every code's gap is 0.
    assert mig_sup(toy_data([2, 2]), rotated, np.random.RandomState(0), num_train=4000)["mig_sup"] < 0.01



def test_a_constant_code_carries_nothing(toy_data, factors_as_codes):
    def with_constant(x):
        return np.hstack([x, np.ones((len(x), 1))])

    result = mig_sup(toy_data([3, 4]), with_constant, np.random.RandomState(0), num_train=2000)
    assert result["mig_sup"] == pytest.approx(2 / 3, abs=0.01)


def test_unknown_normalisation_and_bad_bins_raise_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="normalise_by"):
        mig_sup(toy_data([3, 4]), factors_as_codes, np.random.RandomState(0), normalise_by="joint")
    with pytest.raises(InputError, match="factor_bins"):
        mig_sup(toy_data([3, 4]), factors_as_codes, np.random.RandomState(0), factor_bins=1)
    with pytest.raises(InputError, match="num_bins"):
        mig_sup(toy_data([3, 4]), factors_as_codes, np.random.RandomState(0), num_bins=1)
