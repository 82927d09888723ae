"""The labelled subset of the semi-supervised models and how each labeller corrupts it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.models.labels import draw_labelled_set

SIZES = [3, 6, 40, 32, 32]


def test_the_perfect_labeller_gives_the_true_levels_drawn_as_dlib_draws_factors():
    labelled = draw_labelled_set(SIZES, 500, "perfect", label_seed=4)
    random_state = np.random.RandomState(4)
    expected = np.stack([random_state.randint(size, size=500) for size in SIZES], axis=1)
    assert np.array_equal(labelled.factors, expected)
    assert np.array_equal(labelled.labels, expected.astype(np.float32))
    assert labelled.label_sizes == tuple(SIZES) and labelled.labelled_factors == (0, 1, 2, 3, 4)


def test_the_same_seed_draws_the_same_set_and_another_seed_another():
    a, b = draw_labelled_set(SIZES, 100, "noisy", 1), draw_labelled_set(SIZES, 100, "noisy", 1)
    c = draw_labelled_set(SIZES, 100, "noisy", 2)
    assert np.array_equal(a.labels, b.labels) and not np.array_equal(a.factors, c.factors)


def test_the_bin_labeller_bins_factors_with_more_values_than_bins_in_order():
    labelled = draw_labelled_set(SIZES, 4000, "bin", num_bins=5)
    assert labelled.label_sizes == (3, 5, 5, 5, 5)
    assert np.array_equal(labelled.labels[:, 0], labelled.factors[:, 0])  # 3 values: left alone
    for factor in (1, 2, 3, 4):
        levels, bins = labelled.factors[:, factor], labelled.labels[:, factor]
        assert set(np.unique(bins)) == {0, 1, 2, 3, 4}
        order = np.argsort(levels, kind="stable")
        assert np.all(np.diff(bins[order]) >= 0)  # monotone in the level
    # orientation (40 values, 8 per bin): levels 0-7 -> 0, ..., 32-39 -> 4
    assert np.array_equal(labelled.labels[:, 2], labelled.factors[:, 2] // 8)


def test_the_noisy_labeller_replaces_a_fraction_prob_random_of_labels_uniformly():
    labelled = draw_labelled_set([10, 10], 20_000, "noisy", prob_random=0.3)
    changed = labelled.labels != labelled.factors
    # a replaced label is uniform over 10 values, so it differs with probability 0.9
    assert changed.mean() == pytest.approx(0.3 * 0.9, abs=0.01)
    assert ((0 <= labelled.labels) & (labelled.labels < 10)).all()


def test_the_permuted_labeller_relabels_each_factor_by_one_bijection():
    labelled = draw_labelled_set(SIZES, 3000, "permuted", label_seed=3)
    for factor, size in enumerate(SIZES):
        pairs = set(zip(labelled.factors[:, factor], labelled.labels[:, factor]))
        mapping = dict(pairs)
        assert len(mapping) == len(pairs) == size  # a function of the level, every level seen
        assert sorted(mapping.values()) == list(range(size))  # and a bijection
    assert not np.array_equal(labelled.labels, labelled.factors)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5))
def test_the_partial_labeller_keeps_num_observed_factors_true_columns(seed, observed):
    labelled = draw_labelled_set(SIZES, 50, "partial", label_seed=seed, num_observed_factors=observed)
    kept = list(labelled.labelled_factors)
    assert len(set(kept)) == observed == labelled.labels.shape[1]
    assert np.array_equal(labelled.labels, labelled.factors[:, kept])
    assert labelled.label_sizes == tuple(SIZES[k] for k in kept)
