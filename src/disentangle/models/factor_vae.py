"""FactorVAE (Kim & Mnih 2018, "Disentangling by Factorising"), as dlib's FactorVAE.

The model minimises recon + KL + γ·TC, where the total correlation
TC(q(z)) = KL(q(z) ‖ q̄(z)), q̄(z) = ∏_j q(z_j), is estimated by a discriminator D
trained to tell codes z ~ q(z) from codes z̃ ~ q̄(z), obtained by permuting each
dimension of a batch of codes independently across the batch (Kim & Mnih, Alg. 1).

Convention (dlib's): D returns 2 logits per code, index 0 = "z drawn from q(z)",
index 1 = "z permuted". With softmax probabilities D(z)₀ = 1 − D(z)₁, the density
ratio trick gives log q(z)/q̄(z) ≈ log D(z)₀/D(z)₁ = logit₀ − logit₁, so
TC ≈ E_q[logit₀(z) − logit₁(z)] in nats.

The discriminator minimises −½·E log D(z)₀ − ½·E log D(z̃)₁ (probabilities clipped to
[1e-6, 1 − 1e-6], dlib's ``make_discriminator``) on codes detached from the encoder,
with its own Adam optimizer (default lr 1e-4; β₁ 0.5, β₂ 0.9). Both updates come from one
forward pass (see ``Model.players``). ``tc_batch`` chooses where z̃ comes from: the
same batch as z (``same``, dlib's) or a second, independent batch (``second``, the
paper's Algorithm 1; the model then receives 2 × batch_size observations per step).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from disentangle.data import ImageDataset
from disentangle.errors import InputError
from disentangle.models.base import Batch, ModelConfig, Player, require
from disentangle.models.gaussian import elbo_terms, reparameterize
from disentangle.models.vae import GaussianVAE
from disentangle.nets import CodeDiscriminator

TC_BATCHES = ("same", "second")
#: the discriminator's Adam (β1, β2): dlib's shared.gin (docs/references.md, D1); Kim &
#: Mnih 2018's Appendix A is cited there for the discriminator's layers only (K3)
DISCRIMINATOR_BETAS = (0.5, 0.9)
#: dlib clips the discriminator's probabilities to [PROBABILITY_CLIP, 1 − PROBABILITY_CLIP]
PROBABILITY_CLIP = 1e-6


def permute_dims(z: Tensor) -> Tensor:
    """z̃: each column of ``z`` ``(N, D)`` permuted independently across the batch.

    If the rows of ``z`` are samples of q(z), the rows of z̃ are (approximately)
    samples of ∏_j q(z_j) (Kim & Mnih, Alg. 1; dlib's ``shuffle_codes``).
    """
    order = torch.rand(z.shape, device=z.device).argsort(dim=0)
    return z.gather(0, order)


def tc_estimate(logits: Tensor) -> Tensor:
    """The discriminator's TC estimate E[logit₀ − logit₁] (nats) from ``(N, 2)`` logits of z ~ q(z)."""
    return (logits[:, 0] - logits[:, 1]).mean()


def discriminator_loss(logits_real: Tensor, logits_permuted: Tensor) -> Tensor:
    """−½·mean log D(z)₀ − ½·mean log D(z̃)₁: the cross-entropy of ``(N, 2)`` logits of
    codes z ~ q(z) (class 0) and permuted codes z̃ (class 1), probabilities clipped as dlib."""
    p_real = logits_real.softmax(1).clamp(PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    p_permuted = logits_permuted.softmax(1).clamp(PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    return -0.5 * (p_real[:, 0].log().mean() + p_permuted[:, 1].log().mean())


def discriminator_accuracy(logits_real: Tensor, logits_permuted: Tensor) -> Tensor:
    """The fraction of codes classified right: z as class 0, z̃ as class 1 (each set weighted ½)."""
    right_real = (logits_real.argmax(1) == 0).float().mean()
    right_permuted = (logits_permuted.argmax(1) == 1).float().mean()
    return 0.5 * (right_real + right_permuted)


@dataclass(frozen=True)
class FactorVAEConfig(ModelConfig):
    """``gamma`` (γ > 0) weighs the TC estimate (Locatello's grid: 10, 20, 30, 40, 50,
    100); ``tc_batch`` is ``same`` (dlib's) or ``second`` (Kim & Mnih's) — where the
    permuted codes come from; ``discriminator_learning_rate`` is the discriminator's
    Adam step size (Kim & Mnih's and dlib's 1e-4; the encoder and decoder use the run's)."""

    gamma: float = 10.0
    tc_batch: str = "same"
    discriminator_learning_rate: float = 1e-4

    def __post_init__(self):
        super().__post_init__()
        require(self.gamma > 0, "gamma", "> 0", self.gamma)
        require(self.tc_batch in TC_BATCHES, "tc_batch", f"one of {', '.join(TC_BATCHES)}", self.tc_batch)
        require(self.discriminator_learning_rate > 0,
                "discriminator_learning_rate", "> 0", self.discriminator_learning_rate)


class FactorVAE(GaussianVAE):
    """recon + KL + γ·TC with an adversarial TC estimate. Players: ``model`` (encoder and
    decoder, ``loss``) and ``discriminator`` (``loss_discriminator``). Logs ``tc`` (the
    discriminator's estimate, nats), ``loss_discriminator`` and ``discriminator_accuracy``
    (on the codes and the permuted codes of the step).

    It overrides ``loss`` rather than the ``regularizer`` hook: the discriminator's
    terms need the codes of the batch, and in ``second`` mode those of another batch.
    """

    name = "factor-vae"
    config_class = FactorVAEConfig

    def __init__(self, config: FactorVAEConfig, observation_shape: tuple[int, int, int]):
        super().__init__(config, observation_shape)
        self.discriminator = CodeDiscriminator(config.latent_dim)

    def sample_batch(self, dataset: ImageDataset, batch_size: int, generator: torch.Generator) -> Batch:
        """With ``tc_batch="second"``, two blocks of ``batch_size`` uniform draws: the VAE's
        batch and the batch whose codes are permuted."""
        if self.config.tc_batch == "same":
            return super().sample_batch(dataset, batch_size, generator)
        return Batch(dataset.observations(dataset.sample_indices(2 * batch_size, generator)), blocks=2)

    def players(self) -> list[Player]:
        return [
            Player("model", (*self.encoder.parameters(), *self.decoder.parameters())),
            Player(
                "discriminator", tuple(self.discriminator.parameters()), loss_key="loss_discriminator",
                learning_rate=self.config.discriminator_learning_rate, betas=DISCRIMINATOR_BETAS,
            ),
        ]

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        """With ``tc_batch="second"``, ``x`` holds two batches: the first half is the VAE's
        batch, the second half only supplies the codes that are permuted."""
        if self.config.tc_batch == "second":
            if x.shape[0] % 2:
                raise InputError(f"--tc-batch second: expected an even batch (two halves), got {x.shape[0]}")
            x, x_other = x.chunk(2)
        q = self.sample_posterior(x)
        recon = self.recon(x, q.z)
        tc = tc_estimate(self.discriminator(q.z))

        real = q.z.detach()
        if self.config.tc_batch == "second":
            with torch.no_grad():
                other = reparameterize(*self.posterior(x_other))
        else:
            other = real
        logits_real, logits_permuted = self.discriminator(torch.cat([real, permute_dims(other)])).chunk(2)
        return {
            "loss": recon + q.kl + self.config.gamma * tc,
            **elbo_terms(recon, q.kl, q.kl_per_dim),
            "tc": tc,
            "loss_discriminator": discriminator_loss(logits_real, logits_permuted),
            "discriminator_accuracy": discriminator_accuracy(logits_real.detach(), logits_permuted.detach()),
        }

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "tc": ("total correlation of q(z) as the discriminator estimates it, the batch mean of its "
                   "logit difference log D(z)₀/D(z)₁, nats (an estimate: negative while the discriminator is poor)"),
            "loss_discriminator": "the discriminator's cross-entropy on real and permuted codes",
            "discriminator_accuracy": "share of real and permuted codes the discriminator tells apart",
        }
