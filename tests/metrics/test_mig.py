import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.errors import InputError
from disentangle.metrics import mig


def test_factors_with_at_most_twenty_values_as_codes_score_one_up_to_bias(toy_data, factors_as_codes):
    result = mig(toy_data([3, 6, 20]), factors_as_codes, np.random.RandomState(0), num_train=5000)
    assert result["discrete_mig"] == pytest.approx(1.0, abs=0.01)


def test_twenty_bins_resolve_a_uniform_forty_valued_factor_only_to_log20_over_log40(toy_data, noise):
    # 40 values over 20 equal-width bins (width 39/20 = 1.95): every bin holds exactly
    # two values, so the binned code carries log 20 of the factor's log 40 nats. The
    # competing noise code's estimated MI is the plug-in bias, about 19 * 39 / (2N) nats.
    def representation(x):
        return np.hstack([x, noise(1)(x)])

    result = mig(toy_data([40]), representation, np.random.RandomState(0), num_train=10_000)
    expected = (np.log(20) - 19 * 39 / (2 * 10_000)) / np.log(40)
    assert result["discrete_mig"] == pytest.approx(expected, abs=0.005)
    assert np.log(20) / np.log(40) == pytest.approx(0.812, abs=1e-3)


def test_dsprites_sized_factors_as_codes_stay_near_point_nine(toy_data, factors_as_codes):
    # shape 3, scale 6: fully resolved (1); orientation 40: log 20 / log 40 = 0.812;
    # posX, posY 32: 12 bins hold two values and 8 hold one, H = 0.75 log 16 + 0.25 log 32,
    # 0.850 of log 32. Mean 0.903, less a little plug-in bias.
    h32 = (0.75 * np.log(16) + 0.25 * np.log(32)) / np.log(32)
    expected = np.mean([1.0, 1.0, np.log(20) / np.log(40), h32, h32])
    result = mig(toy_data([3, 6, 40, 32, 32]), factors_as_codes, np.random.RandomState(0))
    assert result["discrete_mig"] == pytest.approx(expected, abs=0.01)
    assert result["discrete_mig"] < expected


def test_noise_codes_score_near_zero(toy_data, noise):
    result = mig(toy_data([3, 6, 10]), noise(5), np.random.RandomState(0), num_train=5000)
    assert result["discrete_mig"] == pytest.approx(0.0, abs=0.02)


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.floats(0.01, 100.0), min_size=4, max_size=4),
    st.lists(st.floats(-10.0, 10.0), min_size=4, max_size=4),
    st.permutations(range(4)),
)
def test_positive_affine_maps_and_permutations_of_codes_leave_mig_unchanged(
    toy_data, scales, shifts, permutation
):
    data = toy_data([3, 5, 7])
    mixing = np.random.RandomState(4).randn(3, 4)

    def representation(x):
        return x @ mixing + 0.3 * np.random.RandomState(len(x)).randn(len(x), 4)

    original = mig(data, representation, np.random.RandomState(0), num_train=1000)
    transformed = mig(
        data, lambda x: (representation(x) * scales + shifts)[:, permutation], np.random.RandomState(0),
        num_train=1000,
    )
    assert transformed["discrete_mig"] == pytest.approx(original["discrete_mig"], abs=1e-12)


def test_single_code_dimension_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="at least 2 code dimensions"):
        mig(toy_data([3]), factors_as_codes, np.random.RandomState(0), num_train=100)


def sharp_posterior(observations):
    """Posterior means equal to the factors (plus a noise code), tiny variances."""
    mean = np.hstack([observations, np.zeros((len(observations), 1))])
    return mean, np.full(mean.shape, np.log(1e-4))


def test_chen_estimator_scores_sharp_factor_posteriors_one_on_the_whole_dataset(toy_data):
    data = toy_data([3, 4, 5], names=["shape", "scale", "orientation"])
    result = mig(data, None, np.random.RandomState(0), estimator="chen", posterior_function=sharp_posterior)
    assert result["settings"]["exclude_factors"] == [0]
    assert result["mig"] == pytest.approx(1.0, abs=1e-6)


def test_chen_estimator_with_stratified_sampling_agrees_with_the_whole_dataset(toy_data):
    data = toy_data([4, 6, 8])
    rng = np.random.RandomState(3)
    mixing = np.eye(3) + 0.3 * rng.randn(3, 3)

    def posterior(x):
        return x @ mixing, np.full((len(x), 3), np.log(0.3))

    exact = mig(data, None, np.random.RandomState(0), estimator="chen", posterior_function=posterior,
                exclude_factors=[], num_samples=192, num_components=192)
    sampled = mig(data, None, np.random.RandomState(0), estimator="chen", posterior_function=posterior,
                  exclude_factors=[], num_samples=120, num_components=96)
    assert sampled["mig"] == pytest.approx(exact["mig"], abs=0.03)


def test_chen_estimator_scores_posteriors_that_ignore_the_factors_zero(toy_data):
    def posterior(x):
        return np.zeros((len(x), 3)), np.zeros((len(x), 3))

    result = mig(
        toy_data([4, 6]), None, np.random.RandomState(0), estimator="chen", posterior_function=posterior
    )
    assert result["mig"] == pytest.approx(0.0, abs=0.01)


def test_chen_estimator_without_posterior_function_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="posterior_function"):
        mig(toy_data([3, 4]), factors_as_codes, np.random.RandomState(0), estimator="chen")


def test_unknown_estimator_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="estimator"):
        mig(toy_data([3, 4]), factors_as_codes, np.random.RandomState(0), estimator="kl")


def test_mig_is_dlibs_arithmetic_on_a_fixed_input(toy_data, noisy_mixing, dlib):
    # 1,000 points drawn 16 at a time (the last batch of 8), noisy mixed codes, a factor of
    # 30 values (more than the 20 bins) and one of 2: dlib's sampling, histogram bins, plug-in
    # mutual information, entropies and gap, written out, to rounding.
    data = toy_data([2, 5, 30])
    mixing = [[1.0, 0.0, 0.3, 0.0], [0.2, 1.0, 0.0, 0.5], [0.0, 0.1, 1.0, 0.05]]
    codes, factors = dlib.sample(data, noisy_mixing(mixing, 0.5), 1000, np.random.RandomState(0))
    expected = dlib.mig(codes, factors)
    result = mig(data, noisy_mixing(mixing, 0.5), np.random.RandomState(0), num_train=1000)
    assert result["discrete_mig"] == pytest.approx(expected, rel=1e-12, abs=1e-14)
    assert 0.1 < expected < 0.9  # neither extreme: bins, gaps and entropies all count
    coarse = mig(data, noisy_mixing(mixing, 0.5), np.random.RandomState(0), num_train=1000, num_bins=7)
    assert coarse["discrete_mig"] == pytest.approx(dlib.mig(codes, factors, num_bins=7), rel=1e-12, abs=1e-14)
