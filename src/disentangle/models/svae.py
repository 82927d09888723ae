"""The hyperspherical VAE, S-VAE (Davidson et al. 2018, "Hyperspherical Variational
Auto-Encoders"), as its reference code (nicola-decao/s-vae-pytorch) and pythae's SVAE run it.

The code lives on the unit sphere S^{m−1} ⊂ R^m, m = ``latent_dim``. The posterior is a
von Mises–Fisher distribution, q(z|x) = vMF(μ(x), κ(x)) with density
C_m(κ)·exp(κ μᵀz) on the sphere, where (the paper's Section 3)

    C_m(κ) = κ^{m/2−1} / ((2π)^{m/2} I_{m/2−1}(κ))

and I_v is the modified Bessel function of the first kind. The encoder gives m + 1
numbers: the first m, normalised, are the mean direction μ; the last, through
softplus(·) + 1, is the concentration κ > 1 (the reference's choice). The prior is uniform
on the sphere, and the KL has the closed form (the paper's KL to the uniform prior,
with the surface area of S^{m−1})

    KL(vMF(μ, κ) ‖ U(S^{m−1})) = κ·A_m(κ) + log C_m(κ) + log(2π^{m/2} / Γ(m/2)),
    A_m(κ) = I_{m/2}(κ) / I_{m/2−1}(κ),

in nats, independent of μ. The model minimises recon + KL, batch means, as the VAE.

Sampling (the paper's Algorithm 1): z = H(μ)·(w, √(1 − w²)·v) with v uniform on S^{m−2} and H(μ) the
Householder reflection taking e₁ to μ; the component w = μᵀz is drawn by Wood's (1994)
rejection sampler (for m = 3 by the exact inverse distribution function, as the
reference). The reparameterised gradient is the reference's: the accepted proposal
ε ~ Beta((m−1)/2, (m−1)/2) is held fixed and w = (1 − (1 + b)ε) / (1 − (1 − b)ε) is
differentiated through b(κ) only, without the paper's correction term g_cor for the
acceptance step, as the reference code does.

Bessel functions are the exponentially scaled ive_v(κ) = e^{−κ} I_v(κ) of SciPy, on the
CPU in float64, made differentiable by ``ScaledBessel``: d ive_v / dκ = ive_{v−1}(κ) −
ive_v(κ)·(v + κ)/κ (from I_v' = I_{v−1} − (v/κ)·I_v), as the reference's ``IveFunction``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.special
import torch
import torch.nn.functional as F
from torch import Tensor

from disentangle.models.base import Capabilities, Model, ModelConfig, require
from disentangle.models.gaussian import elbo_terms
from disentangle.models.noise import standard_normal_like

#: κ = softplus(·) + CONCENTRATION_FLOOR (the reference's + 1)
CONCENTRATION_FLOOR = 1.0


class ScaledBessel(torch.autograd.Function):
    """ive_v(κ) = e^{−κ}·I_v(κ) for a fixed order v (a number) and κ > 0 (a tensor),
    differentiable in κ any number of times (the backward pass calls it again)."""

    @staticmethod
    def forward(ctx, order: float, kappa: Tensor) -> Tensor:
        ctx.order = float(order)
        ctx.save_for_backward(kappa)
        values = scipy.special.ive(ctx.order, kappa.detach().to("cpu", torch.float64).numpy())
        return torch.from_numpy(np.asarray(values)).to(device=kappa.device, dtype=kappa.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (kappa,) = ctx.saved_tensors
        v = ctx.order
        derivative = scaled_bessel(v - 1, kappa) - scaled_bessel(v, kappa) * (v + kappa) / kappa
        return None, grad * derivative


def scaled_bessel(order: float, kappa: Tensor) -> Tensor:
    """ive_v(κ) = e^{−κ}·I_v(κ), elementwise, with its gradient in κ."""
    return ScaledBessel.apply(order, kappa)


def mean_resultant_length(kappa: Tensor, m: int) -> Tensor:
    """A_m(κ) = I_{m/2}(κ) / I_{m/2−1}(κ) = E[μᵀz] under vMF(μ, κ) on S^{m−1}."""
    kappa64 = kappa.double()
    return (scaled_bessel(m / 2, kappa64) / scaled_bessel(m / 2 - 1, kappa64)).to(kappa.dtype)


def log_sphere_area(m: int) -> float:
    """log of the surface area 2π^{m/2} / Γ(m/2) of S^{m−1}, the unit sphere in R^m."""
    return math.log(2) + (m / 2) * math.log(math.pi) - math.lgamma(m / 2)


def log_vmf_normaliser(kappa: Tensor, m: int) -> Tensor:
    """log C_m(κ) = (m/2 − 1)·log κ − (m/2)·log 2π − log I_{m/2−1}(κ), float64, with
    log I_v(κ) = log ive_v(κ) + κ (no overflow for large κ)."""
    kappa = kappa.double()
    return ((m / 2 - 1) * kappa.log() - (m / 2) * math.log(2 * math.pi)
            - (scaled_bessel(m / 2 - 1, kappa).log() + kappa))


def vmf_uniform_kl(kappa: Tensor, m: int) -> Tensor:
    """KL(vMF(μ, κ) ‖ U(S^{m−1})) in nats, elementwise in κ (it does not depend on μ).

    Computed in float64 and returned in κ's floating type (at least float32)."""
    kappa64 = kappa.double()
    ratio = scaled_bessel(m / 2, kappa64) / scaled_bessel(m / 2 - 1, kappa64)
    kl = kappa64 * ratio + log_vmf_normaliser(kappa64, m) + log_sphere_area(m)
    return kl.to(torch.promote_types(kappa.dtype, torch.float32))


