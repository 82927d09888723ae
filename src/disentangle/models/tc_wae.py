"""TC-WAE (Gaujac, Feige & Barber 2021, "Learning disentangled representations with the
Wasserstein Autoencoder", ECML PKDD), as its reference code (benoitgaujac/diswae:
``models.py``'s ``TCWAE_MWS`` and ``TCWAE_GAN``, ``train.py``, ``run.py``) runs it.

A WAE with a Gaussian encoder whose latent divergence KL(q(z) ‖ p(z)) is split into the
total correlation of the aggregate posterior and the dimension-wise divergence, each
with its own weight (the paper's TC-WAE objective):

    recon + β·KL(q(z) ‖ ∏_d q(z_d)) + γ·KL(∏_d q(z_d) ‖ p(z))
          = recon + β·TC + γ·dimwise,   p = N(0, I)

(there is no KL(q(z|x) ‖ p(z)) term: q(z) alone is matched to the prior). Two variants
estimate the two terms:

- ``tc-wae-mws``: both by minibatch weighted sampling (Chen et al. 2018;
  ``tc_estimators.mws``), with the reference's normalisation log(N·M): its TC is high by
  about (D − 1)·log N and its dimwise low by about D·log N where posteriors overlap.
- ``tc-wae-gan``: both by the density-ratio trick with two discriminators as FactorVAE's:
  one tells codes z ~ q(z) from codes permuted dimension by dimension (~ ∏_d q(z_d)),
  TC ≈ E_q[logit₀ − logit₁]; the other tells permuted codes from prior draws,
  dimwise ≈ E_{∏q}[logit₀ − logit₁], its gradient reaching the encoder through the
  permuted codes. The discriminators minimise β·CE_TC + γ·CE_dimwise with one Adam
  (lr 1e-4, β₁ 0.5, β₂ 0.9), probabilities clipped to [1e-6, 1 − 1e-6].

Both log ``mmd``, the WAE's MMD between the codes and prior draws with the reference's
kernel (a sum of inverse multiquadrics over 7 scales, unbiased: ``wae.unbiased_mmd``, WAE-MMD's); the reference logs it
but leaves it out of the objective, and so does this model. As in the reference, the
encoder's second half of outputs r gives the variance σ² = softplus(r) (r clipped to
[−20, 500]), not the log-variance of the VAEs here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from disentangle.models.base import ModelConfig, Player, require
from disentangle.models.factor_vae import DISCRIMINATOR_BETAS, discriminator_accuracy, discriminator_loss, permute_dims
from disentangle.models.factor_vae import tc_estimate as density_ratio_estimate
from disentangle.models.gaussian import elbo_terms
from disentangle.models.noise import standard_normal_like
from disentangle.models.tc_estimators import kl_decomposition
from disentangle.models.vae import GaussianVAE
from disentangle.models.wae import unbiased_mmd
from disentangle.nets import CodeDiscriminator

#: the reference clips the encoder's variance outputs r to this range before σ² = softplus(r)
VARIANCE_CLIP = (-20.0, 500.0)
@dataclass(frozen=True)
class TCWAEConfig(ModelConfig):
    """``beta`` (β ≥ 0) weighs the total correlation, ``gamma`` (γ ≥ 0) the dimension-wise
    divergence; the defaults are the reference's dSprites runs of each variant
    (``sub/dsprites/mwsdsprites_run.sub``: β = 2, γ = 0.25; a ``run.py`` line of
    ``gandsprites_run.sub``, commented out there: β = 7.5, γ = 1). The reference's runs
    reconstruct with the squared error (``--cost l2sq``): ``likelihood="gaussian"`` (its
    σ = 1/√2 makes −log p(x|z) the squared error plus a constant); its ``run.py`` default
    is the cross-entropy, this project's ``bernoulli``."""

    beta: float = 2.0
    gamma: float = 0.25

    def __post_init__(self):
        super().__post_init__()
        require(self.beta >= 0, "beta", "≥ 0", self.beta)
        require(self.gamma >= 0, "gamma", "≥ 0", self.gamma)


