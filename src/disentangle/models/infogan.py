"""InfoGAN (Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by
Information Maximizing Generative Adversarial Nets").

The generator G(c, z) reads ``latent_dim`` continuous codes c ~ Unif(−1, 1), optional
``categorical_codes`` one-hot codes of ``categories`` values each (uniform), and
``noise_dim`` noise z ~ N(0, I); its net is the run's decoder net, and its images are
sigmoid(G), in [0, 1] and shaped like the observations. The discriminator D has a
second head Q(c|x) on the same body (section 5): a factored Gaussian for each
continuous code (std 1 with ``q_std="fixed"``, as the authors' code, or learned) and
a softmax for each categorical code.

Terms, in nats and averaged over the batch:

- ``mi`` = L_I(G, Q) = E[log Q(c|G(c, z))] + H(c) ≤ I(c; G(c, z)) (eq. 5), summed over
  codes; H(c) is log 2 per continuous code and log K per categorical one;
- ``gan_discriminator``: D's cross-entropy on real (label 1) against generated (0);
- ``gan_generator``: the non-saturating −log D(G(c, z)) of Goodfellow et al. 2014.

Eq. 6, min_{G,Q} max_D V(D, G) − λ·L_I, is played by two players, as in the authors'
code: ``generator`` (G and the Q head) minimises ``gan_generator`` − λ·``mi`` and
``discriminator`` (the shared body and the D head) minimises ``gan_discriminator`` −
λ·``mi``, so the body learns features that Q can read the codes from.

``encode(x)`` is the Q head's mean of the continuous codes ``(N, latent_dim)``;
``decode(c)`` is G with every other input at its prior mean: z = 0 and each
categorical input the uniform vector 1/K.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from disentangle.models.base import Capabilities, Model, ModelConfig, Player, require
from disentangle.models.gaussian import LOG_2PI
from disentangle.nets.adversarial import FEATURES, Discriminator

Q_STDS = ("fixed", "learned")
#: Adam (β1, β2) of both players (Radford et al. 2016, used by Chen et al.)
GAN_BETAS = (0.5, 0.999)


@dataclass(frozen=True)
class InfoGANConfig(ModelConfig):
    """``latent_dim`` continuous codes (the representation); ``categorical_codes`` codes
    of ``categories`` values; ``noise_dim`` noise inputs; ``lam`` is λ, the weight of the
    MI bound; ``q_std`` is ``fixed`` (σ = 1) or ``learned``; the learning rates are
    Chen et al.'s (generator 1e-3, discriminator 2e-4). ``likelihood`` only chooses the
    sigmoid that maps G's output to images (both families use it)."""

    noise_dim: int = 62
    categorical_codes: int = 0
    categories: int = 10
    lam: float = 1.0
    q_std: str = "fixed"
    generator_learning_rate: float = 1e-3
    discriminator_learning_rate: float = 2e-4

    def __post_init__(self):
        super().__post_init__()
        for option, least in (("noise_dim", 0), ("categorical_codes", 0), ("categories", 2)):
            value = getattr(self, option)
            require(isinstance(value, int) and value >= least, option, f"an integer ≥ {least}", value)
        require(self.lam >= 0, "lam", "≥ 0", self.lam)
        require(self.q_std in Q_STDS, "q_std", f"one of {', '.join(Q_STDS)}", self.q_std)
        for option in ("generator_learning_rate", "discriminator_learning_rate"):
            require(getattr(self, option) > 0, option, "> 0", getattr(self, option))


