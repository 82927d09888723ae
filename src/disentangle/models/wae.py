"""The Wasserstein autoencoder with an MMD penalty, WAE-MMD (Tolstikhin et al. 2018,
"Wasserstein Auto-Encoders", Algorithm 2), as pythae's WAE_MMD runs it.

A deterministic encoder z = E(x) and a decoder; the objective is

    recon + λ·MMD²_k(q(z), p(z)),   p(z) = N(0, I),

with MMD² estimated on the batch's codes z_1..z_n and as many prior draws z̃_1..z̃_n by
the unbiased estimator of Algorithm 2,

    1/(n(n−1)) Σ_{i≠j} k(z_i, z_j) + 1/(n(n−1)) Σ_{i≠j} k(z̃_i, z̃_j) − 2/n² Σ_{i,j} k(z_i, z̃_j),

and the inverse multiquadratics kernel summed over scales, as the paper's code and pythae:
k(a, b) = Σ_s C_s / (C_s + ‖a − b‖²), C_s = s·2·D·σ², σ² = 1 (the prior's variance), s in
(0.1, 0.2, 0.5, 1, 2, 5, 10). pythae's reconstruction is the squared error summed over
pixels, which is ``likelihood="gaussian"`` here with its default σ = 1/√2 (up to a
constant); the default likelihood stays the project's Bernoulli.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from disentangle.errors import InputError
from disentangle.models.autoencoders import DeterministicAutoencoder
from disentangle.models.base import Capabilities, ModelConfig, require
from disentangle.models.info_vae import squared_distances
from disentangle.models.noise import standard_normal_like

#: the IMQ kernel's scales s (pythae's and the WAE paper's code)
SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
KERNELS = ("imq", "rbf")


def imq_kernel(a: Tensor, b: Tensor, bandwidth: float = 1.0, scales: Sequence[float] = SCALES) -> Tensor:
    """Σ_s C_s / (C_s + ‖a_i − b_j‖²), C_s = s·2·D·σ², σ = ``bandwidth``, for rows of
    ``(N, D)`` and ``(M, D)``: ``(N, M)``."""
    distances = squared_distances(a, b)
    base = 2 * a.shape[1] * bandwidth**2
    return sum(scale * base / (scale * base + distances) for scale in scales)


def rbf_kernel(a: Tensor, b: Tensor, bandwidth: float = 1.0, scales: Sequence[float] = SCALES) -> Tensor:
    """pythae's RBF kernel exp(−‖a_i − b_j‖² / C), C = 2·D·σ² (one scale; ``scales`` unused): ``(N, M)``."""
    return torch.exp(-squared_distances(a, b) / (2 * a.shape[1] * bandwidth**2))


KERNEL_FUNCTIONS = {"imq": imq_kernel, "rbf": rbf_kernel}


def unbiased_mmd(a: Tensor, b: Tensor, kernel: str = "imq", bandwidth: float = 1.0,
                 scales: Sequence[float] = SCALES) -> Tensor:
    """The unbiased estimate of MMD² between samples ``a`` ``(N, D)`` and ``b`` ``(M, D)``
    (N, M ≥ 2): the within-sample means leave out the diagonals i = j; it can be
    negative when the two distributions are close."""
    k = KERNEL_FUNCTIONS[kernel]
    n, m = a.shape[0], b.shape[0]
    k_aa, k_bb = k(a, a, bandwidth, scales), k(b, b, bandwidth, scales)
    within_a = (k_aa.sum() - k_aa.diagonal().sum()) / (n * (n - 1))
    within_b = (k_bb.sum() - k_bb.diagonal().sum()) / (m * (m - 1))
    return within_a + within_b - 2 * k(a, b, bandwidth, scales).mean()


def _as_scales(value) -> tuple[float, ...] | None:
    """``scales`` as a tuple of floats (from a tuple, a list, or text "0.1,0.2"); None if it is none of those."""
    if isinstance(value, str):
        value = [part for part in value.replace("[", "").replace("]", "").split(",") if part.strip()]
    try:
        return tuple(float(scale) for scale in value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class WAEMMDConfig(ModelConfig):
    """``lam`` (λ > 0) weighs the MMD (pythae's ``reg_weight``, 3e-2); ``kernel`` is ``imq``
    (summed over ``scales``) or ``rbf``; ``kernel_bandwidth`` is σ, the prior's std (1)."""

    lam: float = 3e-2
    kernel: str = "imq"
    kernel_bandwidth: float = 1.0
    scales: tuple[float, ...] = SCALES

    def __post_init__(self):
        super().__post_init__()
        require(self.lam > 0, "lam", "> 0", self.lam)
        require(self.kernel in KERNELS, "kernel", f"one of {', '.join(KERNELS)}", self.kernel)
        require(self.kernel_bandwidth > 0, "kernel_bandwidth", "> 0", self.kernel_bandwidth)
        scales = _as_scales(self.scales)
        require(scales is not None and len(scales) >= 1 and all(scale > 0 for scale in scales),
                "scales", "a non-empty list of numbers > 0", self.scales)
        object.__setattr__(self, "scales", scales)


class WAEMMD(DeterministicAutoencoder):
    """recon + λ·MMD²(codes, N(0, I) draws), a deterministic encoder. Logs ``mmd``."""

    name = "wae-mmd"
    config_class = WAEMMDConfig
    capabilities = Capabilities(standard_normal_prior=True, representation="the deterministic code E(x)")

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        c = self.config
        if x.shape[0] < 2:
            raise InputError(f"--batch-size: {self.name}'s unbiased MMD needs at least 2 codes per batch, got {x.shape[0]}")
        z = self.encode(x)
        recon = self.recon(x, z)
        divergence = unbiased_mmd(z, standard_normal_like(z), c.kernel, c.kernel_bandwidth, c.scales)
        return {"loss": recon + c.lam * divergence, "recon": recon, "mmd": divergence}

    def term_descriptions(self) -> dict[str, str]:
        c = self.config
        kernel = (f"the inverse multiquadratics kernel summed over the scales {', '.join(f'{s:g}' for s in c.scales)}"
                  if c.kernel == "imq" else "the RBF kernel exp(−‖a − b‖²/(2Dσ²))")
        return {
            **super().term_descriptions(),
            "mmd": (f"unbiased estimate of MMD² between the batch's codes and as many N(0, I) draws, {kernel}, "
                    f"σ = {c.kernel_bandwidth:g}; it can be slightly negative; unweighted (the loss weighs it by λ)"),
        }
