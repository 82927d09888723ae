"""Weakly supervised VAEs trained on pairs of observations that share some factors
(Locatello et al. 2020, "Weakly-Supervised Disentanglement Without Compromises"; dlib's
``methods/weak``).

Each training example is a pair (x₁, x₂) whose factor vectors agree on all factors but
a few (``sample_pairs``: dlib's dynamics by default). Both images go through the same
encoder. For every latent j that the pair is taken to share, both posteriors q(z_j|x₁)
and q(z_j|x₂) are replaced by one aggregate of the two; the other latents keep their own.
Then each image is decoded from a sample of its (partly aggregated) posterior, and

    loss = ½ (recon₁ + recon₂) + β · ½ (KL₁ + KL₂),

KL_i being KL(q̃(z|x_i) ‖ N(0, I)) of the aggregated posterior (nats, summed over latents,
batch mean), as dlib's ``GroupVAEBase`` and ``MLVae``.

Aggregations (per latent, of N(μ₁, σ₁²) and N(μ₂, σ₂²)):

- ``average`` (Group-VAE, Hosoya 2019): N(½(μ₁ + μ₂), ½(σ₁² + σ₂²));
- ``product`` (ML-VAE, Bouchacourt et al. 2018): the product of the two experts, mean
  (μ₁/σ₁² + μ₂/σ₂²) / (1/σ₁² + 1/σ₂²), with dlib's variance 2σ₁²σ₂² / (σ₁² + σ₂²)
  (the harmonic mean of the variances: twice the product's, so that two identical
  posteriors aggregate to themselves).

Which latents are shared:

- known (``group-vae``, ``ml-vae``; dlib's ``*Labels``): the loop passes the pair's
  labelled factors (with dlib's dynamics the last one redrawn; with ``exact-k`` every one
  that changed), and latent j stands for factor j: the latents of the labelled factors
  keep their own posteriors, every other latent is shared (so ``latent_dim`` ≥ the number
  of factors);
- adaptive (``ada-gvae``, ``ada-ml-vae``; dlib's ``*Argmax``): with δ_j = KL(q(z_j|x₁) ‖
  q(z_j|x₂)), the latents with δ_j < τ = ½ (max_j δ_j + min_j δ_j) are shared (the
  paper's threshold; dlib's two equal-width bins over [min δ, max δ]). When every δ_j is
  equal nothing lies below τ and no latent is shared.

``encode`` is the posterior mean of one observation, as for every VAE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from disentangle.data import FactorDataset, ImageDataset
from disentangle.errors import InputError
from disentangle.models.base import Batch, ModelConfig, require
from disentangle.models.gaussian import elbo_terms, gaussian_kl_per_dim, reparameterize
from disentangle.models.vae import GaussianVAE


#: how a pair's second factor vector is drawn from its first (``PairVAEConfig.dynamics``)
DYNAMICS = ("dlib", "exact-k")


def sample_pairs(
    factors_num_values: list[int], num_pairs: int, k: int, generator: torch.Generator, dynamics: str = "dlib"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``num_pairs`` pairs of factor vectors and, per pair, the factors the known variants
    are told changed. The first vector of a pair is uniform over the grid.

    - ``dlib`` (dlib's ``simple_dynamics``, Locatello et al. 2020): k' is ``k`` or, for
      ``k = -1``, uniform in 1 … K − 1 (K = every factor, as dlib's ``num_factors``); then
      1 or k' factors, each with probability ½, are drawn without replacement and each
      takes a fresh uniform value, which may equal the old one. The label is the last
      factor drawn only (dlib's ``return_index``), whether or not its value changed. On
      dSprites 7.5 % of pairs differ in no factor, 58 % in one, 1.54 on average.
    - ``exact-k``: exactly k factors differ (k = -1: uniform in 1 … K − 1 per pair, K the
      factors that take more than one value), chosen uniformly, each taking one of its
      other values; every one of them is labelled.

    Every random number comes from ``generator``, the same count each call, so that a
    resumed run draws the same pairs. Returns ``(first, second, labelled)``: int64
    ``(num_pairs, num_factors)`` twice and a bool mask of the same shape.
    """
    if dynamics not in DYNAMICS:
        raise InputError(f"dynamics: expected one of {', '.join(DYNAMICS)}, got {dynamics!r}")
    sizes = torch.as_tensor(factors_num_values, dtype=torch.int64)
    variable = sizes > 1
    # dlib counts every factor; exact-k only those that can change
    num_choosable = len(sizes) if dynamics == "dlib" else int(variable.sum())
    if k == -1 and num_choosable < 2:
        raise InputError(f"k: -1 draws 1 … K − 1 factors, but only {num_choosable} factor(s) can be drawn")
    if not (k == -1 or 1 <= k <= num_choosable):
        raise InputError(f"k: expected -1 or 1 … {num_choosable} (the factors that can be drawn), got {k}")
    first = _uniform_values(sizes, num_pairs, generator)
    counts = (
        torch.randint(1, num_choosable, (num_pairs,), generator=generator)
        if k == -1
        else torch.full((num_pairs,), k, dtype=torch.int64)
    )
    if dynamics == "dlib":
        counts = torch.where(torch.rand(num_pairs, generator=generator) < 0.5, 1, counts)
        keys = torch.rand(num_pairs, len(sizes), generator=generator)
    else:
        keys = torch.rand(num_pairs, len(sizes), generator=generator).masked_fill(~variable, 2.0)
    ranks = keys.argsort(dim=1).argsort(dim=1)  # the order in which the factors are drawn
    drawn = ranks < counts[:, None]
    if dynamics == "dlib":
        second = torch.where(drawn, _uniform_values(sizes, num_pairs, generator), first)
        return first.numpy(), second.numpy(), (ranks == counts[:, None] - 1).numpy()
    offsets = 1 + (torch.rand(num_pairs, len(sizes), generator=generator) * (sizes - 1).clamp(min=1)).long()
    second = torch.where(drawn, (first + offsets) % sizes, first)
    return first.numpy(), second.numpy(), drawn.numpy()


