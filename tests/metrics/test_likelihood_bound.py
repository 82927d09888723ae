"""The IWAE bound on a linear-Gaussian model, where log p(x) and the posterior are known.

z ~ N(0, I₃), x = W z + b + σ ε with W = Q diag(s) (orthonormal Q): the marginal is
N(b, W Wᵀ + σ² I) and the posterior is the diagonal Gaussian with variance
1 / (1 + s² / σ²) and mean variance · Wᵀ (x − b) / σ².
"""

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal, norm

from disentangle.errors import InputError
from disentangle.metrics.likelihood_bound import importance_weighted_bound

SIGMA = 0.5
SCALES = np.array([2.0, 1.0, 0.3])
W = np.linalg.qr(np.random.RandomState(0).randn(5, 3))[0] * SCALES
B = np.array([0.5, -1.0, 0.0, 2.0, 0.3])
POSTERIOR_VARIANCE = 1 / (1 + SCALES**2 / SIGMA**2)


def sample_observations(num, seed=1):
    rng = np.random.RandomState(seed)
    return rng.randn(num, 3) @ W.T + B + SIGMA * rng.randn(num, 5)


def log_marginal(x):
    return multivariate_normal(B, W @ W.T + SIGMA**2 * np.eye(5)).logpdf(x)


def exact_posterior(x):
    x = torch.as_tensor(x, dtype=torch.float64)
    mean = (x - torch.from_numpy(B)) @ torch.from_numpy(W) * torch.from_numpy(POSTERIOR_VARIANCE / SIGMA**2)
    return mean, torch.from_numpy(np.log(POSTERIOR_VARIANCE)).expand_as(mean)


def mismatched_posterior(x):
    """A worse q: the posterior mean shifted by 0.4, three times its variance."""
    mean, logvar = exact_posterior(x)
    return mean + 0.4, logvar + math.log(3.0)


def log_likelihood(x, z):
    x = torch.as_tensor(x, dtype=torch.float64)
    decoded = z @ torch.from_numpy(W).T + torch.from_numpy(B)
    return torch.distributions.Normal(decoded, SIGMA).log_prob(x[:, None]).sum(-1)


def analytic_elbo(x, mean, variance):
    """E_q[log p(x|z) + log p(z) − log q(z|x)] for q = N(mean, diag variance)."""
    residual = x - B - W @ mean
    expected_log_likelihood = -0.5 * (
        5 * np.log(2 * np.pi * SIGMA**2) + (residual @ residual + np.sum(W**2 @ variance)) / SIGMA**2
    )
    expected_log_prior = -0.5 * (3 * np.log(2 * np.pi) + mean @ mean + variance.sum())
    entropy = 0.5 * np.sum(np.log(2 * np.pi * np.e * variance))
    return expected_log_likelihood + expected_log_prior + entropy


@pytest.mark.parametrize("k", [1, 4, 64])
def test_the_exact_posterior_gives_log_p_x_for_every_k(k):
    x = sample_observations(30)
    # batch_size 10: k = 64 runs one observation per call, in chunks of 10, 10, ..., 4 samples
    result = importance_weighted_bound(
        exact_posterior, log_likelihood, x, np.random.RandomState(0), num_importance_samples=k, batch_size=10
    )
    assert result["iwae_bound"] == pytest.approx(log_marginal(x).mean(), abs=1e-10)
    assert result["elbo"] == pytest.approx(result["iwae_bound"], abs=1e-10)
    assert result["standard_error"] == pytest.approx(log_marginal(x).std(ddof=1) / math.sqrt(30), rel=1e-8)


def test_k_one_is_the_log_weight_of_the_same_samples():
    x = sample_observations(20)

    def numpy_posterior(batch):
        return tuple(t.numpy() for t in mismatched_posterior(batch))

    result = importance_weighted_bound(
        numpy_posterior, log_likelihood, x, np.random.RandomState(5), num_importance_samples=1
    )
    mean, logvar = numpy_posterior(x)
    std = np.exp(0.5 * logvar)
    z = mean + std * np.random.RandomState(5).standard_normal((20, 1, 3))[:, 0]
    log_px = norm.logpdf(x, z @ W.T + B, SIGMA).sum(1)
    log_w = log_px + norm.logpdf(z).sum(1) - norm.logpdf(z, mean, std).sum(1)
    assert result["iwae_bound"] == pytest.approx(log_w.mean(), abs=1e-10)
    assert result["elbo"] == result["iwae_bound"]


