"""The diagonal Gaussian helpers every VAE shares, against their closed forms."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.models.gaussian import (
    LOG_2PI,
    elbo_terms,
    gaussian_kl_per_dim,
    log_density_gaussian,
    reparameterize,
)

moments = st.tuples(st.floats(-3, 3), st.floats(-4, 2))


def test_samples_have_the_posteriors_mean_and_variance():
    torch.manual_seed(0)
    mean, logvar = torch.tensor([[1.5, -2.0]]).expand(200_000, 2), torch.tensor([[0.0, -2.0]]).expand(200_000, 2)
    z = reparameterize(mean, logvar)
    assert torch.allclose(z.mean(0), torch.tensor([1.5, -2.0]), atol=0.01)
    assert torch.allclose(z.var(0), torch.tensor([1.0, math.exp(-2.0)]), rtol=0.02)


@settings(max_examples=40, deadline=None)
@given(moments)
def test_the_kl_is_the_closed_form_and_the_expected_log_ratio(values):
    mean, logvar = torch.tensor([values[0]], dtype=torch.float64), torch.tensor([values[1]], dtype=torch.float64)
    std = math.exp(values[1] / 2)
    closed = math.log(1 / std) + (std**2 + values[0] ** 2) / 2 - 0.5
    assert gaussian_kl_per_dim(mean, logvar).item() == pytest.approx(closed, abs=1e-12)
    torch.manual_seed(1)
    z = reparameterize(mean.expand(100_000), logvar.expand(100_000))
    monte_carlo = (log_density_gaussian(z, mean, logvar) - log_density_gaussian(z, 0 * mean, 0 * logvar)).mean()
    assert monte_carlo.item() == pytest.approx(closed, abs=0.05 + 0.02 * closed)


def test_the_log_density_is_the_normal_density():
    x, mean, logvar = torch.tensor(0.3), torch.tensor(-0.2), torch.tensor(0.5)
    variance = math.exp(0.5)
    expected = -0.5 * (LOG_2PI + 0.5 + 0.25 / variance)
    assert log_density_gaussian(x, mean, logvar).item() == pytest.approx(expected)


def test_elbo_terms_are_minus_recon_plus_kl():
    terms = elbo_terms(torch.tensor(10.0), torch.tensor(2.5), torch.tensor([2.0, 0.5]))
    assert terms["elbo"].item() == -12.5 and terms["kl_per_dim"].tolist() == [2.0, 0.5]
    assert "kl_per_dim" not in elbo_terms(torch.tensor(1.0), torch.tensor(1.0))
