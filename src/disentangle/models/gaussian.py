"""Diagonal Gaussians, the posterior family of the VAEs: sampling, densities, KL, and the
terms every VAE-like model logs.

Shapes are ``(N, D)`` (examples × latent dimensions) unless stated; densities and KLs
are in nats.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from disentangle.models.noise import standard_normal_like

LOG_2PI = math.log(2 * math.pi)


def reparameterize(mean: Tensor, logvar: Tensor) -> Tensor:
    """A sample z = μ + σ·ε of q(z|x) = N(μ, diag σ²), ε ~ N(0, I) from torch's global stream
    (in a packed group, from each model's own: ``disentangle.models.noise``)."""
    return mean + standard_normal_like(mean) * (0.5 * logvar).exp()


def gaussian_kl_per_dim(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) per example and dimension: same shape as ``mean``."""
    return 0.5 * (mean.square() + logvar.exp() - logvar - 1.0)


def log_density_gaussian(x: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """log N(x; mean, exp(logvar)) elementwise (broadcasting)."""
    return -0.5 * (LOG_2PI + logvar + (x - mean).square() * torch.exp(-logvar))


def elbo_terms(recon: Tensor, kl: Tensor, kl_per_dim: Tensor | None = None) -> dict[str, Tensor]:
    """The terms every model with a KL to its prior logs: ``recon`` (−log p(x|z), summed
    over pixels, batch mean), ``kl`` (batch mean), ``elbo`` = −(recon + kl) and, when
    given, ``kl_per_dim`` ``(D,)``."""
    terms = {"recon": recon, "kl": kl, "elbo": -(recon + kl)}
    if kl_per_dim is not None:
        terms["kl_per_dim"] = kl_per_dim
    return terms
