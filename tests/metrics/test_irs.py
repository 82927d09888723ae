import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.errors import InputError
from disentangle.scoring.evaluate import score_representation
from disentangle.metrics import irs
from disentangle.metrics.irs import irs_matrix


def dlib_irs(codes, factors, num_bins=20, diff_quantile=0.99):
    """dlib's ``compute_irs`` arithmetic, transcribed on its (variables, points) layout."""
    mus, ys = codes.T, factors.T
    ys_discrete = np.zeros_like(ys)
    for i in range(ys.shape[0]):
        ys_discrete[i, :] = np.digitize(ys[i, :], np.histogram(ys[i, :], num_bins)[1][:-1])
    active = mus[mus.var(axis=1) > 0.0, :]
    if not active.any():
        return 0.0
    gen_factors, latents = ys_discrete.T, active.T
    max_deviations = np.max(np.abs(latents - latents.mean(axis=0)), axis=0)
    cum_deviations = np.zeros([latents.shape[1], gen_factors.shape[1]])
    for i in range(gen_factors.shape[1]):
        unique_factors = np.unique(gen_factors[:, i], axis=0)
        for k in range(unique_factors.shape[0]):
            match = gen_factors[:, i] == unique_factors[k]
            e_loc = np.mean(latents[match, :], axis=0)
            cum_deviations[:, i] += np.quantile(np.abs(latents[match, :] - e_loc), q=diff_quantile, axis=0)
        cum_deviations[:, i] /= unique_factors.shape[0]
    scores = (1.0 - cum_deviations / max_deviations[:, np.newaxis]).max(axis=1)
    if np.sum(max_deviations) > 0.0:
        return np.average(scores, weights=max_deviations)
    return np.mean(scores)


def test_factors_as_codes_score_one_with_each_code_its_own_parent(toy_data, factors_as_codes):
    result = irs(toy_data([3, 4, 5]), factors_as_codes, np.random.RandomState(0), num_train=500)
    assert result["IRS"] == pytest.approx(1.0, abs=1e-12)
    assert result["num_active_dims"] == 3 and result["active_dims"] == [0, 1, 2]
    assert result["parents"] == [0, 1, 2]
    assert result["disentanglement_scores"] == pytest.approx([1.0, 1.0, 1.0])


def test_hand_computed_example():
    factors = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    codes = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 0.0], [12.0, 3.0]])
    matrix, max_deviations = irs_matrix(factors, codes, diff_quantile=1.0)
    # Code 0: mean 6, largest deviation 6; within each value of factor 0 it deviates by 1,
    # of factor 1 by 5. Code 1: mean 0.75, largest deviation 2.25; within either factor's
    # groups it deviates by 0 in one group and 1.5 in the other (mean 0.75).
    assert max_deviations == pytest.approx([6.0, 2.25])
    assert matrix == pytest.approx(np.array([[5 / 6, 1 / 6], [2 / 3, 2 / 3]]))
    # IRS: the codes' best scores weighted by their largest deviations.
    assert np.average(matrix.max(axis=1), weights=max_deviations) == pytest.approx(6.5 / 8.25)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    num_points=st.integers(5, 60),
    diff_quantile=st.sampled_from([0.5, 0.9, 0.99, 1.0]),
    num_bins=st.sampled_from([2, 3, 20]),
)
def test_equals_dlibs_arithmetic(seed, num_points, diff_quantile, num_bins):
    rng = np.random.RandomState(seed)
    factors = np.stack([rng.randint(n, size=num_points) for n in (2, 7, 25)], axis=1)
    codes = np.c_[factors @ rng.randn(3, 3), rng.randn(num_points), np.zeros(num_points)]

    class Fixed:
        factors_num_values, num_factors = [2, 7, 25], 3

        def sample_factors(self, num, random_state):
            return factors[:num]

        def sample_observations_from_factors(self, f, random_state):
            return codes[: len(f)]

    result = irs(Fixed(), lambda x: x, np.random.RandomState(0), num_train=num_points, batch_size=num_points,
                 num_bins=num_bins, diff_quantile=diff_quantile)
    assert result["IRS"] == pytest.approx(dlib_irs(codes, factors, num_bins, diff_quantile), rel=1e-12, abs=1e-12)
    assert result["num_active_dims"] == int(np.sum(codes.var(axis=0) > 0))


def test_permuting_codes_and_one_affine_map_of_all_leave_irs_unchanged(toy_data):
    mixing = np.random.RandomState(1).randn(3, 4)

    def representation(x):
        return x @ mixing + 0.3 * np.random.RandomState(len(x)).randn(len(x), 4)

    data = toy_data([3, 4, 5])
    original = irs(data, representation, np.random.RandomState(0), num_train=800)
    transformed = irs(data, lambda x: 5.0 - 3.0 * representation(x)[:, [3, 1, 0, 2]], np.random.RandomState(0),
                      num_train=800)
    assert transformed["IRS"] == pytest.approx(original["IRS"], rel=1e-9)
    assert transformed["disentanglement_scores"] == pytest.approx(
        np.array(original["disentanglement_scores"])[[3, 1, 0, 2]], rel=1e-9
    )


def test_constant_codes_are_dropped_and_all_constant_codes_score_zero(toy_data, factors_as_codes):
    data = toy_data([3, 4])
    with_constant = irs(data, lambda x: np.c_[x, np.ones(len(x))], np.random.RandomState(0), num_train=300)
    assert with_constant["num_active_dims"] == 2 and with_constant["active_dims"] == [0, 1]
    assert with_constant["IRS"] == pytest.approx(1.0)
    constant = irs(data, lambda x: np.zeros((len(x), 2)), np.random.RandomState(0), num_train=300)
    assert constant["IRS"] == 0.0 and constant["num_active_dims"] == 0 and constant["parents"] == []


def test_a_quantile_outside_zero_one_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="diff_quantile"):
        irs(toy_data([3]), factors_as_codes, np.random.RandomState(0), num_train=20, diff_quantile=1.5)


def test_evaluate_keeps_the_per_code_lists_in_the_results_and_only_scalars_in_the_summary(toy_data,
                                                                                          factors_as_codes):
    scored = score_representation(toy_data([3, 4]), factors_as_codes, ["irs"], seeds=[0, 1],
                                  settings={"irs": {"num_train": 200}})
    assert set(scored["summary"]["irs"]) == {"IRS", "num_active_dims"}
    assert scored["results"]["irs"][1]["parents"] == [0, 1]
    assert json.loads(json.dumps(scored))["summary"]["irs"]["IRS"]["values"] == [1.0, 1.0]
