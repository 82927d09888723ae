"""Triplet VAEs trained on triplets of observations (anchor, positive, negative) drawn from
the ground-truth factors, as disent's ``TripletVae`` and adaptive triplet VAE (Michlo et
al., disent: ``disent/frameworks/vae/_supervised__tvae.py``,
``_supervised__adaneg_tvae.py``; losses in ``disent/nn/loss/triplet.py``).

Each step draws ``batch_size`` triplets (``sample_triplets``: disent's
``GroundTruthTripleSampler`` with its defaults, the sampler disent's experiment configs
choose for a triplet framework on factor data), and each factor of a positive lies no
further from the anchor's than the negative's does. All 3·batch_size images go through
the β-VAE, and a triplet loss on the posterior means μ is added to its loss:

    loss = recon + β·KL + triplet_scale · C·H·W · T,
    T = mean over triplets of max(0, ‖μ_a − μ_p‖_p − ‖Δ_n‖_p + margin),

recon and KL averaged over the three images (disent's averaging over its observations);
Δ_n = μ_a − μ_n for the TVAE. The adaptive variant (Ada-TVAE, disent's ``AdaNegTripletVae``,
which replaced its deprecated ``AdaTripletVae``) scales down the latents the anchor and the
negative are taken to share, δ_j = |μ_a,j − μ_n,j| < ½(max_j δ_j + min_j δ_j) (disent's
``ada_thresh_mode="dist"``, ``ada_thresh_ratio=0.5``; the Ada-GVAE's threshold):
Δ_n,j = s·(μ_a,j − μ_n,j) on those latents (s = ``share_scale``, 0.95) and μ_a,j − μ_n,j on
the others, so that the triplet pushes the negative away only along the latents where it
differs. With s = 0 this is the deprecated ``AdaTripletVae``'s default loss
(``triplet_hard_neg_ave``: the shared latents of the pair averaged, their difference 0).

Scales: disent averages recon over pixels and KL over latents (its ``loss_reduction:
mean``) and adds ``triplet_scale``·T to them; here recon and KL are sums, as in every model,
so the triplet term is multiplied by the C·H·W pixels to keep disent's balance between it and
the reconstruction. β is this library's (a sum-KL weight, default 1 as the β-VAE): disent's
experiment default 0.0316 on its mean-KL equals β = 0.0316·C·H·W / latent_dim here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from disentangle.data import FactorDataset, ImageDataset
from disentangle.errors import InputError
from disentangle.models.base import Batch, ModelConfig, require
from disentangle.models.vae import GaussianVAE
from disentangle.models.weak import adaptive_shared_latents

#: the norms of the triplet distance disent offers (its ``triplet_p``)
TRIPLET_NORMS = (1, 2)


def _uniform_below(counts: Tensor, generator: torch.Generator) -> Tensor:
    """int64 values uniform in 0 … count − 1 for each entry of ``counts`` (int64, ≥ 1)."""
    values = (torch.rand(counts.shape, generator=generator, dtype=torch.float64) * counts).long()
    return torch.minimum(values, counts - 1)


def sample_triplets(
    factors_num_values: list[int], num_triplets: int, generator: torch.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``num_triplets`` (anchor, positive, negative) factor vectors, as disent's
    ``GroundTruthTripleSampler`` with its defaults (``p_k_range=(0, -1)``,
    ``n_k_range=(0, -1)``, ``n_k_sample_mode="bounded_below"``, ``n_k_is_shared=True``,
    both radius ranges ``(0, -1)`` with ``"bounded_below"``, no swaps):

    - the anchor is uniform over the grid;
    - p_k, the factors the positive redraws, is uniform in 0 … K (K: every factor), and n_k
      uniform in p_k … K; the K − p_k factors the positive keeps are a uniformly random
      subset, and the negative keeps the first K − n_k of them (in a random order);
    - a redrawn factor of the positive is uniform over its values, at distance r from the
      anchor's; the negative's is uniform over the values at distance ≥ r from the anchor's
      (r from the positive's draw, also for the factors the positive then keeps).

    So for every factor |anchor − positive| ≤ |anchor − negative|: the positive is no further
    from the anchor in each factor, in Manhattan distance and in the number of factors that
    differ (ties, e.g. p_k = n_k = 0, are allowed, as in disent). Every random number comes
    from ``generator``, the same count each call, so a resumed run draws the same triplets.
    Returns three int64 ``(num_triplets, num_factors)`` arrays.
    """
    sizes = torch.as_tensor(factors_num_values, dtype=torch.int64).expand(num_triplets, -1)
    num_factors = sizes.shape[1]
    anchor = _uniform_below(sizes, generator)
    p_k = _uniform_below(torch.full((num_triplets,), num_factors + 1), generator)
    n_k = p_k + _uniform_below(num_factors + 1 - p_k, generator)
    order = torch.rand(num_triplets, num_factors, generator=generator).argsort(1).argsort(1)  # the kept ones first
    kept_positive = order < (num_factors - p_k)[:, None]
    kept_negative = order < (num_factors - n_k)[:, None]

    fresh_positive = _uniform_below(sizes, generator)
    radius = (anchor - fresh_positive).abs()
    # the negative's values at distance ≥ r: 0 … a − r, then a + r … size − 1 (every value when r = 0)
    below = (anchor - radius + 1).clamp(min=0)
    above_start = torch.minimum(anchor + radius + (radius == 0).long(), sizes)
    offset = _uniform_below(below + sizes - above_start, generator)
    fresh_negative = torch.where(offset < below, offset, above_start + offset - below)

    positive = torch.where(kept_positive, anchor, fresh_positive)
    negative = torch.where(kept_negative, anchor, fresh_negative)
    return anchor.numpy(), positive.numpy(), negative.numpy()