def wood_parameters(kappa: Tensor, m: int) -> tuple[Tensor, Tensor, Tensor]:
    """Wood's (1994) envelope (b, a, d) for concentration κ on S^{m−1}.

    b = (−2κ + √(4κ² + (m−1)²)) / (m − 1) is computed in the equal, rationalised form
    (m − 1) / (2κ + √(4κ² + (m−1)²)), which has no cancellation for large κ: the
    reference instead blends b towards its Taylor approximation (m − 1)/(4κ) for κ > 10,
    which no longer matches a and d; we keep the exact b throughout.
    """
    root = torch.sqrt(4 * kappa.square() + (m - 1) ** 2)
    b = (m - 1) / (2 * kappa + root)
    a = (m - 1 + 2 * kappa + root) / 4
    d = 4 * a * b / (1 + b) - (m - 1) * math.log(m - 1)
    return b, a, d


@torch.no_grad()
def _accepted_proposals(b: Tensor, a: Tensor, d: Tensor, m: int) -> Tensor:
    """For each row, the first proposal ε ~ Beta((m−1)/2, (m−1)/2) that Wood's test
    accepts: (m − 1)·log t − t + d ≥ log u, t = 2ab / (1 − (1 − b)ε), u ~ U(0, 1).
    Rows still pending draw one proposal each per round (the reference's k = 1)."""
    half = torch.tensor((m - 1) / 2, dtype=torch.float64, device=b.device)
    proposal = torch.distributions.Beta(half, half)
    accepted = torch.zeros_like(b)
    pending = torch.arange(b.shape[0], device=b.device)
    while pending.numel():
        eps = proposal.sample((pending.numel(),)).to(b.dtype)
        u = torch.rand(pending.numel(), dtype=b.dtype, device=b.device)
        bb, aa, dd = b[pending], a[pending], d[pending]
        t = 2 * aa * bb / (1 - (1 - bb) * eps)
        accept = (m - 1) * t.log() - t + dd >= u.log()
        accepted[pending[accept]] = eps[accept]
        pending = pending[~accept]
    return accepted


def sample_w(kappa: Tensor, m: int) -> Tensor:
    """w = μᵀz for z ~ vMF(μ, κ) on S^{m−1}, one per entry of ``kappa`` ``(N,)``.

    m = 3: the exact inverse distribution function, w = 1 + log(u + (1 − u)e^{−2κ}) / κ.
    Else Wood's rejection sampler; the gradient flows through b(κ) with the accepted ε
    held fixed (the reference's reparameterisation)."""
    if m == 3:
        u = torch.rand(kappa.shape, dtype=kappa.dtype, device=kappa.device)
        return 1 + torch.logaddexp(u.log(), torch.log1p(-u) - 2 * kappa) / kappa
    b, a, d = wood_parameters(kappa, m)
    eps = _accepted_proposals(b.detach(), a.detach(), d.detach(), m)
    return (1 - (1 + b) * eps) / (1 - (1 - b) * eps)


