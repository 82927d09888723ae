"""InfoVAE (Zhao et al. 2019, "InfoVAE: Balancing Learning and Inference in VAEs").

Maximises E log p(x|z) − (1 − α)·KL(q(z|x) ‖ p(z)) − (α + λ − 1)·D(q(z) ‖ p(z)) with
D the maximum mean discrepancy (the MMD-VAE); the model minimises its negative,
recon + (1 − α)·KL + (α + λ − 1)·MMD. α = 1, λ = 1 is the pure MMD-VAE.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from disentangle.models.base import ModelConfig, require
from disentangle.models.vae import GaussianVAE


def squared_distances(a: Tensor, b: Tensor) -> Tensor:
    """‖a_i − b_j‖² for rows of ``(N, D)`` and ``(M, D)``: ``(N, M)``."""
    return (a.square().sum(1, keepdim=True) + b.square().sum(1) - 2 * a @ b.T).clamp_min(0)


def rbf_kernel(a: Tensor, b: Tensor, bandwidth: float = 1.0) -> Tensor:
    """exp(−‖a − b‖² / (D·σ²)) for rows of ``(N, D)`` and ``(M, D)``: ``(N, M)``.

    σ = ``bandwidth`` = 1 is Zhao's kernel, exp(−‖a − b‖² / D).
    """
    return torch.exp(-squared_distances(a, b) / (a.shape[1] * bandwidth**2))


def imq_kernel(a: Tensor, b: Tensor, bandwidth: float = 1.0) -> Tensor:
    """Inverse multiquadric C / (C + ‖a − b‖²), C = 2·D·σ², σ = ``bandwidth``: ``(N, M)``."""
    c = 2 * a.shape[1] * bandwidth**2
    return c / (c + squared_distances(a, b))


KERNELS = {"rbf": rbf_kernel, "imq": imq_kernel}


def mmd(a: Tensor, b: Tensor, kernel: str = "rbf", bandwidth: float = 1.0) -> Tensor:
    """Biased (V-statistic) estimate of MMD² between the samples ``a`` and ``b`` ``(·, D)``:
    mean k(a, a) + mean k(b, b) − 2·mean k(a, b), diagonals included; ≥ 0."""
    k = KERNELS[kernel]
    return k(a, a, bandwidth).mean() + k(b, b, bandwidth).mean() - 2 * k(a, b, bandwidth).mean()


@dataclass(frozen=True)
class InfoVAEConfig(ModelConfig):
    """``alpha`` (≤ 1) trades the KL for mutual information, ``lam`` (λ > 0, with
    α + λ ≥ 1) weighs the divergence of q(z) from the prior; ``kernel`` is ``rbf`` or
    ``imq`` with bandwidth σ = ``kernel_bandwidth``. The defaults (α = 0, λ = 1000) keep
    the ELBO's KL and weigh the MMD, a quantity of order 1, against a reconstruction
    summed over pixels."""

    alpha: float = 0.0
    lam: float = 1000.0
    kernel: str = "rbf"
    kernel_bandwidth: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        require(self.alpha <= 1, "alpha", "≤ 1 (the KL weight 1 − α is ≥ 0)", self.alpha)
        require(self.lam > 0, "lam", "> 0", self.lam)
        mmd_weight = "≥ 1 − alpha (the MMD weight α + λ − 1 ≥ 0)"
        require(self.alpha + self.lam >= 1, "lam", mmd_weight, self.lam)
        require(self.kernel in KERNELS, "kernel", f"one of {', '.join(KERNELS)}", self.kernel)
        require(self.kernel_bandwidth > 0, "kernel_bandwidth", "> 0", self.kernel_bandwidth)


class InfoVAE(GaussianVAE):
    """recon + (1 − α)·KL + (α + λ − 1)·MMD(q(z) ‖ N(0, I)), the MMD between the batch's
    posterior samples z and as many prior samples. Logs ``mmd`` (biased MMD²)."""

    name = "info-vae"
    config_class = InfoVAEConfig

    def regularizer(self, kl, kl_per_dim, mean, logvar, z, step):
        c = self.config
        divergence = mmd(z, torch.randn_like(z), c.kernel, c.kernel_bandwidth)
        return {"regularizer": (1 - c.alpha) * kl + (c.alpha + c.lam - 1) * divergence, "mmd": divergence}

    def term_descriptions(self) -> dict[str, str]:
        c = self.config
        return {
            **super().term_descriptions(),
            "mmd": ("biased (V-statistic) estimate of MMD² between the batch's posterior samples z and as many "
                    f"N(0, I) draws, {c.kernel} kernel of bandwidth {c.kernel_bandwidth:g}, ≥ 0, unweighted (the "
                    "loss weighs it by α + λ − 1)"),
        }
