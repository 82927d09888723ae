import numpy as np
import pytest

from disentangle.errors import InputError
from disentangle.metrics import mig, sap
from disentangle.scoring.representation import IndexedFactorData, MemoisedEncoder, SampledRepresentation, torch_encoder


def _counting(function):
    calls = []

    def encode_batch(x):
        calls.append(len(x))
        return function(x)

    return encode_batch, calls


def test_each_index_is_encoded_once_and_codes_equal_direct_encoding(tiny_factors):
    data = tiny_factors
    encode, calls = _counting(lambda x: (x.flatten(1).numpy() * 2,))
    memo = MemoisedEncoder(data, encode, batch_size=7)
    indices = np.array([3, 3, 17, 0, 17, 119])
    codes = memo(indices)
    assert np.array_equal(codes, data.observations(indices).flatten(1).numpy() * 2)
    memo(np.array([0, 3, 17]))
    assert sum(calls) == memo.encoded == 4


def test_posterior_returns_every_output_of_the_encoder(tiny_factors):
    data = tiny_factors
    memo = MemoisedEncoder(data, torch_encoder(lambda x: (x.flatten(1), -x.flatten(1))))
    mean, logvar = memo.posterior(np.arange(5))
    assert np.array_equal(mean, -logvar) and mean.shape == (5, 4)


def test_indexed_data_hands_out_the_indices_of_the_sampled_factors(tiny_factors):
    data = tiny_factors
    view = IndexedFactorData(data)
    factors = view.sample_factors(50, np.random.RandomState(0))
    assert np.array_equal(view.sample_observations_from_factors(factors, None), data.index_of(factors))
    assert view.factors_num_values == [4, 5, 6] and view.num_factors == 3 and len(view) == 120


@pytest.mark.parametrize("metric", [mig, sap])
def test_scores_through_memoised_indices_equal_scores_on_observations(metric, tiny_factors):
    data = tiny_factors

    def representation(observations):
        flat = np.asarray(observations).reshape(len(observations), -1)
        return flat @ np.array([[1.0, 0.2], [0.1, 1.0], [0.3, 0.3], [0.0, 0.5]])

    settings = {"num_train": 500, **({"num_test": 200} if metric is sap else {})}
    direct = metric(data, representation, np.random.RandomState(3), **settings)
    memo = MemoisedEncoder(data, lambda x: (representation(x.numpy()),))
    memoised = metric(IndexedFactorData(data), memo, np.random.RandomState(3), **settings)
    assert {k: v for k, v in direct.items() if k != "settings"} == pytest.approx(
        {k: v for k, v in memoised.items() if k != "settings"}, abs=1e-6
    )


def test_observations_that_are_not_indices_are_refused(tiny_factors):
    memo = MemoisedEncoder(tiny_factors, lambda x: (x.flatten(1).numpy(),))
    with pytest.raises(InputError, match="expected dataset indices"):
        memo(np.zeros((3, 1, 2, 2), dtype=np.float32))


def _fixed_posterior(mean, logvar):
    """Indices (N,) -> (mean, logvar), each (N, D): the same posterior for every index."""
    return lambda indices: (np.tile(mean, (len(indices), 1)), np.tile(logvar, (len(indices), 1)))


def test_sampled_codes_have_the_posteriors_mean_and_standard_deviation():
    mean, logvar = np.array([1.0, -2.0, 0.0]), np.log(np.array([0.25, 4.0, 1e-4]))
    codes = SampledRepresentation(_fixed_posterior(mean, logvar))(np.arange(20_000))
    # 4 standard errors of the mean and of the standard deviation of 20,000 normal draws
    std = np.exp(0.5 * logvar)
    assert np.all(np.abs(codes.mean(axis=0) - mean) < 4 * std / np.sqrt(20_000))
    np.testing.assert_allclose(codes.std(axis=0), std, rtol=4 / np.sqrt(2 * 20_000))
    assert abs(np.corrcoef(codes[:, 0], codes[:, 1])[0, 1]) < 4 / np.sqrt(20_000)


def test_every_call_draws_afresh_and_a_reseed_restarts_the_same_stream():
    sampled = SampledRepresentation(_fixed_posterior(np.zeros(2), np.zeros(2)), seed=7)
    first, second = sampled(np.arange(100)), sampled(np.arange(100))
    assert not np.allclose(first, second)  # the same images, two samples, as dlib draws them
    sampled.reseed(7)
    np.testing.assert_array_equal(sampled(np.arange(60)), first[:60])  # the noise follows the rows,
    np.testing.assert_array_equal(sampled(np.arange(40)), first[60:])  # however they are split in calls
    sampled.reseed(8)
    assert not np.allclose(sampled(np.arange(100)), first)


def test_sampled_codes_of_a_memo_are_its_means_plus_scaled_noise(tiny_factors):
    mean_of = lambda x: x.reshape(len(x), -1)[:, :2].numpy()  # noqa: E731
    memo = MemoisedEncoder(tiny_factors, lambda x: (mean_of(x), np.full((len(x), 2), np.log(0.01))))
    indices = np.array([3, 3, 50, 7])
    codes = SampledRepresentation(memo.posterior, seed=1)(indices)
    noise = np.random.default_rng(1).standard_normal((4, 2))
    np.testing.assert_allclose(codes, memo(indices) + 0.1 * noise, rtol=1e-6)
    assert memo.encoded == 3
