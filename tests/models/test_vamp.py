"""The VampPrior VAE: the mixture prior's density, its pseudo-inputs and the Monte Carlo KL."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from disentangle.errors import InputError
from disentangle.models import build_model
from disentangle.models.vamp import kl_weight, mixture_log_density

SHAPE = (1, 8, 8)


def _model(architecture: str, **settings):
    torch.manual_seed(0)
    return build_model("vamp-vae", SHAPE, latent_dim=3, architecture=architecture, **settings).double()


def _scipy_mixture(z: np.ndarray, means: np.ndarray, logvars: np.ndarray) -> np.ndarray:
    """log (1/K) Σ_k N(z; μ_k, diag σ_k²), each component by scipy's multivariate normal."""
    components = np.stack([multivariate_normal(mean, np.diag(np.exp(logvar))).logpdf(z)
                           for mean, logvar in zip(means, logvars)], axis=-1)
    return logsumexp(components.reshape(len(z), len(means)), axis=1) - math.log(len(means))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), components=st.integers(1, 6), dim=st.integers(1, 5),
       spread=st.floats(0.1, 5.0))
def test_the_mixture_log_density_is_scipys_logsumexp_of_the_components(seed, components, dim, spread):
    generator = torch.Generator().manual_seed(seed)
    z = spread * torch.randn(7, dim, generator=generator, dtype=torch.float64)
    means = spread * torch.randn(components, dim, generator=generator, dtype=torch.float64)
    logvars = torch.randn(components, dim, generator=generator, dtype=torch.float64)
    expected = _scipy_mixture(z.numpy(), means.numpy(), logvars.numpy())
    np.testing.assert_allclose(mixture_log_density(z, means, logvars).numpy(), expected, rtol=1e-9, atol=1e-9)


def test_far_from_every_component_the_mixture_density_does_not_underflow():
    z = torch.full((1, 2), 60.0, dtype=torch.float64)
    means, logvars = torch.zeros(3, 2, dtype=torch.float64), torch.full((3, 2), -4.0, dtype=torch.float64)
    value = mixture_log_density(z, means, logvars)
    assert torch.isfinite(value).all()
    expected = _scipy_mixture(z.numpy(), means.numpy(), logvars.numpy())
    np.testing.assert_allclose(value.numpy(), expected, rtol=1e-12)


def test_the_pseudo_inputs_are_pythaes_hardtanh_of_a_linear_layer_on_the_identity(small_mlp):
    model = _model(small_mlp, number_components=5)
    layer = model.pseudo_inputs
    by_hand = torch.nn.functional.hardtanh(layer(torch.eye(5, dtype=torch.float64)), 0.0, 1.0)
    assert torch.equal(model.pseudo_observations(), by_hand.view(5, *SHAPE))
    assert layer.in_features == 5 and layer.out_features == math.prod(SHAPE)
    with torch.no_grad():
        layer.bias.fill_(3.0)
    assert model.pseudo_observations().min() == 1.0  # clipped to the observations' range [0, 1]


def test_the_prior_is_the_uniform_mixture_of_the_posteriors_at_the_pseudo_inputs(small_mlp):
    model = _model(small_mlp, number_components=4)
    z = torch.randn(6, 3, dtype=torch.float64)
    with torch.no_grad():
        pseudo = model.pseudo_observations()
        posteriors = [model.posterior(pseudo[k:k + 1]) for k in range(4)]  # one pseudo-input at a time
        means = torch.cat([mean for mean, _ in posteriors]).numpy()
        logvars = torch.cat([logvar for _, logvar in posteriors]).numpy()
        expected = _scipy_mixture(z.numpy(), means, logvars)
        np.testing.assert_allclose(model.log_prior(z).numpy(), expected, rtol=1e-9)