def test_k_one_equals_the_analytic_elbo_in_expectation():
    x = np.repeat(sample_observations(1), 4000, axis=0)
    result = importance_weighted_bound(
        mismatched_posterior, log_likelihood, x, np.random.RandomState(2), num_importance_samples=1
    )
    mean, logvar = (t[0].numpy() for t in mismatched_posterior(x[:1]))
    expected = analytic_elbo(x[0], mean, np.exp(logvar))
    assert result["iwae_bound"] == pytest.approx(expected, abs=4 * result["standard_error"])
    assert expected < log_marginal(x[0]) - 0.5


def test_the_bound_rises_with_k_towards_log_p_x():
    x = sample_observations(100)
    bounds = [
        importance_weighted_bound(
            mismatched_posterior, log_likelihood, x, np.random.RandomState(3), num_importance_samples=k
        )["iwae_bound"]
        for k in (1, 2, 8, 64)
    ]
    assert np.all(np.diff(bounds) > 0)
    # Theorem 1 holds in expectation; at k = 64 the gap (~0.02) still dwarfs the sampling error
    gaps = log_marginal(x).mean() - np.array(bounds)
    assert np.all(gaps > 0)
    assert gaps[-1] < 0.02 * gaps[0]


def test_bits_per_dimension_rescale_the_negative_bound():
    x = sample_observations(10)
    result = importance_weighted_bound(
        exact_posterior, log_likelihood, x, np.random.RandomState(0), num_importance_samples=3,
        num_dimensions=5,
    )
    assert result["bits_per_dim"] == pytest.approx(-result["iwae_bound"] / (5 * math.log(2)), rel=1e-12)
    assert result["settings"] == {
        "num_importance_samples": 3, "batch_size": 8192, "num_observations": 10, "num_dimensions": 5
    }


def test_indices_can_stand_for_observations():
    x = sample_observations(12)
    by_index = importance_weighted_bound(
        lambda indices: exact_posterior(x[indices]),
        lambda indices, z: log_likelihood(x[indices], z),
        np.arange(12), np.random.RandomState(0), num_importance_samples=7, batch_size=20,
    )
    assert by_index["iwae_bound"] == pytest.approx(log_marginal(x).mean(), abs=1e-10)


def nan_mean(x):
    mean, logvar = exact_posterior(x)
    return mean * np.nan, logvar


@pytest.mark.parametrize(
    "posterior, likelihood, arguments, match",
    [
        (exact_posterior, log_likelihood, {"num_importance_samples": 0}, "num_importance_samples must be"),
        (exact_posterior, log_likelihood, {"num_importance_samples": 2.5}, "num_importance_samples must be"),
        (exact_posterior, log_likelihood, {"batch_size": 0}, "batch_size must be a positive"),
        (exact_posterior, log_likelihood, {"num_dimensions": -3}, "num_dimensions must be a positive"),
        (nan_mean, log_likelihood, {}, "mean holds NaN"),
        (lambda x: exact_posterior(x)[0], log_likelihood, {}, "expected a tuple"),
        (lambda x: (exact_posterior(x)[0], exact_posterior(x)[1][:, :2]), log_likelihood, {}, "logvar of"),
        (exact_posterior, lambda x, z: log_likelihood(x, z)[:, :1], {}, r"expected shape \(4, 2\)"),
        (exact_posterior, lambda x, z: log_likelihood(x, z) * np.nan, {}, "NaN or \\+inf"),
    ],
)
def test_bad_inputs_raise_input_error(posterior, likelihood, arguments, match):
    settings = {"num_importance_samples": 2, **arguments}
    with pytest.raises(InputError, match=match):
        importance_weighted_bound(
            posterior, likelihood, sample_observations(4), np.random.RandomState(0), **settings
        )


def test_no_observations_raise_input_error():
    with pytest.raises(InputError, match="at least one observation"):
        importance_weighted_bound(exact_posterior, log_likelihood, np.zeros((0, 5)), np.random.RandomState(0))
