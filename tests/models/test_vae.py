import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.errors import InputError
from disentangle.models import build_model
from disentangle.models.vae import capacity, gaussian_kl_per_dim

SHAPE = (1, 8, 8)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_gaussian_kl_matches_torch_distributions(seed):
    generator = torch.Generator().manual_seed(seed)
    mean = torch.randn(4, 3, generator=generator, dtype=torch.float64) * 2
    logvar = torch.randn(4, 3, generator=generator, dtype=torch.float64)
    q = torch.distributions.Normal(mean, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    assert torch.allclose(gaussian_kl_per_dim(mean, logvar), torch.distributions.kl_divergence(q, p))


def test_kl_is_zero_exactly_at_the_prior():
    assert gaussian_kl_per_dim(torch.zeros(2, 3), torch.zeros(2, 3)).abs().max() == 0


def _loss_with_fixed_noise(model, x, step=0):
    torch.manual_seed(1)
    return model.loss(x, step)


def test_beta_vae_loss_is_recon_plus_beta_times_kl():
    torch.manual_seed(0)
    model = build_model("beta-vae", SHAPE, beta=4.0)
    x = (torch.rand(6, *SHAPE) > 0.5).float()
    terms = _loss_with_fixed_noise(model, x)
    assert torch.allclose(terms["loss"], terms["recon"] + 4.0 * terms["kl"])
    assert torch.allclose(terms["kl"], terms["kl_per_dim"].sum())
    assert terms["kl_per_dim"].shape == (10,)


def test_recon_is_summed_over_pixels_and_averaged_over_the_batch():
    torch.manual_seed(0)
    model = build_model("vae", SHAPE)
    x = (torch.rand(6, *SHAPE) > 0.5).float()
    terms = _loss_with_fixed_noise(model, x)
    torch.manual_seed(1)
    mean, logvar = model.posterior(x)
    z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
    logits = model.decode(z)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 6
    assert torch.allclose(terms["recon"], expected)


def test_beta_below_one_is_accepted_as_the_infomax_setting():
    torch.manual_seed(0)
    model = build_model("beta-vae", SHAPE, beta=0.25)
    terms = _loss_with_fixed_noise(model, torch.rand(3, *SHAPE))
    assert torch.allclose(terms["loss"], terms["recon"] + 0.25 * terms["kl"])


@pytest.mark.parametrize("beta", [0.0, -1.0])
def test_beta_must_be_positive(beta):
    with pytest.raises(InputError, match="--beta: must be > 0"):
        build_model("beta-vae", SHAPE, beta=beta)


def test_latent_size_must_be_at_least_one():
    with pytest.raises(InputError, match="--latent-dim"):
        build_model("vae", SHAPE, latent_dim=0)


def test_capacity_grows_linearly_then_stays_at_c_max():
    assert capacity(0, 25.0, 100_000) == 0.0
    assert capacity(50_000, 25.0, 100_000) == pytest.approx(12.5)
    assert capacity(100_000, 25.0, 100_000) == 25.0
    assert capacity(300_000, 25.0, 100_000) == 25.0


def test_annealed_vae_loss_is_gamma_times_distance_to_capacity():
    torch.manual_seed(0)
    model = build_model("annealed-vae", SHAPE, gamma=1000.0, c_max=25.0, iteration_threshold=100)
    terms = _loss_with_fixed_noise(model, torch.rand(4, *SHAPE), step=40)
    assert terms["capacity"].item() == pytest.approx(10.0)
    assert torch.allclose(terms["loss"], terms["recon"] + 1000.0 * (terms["kl"] - 10.0).abs())


def test_encode_returns_the_posterior_mean():
    torch.manual_seed(0)
    model = build_model("vae", SHAPE, latent_dim=3)
    x = torch.rand(2, *SHAPE)
    assert torch.equal(model.encode(x), model.posterior(x)[0])


def test_unknown_hyperparameter_names_the_option_and_the_valid_ones():
    with pytest.raises(InputError, match="--gamma: not a hyperparameter of beta-vae"):
        build_model("beta-vae", SHAPE, gamma=3.0)