@dataclass(frozen=True)
class TCWAEMWSConfig(TCWAEConfig):
    """``dataset_size`` is N, the number of training observations (default: the size of
    the dataset the run trains on, set when training starts and stored in config.json)."""

    dataset_size: int | None = None

    DATA_DERIVED: ClassVar = {"dataset_size": len}

    def __post_init__(self):
        super().__post_init__()
        require(
            self.dataset_size is None or (isinstance(self.dataset_size, int) and self.dataset_size >= 1),
            "dataset_size", "an integer ≥ 1", self.dataset_size,
        )


@dataclass(frozen=True)
class TCWAEGANConfig(TCWAEConfig):
    """``discriminator_learning_rate`` is the discriminators' Adam step size (the
    reference's 1e-4; it used 1e-5 on CelebA and 3D Chairs)."""

    beta: float = 7.5
    gamma: float = 1.0
    discriminator_learning_rate: float = 1e-4

    def __post_init__(self):
        super().__post_init__()
        require(self.discriminator_learning_rate > 0,
                "discriminator_learning_rate", "> 0", self.discriminator_learning_rate)


#: what both variants log beyond the ELBO's terms
_COMMON_DESCRIPTIONS = {
    "kl": ("KL(q(z|x) ‖ p(z)) summed over latent dimensions, analytic, batch mean, nats (logged only: the WAE's "
           "objective has no such term)"),
    "elbo": "−(recon + kl), batch mean, nats (logged only: the WAE does not maximise it)",
    "mmd": ("MMD between the batch's codes z and as many N(0, I) draws, the reference's WAE estimate (inverse "
            "multiquadric kernels summed over 7 scales, within-sample diagonals left out); logged only, not in the "
            "loss"),
}


class _TCWAE(GaussianVAE):
    """The encoder of both variants: the reference's Gaussian encoder, whose second half
    of outputs r gives the variance σ² = softplus(r), r clipped to [−20, 500]."""

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mean, raw = self.encoder(x).chunk(2, dim=1)
        return mean, F.softplus(raw.clamp(*VARIANCE_CLIP)).log()


class TCWAEMWS(_TCWAE):
    """recon + β·TC + γ·dimwise, both by minibatch weighted sampling. Logs ``tc_mws`` and
    ``dimwise_kl_mws`` (unweighted, nats) and ``mmd``."""

    name = "tc-wae-mws"
    config_class = TCWAEMWSConfig

    def regularizer(self, kl, kl_per_dim, mean, logvar, z, step):
        c = self.config
        require(c.dataset_size is not None, "dataset_size",
                "set (config.for_dataset(dataset) sets it to the training data's size)", None)
        terms = kl_decomposition(z, mean, logvar, c.dataset_size, "mws")
        return {
            "regularizer": c.beta * terms["tc"] + c.gamma * terms["dimwise_kl"],
            "tc_mws": terms["tc"],
            "dimwise_kl_mws": terms["dimwise_kl"],
            "mmd": unbiased_mmd(z.detach(), standard_normal_like(z)),
        }

    def term_descriptions(self) -> dict[str, str]:
        estimate = "minibatch weighted sampling estimate on each batch (normalised by log(N·M)), nats"
        return {
            **super().term_descriptions(),
            **_COMMON_DESCRIPTIONS,
            "tc_mws": (f"total correlation KL(q(z) ‖ ∏_d q(z_d)): {estimate}, high by about (D − 1)·log N; the loss "
                       "weighs it by β"),
            "dimwise_kl_mws": (f"dimension-wise KL(∏_d q(z_d) ‖ p(z)): {estimate}, low by about D·log N; the "
                               "loss weighs it by γ"),
        }


