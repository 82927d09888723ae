import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import mutual_info_score
from sklearn.preprocessing import minmax_scale

from disentangle.errors import InputError
from disentangle.metrics.estimators.mutual_information import (
    discrete_entropy,
    discrete_mutual_info,
    histogram_discretize,
    minmax_discretize,
    main_factors,
    normalised_mutual_info,
)


def test_entropy_of_hand_computed_columns():
    labels = np.array([[0, 5, 1], [0, 5, 1], [1, 5, 2], [1, 5, 3]])
    expected = [np.log(2), 0.0, -(0.5 * np.log(0.5) + 2 * 0.25 * np.log(0.25))]
    np.testing.assert_allclose(discrete_entropy(labels), expected, atol=1e-15)


def test_mutual_information_of_a_hand_computed_table():
    # Joint counts [[3, 1], [1, 3]] over 8 points: MI = sum p log(p / (p_a p_b)).
    a = np.array([0, 0, 0, 0, 1, 1, 1, 1])[:, None]
    b = np.array([0, 0, 0, 1, 0, 1, 1, 1])[:, None]
    expected = 2 * (3 / 8) * np.log((3 / 8) / 0.25) + 2 * (1 / 8) * np.log((1 / 8) / 0.25)
    assert discrete_mutual_info(a, b)[0, 0] == pytest.approx(expected, abs=1e-15)


def test_mutual_information_of_a_variable_with_itself_is_its_entropy():
    rng = np.random.RandomState(0)
    labels = rng.randint(7, size=(500, 3))
    mutual_info = discrete_mutual_info(labels, labels)
    np.testing.assert_allclose(np.diag(mutual_info), discrete_entropy(labels), atol=1e-12)


def test_mutual_information_with_a_constant_is_zero():
    a = np.random.RandomState(0).randint(4, size=(50, 2))
    assert np.all(discrete_mutual_info(a, np.zeros((50, 1), dtype=int)) == 0.0)


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.int64, st.tuples(st.integers(1, 60), st.integers(1, 4)), elements=st.integers(-3, 9)),
    st.integers(0, 2**31 - 1),
)
def test_mutual_information_equals_sklearn_mutual_info_score(a, seed):
    b = np.random.RandomState(seed).randint(0, 5, size=(len(a), 3))
    b[:, 0] = a[:, 0] % 3  # one column that depends on a
    ours = discrete_mutual_info(a, b)
    reference = np.array(
        [[mutual_info_score(b[:, j], a[:, i]) for j in range(b.shape[1])] for i in range(a.shape[1])]
    )
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(arrays(np.int64, st.tuples(st.integers(1, 80), st.integers(1, 3)), elements=st.integers(0, 12)))
def test_entropy_equals_sklearn_mutual_info_score_of_a_column_with_itself(labels):
    reference = [mutual_info_score(labels[:, j], labels[:, j]) for j in range(labels.shape[1])]
    np.testing.assert_allclose(discrete_entropy(labels), reference, rtol=0, atol=1e-12)


def test_histogram_discretize_is_dlibs_digitize_on_histogram_edges():
    codes = np.random.RandomState(0).randn(1000, 3) * [1.0, 10.0, 0.01]
    codes[:, 2] = 4.0  # a constant column
    expected = np.stack(
        [np.digitize(codes[:, j], np.histogram(codes[:, j], 20)[1][:-1]) for j in range(3)], axis=1
    )
    discrete = histogram_discretize(codes, 20)
    np.testing.assert_array_equal(discrete, expected)
    assert discrete[:, :2].min() == 1 and discrete[:, :2].max() == 20


def test_mismatched_row_counts_raise_input_error():
    with pytest.raises(InputError, match="same number of rows"):
        discrete_mutual_info(np.zeros((3, 1), dtype=int), np.zeros((4, 1), dtype=int))


def test_wide_inputs_processed_in_blocks_give_the_same_values(monkeypatch):
    import disentangle.metrics.estimators.mutual_information as mi

    rng = np.random.RandomState(0)
    a, b = rng.randint(0, 5, size=(300, 40)), rng.randint(0, 3, size=(300, 2))
    whole = mi.discrete_mutual_info(a, b)
    monkeypatch.setattr(mi, "_MAX_JOINT_LABELS", 300 * 2 * 7)
    assert np.array_equal(mi.discrete_mutual_info(a, b), whole)


def test_normalised_mutual_info_is_each_codes_share_of_each_factors_entropy():
    """A code that copies factor 0 carries all of its entropy and none of factor 1's,
    which is independent of it; a constant factor has no entropy and gets 0."""
    grid = np.stack(np.meshgrid(np.arange(4), np.arange(5), indexing="ij"), axis=-1).reshape(-1, 2)
    factors = np.concatenate([grid, np.zeros((len(grid), 1), dtype=np.int64)], axis=1)
    codes = np.stack([grid[:, 0].astype(float), np.full(len(grid), 0.5)], axis=1)
    shares = normalised_mutual_info(codes, factors, num_bins=4)
    np.testing.assert_allclose(shares, [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (60, 3), elements=st.floats(-5, 5)), arrays(np.int64, (60, 2), elements=st.integers(0, 3)))
def test_normalised_mutual_info_lies_in_0_1_and_matches_mi_over_entropy(codes, factors):
    shares = normalised_mutual_info(codes, factors)
    assert shares.shape == (3, 2) and (shares >= 0).all() and (shares <= 1 + 1e-12).all()
    entropy = discrete_entropy(factors)
    expected = discrete_mutual_info(histogram_discretize(codes), factors)
    for k in range(2):
        if entropy[k] > 0:
            np.testing.assert_allclose(shares[:, k], expected[:, k] / entropy[k], atol=1e-12)


def test_main_factors_names_the_largest_share_unless_every_share_is_small():
    shares = np.array([[0.1, 0.7, 0.0], [0.15, 0.1, 0.19], [0.3, 0.3, 0.2]])
    assert main_factors(shares) == [1, None, 0]
    assert main_factors(shares, threshold=0.1) == [1, 2, 0]


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.int64, st.tuples(st.integers(2, 80), st.integers(1, 3)), elements=st.integers(0, 40)),
    st.floats(1e-3, 1e3),
    st.floats(-1e3, 1e3),
    st.integers(2, 25),
)
def test_minmax_discretize_is_zaidi_et_als_bins_of_minmax_scale(values, scale, shift, num_bins):
    # Evenly spaced values land on bin edges, where the order of the arithmetic decides.
    values = values * scale + shift
    expected = np.digitize(minmax_scale(values), np.linspace(0, 1, num_bins + 1)[:-1], right=False)
    np.testing.assert_array_equal(minmax_discretize(values, num_bins), expected)
