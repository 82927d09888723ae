"""TC-WAE (Gaujac et al. 2021): the MWS terms worked by hand, the MWS
TC of independent dimensions, and the discriminators' density-ratio estimates given
the exact density ratios."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from disentangle.errors import InputError
from disentangle.models.tc_wae import TCWAEGAN, TCWAEGANConfig, TCWAEMWS, TCWAEMWSConfig

SHAPE = (1, 8, 8)


def _no_mmd(z, prior):
    return z.new_zeros(())


class _ZeroLogits(nn.Module):
    def forward(self, z):
        return z.new_zeros(len(z), *SHAPE)


def _normal_log_density(x: float, mean: float, logvar: float) -> float:
    return -0.5 * (math.log(2 * math.pi) + logvar + (x - mean) ** 2 / math.exp(logvar))


def _mws_by_hand(z, mean, logvar, dataset_size):
    """(TC, dimwise) of the reference's ``TCWAE_MWS.total_correlation``, with loops."""
    m, d = len(z), len(z[0])
    log_nm = math.log(dataset_size * m)
    tc, dimwise = 0.0, 0.0
    for i in range(m):
        joint = [sum(_normal_log_density(z[i][l], mean[j][l], logvar[j][l]) for l in range(d)) for j in range(m)]
        log_qz = math.log(sum(math.exp(v) for v in joint)) - log_nm
        log_prod = sum(
            math.log(sum(math.exp(_normal_log_density(z[i][l], mean[j][l], logvar[j][l])) for j in range(m))) - log_nm
            for l in range(d)
        )
        log_pz = sum(_normal_log_density(z[i][l], 0.0, 0.0) for l in range(d))
        tc += (log_qz - log_prod) / m
        dimwise += (log_prod - log_pz) / m
    return tc, dimwise


def test_the_mws_terms_and_the_regularizer_match_the_references_sums_worked_by_hand():
    z = [[0.3, -1.0], [1.2, 0.4], [-0.5, 0.1]]
    mean = [[0.1, -0.8], [1.0, 0.5], [-0.2, 0.0]]
    logvar = [[-1.0, -0.5], [0.0, -2.0], [-0.3, 0.2]]
    model = TCWAEMWS(TCWAEMWSConfig(latent_dim=2, beta=2.0, gamma=0.25, dataset_size=10), SHAPE)
    tensors = [torch.tensor(v, dtype=torch.float64) for v in (z, mean, logvar)]
    terms = model.regularizer(None, None, tensors[1], tensors[2], tensors[0], 0)
    tc, dimwise = _mws_by_hand(z, mean, logvar, 10)
    assert terms["tc_mws"].item() == pytest.approx(tc, rel=1e-10)
    assert terms["dimwise_kl_mws"].item() == pytest.approx(dimwise, rel=1e-10)
    assert terms["regularizer"].item() == pytest.approx(2.0 * tc + 0.25 * dimwise, rel=1e-10)


def test_the_mws_tc_of_independent_dimensions_is_its_normalisation_constant_alone(monkeypatch):
    monkeypatch.setattr("disentangle.models.tc_wae.unbiased_mmd", _no_mmd)  # logged only; tested below
    # posteriors N(μ_i, 0.5²) with μ_i ~ N(0, I) independent across D = 3 dimensions, the
    # batch being the whole dataset (N = M): the mixture's TC is ≈ 0, and MWS's log(N·M)
    # normalisation adds exactly (D − 1)·log M to it; its dimwise is the mixture's less D·log M
    generator = torch.Generator().manual_seed(0)
    m, d, std = 1500, 3, 0.5
    mean = torch.randn(m, d, generator=generator, dtype=torch.float64)
    z = mean + std * torch.randn(m, d, generator=generator, dtype=torch.float64)
    logvar = torch.full_like(mean, 2 * math.log(std))
    model = TCWAEMWS(TCWAEMWSConfig(latent_dim=d, dataset_size=m), SHAPE)
    terms = model.regularizer(None, None, mean, logvar, z, 0)
    assert terms["tc_mws"].item() - (d - 1) * math.log(m) == pytest.approx(0.0, abs=0.05)
    variance = 1 + std**2  # each q(z_d) = N(0, 1 + std²)
    dimwise = d * 0.5 * (variance - 1 - math.log(variance))
    assert terms["dimwise_kl_mws"].item() + d * math.log(m) == pytest.approx(dimwise, abs=0.05)