def _uniform_values(sizes: Tensor, num_pairs: int, generator: torch.Generator) -> Tensor:
    """int64 ``(num_pairs, len(sizes))``: factor values uniform in 0 … size − 1."""
    values = (torch.rand(num_pairs, len(sizes), generator=generator) * sizes).long()
    return torch.minimum(values, sizes - 1)  # a float32 product can round up to the size itself


def pair_kl_per_dim(mean_1: Tensor, logvar_1: Tensor, mean_2: Tensor, logvar_2: Tensor) -> Tensor:
    """δ = KL(N(μ₁, σ₁²) ‖ N(μ₂, σ₂²)) per example and latent, nats ``(N, D)``."""
    return 0.5 * ((logvar_1 - logvar_2).exp() + (mean_2 - mean_1).square() * (-logvar_2).exp() - 1.0
                  + logvar_2 - logvar_1)


def average_posteriors(mean_1: Tensor, logvar_1: Tensor, mean_2: Tensor, logvar_2: Tensor) -> tuple[Tensor, Tensor]:
    """Group-VAE's aggregate: mean ½(μ₁ + μ₂), variance ½(σ₁² + σ₂²); ``(mean, logvar)``."""
    return 0.5 * (mean_1 + mean_2), torch.logaddexp(logvar_1, logvar_2) - np.log(2.0)


def product_of_experts(mean_1: Tensor, logvar_1: Tensor, mean_2: Tensor, logvar_2: Tensor) -> tuple[Tensor, Tensor]:
    """ML-VAE's aggregate, as dlib: the product's mean (μ₁/σ₁² + μ₂/σ₂²)/(1/σ₁² + 1/σ₂²) and
    the variance 2σ₁²σ₂²/(σ₁² + σ₂²); ``(mean, logvar)``."""
    weight_1 = torch.sigmoid(logvar_2 - logvar_1)  # (1/σ₁²) / (1/σ₁² + 1/σ₂²)
    mean = weight_1 * mean_1 + (1 - weight_1) * mean_2
    logvar = np.log(2.0) + logvar_1 + logvar_2 - torch.logaddexp(logvar_1, logvar_2)
    return mean, logvar


