"""InfoVAE: the MMD between q(z) and the prior and the weighted objective."""

from __future__ import annotations

import pytest
import torch

from disentangle.errors import InputError
from disentangle.models import build_model
from disentangle.models.info_vae import imq_kernel, mmd, rbf_kernel


def test_the_default_kernels_are_zhaos_rbf_and_the_inverse_multiquadric():
    a, b = torch.randn(5, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    squared = torch.tensor([[float((a[i] - b[j]).square().sum()) for j in range(4)] for i in range(5)],
                           dtype=torch.float64)
    assert torch.allclose(rbf_kernel(a, b), torch.exp(-squared / 3))
    assert torch.allclose(imq_kernel(a, b), 6 / (6 + squared))
    assert torch.allclose(rbf_kernel(a, b, bandwidth=2.0), torch.exp(-squared / 12))
    assert torch.allclose(imq_kernel(a, b, bandwidth=2.0), 24 / (24 + squared))


@pytest.mark.parametrize("kernel", ["rbf", "imq"])
def test_mmd_between_two_large_samples_of_the_same_distribution_is_near_zero(kernel):
    generator = torch.Generator().manual_seed(0)
    p, q = torch.randn(2, 2000, 4, generator=generator, dtype=torch.float64)
    same = mmd(p, q, kernel).item()
    shifted = mmd(p, q + 1.0, kernel).item()
    assert 0 <= same < 2e-3  # the biased estimate is O(1/n) above 0
    assert shifted > 50 * same


@pytest.mark.parametrize("kernel", ["rbf", "imq"])
def test_mmd_grows_with_the_shift_of_the_mean(kernel):
    generator = torch.Generator().manual_seed(1)
    p, q = torch.randn(2, 1000, 2, generator=generator, dtype=torch.float64)
    values = [mmd(p, q + shift, kernel).item() for shift in (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)]
    assert all(earlier < later for earlier, later in zip(values, values[1:]))


def test_the_regularizer_is_one_minus_alpha_kl_plus_alpha_plus_lambda_minus_one_mmd():
    model = build_model("info-vae", (1, 64, 64), latent_dim=3, alpha=0.5, lam=10.0, kernel="imq")
    z = torch.randn(16, 3)
    kl = torch.tensor(2.0)
    torch.manual_seed(5)
    terms = model.regularizer(kl, None, z, z, z, step=0)
    torch.manual_seed(5)
    expected_mmd = mmd(z, torch.randn_like(z), "imq")
    assert terms["mmd"].item() == pytest.approx(expected_mmd.item())
    assert terms["regularizer"].item() == pytest.approx(0.5 * 2.0 + 9.5 * expected_mmd.item())


def test_info_vae_builds_and_returns_finite_terms_that_backpropagate():
    torch.manual_seed(0)
    model = build_model("info-vae", (1, 64, 64))
    terms = model.loss((torch.rand(4, 1, 64, 64) < 0.3).float(), step=0)
    assert {"loss", "recon", "kl", "mmd"} <= set(terms)
    assert all(torch.isfinite(value).all() for value in terms.values())
    expected = terms["recon"] + terms["kl"] + 999 * terms["mmd"]  # defaults α = 0, λ = 1000
    assert terms["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    terms["loss"].backward()
    assert all(p.grad is not None for p in model.encoder.parameters())


@pytest.mark.parametrize(
    "hyperparameters, option",
    [
        ({"lam": -1.0}, "--lam"),
        ({"lam": 0.0}, "--lam"),
        ({"alpha": 0.0, "lam": 0.5}, "--lam"),
        ({"alpha": 1.5}, "--alpha"),
        ({"kernel": "laplace"}, "--kernel"),
        ({"kernel_bandwidth": 0.0}, "--kernel-bandwidth"),
    ],
)
def test_bad_hyperparameters_raise_an_input_error_naming_the_option(hyperparameters, option):
    with pytest.raises(InputError, match=f"^{option}:"):
        build_model("info-vae", (1, 64, 64), **hyperparameters)
