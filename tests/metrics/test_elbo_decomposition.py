"""Chen's ELBO decomposition against numerical integration of small 2-D mixtures.

The posteriors of N = 6 observations are hand-chosen diagonal Gaussians, so q(z) is a
known 6-component mixture; its entropies are integrated on a grid (Simpson's rule), and

    MI = H(q(z)) − mean_n H(q(z|n)),   TC = Σ_j H(q(z_j)) − H(q(z)),
    KL_j = −H(q(z_j)) + log(2π)/2 + mean_n (μ_nj² + σ_nj²) / 2.

Repeating the six posteriors c times leaves q(z), and so every term, unchanged while
the dataset grows to N = 6c, which lets the minibatch estimators use batches < N.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import simpson

from disentangle.errors import InputError
from disentangle.metrics.elbo_decomposition import elbo_decomposition, mss_log_weights

MEAN = np.array([[-1.5, -1.0], [-0.5, 0.8], [0.3, -0.4], [1.2, 1.5], [2.0, -1.2], [0.0, 0.3]])
STD = np.array([[0.5, 0.7], [0.4, 0.3], [0.8, 0.5], [0.6, 0.9], [0.3, 0.6], [0.7, 0.4]])
TERMS = ("index_code_mi", "total_correlation", "dimwise_kl")


def posteriors(mean, std, copies=1):
    """``posterior_function`` of ``copies`` repetitions of the rows of ``mean``, ``std``."""

    def posterior_function(indices):
        rows = np.asarray(indices) % len(mean)
        return mean[rows], 2 * np.log(std[rows])

    return posterior_function


def gaussian(z, mean, std):
    return np.exp(-0.5 * ((z - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))


def integrated_terms(mean, std, points=801):
    """MI, TC and dimension-wise KL (nats) of the uniform mixture, by 2-D integration."""
    axes = [np.linspace(*bounds, points) for bounds in zip((mean - 9 * std).min(0), (mean + 9 * std).max(0))]
    z1, z2 = np.meshgrid(*axes, indexing="ij")
    joint = np.mean([gaussian(z1, m[0], s[0]) * gaussian(z2, m[1], s[1]) for m, s in zip(mean, std)], axis=0)
    assert simpson(simpson(joint, x=axes[1]), x=axes[0]) == pytest.approx(1.0, abs=1e-9)
    joint_entropy = -simpson(simpson(joint * np.log(joint), x=axes[1]), x=axes[0])
    marginals = [np.mean(gaussian(axes[j][:, None], mean[:, j], std[:, j]), axis=1) for j in range(2)]
    marginal_entropies = np.array([-simpson(q * np.log(q), x=axis) for q, axis in zip(marginals, axes)])
    conditional_entropy = np.mean(np.sum(0.5 * np.log(2 * np.pi * np.e * std**2), axis=1))
    second_moments = np.mean(mean**2 + std**2, axis=0)
    return {
        "index_code_mi": joint_entropy - conditional_entropy,
        "total_correlation": marginal_entropies.sum() - joint_entropy,
        "dimwise_kl": np.sum(-marginal_entropies + 0.5 * np.log(2 * np.pi) + 0.5 * second_moments),
    }


def analytic_average_kl(mean, std):
    return np.mean(np.sum(0.5 * (mean**2 + std**2 - 1 - np.log(std**2)), axis=1))


@pytest.fixture(scope="module")
def truth():
    return integrated_terms(MEAN, STD)


def test_the_integrated_terms_add_up_to_the_average_kl(truth):
    assert sum(truth.values()) == pytest.approx(analytic_average_kl(MEAN, STD), abs=1e-8)


def test_the_exact_estimator_matches_numerical_integration(truth):
    result = elbo_decomposition(posteriors(MEAN, STD), 6, np.random.RandomState(0), num_samples=60_000)
    for name in TERMS:
        assert result["standard_errors"][name] < 0.005
        assert result[name] == pytest.approx(truth[name], abs=5 * result["standard_errors"][name]), name
    assert result["average_kl"] == pytest.approx(analytic_average_kl(MEAN, STD), rel=1e-12)
    assert result["settings"] == {
        "estimator": "exact", "num_samples": 60_000, "batch_size": None, "num_observations": 6
    }


@pytest.mark.parametrize("estimator", ["exact", "mws", "mss"])
def test_the_terms_add_up_to_the_average_kl_within_sampling_error(estimator):
    result = elbo_decomposition(posteriors(MEAN, STD), 6, np.random.RandomState(1), estimator, 30_000, 6)
    assert sum(result[name] for name in TERMS) == pytest.approx(result["decomposition_sum"], abs=1e-10)
    assert sum(result["dimwise_kl_per_dim"]) == pytest.approx(result["dimwise_kl"], abs=1e-10)
    assert sum(result["average_kl_per_dim"]) == pytest.approx(result["average_kl"], abs=1e-12)
    standard_error = result["standard_errors"]["decomposition_sum"]
    assert result["decomposition_sum"] == pytest.approx(result["average_kl"], abs=5 * standard_error)


def test_chunked_reading_and_streaming_over_a_large_dataset_give_the_same_terms(truth):
    # 700 copies: 4,200 observations, read in two calls and streamed over three blocks.
    result = elbo_decomposition(posteriors(MEAN, STD), 4200, np.random.RandomState(2), num_samples=4_000)
    for name in TERMS:
        assert result[name] == pytest.approx(truth[name], abs=5 * result["standard_errors"][name]), name


def test_identical_factorised_posteriors_have_no_index_code_mi_and_no_total_correlation():
    mean, std = np.tile([[0.5, -1.0, 2.0]], (5, 1)), np.tile([[0.3, 1.5, 0.8]], (5, 1))
    result = elbo_decomposition(posteriors(mean, std), 5, np.random.RandomState(0), num_samples=20_000)
    assert result["index_code_mi"] == pytest.approx(0.0, abs=1e-10)
    assert result["total_correlation"] == pytest.approx(0.0, abs=1e-10)
    standard_error = result["standard_errors"]["dimwise_kl"]
    assert result["dimwise_kl"] == pytest.approx(analytic_average_kl(mean, std), abs=5 * standard_error)


def test_means_on_a_product_grid_carry_information_but_no_total_correlation():
    # q(z) = (mixture over z1) × (mixture over z2) when the means form a grid and each
    # dimension's std depends on its own coordinate only.
    grid = np.array([(a, b) for a in (-1.0, 1.0) for b in (-1.5, 0.0, 1.5)])
    std = np.column_stack([np.where(grid[:, 0] < 0, 0.4, 0.6), np.full(6, 0.5)])
    truth = integrated_terms(grid, std)
    assert truth["total_correlation"] == pytest.approx(0.0, abs=1e-9)
    result = elbo_decomposition(posteriors(grid, std), 6, np.random.RandomState(0), num_samples=40_000)
    # the exact mixture factorises sample by sample, so log q(z) = Σ_j log q(z_j) to rounding
    assert result["total_correlation"] == pytest.approx(0.0, abs=1e-10)
    for name in ("index_code_mi", "dimwise_kl"):
        assert result[name] == pytest.approx(truth[name], abs=5 * result["standard_errors"][name]), name
    assert result["index_code_mi"] > 1.0


def test_strongly_correlated_means_give_clearly_positive_total_correlation():
    t = np.linspace(-2.0, 2.0, 6)
    mean, std = np.column_stack([t, t + 0.1]), np.full((6, 2), 0.2)
    truth = integrated_terms(mean, std)
    result = elbo_decomposition(posteriors(mean, std), 6, np.random.RandomState(0), num_samples=40_000)
    assert truth["total_correlation"] > 1.0
    for name in TERMS:
        assert result[name] == pytest.approx(truth[name], abs=5 * result["standard_errors"][name]), name


def test_mws_with_the_whole_dataset_as_batch_is_offset_by_log_n():
    # Same seed and B = N: the same samples, and logsumexp − log(N·B) = log q(z) − log N.
    n, dims = 6, 2
    exact = elbo_decomposition(posteriors(MEAN, STD), n, np.random.RandomState(3), "exact", 600)
    mws = elbo_decomposition(posteriors(MEAN, STD), n, np.random.RandomState(3), "mws", 600, batch_size=n)
    assert mws["index_code_mi"] == pytest.approx(exact["index_code_mi"] + np.log(n), abs=1e-9)
    offset = (dims - 1) * np.log(n)
    assert mws["total_correlation"] == pytest.approx(exact["total_correlation"] + offset, abs=1e-9)
    assert mws["dimwise_kl"] == pytest.approx(exact["dimwise_kl"] - dims * np.log(n), abs=1e-9)
    assert mws["decomposition_sum"] == pytest.approx(exact["decomposition_sum"], abs=1e-12)


def test_mss_approaches_the_integrated_values_as_the_batch_grows(truth):
    errors = {}
    for batch_size in (4, 32, 512):
        result = elbo_decomposition(
            posteriors(MEAN, STD), 4200, np.random.RandomState(4), "mss", 20_480, batch_size
        )
        errors[batch_size] = {name: abs(result[name] - truth[name]) for name in TERMS}
    for name in ("index_code_mi", "dimwise_kl"):
        assert errors[4][name] > errors[32][name] > errors[512][name]
    assert errors[4]["index_code_mi"] > 1.0
    assert max(errors[512].values()) < 0.03


def test_mss_weights_give_each_row_one_stratum_weight_and_sum_to_one():
    batch_size, n = 5, 100
    weights = np.exp(mss_log_weights(batch_size, n))
    assert weights.sum(axis=1) == pytest.approx(np.ones(batch_size), abs=1e-12)
    assert np.diag(weights) == pytest.approx(np.full(batch_size, 1 / n))
    stratum = (n - 4) / (n * 4)
    assert np.all(np.isclose(weights, stratum).sum(axis=1) == 1)
    assert np.all(np.isclose(weights, stratum).sum(axis=0) == 1)
    assert np.isclose(weights, 1 / 4).sum() == batch_size * (batch_size - 2)


@settings(max_examples=20, deadline=None)
@given(
    st.integers(2, 5),
    st.integers(1, 3),
    st.sampled_from(["exact", "mws", "mss"]),
    st.integers(0, 2**31 - 1),
)
def test_the_terms_of_random_posteriors_add_up_to_the_average_kl(num, dims, estimator, seed):
    rng = np.random.RandomState(seed)
    mean, std = rng.uniform(-3, 3, (num, dims)), np.exp(rng.uniform(-1.5, 0.5, (num, dims)))
    batch_size = rng.randint(2, num + 1)
    result = elbo_decomposition(posteriors(mean, std), num, rng, estimator, 2_000, batch_size)
    assert sum(result[name] for name in TERMS) == pytest.approx(result["decomposition_sum"], abs=1e-9)
    standard_error = result["standard_errors"]["decomposition_sum"]
    assert abs(result["decomposition_sum"] - result["average_kl"]) <= 6 * standard_error + 1e-9
    assert result["average_kl"] == pytest.approx(analytic_average_kl(mean, std), rel=1e-12)


def bad(kind):
    def posterior_function(indices):
        mean, logvar = MEAN[indices], 2 * np.log(STD[indices])
        return {
            "single": mean,
            "widths": (mean, logvar[:, :1]),
            "rows": (mean[:-1], logvar[:-1]),
            "nan": (np.where(indices[:, None] == 3, np.nan, mean), logvar),
            "text": (mean, "logvar"),
        }[kind]

    return posterior_function


@pytest.mark.parametrize(
    "kind, match",
    [
        ("single", "expected a tuple"),
        ("widths", r"logvar of shape \(6, 2\)"),
        ("rows", r"mean of shape \(6, D\)"),
        ("nan", "mean holds NaN"),
        ("text", "logvar is not a numeric array"),
    ],
)
def test_malformed_posteriors_raise_input_error(kind, match):
    with pytest.raises(InputError, match=match):
        elbo_decomposition(bad(kind), 6, np.random.RandomState(0), num_samples=10)


@pytest.mark.parametrize(
    "arguments, match",
    [
        ({"estimator": "full"}, "estimator must be one of exact, mws, mss"),
        ({"num_samples": 0}, "num_samples must be an integer ≥ 1"),
        ({"estimator": "mss", "batch_size": 1}, "batch_size must be an integer ≥ 2"),
        ({"estimator": "mws", "batch_size": 7}, "batch_size must be at most num_observations = 6"),
    ],
)
def test_bad_settings_raise_input_error(arguments, match):
    with pytest.raises(InputError, match=match):
        elbo_decomposition(posteriors(MEAN, STD), 6, np.random.RandomState(0), **arguments)
