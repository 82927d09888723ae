"""Minibatch estimators of log q(z), the total correlation and the KL decomposition."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.errors import InputError
from disentangle.models.tc_estimators import (
    kl_decomposition,
    log_density_gaussian,
    log_importance_weight_matrix,
    mss,
    mws,
)
from disentangle.models.vae import gaussian_kl_per_dim


def gaussian_posteriors(batch: int, dim: int, correlation: float, std: float, generator: torch.Generator):
    """Posteriors N(μ_i, std² I) with μ ~ N(0, Σ), Σ = (1 − c)·I + c·11ᵀ, and a sample of each.

    The aggregate posterior is N(0, Σ + std² I), whose total correlation is known exactly:
    returns (z, mean, logvar, TC) with TC = ½ (Σ_l log C_ll − log det C), C = Σ + std² I.
    """
    cov = torch.full((dim, dim), correlation, dtype=torch.float64) + (1 - correlation) * torch.eye(dim)
    mean = torch.randn(batch, dim, generator=generator, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    z = mean + std * torch.randn(batch, dim, generator=generator, dtype=torch.float64)
    logvar = torch.full_like(mean, 2 * math.log(std))
    aggregate = cov + std**2 * torch.eye(dim)
    tc = 0.5 * (torch.diagonal(aggregate).log().sum() - torch.logdet(aggregate))
    return z, mean, logvar, tc.item()


def average_tc(estimator, correlation: float, batches: int = 20, batch: int = 256) -> tuple[float, float]:
    """The estimator's TC averaged over batches of 2-d posteriors (std 0.5, N = 10⁶), and the exact TC."""
    generator = torch.Generator().manual_seed(0)
    values = []
    for _ in range(batches):
        z, mean, logvar, exact = gaussian_posteriors(batch, 2, correlation, 0.5, generator)
        log_qz, log_prod_qzi = estimator(z, mean, logvar, 10**6)
        values.append((log_qz - log_prod_qzi).mean().item())
    return sum(values) / len(values), exact


