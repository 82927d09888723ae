"""DIP-VAE I and II: the covariance penalty, zero exactly at the identity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.errors import InputError
from disentangle.models import build_model
from disentangle.models.dip_vae import DIPVAEI, DIPVAEII, covariance, dip_terms


def with_sample_covariance(target: torch.Tensor, batch: int = 50, seed: int = 0) -> torch.Tensor:
    """Means ``(batch, D)`` whose covariance (normalised by the batch size) is ``target``."""
    generator = torch.Generator().manual_seed(seed)
    raw = torch.randn(batch, target.shape[0], generator=generator, dtype=torch.float64)
    centred = raw - raw.mean(0)
    whitened = centred @ torch.linalg.inv(torch.linalg.cholesky(covariance(centred))).T
    return whitened @ torch.linalg.cholesky(target).T + 3.0


def penalty(model, mean: torch.Tensor, logvar: torch.Tensor) -> dict[str, torch.Tensor]:
    return model.regularizer(torch.tensor(0.0), None, mean, logvar, mean, step=0)


def test_covariance_is_the_sample_covariance_normalised_by_the_batch_size():
    mean = torch.randn(20, 4, dtype=torch.float64)
    assert np.allclose(covariance(mean).numpy(), np.cov(mean.numpy(), rowvar=False, bias=True))


def test_dip_vae_i_penalty_is_zero_when_cov_mu_is_the_identity():
    model = build_model("dip-vae-i", (1, 64, 64), latent_dim=4).double()
    mean = with_sample_covariance(torch.eye(4, dtype=torch.float64))
    terms = penalty(model, mean, torch.zeros_like(mean))
    for key in ("regularizer", "dip", "dip_off_diagonal", "dip_diagonal"):
        assert terms[key].item() == pytest.approx(0.0, abs=1e-20), key


def test_dip_vae_ii_penalty_is_zero_when_mean_sigma_squared_plus_cov_mu_is_the_identity():
    model = build_model("dip-vae-ii", (1, 64, 64), latent_dim=3).double()
    mean = with_sample_covariance(0.75 * torch.eye(3, dtype=torch.float64))
    logvar = torch.full_like(mean, float(np.log(0.25)))
    assert penalty(model, mean, logvar)["dip"].item() == pytest.approx(0.0, abs=1e-20)
    # the same means leave type I's penalty positive: Cov[μ] alone is not the identity
    assert penalty(build_model("dip-vae-i", (1, 64, 64), latent_dim=3).double(), mean, logvar)["dip"] > 0


@settings(max_examples=30, deadline=None)
@given(
    scale=st.floats(0.1, 3.0).filter(lambda s: abs(s - 1) > 0.05),
    correlation=st.floats(-0.9, 0.9),
)
def test_the_penalty_is_positive_when_the_covariance_is_not_the_identity(scale, correlation):
    target = scale * torch.tensor([[1.0, correlation], [correlation, 1.0]], dtype=torch.float64)
    mean = with_sample_covariance(target)
    off_diagonal, diagonal = dip_terms(covariance(mean))
    assert off_diagonal.item() == pytest.approx(2 * (scale * correlation) ** 2, rel=1e-6, abs=1e-12)
    assert diagonal.item() == pytest.approx(2 * (scale - 1) ** 2, rel=1e-6)
    assert off_diagonal + diagonal > 0


def test_the_diagonal_weight_is_lambda_d_factor_times_lambda_od_with_dlibs_defaults():
    assert DIPVAEI.config_class().lambda_d_factor == 10.0
    assert DIPVAEII.config_class().lambda_d_factor == 1.0
    model = build_model("dip-vae-i", (1, 64, 64), latent_dim=2, lambda_od=2.0, lambda_d_factor=5.0).double()
    mean = with_sample_covariance(torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64))
    terms = penalty(model, mean, torch.zeros_like(mean))
    assert terms["dip_off_diagonal"].item() == pytest.approx(0.5)
    assert terms["dip_diagonal"].item() == pytest.approx(1.0)
    assert terms["dip"].item() == pytest.approx(2.0 * 0.5 + 10.0 * 1.0)


@pytest.mark.parametrize("name", ["dip-vae-i", "dip-vae-ii"])
def test_dip_vaes_build_and_return_finite_terms_that_backpropagate(name):
    torch.manual_seed(0)
    model = build_model(name, (1, 64, 64))
    x = (torch.rand(4, 1, 64, 64) < 0.3).float()
    terms = model.loss(x, step=0)
    assert {"loss", "recon", "kl", "dip", "dip_off_diagonal", "dip_diagonal"} <= set(terms)
    assert all(torch.isfinite(value).all() for value in terms.values())
    expected = terms["recon"] + terms["kl"] + terms["dip"]
    assert terms["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    terms["loss"].backward()
    assert all(p.grad is not None for p in model.encoder.parameters())


@pytest.mark.parametrize("name", ["dip-vae-i", "dip-vae-ii"])
@pytest.mark.parametrize(
    "hyperparameters, option",
    [({"lambda_od": -1.0}, "--lambda-od"), ({"lambda_od": 0.0}, "--lambda-od"),
     ({"lambda_d_factor": -0.5}, "--lambda-d-factor"), ({"lambda_d": 1.0}, "--lambda-d")],
)
def test_bad_hyperparameters_raise_an_input_error_naming_the_option(name, hyperparameters, option):
    with pytest.raises(InputError, match=f"^{option}:"):
        build_model(name, (1, 64, 64), **hyperparameters)