class InfoGAN(Model):
    """Players ``generator`` (G and Q, ``loss``) and ``discriminator``
    (``loss_discriminator``)."""

    name = "infogan"
    config_class = InfoGANConfig
    capabilities = Capabilities(representation="the Q head's mean of the continuous codes")

    def __init__(self, config: InfoGANConfig, observation_shape: tuple[int, int, int]):
        super().__init__(config, observation_shape)
        self.categorical_dim = config.categorical_codes * config.categories
        inputs = config.latent_dim + self.categorical_dim + config.noise_dim
        self.generator = self.make_decoder(inputs)
        q_outputs = config.latent_dim * (2 if config.q_std == "learned" else 1) + self.categorical_dim
        self.discriminator = Discriminator(self.make_encoder(FEATURES), {"logit": 1, "q": q_outputs})

    def players(self) -> list[Player]:
        d, config = self.discriminator, self.config
        return [
            Player(
                "generator", (*self.generator.parameters(), *d.heads["q"].parameters()),
                learning_rate=config.generator_learning_rate, betas=GAN_BETAS,
            ),
            Player(
                "discriminator", (*d.body.parameters(), *d.heads["logit"].parameters()),
                loss_key="loss_discriminator", learning_rate=config.discriminator_learning_rate, betas=GAN_BETAS,
            ),
        ]

    def sample_codes(
        self, num: int, device: torch.device | str = "cpu", generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Draws from the priors: continuous c ``(num, latent_dim)``, categorical values
        ``(num, categorical_codes)`` (int) and noise z ``(num, noise_dim)``."""
        config, where = self.config, {"device": device, "generator": generator}
        c = 2 * torch.rand(num, config.latent_dim, **where) - 1
        categorical = torch.randint(config.categories, (num, config.categorical_codes), **where)
        return c, categorical, torch.randn(num, config.noise_dim, **where)

    def generate(self, c: Tensor, categorical: Tensor, noise: Tensor) -> Tensor:
        """G's output (sigmoid logits) ``(N, C, H, W)``; ``categorical`` is one-hot or a
        distribution per code, ``(N, categorical_codes, categories)``."""
        return self.generator(torch.cat([c, categorical.flatten(1), noise], dim=1))

    def q(self, q_head: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Q's parameters from its head's output: continuous means and log-stds
        ``(N, latent_dim)`` (zeros when fixed), categorical logits ``(N, codes, K)``."""
        config, d = self.config, self.config.latent_dim
        mean = q_head[:, :d]
        log_std = q_head[:, d : 2 * d] if config.q_std == "learned" else torch.zeros_like(mean)
        logits = q_head[:, q_head.shape[1] - self.categorical_dim :]
        return mean, log_std, logits.reshape(len(q_head), config.categorical_codes, config.categories)

    def mutual_information(self, q_head: Tensor, c: Tensor, categorical: Tensor) -> Tensor:
        """L_I = E[log Q(c|x)] + H(c) in nats, summed over codes, averaged over the batch."""
        mean, log_std, logits = self.q(q_head)
        log_q = (-0.5 * ((c - mean) / log_std.exp()).square() - log_std - 0.5 * LOG_2PI).sum(1)
        log_q = log_q + logits.log_softmax(2).gather(2, categorical[:, :, None]).squeeze(2).sum(1)
        config = self.config
        entropy = config.latent_dim * math.log(2) + config.categorical_codes * math.log(config.categories)
        return log_q.mean() + entropy

    def encode(self, x: Tensor) -> Tensor:
        return self.discriminator(x)[1]["q"][:, : self.config.latent_dim]

    def decode(self, z: Tensor) -> Tensor:
        config, batch = self.config, z.shape[0]
        categorical = z.new_full((batch, config.categorical_codes, config.categories), 1 / config.categories)
        return self.generate(z, categorical, z.new_zeros(batch, config.noise_dim))

    @torch.no_grad()
    def sample(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        """``num`` generated images ``(num, C, H, W)`` in [0, 1], codes and noise from their priors."""
        device = next(self.parameters()).device
        c, categorical, noise = (t.to(device) for t in self.sample_codes(num, generator=generator))
        one_hot = F.one_hot(categorical, self.config.categories).to(c.dtype)
        return self.likelihood.mean(self.generate(c, one_hot, noise))

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        c, categorical, noise = self.sample_codes(x.shape[0], x.device)
        one_hot = F.one_hot(categorical, self.config.categories).to(x.dtype)
        fake = self.likelihood.mean(self.generate(c, one_hot, noise))
        _, heads = self.discriminator(torch.cat([x, fake]))
        logit_real, logit_fake = heads["logit"].squeeze(1).chunk(2)
        mi = self.mutual_information(heads["q"][x.shape[0] :], c, categorical)
        gan_discriminator = (
            F.binary_cross_entropy_with_logits(logit_real, torch.ones_like(logit_real))
            + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake))
        )
        gan_generator = F.binary_cross_entropy_with_logits(logit_fake, torch.ones_like(logit_fake))
        lam = self.config.lam
        return {
            "loss": gan_generator - lam * mi,
            "loss_discriminator": gan_discriminator - lam * mi,
            "mi": mi,
            "gan_generator": gan_generator,
            "gan_discriminator": gan_discriminator,
        }

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "mi": ("L_I = E[log Q(c|G(c, z))] + H(c), the lower bound on I(c; G(c, z)), summed over codes, batch mean, "
                   "nats (differential entropies: can be negative; with q_std fixed each continuous code adds at "
                   "most log 2 − ½ log 2π ≈ −0.23)"),
            "gan_generator": "the generator's non-saturating GAN loss −log D(G(c, z)), batch mean, nats",
            "gan_discriminator": ("D's cross-entropy on real (label 1) and generated (label 0) images, the sum of the "
                                  "two batch means, nats"),
            "loss_discriminator": "the discriminator's loss, gan_discriminator − λ·mi",
        }