@settings(max_examples=50, deadline=None)
@given(
    x=st.floats(-10, 10), mean=st.floats(-10, 10), logvar=st.floats(-5, 5),
)
def test_log_density_gaussian_is_the_normal_log_density(x, mean, logvar):
    x, mean, logvar = (torch.tensor(v, dtype=torch.float64) for v in (x, mean, logvar))
    expected = torch.distributions.Normal(mean, (0.5 * logvar).exp()).log_prob(x)
    value = log_density_gaussian(x, mean, logvar)
    assert value.item() == pytest.approx(expected.item(), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("batch, dataset_size", [(2, 1), (5, 100), (64, 737_280)])
def test_stratified_weights_sum_to_one_per_row_with_one_over_n_on_the_sample_itself(batch, dataset_size):
    weights = log_importance_weight_matrix(batch, dataset_size).exp()
    assert torch.allclose(weights.sum(1), torch.ones(batch, dtype=torch.float64))
    one_over_n = torch.full((batch,), 1 / dataset_size, dtype=torch.float64)
    assert torch.allclose(torch.diagonal(weights), one_over_n)
    stratum = (dataset_size - batch + 1) / (dataset_size * (batch - 1))
    off_diagonal = weights[~torch.eye(batch, dtype=torch.bool)].view(batch, batch - 1)
    if batch > 2:
        assert ((off_diagonal - stratum).abs() < 1e-12).sum(1).tolist() == [1] * batch


def test_stratified_sampling_rejects_a_single_example_or_a_dataset_smaller_than_the_batch():
    with pytest.raises(InputError, match="^--batch-size:"):
        log_importance_weight_matrix(1, 100)
    with pytest.raises(InputError, match="^--dataset-size:"):
        log_importance_weight_matrix(64, 10)


def test_mss_total_correlation_is_near_zero_for_a_factorised_aggregate_posterior():
    estimate, exact = average_tc(mss, correlation=0.0)
    assert exact == pytest.approx(0.0, abs=1e-12)
    assert abs(estimate) < 0.05


def test_mss_total_correlation_matches_the_exact_one_of_a_correlated_aggregate_posterior():
    estimate, exact = average_tc(mss, correlation=0.9)
    assert exact > 0.3
    assert estimate == pytest.approx(exact, abs=0.05)


def test_mws_is_dlibs_total_correlation_plus_the_constant_it_drops():
    generator = torch.Generator().manual_seed(1)
    z, mean, logvar, _ = gaussian_posteriors(16, 4, 0.5, 0.3, generator)
    batch, dim = z.shape
    log_qz, log_prod_qzi = mws(z, mean, logvar, dataset_size=1000)
    # dlib's total_correlation, written out with explicit sums over the batch
    dlib_terms = []
    rows, density = range(batch), log_density_gaussian
    for i in rows:
        joint = [density(z[i], mean[j], logvar[j]).sum() for j in rows]
        marginals = [
            torch.logsumexp(torch.stack([density(z[i, l], mean[j, l], logvar[j, l]) for j in rows]), 0)
            for l in range(dim)
        ]
        dlib_terms.append(torch.logsumexp(torch.stack(joint), 0) - sum(marginals))
    dlib_tc = torch.stack(dlib_terms).mean()
    ours = (log_qz - log_prod_qzi).mean()
    assert ours.item() == pytest.approx(dlib_tc.item() + (dim - 1) * math.log(batch * 1000), rel=1e-12)


def test_mws_and_mss_agree_on_average_once_the_mws_offset_of_d_minus_1_log_n_is_removed():
    # MWS's weights sum to 1/N: when posteriors overlap, its log q(z) is low by log N
    # and its TC high by (D − 1)·log N (see tc_estimators); the rest agrees with MSS.
    for correlation in (0.0, 0.9):
        weighted, exact = average_tc(mws, correlation)
        stratified, _ = average_tc(mss, correlation)
        assert weighted - math.log(10**6) == pytest.approx(stratified, abs=0.05)
        assert weighted - math.log(10**6) == pytest.approx(exact, abs=0.05)


def test_the_decomposition_adds_up_to_the_monte_carlo_kl_of_every_batch():
    generator = torch.Generator().manual_seed(2)
    z, mean, logvar, _ = gaussian_posteriors(32, 5, 0.3, 0.4, generator)
    log_prior = log_density_gaussian(z, torch.zeros_like(z), torch.zeros_like(z))
    monte_carlo_kl = (log_density_gaussian(z, mean, logvar) - log_prior).sum(1).mean()
    for estimator in ("mws", "mss"):
        terms = kl_decomposition(z, mean, logvar, dataset_size=5000, estimator=estimator)
        assert set(terms) == {"index_code_mi", "tc", "dimwise_kl"}
        total = terms["index_code_mi"] + terms["tc"] + terms["dimwise_kl"]
        assert total.item() == pytest.approx(monte_carlo_kl.item(), rel=1e-10)


def test_the_decomposition_adds_up_to_the_analytic_kl_on_average():
    generator = torch.Generator().manual_seed(3)
    totals, analytic = [], []
    for _ in range(100):
        z, mean, logvar, _ = gaussian_posteriors(64, 3, 0.5, 0.5, generator)
        terms = kl_decomposition(z, mean, logvar, dataset_size=10_000, estimator="mss")
        totals.append(sum(terms.values()).item())
        analytic.append(gaussian_kl_per_dim(mean, logvar).sum(1).mean().item())
    assert sum(totals) / 100 == pytest.approx(sum(analytic) / 100, rel=0.02)


def test_mss_estimates_are_differentiable_in_the_posterior_parameters():
    generator = torch.Generator().manual_seed(4)
    z, mean, logvar, _ = gaussian_posteriors(8, 3, 0.5, 0.5, generator)
    mean.requires_grad_(True)
    logvar.requires_grad_(True)
    log_qz, log_prod_qzi = mss(z, mean, logvar, dataset_size=100)
    (log_qz - log_prod_qzi).mean().backward()
    assert torch.isfinite(mean.grad).all() and torch.isfinite(logvar.grad).all()