def test_the_kl_is_log_q_minus_the_mixture_log_density_at_the_decoders_sample(small_mlp):
    model = _model(small_mlp, number_components=3)
    x = (torch.rand(5, *SHAPE, dtype=torch.float64) > 0.5).double()
    torch.manual_seed(7)
    terms = model.loss(x, step=0)
    torch.manual_seed(7)
    with torch.no_grad():
        mean, logvar = model.posterior(x)
        std = (0.5 * logvar).exp()
        z = mean + torch.randn_like(mean) * std
        prior_mean, prior_logvar = model.posterior(model.pseudo_observations())
        components = torch.distributions.Normal(prior_mean, (0.5 * prior_logvar).exp())
        prior = torch.distributions.MixtureSameFamily(
            torch.distributions.Categorical(torch.ones(3, dtype=torch.float64)),
            torch.distributions.Independent(components, 1),
        )
        log_q = torch.distributions.Independent(torch.distributions.Normal(mean, std), 1).log_prob(z)
        kl = (log_q - prior.log_prob(z)).mean()
        recon = -model.likelihood.log_prob(x, model.decode(z)).mean()
    assert terms["kl"].item() == pytest.approx(kl.item(), rel=1e-10)
    assert terms["recon"].item() == pytest.approx(recon.item(), rel=1e-10)
    assert terms["loss"].item() == pytest.approx((recon + kl).item(), rel=1e-10)
    assert terms["elbo"].item() == pytest.approx(-(recon + kl).item(), rel=1e-10)


def test_with_one_component_the_kl_at_the_pseudo_input_itself_is_zero_for_every_sample(small_mlp):
    model = _model(small_mlp, number_components=1)
    with torch.no_grad():
        x = model.pseudo_observations().expand(16, *SHAPE)
        assert model.loss(x, step=0)["kl"].abs().item() < 1e-12


def test_with_one_component_the_monte_carlo_kl_averages_to_the_analytic_gaussian_kl(small_mlp):
    model = _model(small_mlp, number_components=1)
    x = torch.zeros(2000, *SHAPE, dtype=torch.float64)
    with torch.no_grad():
        model.pseudo_inputs.bias.fill_(1.0)  # the all-ones image, far from x
        model.encoder[-1].weight.mul_(20.0)  # posteriors that differ by nats
        estimate = model.loss(x, step=0)["kl"].item()
        mean, logvar = model.posterior(x[:1])
        prior_mean, prior_logvar = model.prior_components()
        q = torch.distributions.Normal(mean, (0.5 * logvar).exp())
        p = torch.distributions.Normal(prior_mean, (0.5 * prior_logvar).exp())
        analytic = torch.distributions.kl_divergence(q, p).sum().item()
        # the estimator's spread, from independent draws z ~ q
        z = q.sample((2000,)).squeeze(1)
        spread = (q.log_prob(z).sum(1) - p.log_prob(z).sum(1)).std().item()
    assert analytic > 1.0
    assert abs(estimate - analytic) < 5 * spread / math.sqrt(2000)


def test_the_kl_weight_warms_up_linearly_and_is_one_outside_training(small_mlp):
    assert [kl_weight(step, 4) for step in (0, 1, 2, 4, 9)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    assert kl_weight(0, 0) == 1.0
    model = _model(small_mlp, number_components=2, kl_warmup_steps=4)
    x = (torch.rand(3, *SHAPE, dtype=torch.float64) > 0.5).double()
    terms = model.loss(x, step=1)
    assert terms["kl_weight"].item() == 0.25
    assert terms["loss"].item() == pytest.approx((terms["recon"] + 0.25 * terms["kl"]).item(), rel=1e-12)
    model.eval()
    with torch.no_grad():
        terms = model.loss(x, step=1)
    assert terms["loss"].item() == pytest.approx((terms["recon"] + terms["kl"]).item(), rel=1e-12)
    assert "kl_weight" not in _model(small_mlp, number_components=2).loss(x, step=1)


def test_the_pseudo_inputs_and_the_nets_get_gradients_and_the_prior_samples_decode(small_mlp):
    model = _model(small_mlp, number_components=3)
    terms = model.loss((torch.rand(4, *SHAPE, dtype=torch.float64) > 0.5).double(), step=0)
    terms["loss"].backward()
    assert model.pseudo_inputs.weight.grad is not None and model.pseudo_inputs.weight.grad.abs().sum() > 0
    images = model.sample(5, torch.Generator().manual_seed(0))
    assert images.shape == (5, *SHAPE) and 0 <= images.min() and images.max() <= 1


@pytest.mark.parametrize("settings, option", [
    ({"number_components": 0}, "--number-components"),
    ({"number_components": 2.5}, "--number-components"),
    ({"kl_warmup_steps": -1}, "--kl-warmup-steps"),
])
def test_bad_hyperparameters_raise_an_input_error_naming_the_option(settings, option):
    with pytest.raises(InputError, match=f"^{option}:"):
        build_model("vamp-vae", SHAPE, **settings)
