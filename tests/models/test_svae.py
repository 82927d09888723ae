"""The hyperspherical VAE: its KL against a numerical integral, its sampler against the vMF
distribution, its Bessel functions' values and gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.errors import InputError
from disentangle.models import build_model
from disentangle.models.svae import (
    householder_reflection,
    mean_resultant_length,
    sample_vmf,
    sample_w,
    scaled_bessel,
    vmf_uniform_kl,
)


def _integral(log_density, m: int, lower: float = -1.0, upper: float = 1.0, factor=lambda w: 1.0) -> float:
    """∫ exp(log_density(w))·factor(w)·(1 − w²)^{(m−3)/2} dw over [lower, upper] by quadrature:
    for m ≤ 3 with quad's algebraic weight (m = 2's endpoint singularity), else with the
    weight in log space."""
    tight = dict(limit=500, epsabs=0, epsrel=1e-12)
    if m <= 3:
        return scipy.integrate.quad(lambda w: math.exp(log_density(w)) * factor(w), lower, upper, weight="alg",
                                    wvar=((m - 3) / 2, (m - 3) / 2), **tight)[0]
    exponent = (m - 3) / 2

    def integrand(w):
        return math.exp(log_density(w) + exponent * math.log1p(-w * w)) * factor(w) if abs(w) < 1 else 0.0

    return scipy.integrate.quad(integrand, lower, upper, **tight)[0]


def numerical_kl(kappa: float, m: int) -> float:
    """KL(vMF ‖ uniform) as ∫ f log(f / g) dw over the marginal densities of w = μᵀz.

    Given w both distributions are uniform on the same (m−2)-sphere, so the KL of the
    marginals is the KL. f ∝ e^{κ(w − 1)}(1 − w²)^{(m−3)/2}, g ∝ (1 − w²)^{(m−3)/2}, both
    normalised by quadrature: no Bessel function is used."""
    log_z_f = math.log(_integral(lambda w: kappa * (w - 1), m))
    log_z_g = math.log(_integral(lambda w: 0.0, m))

    def log_f(w):
        return kappa * (w - 1) - log_z_f

    return _integral(log_f, m, factor=lambda w: log_f(w) + log_z_g)


def numerical_cdf(kappa: float, m: int):
    """P(w ≤ t) under vMF(μ, κ) on S^{m−1}, by quadrature of the marginal density."""
    total = _integral(lambda w: kappa * (w - 1), m)

    def cdf(values):
        return np.array([_integral(lambda w: kappa * (w - 1), m, -1.0, t) / total if t > -1 else 0.0
                         for t in np.atleast_1d(values)])

    return cdf


# --------------------------------------------------------------------------- the KL


@pytest.mark.parametrize("m", [2, 3, 4, 10, 32])
@pytest.mark.parametrize("kappa", [1.0, 3.7, 50.0])
def test_the_kl_to_the_uniform_prior_equals_a_numerical_integral_over_w(m, kappa):
    kl = vmf_uniform_kl(torch.tensor([kappa], dtype=torch.float64), m).item()
    assert kl == pytest.approx(numerical_kl(kappa, m), rel=1e-7, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(m=st.integers(2, 64), kappa=st.floats(1.0, 80.0))
def test_the_kl_is_the_integral_for_any_dimension_and_concentration(m, kappa):
    kl = vmf_uniform_kl(torch.tensor([kappa], dtype=torch.float64), m).item()
    assert kl >= 0
    assert kl == pytest.approx(numerical_kl(kappa, m), rel=1e-6, abs=1e-8)


def test_the_kl_for_large_concentrations_and_dimensions_is_finite_and_grows_with_kappa():
    kappa = torch.tensor([1.0, 10.0, 1e3, 1e5], dtype=torch.float64)
    for m in (2, 10, 200):
        kl = vmf_uniform_kl(kappa, m)
        assert torch.isfinite(kl).all() and (kl.diff() > 0).all(), (m, kl)


def test_the_kl_of_a_float32_concentration_is_float32_and_its_gradient_matches_finite_differences():
    kappa = torch.tensor([1.3, 4.0, 25.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda k: vmf_uniform_kl(k, 7), (kappa,))
    assert vmf_uniform_kl(torch.tensor([2.0]), 5).dtype == torch.float32


# --------------------------------------------------------------------------- Bessel functions


def test_the_scaled_bessel_function_of_order_one_half_is_the_closed_form():
    """I_{1/2}(κ) = √(2 / (πκ))·sinh κ, so ive_{1/2}(κ) = √(2 / (πκ))·(1 − e^{−2κ}) / 2."""
    kappa = torch.tensor([0.1, 1.0, 7.5, 300.0], dtype=torch.float64)
    closed = torch.sqrt(2 / (math.pi * kappa)) * (1 - torch.exp(-2 * kappa)) / 2
    assert torch.allclose(scaled_bessel(0.5, kappa), closed, rtol=1e-12)


@pytest.mark.parametrize("order", [0.0, 0.5, 1.0, 1.5, 4.0, 15.0])
def test_the_bessel_gradient_matches_finite_differences(order):
    kappa = torch.tensor([0.3, 1.0, 6.0, 40.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda k: scaled_bessel(order, k), (kappa,))
    assert torch.autograd.gradgradcheck(lambda k: scaled_bessel(order, k), (kappa,))


@settings(max_examples=40, deadline=None)
@given(order=st.floats(0.0, 40.0), kappa=st.floats(0.05, 500.0))
def test_the_bessel_gradient_is_the_central_difference_of_scipy(order, kappa):
    import scipy.special

    h = 1e-5 * max(1.0, kappa)
    difference = (scipy.special.ive(order, kappa + h) - scipy.special.ive(order, kappa - h)) / (2 * h)
    k = torch.tensor(kappa, dtype=torch.float64, requires_grad=True)
    (gradient,) = torch.autograd.grad(scaled_bessel(order, k), k)
    scale = abs(scipy.special.ive(order, kappa)) / max(1.0, kappa)
    assert gradient.item() == pytest.approx(difference, rel=1e-5, abs=1e-7 * scale + 1e-300)


# --------------------------------------------------------------------------- the sampler


def _samples(m: int, kappa: float, n: int, seed: int = 0, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    mean_direction = F.normalize(torch.randn(n, m, dtype=dtype), dim=1)
    return sample_vmf(mean_direction, torch.full((n,), kappa, dtype=dtype)), mean_direction


@pytest.mark.parametrize("m", [2, 3, 5, 10])
@pytest.mark.parametrize("kappa", [1.0, 30.0, 300.0])
def test_the_samples_mean_resultant_length_is_the_bessel_ratio(m, kappa):
    """E[μᵀz] = A_m(κ) = I_{m/2}(κ) / I_{m/2−1}(κ), within 5 standard errors of 8,000 draws."""
    n = 8_000
    z, mean_direction = _samples(m, kappa, n)
    w = (z * mean_direction).sum(1)
    expected = mean_resultant_length(torch.tensor([kappa], dtype=torch.float64), m).item()
    assert abs(w.mean().item() - expected) < 5 * w.std().item() / math.sqrt(n)


@pytest.mark.parametrize("m, kappa", [(3, 2.0), (5, 15.0), (16, 40.0)])
def test_the_component_along_the_mean_direction_follows_the_vmf_marginal(m, kappa):
    """A Kolmogorov–Smirnov test of w = μᵀz against the marginal distribution function,
    by quadrature (κ > 10 included, where the reference blends its envelope)."""
    torch.manual_seed(1)
    w = sample_w(torch.full((3000,), kappa, dtype=torch.float64), m).numpy()
    assert scipy.stats.kstest(w, numerical_cdf(kappa, m)).pvalue > 1e-3


def test_the_samples_lie_on_the_unit_sphere_for_every_mean_direction():
    for m in (2, 3, 10):
        for kappa in (1.0, 50.0, 5e3):
            z, _ = _samples(m, kappa, 500, dtype=torch.float32)
            assert torch.allclose(z.norm(dim=1), torch.ones(500), atol=1e-5), (m, kappa)
    e1 = torch.eye(4)[:1].repeat(3, 1)
    for mean_direction in (e1, -e1, F.normalize(e1 + 1e-4 * torch.randn(3, 4), dim=1)):
        z = sample_vmf(mean_direction, torch.full((3,), 20.0))
        assert torch.allclose(z.norm(dim=1), torch.ones(3), atol=1e-5)


def test_the_householder_reflection_takes_e1_to_the_mean_direction_and_keeps_lengths():
    torch.manual_seed(0)
    mean_direction = F.normalize(torch.randn(6, 5, dtype=torch.float64), dim=1)
    e1 = torch.eye(5, dtype=torch.float64)[:1].repeat(6, 1)
    assert torch.allclose(householder_reflection(e1, mean_direction), mean_direction)
    x = torch.randn(6, 5, dtype=torch.float64)
    assert torch.allclose(householder_reflection(x, mean_direction).norm(dim=1), x.norm(dim=1))
    assert torch.equal(householder_reflection(x, e1), x)


def test_the_sample_is_differentiable_in_the_mean_direction_and_the_concentration():
    torch.manual_seed(0)
    raw = torch.randn(8, 6, dtype=torch.float64, requires_grad=True)
    kappa = torch.full((8,), 12.0, dtype=torch.float64, requires_grad=True)
    z = sample_vmf(F.normalize(raw, dim=1), kappa)
    (z[:, 0].sum() + z[:, 1].sum()).backward()
    assert torch.isfinite(raw.grad).all() and raw.grad.abs().sum() > 0
    assert torch.isfinite(kappa.grad).all() and kappa.grad.abs().sum() > 0


def test_the_reparameterised_w_moves_towards_one_as_kappa_grows():
    """With the accepted ε held fixed, w = (1 − (1 + b)ε)/(1 − (1 − b)ε) rises with κ (b falls)."""
    torch.manual_seed(0)
    kappa = torch.full((50,), 4.0, dtype=torch.float64, requires_grad=True)
    sample_w(kappa, 8).sum().backward()
    assert (kappa.grad > 0).all()


# --------------------------------------------------------------------------- the model


def test_the_model_encodes_unit_vectors_and_its_loss_is_recon_plus_the_kl():
    torch.manual_seed(0)
    model = build_model("s-vae", (1, 16, 16), latent_dim=5, architecture="mlp")
    x = (torch.rand(6, 1, 16, 16) < 0.3).float()
    codes = model.encode(x)
    assert codes.shape == (6, 5) and torch.allclose(codes.norm(dim=1), torch.ones(6), atol=1e-6)
    terms = model.loss(x, 0)
    _, kappa = model.vmf_posterior(x)
    assert (kappa > 1).all()
    assert terms["kl"].item() == pytest.approx(vmf_uniform_kl(kappa.double(), 5).mean().item(), rel=1e-6)
    assert terms["loss"].item() == pytest.approx(terms["recon"].item() + terms["kl"].item(), rel=1e-6)
    terms["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_a_one_dimensional_code_is_refused():
    with pytest.raises(InputError, match="^--latent-dim:"):
        build_model("s-vae", (1, 16, 16), latent_dim=1)
