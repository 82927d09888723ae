"""IWAE (Burda et al. 2016, "Importance Weighted Autoencoders").

The VAE's nets and Gaussian posterior, trained on the k-sample importance-weighted
bound (eq. 8)

    L_k(x) = E_{z_1..z_k ~ q(z|x)} log (1/k) Σ_i w_i,   w_i = p(x|z_i) p(z_i) / q(z_i|x),

which equals the ELBO for k = 1 and satisfies log p(x) ≥ L_{k+1} ≥ L_k (Theorem 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from disentangle.models.base import ModelConfig, require
from disentangle.models.gaussian import LOG_2PI, elbo_terms, gaussian_kl_per_dim
from disentangle.models.vae import GaussianVAE


def importance_weighted_bound(log_w: Tensor) -> Tensor:
    """log (1/k) Σ_i w_i over the last dimension of ``log_w`` (its size is k): the k-sample
    bound of each row, e.g. ``(N, k)`` → ``(N,)``."""
    return torch.logsumexp(log_w, -1) - math.log(log_w.shape[-1])


@dataclass(frozen=True)
class IWAEConfig(ModelConfig):
    """``num_samples`` is k, the importance samples per observation (paper: 1, 5, 50)."""

    num_samples: int = 5

    def __post_init__(self):
        super().__post_init__()
        require(isinstance(self.num_samples, int) and self.num_samples >= 1,
                "num_samples", "an integer ≥ 1", self.num_samples)


class IWAE(GaussianVAE):
    """loss = −L_k averaged over the batch (nats). Logs ``iwae_bound`` (L_k), ``elbo``
    (the mean of log w_i, the ELBO estimated from the same samples), ``recon`` (−log
    p(x|z_i) averaged over samples) and the analytic ``kl`` and ``kl_per_dim``."""

    name = "iwae"
    config_class = IWAEConfig

    def log_weights(self, x: Tensor, mean: Tensor, logvar: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
        """(log w ``(N, k)``, log p(x|z) ``(N, k)``) at z = μ + σ·noise, ``noise`` ``(N, k, D)``."""
        batch, samples = noise.shape[:2]
        z = mean[:, None] + (0.5 * logvar).exp()[:, None] * noise
        repeated = x[:, None].expand(batch, samples, *x.shape[1:]).flatten(0, 1)
        log_px = self.likelihood.log_prob(repeated, self.decoder(z.flatten(0, 1))).view(batch, samples)
        log_pz = -0.5 * (z.square() + LOG_2PI).sum(2)
        log_qz = -0.5 * (noise.square() + logvar[:, None] + LOG_2PI).sum(2)
        return log_px + log_pz - log_qz, log_px

    def sample_log_weights(self, x: Tensor, num_samples: int) -> tuple[Tensor, dict[str, Tensor]]:
        """log w ``(N, num_samples)`` of as many draws z_i ~ q(z|x) per observation, and the
        terms every bound of this family logs from them: ``recon`` (−log p(x|z_i) averaged
        over the draws and the batch), the analytic ``kl`` and ``kl_per_dim``, and ``elbo``
        (the mean of log w)."""
        mean, logvar = self.posterior(x)
        batch, latent = mean.shape
        noise = torch.randn(batch, num_samples, latent, dtype=mean.dtype, device=mean.device)
        log_w, log_px = self.log_weights(x, mean, logvar, noise)
        kl_per_dim = gaussian_kl_per_dim(mean, logvar).mean(0)
        return log_w, {**elbo_terms(-log_px.mean(), kl_per_dim.sum(), kl_per_dim), "elbo": log_w.mean()}

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        log_w, terms = self.sample_log_weights(x, self.config.num_samples)
        bound = importance_weighted_bound(log_w).mean()
        return {"loss": -bound, "iwae_bound": bound, **terms}

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "recon": ("−log p(x|z_i) summed over pixels, averaged over the k samples z_i ~ q(z|x) and the batch, "
                      "nats"),
            "elbo": ("the ELBO estimated from the same k samples: log w_i averaged over them and the batch, nats "
                     "(≤ iwae_bound)"),
            "iwae_bound": ("the k-sample bound L_k = log (1/k) Σ_i w_i, w_i = p(x|z_i) p(z_i) / q(z_i|x), batch mean, "
                           "nats; the loss is −iwae_bound"),
        }
