"""DIP-VAE (Kumar et al. 2018, "Variational Inference of Disentangled Latent Concepts
from Unlabeled Observations"), as dlib's DIPVAE.

Both types push a covariance C of the aggregate posterior towards the identity:
KL + λ_od Σ_{i≠j} C_ij² + λ_d Σ_i (C_ii − 1)², with λ_d = ``lambda_d_factor``·λ_od.
Type I uses C = Cov_x[μ(x)] (eq. 6), type II C = E_x[diag σ²(x)] + Cov_x[μ(x)] (eq. 7),
the covariance of q(z) itself. Covariances are the batch's, normalised by N (dlib's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from disentangle.models.base import ModelConfig, require
from disentangle.models.vae import GaussianVAE


def covariance(mean: Tensor) -> Tensor:
    """Cov[μ] over the batch, E[μμᵀ] − E[μ]E[μ]ᵀ (normalised by N): ``(D, D)`` from ``(N, D)``."""
    centred = mean - mean.mean(0)
    return centred.T @ centred / mean.shape[0]


def dip_terms(cov: Tensor) -> tuple[Tensor, Tensor]:
    """The unweighted penalties Σ_{i≠j} C_ij² and Σ_i (C_ii − 1)² of a ``(D, D)`` matrix."""
    diagonal = torch.diagonal(cov)
    off_diagonal = cov - torch.diag(diagonal)
    return off_diagonal.square().sum(), (diagonal - 1).square().sum()


@dataclass(frozen=True)
class DIPVAEConfig(ModelConfig):
    """``lambda_od`` weighs the off-diagonal entries, ``lambda_d_factor``·``lambda_od``
    the diagonal ones (dlib's parameterisation; Locatello's grid: λ_od ∈ {1, 2, 5, 10,
    20, 50}, factor 10 for type I and 1 for type II)."""

    lambda_od: float = 10.0
    lambda_d_factor: float = 10.0

    def __post_init__(self):
        super().__post_init__()
        require(self.lambda_od > 0, "lambda_od", "> 0", self.lambda_od)
        require(self.lambda_d_factor >= 0, "lambda_d_factor", "≥ 0", self.lambda_d_factor)


@dataclass(frozen=True)
class DIPVAEIIConfig(DIPVAEConfig):
    """Type II's default diagonal weight is λ_d = λ_od (dlib's)."""

    lambda_d_factor: float = 1.0


class DIPVAEI(GaussianVAE):
    """DIP-VAE-I: KL + DIP penalty on C = Cov[μ]. Logs ``dip_off_diagonal`` and
    ``dip_diagonal`` (the unweighted sums) and ``dip`` (their weighted total)."""

    name = "dip-vae-i"
    config_class = DIPVAEConfig
    packable_settings = ("lambda_od", "lambda_d_factor")
    #: what the matrix C of ``dip_covariance`` is, for ``term_descriptions``
    covariance_description: ClassVar[str] = "Cov[μ(x)], the batch covariance of the posterior means (normalised by N)"

    def dip_covariance(self, mean: Tensor, logvar: Tensor) -> Tensor:
        """The ``(D, D)`` matrix pushed towards the identity."""
        return covariance(mean)

    def regularizer(self, kl, kl_per_dim, mean, logvar, z, step):
        off_diagonal, diagonal = dip_terms(self.dip_covariance(mean, logvar))
        lambda_od = self.config.lambda_od
        dip = lambda_od * off_diagonal + self.config.lambda_d_factor * lambda_od * diagonal
        return {
            "regularizer": kl + dip,
            "dip": dip,
            "dip_off_diagonal": off_diagonal,
            "dip_diagonal": diagonal,
        }

    def term_descriptions(self) -> dict[str, str]:
        c = self.covariance_description
        return {
            **super().term_descriptions(),
            "dip": ("the penalty the loss adds to kl, λ_od·dip_off_diagonal + λ_d·dip_diagonal, "
                    "λ_d = lambda_d_factor·λ_od"),
            "dip_off_diagonal": f"Σ_{{i≠j}} C_ij², unweighted, each pair counted twice, C = {c}",
            "dip_diagonal": f"Σ_i (C_ii − 1)², unweighted, C = {c}",
        }


class DIPVAEII(DIPVAEI):
    """DIP-VAE-II: the same penalty on C = E[diag σ²] + Cov[μ]."""

    name = "dip-vae-ii"
    config_class = DIPVAEIIConfig
    covariance_description = "E[diag σ²(x)] + Cov[μ(x)], the batch covariance of q(z) (normalised by N)"

    def dip_covariance(self, mean: Tensor, logvar: Tensor) -> Tensor:
        return torch.diag(logvar.exp().mean(0)) + covariance(mean)