def adaptive_shared_latents(delta: Tensor) -> Tensor:
    """The latents taken as shared: δ_j < ½(max δ + min δ) per pair; bool ``(N, D)`` from δ ``(N, D)``."""
    threshold = 0.5 * (delta.amax(dim=1, keepdim=True) + delta.amin(dim=1, keepdim=True))
    return delta < threshold


def known_shared_latents(changed: Tensor, latent_dim: int) -> Tensor:
    """The latents taken as shared when the changed factors are known: every latent but
    latent j of each changed factor j; bool ``(N, latent_dim)`` from ``changed`` ``(N, K)``."""
    shared = torch.ones(changed.shape[0], latent_dim, dtype=torch.bool, device=changed.device)
    shared[:, : changed.shape[1]] = ~changed
    return shared


AGGREGATIONS: dict[str, Callable[..., tuple[Tensor, Tensor]]] = {
    "average": average_posteriors,
    "product": product_of_experts,
}


@dataclass(frozen=True)
class PairVAEConfig(ModelConfig):
    """``beta`` weighs the KL as in the β-VAE; ``k`` is the number of factors a pair's
    second image redraws (−1: drawn uniformly from 1 … K − 1 for each pair, the paper's
    default); ``dynamics`` how (``sample_pairs``): ``dlib``'s (1 or k factors redrawn,
    possibly to the same value, the last one labelled) or ``exact-k`` (exactly k differ,
    all labelled; the only dynamics before it was a setting, so a run folder without it
    ran with it)."""

    beta: float = 1.0
    k: int = -1
    dynamics: str = "dlib"

    BEFORE_THE_FIELD: ClassVar = {"dynamics": "exact-k"}

    def __post_init__(self):
        super().__post_init__()
        require(self.beta > 0, "beta", "> 0", self.beta)
        require(isinstance(self.k, int) and (self.k == -1 or self.k >= 1), "k", "-1 or an integer ≥ 1", self.k)
        require(self.dynamics in DYNAMICS, "dynamics", f"one of {', '.join(DYNAMICS)}", self.dynamics)