class TCWAEGAN(_TCWAE):
    """recon + β·TC + γ·dimwise, both by discriminators. Players: ``model`` (encoder and
    decoder, ``loss``) and ``discriminator`` (both discriminators, ``loss_discriminator``).
    Logs ``tc`` and ``dimwise_kl`` (the discriminators' estimates, nats), ``mmd``, each
    discriminator's cross-entropy and accuracy, and ``loss_discriminator``."""

    name = "tc-wae-gan"
    config_class = TCWAEGANConfig

    def __init__(self, config: TCWAEGANConfig, observation_shape: tuple[int, int, int]):
        super().__init__(config, observation_shape)
        self.tc_discriminator = CodeDiscriminator(config.latent_dim)
        self.dimwise_discriminator = CodeDiscriminator(config.latent_dim)

    def players(self) -> list[Player]:
        discriminators = (*self.tc_discriminator.parameters(), *self.dimwise_discriminator.parameters())
        return [
            Player("model", (*self.encoder.parameters(), *self.decoder.parameters())),
            Player("discriminator", discriminators, loss_key="loss_discriminator",
                   learning_rate=self.config.discriminator_learning_rate, betas=DISCRIMINATOR_BETAS),
        ]

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        c = self.config
        q = self.sample_posterior(x)
        recon = self.recon(x, q.z)
        prior = standard_normal_like(q.z)
        permuted_for_tc, permuted_for_dimwise = permute_dims(q.z), permute_dims(q.z)
        tc = density_ratio_estimate(self.tc_discriminator(q.z))
        dimwise = density_ratio_estimate(self.dimwise_discriminator(permuted_for_dimwise))

        tc_real, tc_permuted = self.tc_discriminator(torch.cat([q.z, permuted_for_tc]).detach()).chunk(2)
        dimwise_inputs = torch.cat([permuted_for_dimwise.detach(), prior])
        dim_permuted, dim_prior = self.dimwise_discriminator(dimwise_inputs).chunk(2)
        cross_entropy_tc = discriminator_loss(tc_real, tc_permuted)
        cross_entropy_dimwise = discriminator_loss(dim_permuted, dim_prior)
        return {
            "loss": recon + c.beta * tc + c.gamma * dimwise,
            **elbo_terms(recon, q.kl, q.kl_per_dim),
            "tc": tc,
            "dimwise_kl": dimwise,
            "mmd": unbiased_mmd(q.z.detach(), prior),
            "loss_discriminator": c.beta * cross_entropy_tc + c.gamma * cross_entropy_dimwise,
            "discriminator_tc_loss": cross_entropy_tc,
            "discriminator_dimwise_loss": cross_entropy_dimwise,
            "discriminator_tc_accuracy": discriminator_accuracy(tc_real.detach(), tc_permuted.detach()),
            "discriminator_dimwise_accuracy": discriminator_accuracy(dim_permuted.detach(), dim_prior.detach()),
        }

    def term_descriptions(self) -> dict[str, str]:
        estimate = ("the batch mean of its logit difference, nats (an estimate: negative while the discriminator "
                    "is poor)")
        return {
            **super().term_descriptions(),
            **_COMMON_DESCRIPTIONS,
            "tc": (f"total correlation KL(q(z) ‖ ∏_d q(z_d)) as the TC discriminator estimates it on the codes, "
                   f"{estimate}; the loss weighs it by β"),
            "dimwise_kl": ("dimension-wise KL(∏_d q(z_d) ‖ p(z)) as the dimension-wise discriminator estimates it on "
                           f"dimension-wise permuted codes, {estimate}; the loss weighs it by γ"),
            "loss_discriminator": ("β · discriminator_tc_loss + γ · discriminator_dimwise_loss, the discriminators' "
                                   "loss"),
            "discriminator_tc_loss": ("the TC discriminator's cross-entropy on codes (class 0) and permuted codes "
                                      "(class 1)"),
            "discriminator_dimwise_loss": ("the dimension-wise discriminator's cross-entropy on permuted codes "
                                           "(class 0) and N(0, I) draws (class 1)"),
            "discriminator_tc_accuracy": "share of codes and permuted codes the TC discriminator tells apart",
            "discriminator_dimwise_accuracy": ("share of permuted codes and prior draws the dimension-wise "
                                               "discriminator tells apart"),
        }
