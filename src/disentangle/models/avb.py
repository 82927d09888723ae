"""Adversarial Variational Bayes (Mescheder et al. 2017, "Adversarial Variational Bayes:
Unifying Variational Autoencoders and Generative Adversarial Networks").

The encoder is implicit: z = f(x, ε), with ε ~ N(0, I) given to the encoder net as
``noise_channels`` extra image channels, so q(z|x) has no closed form and its KL to
the prior cannot be computed. An adversary T(x, z) learns it instead, by logistic
regression of pairs (x, z ~ q(z|x)) (label 1) against (x, z ~ p(z)) (label 0)
(eq. 3.3); its optimum is T*(x, z) = log q(z|x) − log p(z) (Proposition 1). Encoder
and decoder maximise E_x E_{q(z|x)}[log p(x|z) − T(x, z)] (eq. 3.4), i.e. minimise
``recon`` + ``kl``, where ``kl`` = E[T(x, z)] is the adversary's estimate of
KL(q(z|x) ‖ p(z)) in nats, averaged over the batch.

The representation (``encode``) is the noise-free encoding f(x, 0): deterministic,
and for an encoder that learns f(x, ε) = μ(x) + σ(x)·ε exactly the posterior mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from disentangle.models.base import Capabilities, Model, ModelConfig, Player, require
from disentangle.models.gaussian import elbo_terms
from disentangle.models.vae_gan import DISCRIMINATOR_BETAS
from disentangle.nets.adversarial import FEATURES, PairDiscriminator


@dataclass(frozen=True)
class AVBConfig(ModelConfig):
    """``noise_channels``: channels of ε ~ N(0, I) concatenated to the image at the
    encoder's input; ``adversary_learning_rate``: the adversary's Adam step size."""

    noise_channels: int = 1
    adversary_learning_rate: float = 1e-4

    def __post_init__(self):
        super().__post_init__()
        require(isinstance(self.noise_channels, int) and self.noise_channels >= 1,
                "noise_channels", "an integer ≥ 1", self.noise_channels)
        rate = self.adversary_learning_rate
        require(rate > 0, "adversary_learning_rate", "> 0", rate)


class AVB(Model):
    """Players ``model`` (encoder and decoder, ``loss``) and ``adversary``
    (``loss_adversary``, the logistic-regression cross-entropy in nats)."""

    name = "avb"
    config_class = AVBConfig
    capabilities = Capabilities(standard_normal_prior=True, representation="the noise-free encoding f(x, 0)")

    def __init__(self, config: AVBConfig, observation_shape: tuple[int, int, int]):
        super().__init__(config, observation_shape)
        channels, height, width = self.observation_shape
        encoder_input = (channels + config.noise_channels, height, width)
        self.encoder = self.make_encoder(config.latent_dim, encoder_input)
        self.decoder = self.make_decoder(config.latent_dim)
        self.adversary = PairDiscriminator(self.make_encoder(FEATURES), config.latent_dim)

    def players(self) -> list[Player]:
        return [
            Player("model", (*self.encoder.parameters(), *self.decoder.parameters())),
            Player(
                "adversary", tuple(self.adversary.parameters()), loss_key="loss_adversary",
                learning_rate=self.config.adversary_learning_rate, betas=DISCRIMINATOR_BETAS,
            ),
        ]

    def implicit_encoder(self, x: Tensor, noise: Tensor) -> Tensor:
        """z = f(x, ε) ``(N, latent_dim)`` for noise ε ``(N, noise_channels, H, W)``."""
        return self.encoder(torch.cat([x, noise], dim=1))

    def posterior_sample(self, x: Tensor) -> Tensor:
        """z ~ q(z|x): the encoder with fresh noise ε ~ N(0, I)."""
        shape = (x.shape[0], self.config.noise_channels, *x.shape[2:])
        noise = torch.randn(shape, dtype=x.dtype, device=x.device)
        return self.implicit_encoder(x, noise)

    def encode(self, x: Tensor) -> Tensor:
        noise = x.new_zeros(x.shape[0], self.config.noise_channels, *x.shape[2:])
        return self.implicit_encoder(x, noise)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        z_q = self.posterior_sample(x)
        z_p = torch.randn_like(z_q)
        t_q, t_p = self.adversary(torch.cat([x, x]), torch.cat([z_q, z_p])).chunk(2)
        recon = -self.likelihood.log_prob(x, self.decoder(z_q)).mean()
        kl = t_q.mean()
        adversary = (
            F.binary_cross_entropy_with_logits(t_q, torch.ones_like(t_q))
            + F.binary_cross_entropy_with_logits(t_p, torch.zeros_like(t_p))
        )
        return {"loss": recon + kl, "loss_adversary": adversary, **elbo_terms(recon, kl)}

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "kl": ("the adversary's estimate E[T(x, z)] of KL(q(z|x) ‖ p(z)), z ~ q(z|x), batch mean, nats (exact "
                   "only at the adversary's optimum; it can be negative)"),
            "elbo": "−(recon + kl) with the adversary's kl, batch mean, nats: an estimate, not a guaranteed bound",
            "loss_adversary": ("the adversary's logistic-regression cross-entropy, pairs (x, z ~ q(z|x)) labelled 1 "
                               "and (x, z ~ p(z)) labelled 0, the sum of the two batch means, nats"),
        }