def householder_reflection(x: Tensor, mean_direction: Tensor) -> Tensor:
    """Rows of ``x`` ``(N, m)`` reflected by H = I − 2uuᵀ/‖u‖², u = e₁ − μ, which maps e₁ to
    the unit vector μ; the identity where μ = e₁. (The reference normalises u with 1e-5
    added to its norm, which leaves samples slightly off the sphere when μ is near e₁.)"""
    u = -mean_direction.clone()
    u[:, 0] = u[:, 0] + 1
    squared = u.square().sum(1, keepdim=True)
    projection = (x * u).sum(1, keepdim=True)
    reflected = x - 2 * projection * u / squared.clamp_min(torch.finfo(x.dtype).tiny)
    return torch.where(squared > 0, reflected, x)


def sample_vmf(mean_direction: Tensor, kappa: Tensor) -> Tensor:
    """z ~ vMF(μ, κ) ``(N, m)`` on the unit sphere, reparameterised, for unit mean
    directions ``(N, m)`` and concentrations ``(N,)`` (Davidson et al., Algorithm 1), in
    at least float32 (the acceptance test needs its precision under autocast too)."""
    dtype = torch.promote_types(mean_direction.dtype, torch.float32)
    mean_direction, kappa = mean_direction.to(dtype), kappa.to(dtype)
    m = mean_direction.shape[1]
    w = sample_w(kappa, m).unsqueeze(1)
    v = F.normalize(standard_normal_like(mean_direction[:, 1:]), dim=1)
    x = torch.cat([w, torch.sqrt((1 - w.square()).clamp_min(1e-10)) * v], dim=1)
    return householder_reflection(x, mean_direction)


@dataclass(frozen=True)
class HypersphericalVAEConfig(ModelConfig):
    """The code is a point of the sphere S^{latent_dim − 1}; ``latent_dim`` ≥ 2."""

    def __post_init__(self):
        super().__post_init__()
        require(self.latent_dim >= 2, "latent_dim", "≥ 2 (the code is a point of S^{latent_dim−1})",
                self.latent_dim)


class HypersphericalVAE(Model):
    """S-VAE: recon + KL(vMF(μ(x), κ(x)) ‖ U(S^{m−1})), z ~ vMF. ``encode`` returns the
    mean direction μ(x), a unit vector. Logs ``kappa`` (the batch's mean concentration)."""

    name = "s-vae"
    config_class = HypersphericalVAEConfig
    capabilities = Capabilities(representation="the vMF posterior's mean direction μ(x), a unit vector of S^{D−1}")

    def __init__(self, config: HypersphericalVAEConfig, observation_shape: tuple[int, int, int]):
        super().__init__(config, observation_shape)
        self.encoder = self.make_encoder(config.latent_dim + 1)
        self.decoder = self.make_decoder(config.latent_dim)

    def vmf_posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The mean direction μ ``(N, latent_dim)`` (unit rows) and concentration κ ``(N,)``."""
        out = self.encoder(x)
        mean_direction = F.normalize(out[:, :-1], dim=1)
        kappa = F.softplus(out[:, -1]) + CONCENTRATION_FLOOR
        return mean_direction, kappa

    def encode(self, x: Tensor) -> Tensor:
        return self.vmf_posterior(x)[0]

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        mean_direction, kappa = self.vmf_posterior(x)
        z = sample_vmf(mean_direction, kappa)
        recon = -self.likelihood.log_prob(x, self.decoder(z)).mean()
        kl = vmf_uniform_kl(kappa, self.latent_dim).mean().to(recon.dtype)
        return {"loss": recon + kl, **elbo_terms(recon, kl), "kappa": kappa.detach().mean()}

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "recon": "reconstruction error −log p(x|z), z ~ vMF(μ(x), κ(x)), summed over pixels, batch mean, nats",
            "kl": ("KL(vMF(μ, κ) ‖ uniform on the sphere S^{D−1}), analytic (Bessel functions), batch mean, nats; "
                   "it depends on κ only"),
            "elbo": "evidence lower bound −(recon + kl) with the vMF posterior and the uniform prior, batch mean, nats",
            "kappa": "the vMF concentration κ = softplus(·) + 1 of the posterior, batch mean (larger: narrower)",
        }
