"""What every model shares: its typed configuration and the ``Model`` interface.

A model is a ``torch.nn.Module`` that owns its nets and returns its objective as named
terms. Conventions (disentanglement_lib's, so hyperparameters mean the same thing):
``recon`` is −log p(x|z) summed over pixels and averaged over the batch, ``kl`` is in
nats summed over latent dimensions and averaged over the batch.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from disentangle.data import ImageDataset
from disentangle.errors import InputError
from disentangle.likelihoods import LIKELIHOODS, get_likelihood
from disentangle.nets import ARCHITECTURES


@dataclass(frozen=True)
class ModelConfig:
    """Settings every model has.

    Attributes:
        latent_dim: size of the code (the representation's dimension).
        likelihood: ``bernoulli`` (logits, dlib's default) or ``gaussian``.
        gaussian_std: the fixed pixel std of the Gaussian likelihood.
        architecture: ``auto``, ``conv`` (Burgess/dlib 4×4), ``conv-2x2`` (dlib) or ``mlp`` (Higgins).
    """

    latent_dim: int = 10
    likelihood: str = "bernoulli"
    gaussian_std: float = 1 / math.sqrt(2)
    architecture: str = "auto"

    def __post_init__(self):
        if not isinstance(self.latent_dim, int) or self.latent_dim < 1:
            raise InputError(f"--latent-dim: must be an integer ≥ 1, got {self.latent_dim}")
        if self.likelihood not in LIKELIHOODS:
            raise InputError(f"--likelihood: unknown '{self.likelihood}' (expected one of {', '.join(LIKELIHOODS)})")
        if not self.gaussian_std > 0:
            raise InputError(f"--gaussian-std: must be > 0, got {self.gaussian_std}")
        if self.architecture not in ARCHITECTURES:
            raise InputError(
                f"--architecture: unknown '{self.architecture}' (expected one of {', '.join(ARCHITECTURES)})"
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def require(condition: bool, option: str, expected: str, value) -> None:
    """Raise ``InputError`` naming ``--option`` unless ``condition`` holds."""
    if not condition:
        raise InputError(f"--{option.replace('_', '-')}: must be {expected}, got {value}")


@dataclass(frozen=True)
class Player:
    """A group of parameters trained by its own optimizer on its own loss term.

    Attributes:
        name: ``model`` for the main player, else e.g. ``discriminator``.
        parameters: the parameters this player's optimizer updates.
        loss_key: the key of ``Model.loss``'s result that this player minimises.
        learning_rate, betas: optimizer settings; ``None`` uses the run's settings.
    """

    name: str
    parameters: tuple[nn.Parameter, ...]
    loss_key: str = "loss"
    learning_rate: float | None = None
    betas: tuple[float, float] | None = None


class Model(nn.Module):
    """Base class: subclasses set ``name`` and ``config_class`` and implement the methods.

    Models with an adversary (FactorVAE, VAE-GAN, AVB, InfoGAN) override ``players``:
    each player's optimizer takes the gradient of its own loss term, all computed on
    the same forward pass and applied together, as disentanglement_lib does.

    ``batch_multiplier``: ``loss`` receives ``batch_size · batch_multiplier``
    observations per training step (1 by default; FactorVAE with a second batch for
    its permuted codes sets 2 and splits the batch in halves).
    """

    name: ClassVar[str]
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    batch_multiplier: int = 1

    def __init__(self, config: ModelConfig, observation_shape: tuple[int, int, int]):
        super().__init__()
        self.config = config
        self.observation_shape = tuple(int(s) for s in observation_shape)
        self.likelihood = get_likelihood(config.likelihood, config.gaussian_std)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def players(self) -> list[Player]:
        """The parameter groups and the loss term each minimises (default: one player)."""
        return [Player("model", tuple(self.parameters()))]

    def encode(self, x: Tensor) -> Tensor:
        """The representation scored by metrics: ``(N, latent_dim)``."""
        raise NotImplementedError

    def decode(self, z: Tensor) -> Tensor:
        """Likelihood parameters ``(N, C, H, W)`` for codes ``(N, latent_dim)``."""
        raise NotImplementedError

    def reconstruct(self, x: Tensor) -> Tensor:
        """The expected reconstruction of ``x`` in [0, 1]."""
        return self.likelihood.mean(self.decode(self.encode(x)))

    def check_dataset(self, dataset: ImageDataset) -> None:
        """Raise ``InputError`` if this model cannot train on ``dataset`` (checked before
        a run folder is created). Default: every dataset will do."""

    def sample_batch(
        self, dataset: ImageDataset, batch_size: int, generator: torch.Generator
    ) -> tuple[Tensor, dict]:
        """One training batch ``(batch_size, C, H, W)`` and its context, the keyword
        arguments the training loop passes on to ``loss``.

        Default: observations drawn uniformly with replacement, no context. Models that
        need structured batches (DC-IGN: one factor varies) override it, drawing every
        random number from ``generator`` so that a resumed run repeats its batches.
        """
        return dataset.observations(dataset.sample_indices(batch_size, generator)), {}

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        """``loss`` (the scalar to minimise), each further player's loss, and every
        term worth logging. Models whose ``sample_batch`` gives a context take it as
        further keyword arguments."""
        raise NotImplementedError