def triplet_loss(positive_delta: Tensor, negative_delta: Tensor, margin: float, p: int) -> Tensor:
    """disent's ``dist_triplet_loss``: mean over rows of max(0, ‖positive_delta‖_p −
    ‖negative_delta‖_p + margin), from ``(N, D)`` differences (anchor − positive, anchor − negative)."""
    distance_positive = torch.linalg.vector_norm(positive_delta, ord=p, dim=-1)
    distance_negative = torch.linalg.vector_norm(negative_delta, ord=p, dim=-1)
    return (distance_positive - distance_negative + margin).clamp(min=0).mean()


def adaptive_negative_delta(anchor: Tensor, negative: Tensor, share_scale: float) -> tuple[Tensor, Tensor]:
    """(Δ_n ``(N, D)``, shared bool ``(N, D)``): μ_a − μ_n scaled by ``share_scale`` on the
    latents the pair is taken to share (|μ_a,j − μ_n,j| below the midpoint of its extremes), as
    disent's ``AdaNegTripletVae`` (``triplet_hard_neg_ave_scaled``)."""
    delta = anchor - negative
    shared = adaptive_shared_latents(delta.detach().abs())
    return torch.where(shared, share_scale * delta, delta), shared


@dataclass(frozen=True)
class TripletVAEConfig(ModelConfig):
    """``beta`` weighs the KL (this library's sum convention, as the β-VAE); the triplet
    settings are disent's configs' (``framework/tvae.yaml``): ``triplet_margin`` 1 (its
    ``triplet_margin_max``), ``triplet_scale`` 0.1 (the weight relative to the per-pixel
    reconstruction error, see the module), ``triplet_p`` 1 (the L1 distance)."""

    beta: float = 1.0
    triplet_margin: float = 1.0
    triplet_scale: float = 0.1
    triplet_p: int = 1

    def __post_init__(self):
        super().__post_init__()
        require(self.beta > 0, "beta", "> 0", self.beta)
        require(self.triplet_margin >= 0, "triplet_margin", "≥ 0", self.triplet_margin)
        require(self.triplet_scale >= 0, "triplet_scale", "≥ 0", self.triplet_scale)
        require(self.triplet_p in TRIPLET_NORMS, "triplet_p", "1 or 2", self.triplet_p)


@dataclass(frozen=True)
class AdaTripletVAEConfig(TripletVAEConfig):
    """``share_scale`` s ∈ [0, 1] multiplies the anchor–negative difference on the latents
    taken as shared (disent's ``adat_triplet_share_scale``, 0.95; 0: the deprecated
    ``AdaTripletVae``'s default)."""

    share_scale: float = 0.95

    def __post_init__(self):
        super().__post_init__()
        require(0 <= self.share_scale <= 1, "share_scale", "in [0, 1]", self.share_scale)


