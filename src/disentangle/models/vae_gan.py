"""VAE-GAN (Larsen et al. 2016, "Autoencoding beyond pixels using a learned similarity metric").

A VAE whose reconstruction error is measured in the features Dis_l of a GAN
discriminator instead of pixels. With x̃ = Dec(z), z ~ q(z|x), and X_p = Dec(z_p),
z_p ~ N(0, I), the terms are (eqs. 8–10, all in nats, averaged over the batch):

- L_prior = KL(q(z|x) ‖ N(0, I)), summed over latents (``kl``);
- L_llike = −log N(Dis_l(x); Dis_l(x̃), I) = ½‖Dis_l(x) − Dis_l(x̃)‖², summed over the
  features, without the constant (F/2)·log 2π, which only shifts a density in a
  feature space that the discriminator keeps changing (``llike``);
- L_GAN = the discriminator's cross-entropy on x (real) against x̃ and X_p (fake)
  (``gan``), which the discriminator minimises.

Algorithm 1: the encoder minimises L_prior + L_llike, the decoder γ·L_llike − L_GAN,
the discriminator L_GAN; each player's optimizer steps on the gradient of its own
loss only, all from one forward pass. Dis_l is the discriminator's last hidden layer
(see ``nets.adversarial.Discriminator``). The pixel ``recon`` of x̃ is logged for
comparison with the other models; it is no player's loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from disentangle.models.base import ModelConfig, Player, require
from disentangle.models.gaussian import elbo_terms
from disentangle.models.vae import GaussianVAE
from disentangle.nets.adversarial import FEATURES, Discriminator

#: Adam (β1, β2) of discriminators, disentanglement_lib's (Locatello et al. 2019)
DISCRIMINATOR_BETAS = (0.5, 0.9)


@dataclass(frozen=True)
class VAEGANConfig(ModelConfig):
    """``gamma`` is γ, the weight of L_llike against L_GAN in the decoder's loss;
    ``discriminator_learning_rate`` is the discriminator's Adam step size (the encoder
    and decoder use the run's)."""

    gamma: float = 1.0
    discriminator_learning_rate: float = 1e-4

    def __post_init__(self):
        super().__post_init__()
        require(self.gamma > 0, "gamma", "> 0", self.gamma)
        require(self.discriminator_learning_rate > 0,
                "discriminator_learning_rate", "> 0", self.discriminator_learning_rate)


class VAEGAN(GaussianVAE):
    """Players ``encoder`` (``loss``), ``decoder`` (``loss_decoder``) and
    ``discriminator`` (``loss_discriminator``). ``encode`` is the posterior mean."""

    name = "vae-gan"
    config_class = VAEGANConfig

    def __init__(self, config: VAEGANConfig, observation_shape: tuple[int, int, int]):
        super().__init__(config, observation_shape)
        self.discriminator = Discriminator(self.make_encoder(FEATURES), {"logit": 1})

    def players(self) -> list[Player]:
        return [
            Player("encoder", tuple(self.encoder.parameters())),
            Player("decoder", tuple(self.decoder.parameters()), loss_key="loss_decoder"),
            Player(
                "discriminator", tuple(self.discriminator.parameters()), loss_key="loss_discriminator",
                learning_rate=self.config.discriminator_learning_rate, betas=DISCRIMINATOR_BETAS,
            ),
        ]

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        q = self.sample_posterior(x)
        x_tilde = self.decoder(q.z)
        x_p = self.decoder(torch.randn_like(q.z))
        images = torch.cat([x, self.likelihood.mean(x_tilde), self.likelihood.mean(x_p)])
        features, heads = self.discriminator(images)
        f_x, f_tilde, _ = features.chunk(3)
        logit_x, logit_tilde, logit_p = heads["logit"].squeeze(1).chunk(3)

        llike = 0.5 * (f_x - f_tilde).square().sum(1).mean()
        gan = (
            F.binary_cross_entropy_with_logits(logit_x, torch.ones_like(logit_x))
            + F.binary_cross_entropy_with_logits(logit_tilde, torch.zeros_like(logit_tilde))
            + F.binary_cross_entropy_with_logits(logit_p, torch.zeros_like(logit_p))
        )
        pixel_recon = -self.likelihood.log_prob(x, x_tilde).detach().mean()
        return {
            "loss": q.kl + llike,
            "loss_decoder": self.config.gamma * llike - gan,
            "loss_discriminator": gan,
            **elbo_terms(pixel_recon, q.kl, q.kl_per_dim),
            "llike": llike,
            "gan": gan,
        }

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "recon": ("pixel reconstruction error −log p(x|z) of x̃ = Dec(z), z ~ q(z|x), summed over pixels, batch "
                      "mean, nats; logged for comparison, no player's loss"),
            "elbo": ("−(recon + kl) with the pixel recon, batch mean, nats: the pixel-space ELBO, which no player "
                     "maximises"),
            "llike": ("L_llike = ½‖Dis_l(x) − Dis_l(x̃)‖² summed over the discriminator's features, batch mean: "
                      "−log N(Dis_l(x); Dis_l(x̃), I) without its constant, nats"),
            "gan": ("L_GAN, the discriminator's cross-entropy on x (real) and on x̃ and X_p = Dec(z_p) (fake), the sum "
                    "of the three batch means, nats"),
            "loss_decoder": "the decoder's loss, γ·llike − gan",
            "loss_discriminator": "the discriminator's loss, gan",
        }