class PairVAE(GaussianVAE):
    """A VAE trained on pairs; subclasses choose ``aggregation`` and whether the changed
    factors are ``known``. Logs ``shared_latents``, the mean number of shared latents per pair."""

    config_class = PairVAEConfig
    #: how two posteriors of a shared latent are combined (a key of ``AGGREGATIONS``)
    aggregation: ClassVar[str]
    #: whether the loop tells the model which factors changed (else they are inferred)
    known: ClassVar[bool]

    def check_dataset(self, dataset: ImageDataset) -> None:
        """Pairs need ground-truth factors, at least ``k`` that can be drawn, and, when the
        changed factors are known, one latent per factor."""
        if not isinstance(dataset, FactorDataset):
            raise InputError(
                f"--data: {self.name} trains on pairs that share factors and needs a dataset with "
                f"ground-truth factors (e.g. dsprites), got '{dataset.name}'"
            )
        sizes = dataset.factors_num_values
        choosable = len(sizes) if self.config.dynamics == "dlib" else sum(size > 1 for size in sizes)
        if self.config.k > choosable or (self.config.k == -1 and choosable < 2):
            kind = "factors" if self.config.dynamics == "dlib" else "factors that vary"
            raise InputError(
                f"--k: {self.config.k} factors redrawn per pair, but '{dataset.name}' has {choosable} {kind}"
            )
        if self.known and self.latent_dim < dataset.num_factors:
            raise InputError(
                f"--latent-dim: {self.name} gives latent j to factor j and needs at least the dataset's "
                f"{dataset.num_factors} factors, got {self.latent_dim}"
            )

    def sample_batch(self, dataset: ImageDataset, batch_size: int, generator: torch.Generator) -> Batch:
        """``batch_size`` pairs as two blocks (every first image, then every second one);
        the known variants also get ``changed``, ``(batch_size, num_factors)``, per pair.
        Nuisance factors (SmallNORB's instance) are drawn for each image, as dlib does."""
        self.check_dataset(dataset)
        first, second, labelled = sample_pairs(
            list(dataset.factors_num_values), batch_size, self.config.k, generator, self.config.dynamics
        )
        indices = np.concatenate([dataset.draw_indices_of(first, generator), dataset.draw_indices_of(second, generator)])
        rows = {"changed": torch.from_numpy(labelled)} if self.known else {}
        return Batch(dataset.observations(indices), blocks=2, rows=rows)

    def shared_latents(self, delta: Tensor, changed: Tensor | None) -> Tensor:
        """bool ``(N, D)``: the latents whose posteriors are aggregated, from the pair's KL δ
        ``(N, D)`` or, for the known variants, the changed factors ``(N, K)``."""
        if not self.known:
            return adaptive_shared_latents(delta)
        if changed is None:
            raise InputError(f"{self.name}: the loss needs which factors changed (batches from sample_batch)")
        return known_shared_latents(changed.to(delta.device), self.latent_dim)

    def loss(self, x: Tensor, step: int, changed: Tensor | None = None) -> dict[str, Tensor]:
        """``x`` holds the pairs' first images, then their second images (two equal blocks)."""
        x_1, x_2 = x.chunk(2)
        mean_1, logvar_1 = self.posterior(x_1)
        mean_2, logvar_2 = self.posterior(x_2)
        delta = pair_kl_per_dim(mean_1, logvar_1, mean_2, logvar_2)
        shared = self.shared_latents(delta.detach(), changed)
        mean_a, logvar_a = AGGREGATIONS[self.aggregation](mean_1, logvar_1, mean_2, logvar_2)
        recon, kl_per_dim = 0.0, 0.0
        for x_i, mean_i, logvar_i in ((x_1, mean_1, logvar_1), (x_2, mean_2, logvar_2)):
            mean = torch.where(shared, mean_a, mean_i)
            logvar = torch.where(shared, logvar_a, logvar_i)
            recon = recon + 0.5 * self.recon(x_i, reparameterize(mean, logvar))
            kl_per_dim = kl_per_dim + 0.5 * gaussian_kl_per_dim(mean, logvar).mean(0)
        kl = kl_per_dim.sum()
        return {
            "loss": recon + self.config.beta * kl,
            **elbo_terms(recon, kl, kl_per_dim),
            "shared_latents": shared.sum(1).float().mean(),
        }

    def term_descriptions(self) -> dict[str, str]:
        shared = ("the number of latents whose posteriors are aggregated, mean over pairs: every latent but those of "
                  "the pair's changed factors (known)" if self.known else
                  "the number of latents whose posteriors are aggregated, mean over pairs: those with "
                  "δ_j = KL(q(z_j|x₁) ‖ q(z_j|x₂)) below ½(max δ + min δ)")
        return {
            **super().term_descriptions(),
            "recon": ("½(recon₁ + recon₂), −log p(x_i|z_i) of each image of a pair, z_i from its partly aggregated "
                      "posterior, summed over pixels, batch mean, nats"),
            "kl": ("½(KL₁ + KL₂), KL(q̃(z|x_i) ‖ p(z)) of each image's partly aggregated posterior, summed over "
                   "latents, analytic, batch mean, nats"),
            "elbo": "−(recon + kl), the ELBO per image of a pair under the aggregated posteriors, batch mean, nats",
            "shared_latents": shared,
        }


class GroupVAE(PairVAE):
    """Group-VAE with the changed factors known (dlib's ``GroupVAELabels``)."""

    name = "group-vae"
    aggregation, known = "average", True


class MLVAE(PairVAE):
    """ML-VAE with the changed factors known (dlib's ``MLVaeLabels``)."""

    name = "ml-vae"
    aggregation, known = "product", True


class AdaGVAE(PairVAE):
    """Ada-GVAE: Group-VAE that infers the shared latents (dlib's ``GroupVAEArgmax``)."""

    name = "ada-gvae"
    aggregation, known = "average", False


class AdaMLVAE(PairVAE):
    """Ada-ML-VAE: ML-VAE that infers the shared latents (dlib's ``MLVaeArgmax``)."""

    name = "ada-ml-vae"
    aggregation, known = "product", False
