"""The adversarial autoencoder, AAE (Makhzani et al. 2016, "Adversarial Autoencoders",
Section 2), as pythae's Adversarial_AE runs it.

An encoder q(z|x) (Gaussian, z = μ + σ·ε, with no KL term; ``aae-deterministic``: z = E(x))
and a decoder; a discriminator D(z) (pythae's: one hidden layer of 256 ReLU units, one
logit) learns to tell prior draws z̃ ~ p(z) = N(0, I) ("real") from codes z ~ q(z)
("fake"), and the encoder learns to fool it. With σ(·) the logistic function:

- the discriminator minimises −mean log σ(D(z̃)) − mean log(1 − σ(D(z))), on codes
  detached from the encoder (``loss_discriminator``);
- encoder and decoder minimise recon + ½·(−mean log σ(D(z))) (``loss``): the
  non-saturating generator term of pythae (its ``adversarial_loss_scale`` ½), not the
  minimax log(1 − σ(D(z))).

Both players step on one forward pass (``Model.players``), as pythae's AdversarialTrainer
(the discriminator's Adam: lr 1e-4, torch's default β). The cross-entropies are taken on
logits, the stable equivalent of pythae's sigmoid output and ``binary_cross_entropy``.
pythae's reconstruction is ½·squared error summed over pixels (``likelihood="gaussian"``
with σ = 1 here); the default likelihood stays Bernoulli.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from disentangle.models.base import Capabilities, Model, ModelConfig, Player, require
from disentangle.models.gaussian import reparameterize
from disentangle.models.noise import standard_normal_like
from disentangle.nets import CodeDiscriminator

#: the discriminator's Adam (β1, β2): pythae's (torch's defaults)
DISCRIMINATOR_BETAS = (0.9, 0.999)
#: pythae's Discriminator_MLP: latent → 256 ReLU → 1
DISCRIMINATOR_HIDDEN = 256


def discriminator_loss(logits_prior: Tensor, logits_codes: Tensor) -> Tensor:
    """−mean log σ(D(z̃)) − mean log(1 − σ(D(z))): the cross-entropy of prior draws
    (label 1) and codes (label 0), from ``(N,)`` logits; the sum of the two batch means."""
    return (F.binary_cross_entropy_with_logits(logits_prior, torch.ones_like(logits_prior))
            + F.binary_cross_entropy_with_logits(logits_codes, torch.zeros_like(logits_codes)))


def generator_loss(logits_codes: Tensor) -> Tensor:
    """The non-saturating generator term −mean log σ(D(z)) (codes labelled "prior")."""
    return F.binary_cross_entropy_with_logits(logits_codes, torch.ones_like(logits_codes))


def discriminator_accuracy(logits_prior: Tensor, logits_codes: Tensor) -> Tensor:
    """The share of prior draws with a positive logit and of codes with a negative one (each ½)."""
    return 0.5 * ((logits_prior > 0).float().mean() + (logits_codes < 0).float().mean())


@dataclass(frozen=True)
class AAEConfig(ModelConfig):
    """``adversarial_weight`` (in [0, 1], pythae's ``adversarial_loss_scale`` ½) weighs the
    generator term; ``discriminator_learning_rate`` is the discriminator's Adam step size
    (pythae's 1e-4; encoder and decoder use the run's)."""

    adversarial_weight: float = 0.5
    discriminator_learning_rate: float = 1e-4

    def __post_init__(self):
        super().__post_init__()
        require(0 <= self.adversarial_weight <= 1, "adversarial_weight", "in [0, 1]", self.adversarial_weight)
        require(self.discriminator_learning_rate > 0,
                "discriminator_learning_rate", "> 0", self.discriminator_learning_rate)


class AAE(Model):
    """Gaussian encoder q(z|x) = N(μ, diag σ²), no KL, a code discriminator against N(0, I).
    Players ``model`` (encoder and decoder, ``loss``) and ``discriminator``
    (``loss_discriminator``). Logs ``adversarial`` (the generator term) and
    ``discriminator_accuracy``."""

    name = "aae"
    config_class = AAEConfig
    capabilities = Capabilities(gaussian_posterior=True, standard_normal_prior=True,
                                representation="the posterior mean μ(x)")

    def __init__(self, config: AAEConfig, observation_shape: tuple[int, int, int]):
        super().__init__(config, observation_shape)
        self.encoder = self.make_encoder(self.encoder_outputs)
        self.decoder = self.make_decoder(config.latent_dim)
        self.discriminator = CodeDiscriminator(config.latent_dim, hidden=DISCRIMINATOR_HIDDEN, layers=1,
                                               out_features=1, negative_slope=0.0)

    @property
    def encoder_outputs(self) -> int:
        return 2 * self.latent_dim

    def players(self) -> list[Player]:
        return [
            Player("model", (*self.encoder.parameters(), *self.decoder.parameters())),
            Player(
                "discriminator", tuple(self.discriminator.parameters()), loss_key="loss_discriminator",
                learning_rate=self.config.discriminator_learning_rate, betas=DISCRIMINATOR_BETAS,
            ),
        ]

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-variance of q(z|x), each ``(N, latent_dim)``."""
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar

    def encode(self, x: Tensor) -> Tensor:
        return self.posterior(x)[0]

    def sample_code(self, x: Tensor) -> Tensor:
        """z ~ q(z|x), reparameterised."""
        return reparameterize(*self.posterior(x))

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        z = self.sample_code(x)
        recon = -self.likelihood.log_prob(x, self.decoder(z)).mean()
        adversarial = generator_loss(self.discriminator(z).squeeze(1))
        prior = standard_normal_like(z)
        logits_prior, logits_codes = self.discriminator(torch.cat([prior, z.detach()])).squeeze(1).chunk(2)
        return {
            "loss": recon + self.config.adversarial_weight * adversarial,
            "recon": recon,
            "adversarial": adversarial,
            "loss_discriminator": discriminator_loss(logits_prior, logits_codes),
            "discriminator_accuracy": discriminator_accuracy(logits_prior.detach(), logits_codes.detach()),
        }

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "recon": "reconstruction error −log p(x|z), z ~ q(z|x), summed over pixels, batch mean, nats",
            "adversarial": ("the encoder's non-saturating adversarial term −mean log σ(D(z)) on the batch's codes, "
                            "nats, unweighted (the loss weighs it by adversarial_weight)"),
            "loss_discriminator": ("the discriminator's cross-entropy, N(0, I) draws labelled real and the codes "
                                   "fake, the sum of the two batch means, nats"),
            "discriminator_accuracy": "share of prior draws and codes the discriminator tells apart",
        }


class DeterministicAAE(AAE):
    """The AAE with a deterministic encoder z = E(x) (pythae's ``deterministic_posterior``)."""

    name = "aae-deterministic"
    capabilities = Capabilities(standard_normal_prior=True, representation="the deterministic code E(x)")

    @property
    def encoder_outputs(self) -> int:
        return self.latent_dim

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return Model.posterior(self, x)

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def sample_code(self, x: Tensor) -> Tensor:
        return self.encoder(x)
