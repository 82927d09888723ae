"""The VampPrior VAE (Tomczak & Welling 2018, "VAE with a VampPrior").

The VAE's nets and diagonal Gaussian posterior q(z|x) = N(μ(x), diag σ²(x)), with the
prior replaced by the variational mixture of posteriors (§2.2)

    p(z) = (1/K) Σ_k q(z | u_k),

the encoder's own posteriors at K learned pseudo-inputs u_1..u_K (observation-shaped,
in [0, 1]). The mixture has no closed-form KL, so the KL of the ELBO is the
single-sample Monte Carlo estimate at the reparameterised z ~ q(z|x) that also feeds
the decoder, as pythae's ``VAMP`` computes it:

    loss = recon + w(step) · [log q(z|x) − log p(z)],

with w the KL weight of an optional linear warm-up (the paper's experiments warm up;
pythae, whose default we keep, does not). The pseudo-inputs are pythae's: the
columns of a linear layer applied to the K × K identity, u_k = hardtanh_[0,1](W e_k + b),
initialised as ``torch.nn.Linear`` initialises itself (the paper's own code draws the
layer's weights from a narrow Gaussian instead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from disentangle.models.base import Capabilities, ModelConfig, require
from disentangle.models.gaussian import elbo_terms, log_density_gaussian, reparameterize
from disentangle.models.vae import GaussianVAE


@dataclass(frozen=True)
class VampPriorVAEConfig(ModelConfig):
    """``number_components`` is K, the pseudo-inputs of the prior (pythae's default 50;
    the paper's experiments use hundreds). ``kl_warmup_steps``: the KL weight grows linearly from 0 at step
    0 to 1 at this step (pythae's ``linear_scheduling_steps``, counted there in epochs);
    0, the default as in pythae, weighs the KL by 1 from the start."""

    number_components: int = 50
    kl_warmup_steps: int = 0

    def __post_init__(self):
        super().__post_init__()
        require(isinstance(self.number_components, int) and self.number_components >= 1,
                "number_components", "an integer ≥ 1", self.number_components)
        require(isinstance(self.kl_warmup_steps, int) and self.kl_warmup_steps >= 0,
                "kl_warmup_steps", "an integer ≥ 0", self.kl_warmup_steps)


def mixture_log_density(z: Tensor, means: Tensor, logvars: Tensor) -> Tensor:
    """log (1/K) Σ_k N(z; μ_k, diag σ_k²) for codes ``z`` ``(N, D)`` and K components
    ``means``, ``logvars`` ``(K, D)``: ``(N,)``, nats."""
    components = log_density_gaussian(z[:, None], means[None], logvars[None]).sum(2)
    return torch.logsumexp(components, 1) - math.log(means.shape[0])


def kl_weight(step: int, warmup_steps: int) -> float:
    """min(1, step / warmup_steps), or 1 without warm-up (``warmup_steps`` = 0)."""
    return 1.0 if warmup_steps == 0 else min(1.0, step / warmup_steps)


class VampPriorVAE(GaussianVAE):
    """recon + w·KL(q(z|x) ‖ VampPrior), the KL estimated at one posterior sample. Logs
    ``recon``, the Monte Carlo ``kl`` and ``elbo`` (with ``kl_weight`` during a warm-up)."""

    name = "vamp-vae"
    config_class = VampPriorVAEConfig
    capabilities = Capabilities(gaussian_posterior=True, standard_normal_prior=False,
                                representation="the posterior mean")

    def __init__(self, config: VampPriorVAEConfig, observation_shape: tuple[int, int, int]):
        super().__init__(config, observation_shape)
        self.pseudo_inputs = nn.Linear(config.number_components, math.prod(self.observation_shape))

    def pseudo_observations(self) -> Tensor:
        """The K pseudo-inputs u_k ``(K, C, H, W)`` in [0, 1]: hardtanh_[0,1](W e_k + b)."""
        layer = self.pseudo_inputs
        return F.hardtanh(layer.weight.T + layer.bias, 0.0, 1.0).view(-1, *self.observation_shape)

    def prior_components(self) -> tuple[Tensor, Tensor]:
        """Means and log-variances ``(K, latent_dim)`` of the prior's components q(z|u_k)."""
        return self.posterior(self.pseudo_observations())

    def log_prior(self, z: Tensor) -> Tensor:
        """log p(z) under the VampPrior for codes ``(N, latent_dim)``: ``(N,)``, nats."""
        return mixture_log_density(z, *self.prior_components())

    @torch.no_grad()
    def sample(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        """``num`` images ``(num, C, H, W)`` in [0, 1]: the mean of p(x|z) for z drawn from
        the prior (a uniformly chosen component k, then z ~ q(z|u_k))."""
        means, logvars = self.prior_components()
        k = torch.randint(means.shape[0], (num,), generator=generator).to(means.device)
        noise = torch.randn(num, self.latent_dim, generator=generator).to(means)
        return self.likelihood.mean(self.decode(means[k] + noise * (0.5 * logvars[k]).exp()))

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        mean, logvar = self.posterior(x)
        z = reparameterize(mean, logvar)
        kl = (log_density_gaussian(z, mean, logvar).sum(1) - self.log_prior(z)).mean()
        recon = self.recon(x, z)
        # pythae weighs the KL by 1 outside training
        weight = kl_weight(step, self.config.kl_warmup_steps) if self.training else 1.0
        terms = {"loss": recon + weight * kl, **elbo_terms(recon, kl)}
        if self.config.kl_warmup_steps:
            terms["kl_weight"] = kl.new_tensor(weight)
        return terms

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "kl": ("KL(q(z|x) ‖ p(z)) to the VampPrior p(z) = (1/K) Σ_k q(z|u_k), single-sample Monte Carlo "
                   "estimate log q(z|x) − log p(z) at the posterior sample z, batch mean, nats (unweighted)"),
            "elbo": "evidence lower bound −(recon + kl), its single-sample estimate, batch mean, nats",
            "kl_weight": "the KL's weight during the linear warm-up, min(1, step / kl_warmup_steps)",
        }