class TripletVAE(GaussianVAE):
    """TVAE (disent's ``TripletVae``): recon + β·KL + triplet_scale·C·H·W·T on the posterior
    means. Its batches are three blocks: the anchors, the positives, the negatives. Logs
    ``triplet`` (T)."""

    name = "tvae"
    config_class = TripletVAEConfig

    def check_dataset(self, dataset: ImageDataset) -> None:
        """Triplets are drawn from ground-truth factors."""
        if not isinstance(dataset, FactorDataset):
            raise InputError(
                f"--data: {self.name} trains on triplets drawn by their factors and needs a dataset with "
                f"ground-truth factors (e.g. dsprites), got '{dataset.name}'"
            )

    def sample_batch(self, dataset: ImageDataset, batch_size: int, generator: torch.Generator) -> Batch:
        """``batch_size`` triplets as three blocks (every anchor, every positive, every negative);
        nuisance factors (SmallNORB's instance) are drawn for each image."""
        self.check_dataset(dataset)
        triplets = sample_triplets(list(dataset.factors_num_values), batch_size, generator)
        indices = np.concatenate([dataset.draw_indices_of(factors, generator) for factors in triplets])
        return Batch(dataset.observations(indices), blocks=3)

    def triplet_terms(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> dict[str, Tensor]:
        """``{"triplet_objective": the T the loss weighs, **terms to log}`` from the means ``(N, D)``."""
        triplet = triplet_loss(anchor - positive, anchor - negative, self.config.triplet_margin, self.config.triplet_p)
        return {"triplet_objective": triplet, "triplet": triplet}

    def regularizer(self, kl, kl_per_dim, mean, logvar, z, step):
        terms = self.triplet_terms(*mean.chunk(3))
        weight = self.config.triplet_scale * math.prod(self.observation_shape)
        return {"regularizer": self.config.beta * kl + weight * terms.pop("triplet_objective"), **terms}

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "recon": ("−log p(x|z) summed over pixels, averaged over the anchors, positives and negatives of the "
                      "batch, nats"),
            "kl": ("KL(q(z|x) ‖ p(z)) summed over latent dimensions, analytic, averaged over the anchors, positives "
                   "and negatives, nats"),
            "elbo": "−(recon + kl), averaged over the three images of each triplet, nats",
            "triplet": ("the triplet loss on the posterior means, max(0, ‖μ_a − μ_p‖ − ‖μ_a − μ_n‖ + margin) "
                        "averaged over the triplets, in latent units (the loss adds triplet_scale·C·H·W times it)"),
        }


class AdaTripletVAE(TripletVAE):
    """Ada-TVAE (disent's ``AdaNegTripletVae``): the TVAE whose triplet scales the anchor–negative
    difference by ``share_scale`` on the latents the two are taken to share. Logs ``triplet``
    (the plain TVAE triplet, for comparison), ``ada_triplet`` (the one the loss weighs) and
    ``shared_latents``."""

    name = "ada-tvae"
    config_class = AdaTripletVAEConfig

    def triplet_terms(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> dict[str, Tensor]:
        margin, p = self.config.triplet_margin, self.config.triplet_p
        negative_delta, shared = adaptive_negative_delta(anchor, negative, self.config.share_scale)
        ada = triplet_loss(anchor - positive, negative_delta, margin, p)
        return {
            "triplet_objective": ada,
            "ada_triplet": ada,
            "triplet": triplet_loss(anchor - positive, anchor - negative, margin, p).detach(),
            "shared_latents": shared.sum(1).float().mean(),
        }

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "triplet": ("the plain triplet loss on the posterior means, max(0, ‖μ_a − μ_p‖ − ‖μ_a − μ_n‖ + margin) "
                        "averaged over the triplets, in latent units; logged for comparison, not in the loss"),
            "ada_triplet": ("the adaptive triplet loss, max(0, ‖μ_a − μ_p‖ − ‖Δ_n‖ + margin) averaged over the "
                            "triplets, Δ_n = μ_a − μ_n scaled by share_scale on the shared latents, in latent units "
                            "(the loss adds triplet_scale·C·H·W times it)"),
            "shared_latents": ("the number of latents the anchor and the negative are taken to share, "
                               "|μ_a,j − μ_n,j| below ½(max + min) over j, mean over triplets"),
        }