def test_the_mws_loss_is_the_reconstruction_plus_the_weighted_terms_with_no_posterior_kl():
    model = TCWAEMWS(TCWAEMWSConfig(beta=3.0, gamma=0.5, dataset_size=100), SHAPE)
    x = (torch.rand(8, *SHAPE) > 0.5).float()
    terms = model.loss(x, 0)
    expected = terms["recon"] + 3.0 * terms["tc_mws"] + 0.5 * terms["dimwise_kl_mws"]
    assert torch.isclose(terms["loss"], expected)


class _FixedPosterior(nn.Module):
    """An encoder that returns the given means with a negligible variance, so z ≈ mean."""

    def __init__(self, mean: torch.Tensor):
        super().__init__()
        self.mean = nn.Parameter(mean)

    def forward(self, x):
        return torch.cat([self.mean, torch.full_like(self.mean, -30.0)], dim=1)


class _ExactLogRatio(nn.Module):
    """A discriminator whose logits are (log ratio(z), 0): the Bayes-optimal one."""

    def __init__(self, log_ratio):
        super().__init__()
        self.log_ratio = log_ratio

    def forward(self, z):
        return torch.stack([self.log_ratio(z), torch.zeros(len(z), dtype=z.dtype)], dim=1)


def _gaussian_log_density(z: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    return torch.distributions.MultivariateNormal(torch.zeros(len(cov), dtype=cov.dtype), cov).log_prob(z)


def _marginals_log_density(z: torch.Tensor, variances: torch.Tensor) -> torch.Tensor:
    return torch.distributions.Normal(0.0, variances.sqrt()).log_prob(z).sum(1)


@pytest.mark.parametrize("correlation", [0.0, 0.6])
def test_given_the_exact_density_ratios_the_gan_estimates_are_the_analytic_tc_and_dimwise_kl(correlation, monkeypatch):
    monkeypatch.setattr("disentangle.models.tc_wae.unbiased_mmd", _no_mmd)  # logged only; tested above
    # codes z ~ q(z) = N(0, Σ), Σ = diag(s)·R·diag(s): TC = −½ log det R and
    # KL(∏ q(z_d) ‖ N(0, I)) = Σ_d ½(s_d² − 1 − log s_d²)
    s = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    correlations = torch.full((3, 3), correlation, dtype=torch.float64).fill_diagonal_(1.0)
    cov = s[:, None] * correlations * s[None]
    generator = torch.Generator().manual_seed(1)
    codes = (torch.randn(10_000, 3, generator=generator, dtype=torch.float64) @ torch.linalg.cholesky(cov).T).float()
    cov = cov.float()
    model = TCWAEGAN(TCWAEGANConfig(latent_dim=3), SHAPE)
    model.decoder = _ZeroLogits()  # the reconstruction plays no part in the estimates
    variances = torch.diagonal(cov)
    model.tc_discriminator = _ExactLogRatio(
        lambda z: _gaussian_log_density(z, cov) - _marginals_log_density(z, variances))
    model.dimwise_discriminator = _ExactLogRatio(
        lambda z: _marginals_log_density(z, variances) - _marginals_log_density(z, torch.ones(3, dtype=z.dtype)))
    estimates = {"tc": 0.0, "dimwise_kl": 0.0}
    for batch in codes.chunk(4):  # batches of 2,500: each term is a batch mean
        model.encoder = _FixedPosterior(batch)
        with torch.no_grad():
            terms = model.loss(torch.zeros(len(batch), *SHAPE), 0)
        for name in estimates:
            estimates[name] += terms[name].item() / 4
    tc = -0.5 * torch.logdet(correlations).item()
    dimwise = sum(0.5 * (v - 1 - math.log(v)) for v in variances.tolist())
    assert estimates["tc"] == pytest.approx(tc, abs=0.03)
    assert estimates["dimwise_kl"] == pytest.approx(dimwise, abs=0.05)


class _ConstantLogits(nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = torch.tensor(logits)

    def forward(self, z):
        return self.logits.expand(len(z), 2)


def test_the_discriminators_loss_is_beta_and_gamma_times_their_cross_entropies():
    model = TCWAEGAN(TCWAEGANConfig(beta=3.0, gamma=0.5), SHAPE)
    model.tc_discriminator = _ConstantLogits([0.3, -0.2])
    model.dimwise_discriminator = _ConstantLogits([-1.0, 0.4])

    def cross_entropy(logits):  # −½ log D₀ − ½ log D₁ when every code gets the same logits
        p0 = math.exp(logits[0]) / (math.exp(logits[0]) + math.exp(logits[1]))
        return -0.5 * (math.log(p0) + math.log(1 - p0))

    terms = model.loss((torch.rand(8, *SHAPE) > 0.5).float(), 0)
    assert terms["discriminator_tc_loss"].item() == pytest.approx(cross_entropy([0.3, -0.2]), rel=1e-6)
    assert terms["discriminator_dimwise_loss"].item() == pytest.approx(cross_entropy([-1.0, 0.4]), rel=1e-6)
    expected = 3.0 * cross_entropy([0.3, -0.2]) + 0.5 * cross_entropy([-1.0, 0.4])
    assert terms["loss_discriminator"].item() == pytest.approx(expected, rel=1e-6)
    assert terms["tc"].item() == pytest.approx(0.5) and terms["dimwise_kl"].item() == pytest.approx(-1.4)


def test_each_players_gradient_comes_from_its_own_loss_and_the_dimwise_term_reaches_the_encoder():
    model = TCWAEGAN(TCWAEGANConfig(), SHAPE)
    terms = model.loss((torch.rand(16, *SHAPE) > 0.5).float(), 0)
    model_player, discriminator_player = model.players()
    encoder = list(model.encoder.parameters())
    grads = torch.autograd.grad(terms["dimwise_kl"], encoder, retain_graph=True, allow_unused=True)
    assert all(g is not None and g.abs().sum() > 0 for g in grads)
    grads = torch.autograd.grad(terms["loss_discriminator"], discriminator_player.parameters, retain_graph=True)
    assert all(g.abs().sum() > 0 for g in grads[:2])
    # the discriminators see detached codes: their loss gives the encoder no gradient
    grads = torch.autograd.grad(terms["loss_discriminator"], encoder, allow_unused=True)
    assert all(g is None for g in grads)
    assert {id(p) for p in model_player.parameters}.isdisjoint(id(p) for p in discriminator_player.parameters)


@pytest.mark.parametrize(
    "config, option, value",
    [(TCWAEMWSConfig, "beta", -1.0), (TCWAEMWSConfig, "gamma", -0.5), (TCWAEMWSConfig, "dataset_size", 0),
     (TCWAEGANConfig, "discriminator_learning_rate", 0.0)],
)
def test_bad_hyperparameters_are_rejected_naming_the_option(config, option, value):
    with pytest.raises(InputError, match=f"--{option.replace('_', '-')}"):
        config(**{option: value})


class _FixedOutputs(nn.Module):
    def __init__(self, outputs):
        super().__init__()
        self.outputs = outputs

    def forward(self, x):
        return self.outputs


def test_the_encoder_gives_the_variance_through_a_softplus_of_its_clipped_outputs_as_the_reference():
    model = TCWAEMWS(TCWAEMWSConfig(latent_dim=2, dataset_size=10), SHAPE)
    model.encoder = _FixedOutputs(torch.tensor([[0.5, -1.0, 0.0, 3.0], [0.0, 0.0, -50.0, 600.0]]))
    mean, logvar = model.posterior(torch.zeros(2, *SHAPE))
    # r clipped to [−20, 500] first
    softplus = [[math.log(2), math.log1p(math.exp(3.0))], [math.log1p(math.exp(-20.0)), 500.0]]
    assert torch.equal(mean, torch.tensor([[0.5, -1.0], [0.0, 0.0]]))
    assert torch.allclose(logvar.exp(), torch.tensor(softplus), rtol=1e-5)


def test_the_mws_variant_needs_the_dataset_size_to_compute_its_loss():
    model = TCWAEMWS(TCWAEMWSConfig(), SHAPE)
    with pytest.raises(InputError, match="--dataset-size"):
        model.loss(torch.zeros(4, *SHAPE), 0)
