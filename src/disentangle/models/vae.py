"""The Gaussian-posterior VAE family: VAE, β-VAE and the capacity-annealed β-VAE.

All share one model, ``GaussianVAE``: an encoder giving the mean and log-variance of
q(z|x) = N(μ, diag σ²), the reparameterised sample z = μ + σ·ε, a decoder for
p(x|z), and the standard normal prior. Subclasses differ only in ``regularizer``,
the term added to the reconstruction loss (disentanglement_lib's single hook), so two
objectives are compared by comparing two short functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from disentangle.models.base import Capabilities, Model, ModelConfig, require
from disentangle.models.gaussian import elbo_terms, gaussian_kl_per_dim, reparameterize


@dataclass
class PosteriorSample:
    """One pass through q(z|x) for a batch: its mean and log-variance ``(N, D)``, a
    reparameterised sample ``z`` ``(N, D)`` and the batch-mean KL per dimension ``(D,)``."""

    mean: Tensor
    logvar: Tensor
    z: Tensor
    kl_per_dim: Tensor

    @property
    def kl(self) -> Tensor:
        """KL(q(z|x) ‖ N(0, I)) summed over dimensions, batch mean (nats)."""
        return self.kl_per_dim.sum()


class GaussianVAE(Model):
    """A VAE with a diagonal Gaussian posterior; ``regularizer`` is its objective's hook."""

    capabilities = Capabilities(gaussian_posterior=True, standard_normal_prior=True,
                                representation="the posterior mean")

    def __init__(self, config: ModelConfig, observation_shape: tuple[int, int, int]):
        super().__init__(config, observation_shape)
        self.encoder = self.make_encoder(2 * config.latent_dim)
        self.decoder = self.make_decoder(config.latent_dim)

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-variance of q(z|x), each ``(N, latent_dim)``."""
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar

    def encode(self, x: Tensor) -> Tensor:
        return self.posterior(x)[0]

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def sample_posterior(self, x: Tensor) -> PosteriorSample:
        """Encode ``x``, draw z ~ q(z|x) and compute the KL to the prior."""
        mean, logvar = self.posterior(x)
        return PosteriorSample(mean, logvar, reparameterize(mean, logvar), gaussian_kl_per_dim(mean, logvar).mean(0))

    def recon(self, x: Tensor, z: Tensor) -> Tensor:
        """−log p(x|z) summed over pixels, batch mean (nats)."""
        return -self.likelihood.log_prob(x, self.decoder(z)).mean()

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        q = self.sample_posterior(x)
        recon, kl = self.recon(x, q.z), q.kl
        terms = self.regularizer(kl, q.kl_per_dim, q.mean, q.logvar, q.z, step)
        return {"loss": recon + terms.pop("regularizer"), **elbo_terms(recon, kl, q.kl_per_dim), **terms}

    def regularizer(
        self, kl: Tensor, kl_per_dim: Tensor, mean: Tensor, logvar: Tensor, z: Tensor, step: int
    ) -> dict[str, Tensor]:
        """``{"regularizer": term added to recon, **extra terms to log}``.

        ``kl`` is the batch-mean KL (nats), ``kl_per_dim`` its ``(D,)`` split; ``mean``,
        ``logvar`` and the sample ``z`` are ``(N, D)``; ``step`` is the training step.
        """
        return {"regularizer": kl}


class VAE(GaussianVAE):
    """Kingma & Welling 2014: recon + KL(q(z|x) ‖ N(0, I))."""

    name = "vae"
    packable_settings = ()


@dataclass(frozen=True)
class BetaVAEConfig(ModelConfig):
    """β multiplies the KL. β > 1 is Higgins et al. 2017; β < 1 is meaningful too: the
    InfoMax reading, β = 1/(1+λ), weighs mutual information against independence."""

    beta: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        require(self.beta > 0, "beta", "> 0", self.beta)


class BetaVAE(GaussianVAE):
    """Higgins et al. 2017: recon + β·KL."""

    name = "beta-vae"
    config_class = BetaVAEConfig
    packable_settings = ("beta",)

    def regularizer(self, kl, kl_per_dim, mean, logvar, z, step):
        return {"regularizer": self.config.beta * kl}


@dataclass(frozen=True)
class AnnealedVAEConfig(ModelConfig):
    """Burgess et al. 2018: the capacity C grows linearly from 0 to ``c_max`` nats,
    reached at step ``iteration_threshold``; ``gamma`` weighs |KL − C|."""

    gamma: float = 1000.0
    c_max: float = 25.0
    iteration_threshold: int = 100_000

    def __post_init__(self):
        super().__post_init__()
        require(self.gamma > 0, "gamma", "> 0", self.gamma)
        require(self.c_max >= 0, "c_max", "≥ 0", self.c_max)
        require(self.iteration_threshold >= 1, "iteration_threshold", "≥ 1", self.iteration_threshold)


def capacity(step: int, c_max: float | Tensor, iteration_threshold: int) -> float | Tensor:
    """C(step) = min(c_max, c_max · step / iteration_threshold), in nats (a tensor when
    ``c_max`` is one: a packed group's 0-d value)."""
    growing = c_max * step / iteration_threshold
    return torch.minimum(growing, c_max) if torch.is_tensor(c_max) else min(c_max, growing)


class AnnealedVAE(GaussianVAE):
    """Burgess et al. 2018 (dlib's AnnealedVAE): recon + γ·|KL − C(step)|."""

    name = "annealed-vae"
    config_class = AnnealedVAEConfig
    packable_settings = ("gamma", "c_max")

    def regularizer(self, kl, kl_per_dim, mean, logvar, z, step):
        c = capacity(step, self.config.c_max, self.config.iteration_threshold)
        return {"regularizer": self.config.gamma * (kl - c).abs(), "capacity": c if torch.is_tensor(c) else kl.new_tensor(c)}

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "capacity": ("the capacity C(step) = min(c_max, c_max · step / iteration_threshold), the target the loss's "
                         "γ·|kl − C| pulls kl towards, nats"),
        }
