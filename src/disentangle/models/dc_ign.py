"""DC-IGN (Kulkarni et al. 2015, "Deep Convolutional Inverse Graphics Network").

A VAE trained weakly supervised on a factor dataset (section 3.1): in every batch one
factor varies and all others stay fixed. Each factor owns a group of latents (by
default latent k for factor k, the remaining latents belonging to no factor); in a
batch that varies factor k, every latent outside k's group is clamped:

- forward: the decoder sees that latent replaced by its mean over the batch, so only
  k's latents can explain what differs between the images;
- backward: the decoder's gradient does not reach a clamped latent; instead each
  sample z_i of it receives (z_i − z̄)/N, which pushes it toward the batch mean z̄ (the
  paper's "difference from the mean" gradient, scaled 1/N like every batch-averaged
  term). That is the gradient of ``invariance`` = ½ Σ_{clamped j} mean_i (z_ij − z̄_j)²,
  added to the loss.

loss = recon + KL + invariance; ``encode`` is the posterior mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from disentangle.data import FactorDataset, ImageDataset
from disentangle.errors import InputError
from disentangle.models.base import Batch, ModelConfig, require
from disentangle.models.gaussian import elbo_terms
from disentangle.models.vae import GaussianVAE

ASSIGNMENT = "a mapping factor name → number of latents ≥ 1, e.g. shape=2,scale=1"


def parse_assignment(text: str) -> dict:
    """``"shape=2,scale=1"`` (the command line's form) → ``{"shape": 2, "scale": 1}``."""
    mapping = {}
    for item in text.split(","):
        name, sep, count = (part.strip() for part in item.partition("="))
        require(bool(sep and name) and count.isdigit(), "latents_per_factor", ASSIGNMENT, repr(text))
        mapping[name] = int(count)
    return mapping


@dataclass(frozen=True)
class DCIGNConfig(ModelConfig):
    """``latents_per_factor`` maps the factors that batches vary to their number of
    latents, taken in the mapping's order from latent 0 on; the other latents belong to
    no factor and are clamped in every batch. Default: every factor of the dataset,
    one latent each, in the dataset's order."""

    latents_per_factor: dict[str, int] | None = None

    def __post_init__(self):
        super().__post_init__()
        mapping = self.latents_per_factor
        if isinstance(mapping, str):
            mapping = parse_assignment(mapping)
            object.__setattr__(self, "latents_per_factor", mapping)
        if mapping is None:
            return
        valid = isinstance(mapping, dict) and bool(mapping) and all(
            isinstance(name, str) and isinstance(count, int) and count >= 1 for name, count in mapping.items()
        )
        require(valid, "latents_per_factor", ASSIGNMENT, mapping)
        total = sum(mapping.values())
        expected = f"at most latent_dim = {self.latent_dim} latents in all"
        require(total <= self.latent_dim, "latents_per_factor", expected, total)


def one_factor_batch(
    dataset: FactorDataset, factor: int, batch_size: int, generator: torch.Generator
) -> np.ndarray:
    """Factor vectors ``(batch_size, num_factors)``: one uniform draw of every factor,
    repeated, except ``factor``, drawn uniformly with replacement for each row."""
    sizes = dataset.factors_num_values
    base = [int(torch.randint(n, (1,), generator=generator)) for n in sizes]
    factors = np.tile(np.asarray(base, dtype=np.int64), (batch_size, 1))
    factors[:, factor] = torch.randint(sizes[factor], (batch_size,), generator=generator).numpy()
    return factors


def clamp(z: Tensor, clamped: Tensor) -> tuple[Tensor, Tensor]:
    """(the code the decoder sees, ``invariance``) for samples z ``(N, D)`` and a mask of
    the clamped latents ``(D,)``; see the module's description."""
    z_bar = z.mean(0, keepdim=True)
    code = torch.where(clamped, z_bar.detach(), z)
    invariance = 0.5 * ((z - z_bar).square() * clamped).sum(1).mean()
    return code, invariance


class DCIGN(GaussianVAE):
    """Batches come from ``sample_batch`` (one varied factor) and carry the varied
    factor's latents to ``loss`` as ``varied_latents``. Logs ``invariance``."""

    name = "dc-ign"
    config_class = DCIGNConfig

    def latent_groups(self, dataset: FactorDataset) -> list[tuple[int, tuple[int, ...]]]:
        """(factor index, its latents) for every factor that batches vary."""
        mapping, names = self.config.latents_per_factor, list(dataset.factor_names)
        if mapping is None:
            if dataset.num_factors > self.latent_dim:
                raise InputError(
                    f"--latent-dim: must be ≥ the dataset's {dataset.num_factors} factors for DC-IGN's "
                    f"default one latent per factor, got {self.latent_dim} (or set --latents-per-factor)"
                )
            return [(k, (k,)) for k in range(dataset.num_factors)]
        unknown = [name for name in mapping if name not in names]
        if unknown:
            raise InputError(
                f"--latents-per-factor: unknown factor '{unknown[0]}' "
                f"(the dataset's factors: {', '.join(names)})"
            )
        groups, start = [], 0
        for name, count in mapping.items():
            groups.append((names.index(name), tuple(range(start, start + count))))
            start += count
        return groups

    def check_dataset(self, dataset: ImageDataset) -> None:
        """DC-IGN needs ground-truth factors, and latents for the factors it varies."""
        if not isinstance(dataset, FactorDataset):
            raise InputError(
                "--data: dc-ign needs a dataset with ground-truth factors (e.g. dsprites), "
                f"got '{dataset.name}'"
            )
        self.latent_groups(dataset)

    def sample_batch(self, dataset: ImageDataset, batch_size: int, generator: torch.Generator) -> Batch:
        """A batch varying one factor, chosen uniformly among those with latents; the
        context is ``{"varied_latents": that factor's latents}``."""
        self.check_dataset(dataset)
        groups = self.latent_groups(dataset)
        factor, latents = groups[int(torch.randint(len(groups), (1,), generator=generator))]
        factors = one_factor_batch(dataset, factor, batch_size, generator)
        # nuisance factors (SmallNORB's instance) are held fixed over the batch, like the other factors
        nuisance = [int(torch.randint(dataset.grid_num_values[axis], (1,), generator=generator))
                    for axis in dataset.nuisance_axes]
        index = dataset.index_of(factors, np.tile(np.asarray(nuisance, dtype=np.int64), (batch_size, 1)))
        return Batch(dataset.observations(index), context={"varied_latents": latents})

    def loss(self, x: Tensor, step: int, varied_latents: tuple[int, ...] | None = None) -> dict[str, Tensor]:
        """Without ``varied_latents`` (a batch from elsewhere) nothing is clamped."""
        q = self.sample_posterior(x)
        clamped = torch.zeros(self.latent_dim, dtype=torch.bool, device=q.z.device)
        if varied_latents is not None:
            clamped[:] = True
            clamped[list(varied_latents)] = False
        code, invariance = clamp(q.z, clamped)
        recon = self.recon(x, code)
        return {"loss": recon + q.kl + invariance, **elbo_terms(recon, q.kl, q.kl_per_dim), "invariance": invariance}

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "recon": ("−log p(x|z) with every latent outside the varied factor's group replaced by its batch mean, "
                      "summed over pixels, batch mean, nats"),
            "invariance": ("½ Σ over the clamped latents of the batch variance of their samples z (normalised by N), "
                           "the penalty pulling them to their batch mean; 0 when nothing is clamped"),
        }
