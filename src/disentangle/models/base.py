"""What every model shares: its typed configuration, its declared capabilities and the
``Model`` interface.

A model is a ``torch.nn.Module`` that owns its nets and returns its objective as named
terms. Conventions (disentanglement_lib's, so hyperparameters mean the same thing):
``recon`` is −log p(x|z) summed over pixels and averaged over the batch, ``kl`` is in
nats summed over latent dimensions and averaged over the batch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import Tensor, nn

from disentangle.data import ImageDataset
from disentangle.errors import SettingError
from disentangle.likelihoods import LIKELIHOODS, get_likelihood
from disentangle.nets import check_architecture, make_decoder, make_encoder


def require(condition: bool, option: str, expected: str, value) -> None:
    """Raise ``SettingError`` for the setting ``option`` unless ``condition`` holds."""
    if not condition:
        raise SettingError(option, expected, value)


@dataclass(frozen=True)
class ModelConfig:
    """Settings every model has.

    Attributes:
        latent_dim: size of the code (the representation's dimension).
        likelihood: ``bernoulli`` (logits, dlib's default) or ``gaussian``.
        gaussian_std: the fixed pixel std of the Gaussian likelihood.
        architecture: ``auto``, ``conv`` (Burgess/dlib 4×4), ``conv-2x2`` (dlib), ``mlp``
            (Higgins) or a name given to ``disentangle.nets.register_architecture``.
        architecture_options: keyword arguments of a registered architecture's
            constructors (JSON values); empty for the built-in ones.
    """

    latent_dim: int = 10
    likelihood: str = "bernoulli"
    gaussian_std: float = 1 / math.sqrt(2)
    architecture: str = "auto"
    architecture_options: dict = field(default_factory=dict)

    #: fields whose ``None`` means "taken from the training data": name -> how, from the dataset
    DATA_DERIVED: ClassVar[Mapping[str, Callable[[ImageDataset], object]]] = {}
    #: fields added after run folders were written whose default differs from what those
    #: runs did: name -> the value a ``config.json`` without the field means, so that an
    #: old run folder resumes and evaluates as it trained
    BEFORE_THE_FIELD: ClassVar[Mapping[str, object]] = {}

    def __post_init__(self):
        require(isinstance(self.latent_dim, int) and self.latent_dim >= 1, "latent_dim", "an integer ≥ 1",
                self.latent_dim)
        require(self.likelihood in LIKELIHOODS, "likelihood", f"one of {', '.join(LIKELIHOODS)}", self.likelihood)
        require(self.gaussian_std > 0, "gaussian_std", "> 0", self.gaussian_std)
        check_architecture(self.architecture)
        options = self.architecture_options
        require(isinstance(options, dict) and all(isinstance(key, str) for key in options),
                "architecture_options", "a mapping of keyword arguments", options)

    def for_dataset(self, dataset: ImageDataset) -> ModelConfig:
        """This configuration with every ``DATA_DERIVED`` field left ``None`` set from ``dataset``."""
        derived = {name: how(dataset) for name, how in self.DATA_DERIVED.items() if getattr(self, name) is None}
        return dataclasses.replace(self, **derived) if derived else self

    def to_dict(self) -> dict:
        """The fields as ``config.json`` stores them (``architecture_options`` only when set)."""
        values = dataclasses.asdict(self)
        if not values["architecture_options"]:
            del values["architecture_options"]
        return values


@dataclass(frozen=True)
class Capabilities:
    """What a model offers beyond ``encode`` and ``decode``. Evaluation and figures read
    this declaration; they never test for methods or import concrete models.

    Attributes:
        gaussian_posterior: ``posterior(x)`` returns the mean and log-variance, each
            ``(N, latent_dim)``, of a diagonal Gaussian q(z|x) whose mean ``encode``
            returns (the metrics' Chen MIG and the ELBO diagnostics need it).
        standard_normal_prior: p(z) is N(0, I) over the codes ``decode`` takes, so
            decoding standard normal draws shows what the model generates and
            traversals may sweep the prior's ±3σ.
        representation: what ``encode(x)`` returns, in words.
    """

    gaussian_posterior: bool = False
    standard_normal_prior: bool = False
    representation: str = "the code"


@dataclass
class Batch:
    """One training step's data, as a model's ``sample_batch`` draws it.

    Attributes:
        observations: ``(blocks · batch_size, C, H, W)`` in [0, 1].
        blocks: the number of equal consecutive blocks of ``batch_size`` rows (1, or e.g.
            2 for FactorVAE's second batch); data-parallel training gives each process
            the same share of every block.
        context: keyword arguments the loop passes on to ``loss``; they describe the
            whole batch and are not split between processes.
        rows: keyword arguments the loop passes on to ``loss`` that hold one row per row of
            a block (``(batch_size, ...)`` tensors, e.g. what a pair of observations
            shares); data-parallel training gives each process the rows of its share.
    """

    observations: Tensor
    blocks: int = 1
    context: dict = field(default_factory=dict)
    rows: dict[str, Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class Player:
    """A group of parameters trained by its own optimizer on its own loss term.

    Attributes:
        name: ``model`` for the main player, else e.g. ``discriminator``.
        parameters: the parameters this player's optimizer updates.
        loss_key: the key of ``Model.loss``'s result that this player minimises.
        learning_rate, betas: optimizer settings; ``None`` uses the run's settings.
        weight_decay: decoupled weight decay (AdamW's: each step multiplies a decayed
            parameter by 1 − learning_rate · weight_decay) of every parameter but
            ``undecayed``; 0 for none. Under the ``adam`` optimizer only.
        undecayed: the parameters the decay and ``gradient_clip`` leave alone (biases, codebooks).
        gradient_clip: each gradient entry of the decayed parameters clipped to
            [−gradient_clip, gradient_clip] before the step (optax's ``clip``); ``None``: not clipped.
    """

    name: str
    parameters: tuple[nn.Parameter, ...]
    loss_key: str = "loss"
    learning_rate: float | None = None
    betas: tuple[float, float] | None = None
    weight_decay: float = 0.0
    undecayed: tuple[nn.Parameter, ...] = ()
    gradient_clip: float | None = None

    def decayed(self) -> list[nn.Parameter]:
        """``parameters`` but ``undecayed``, in order."""
        skipped = {id(parameter) for parameter in self.undecayed}
        return [parameter for parameter in self.parameters if id(parameter) not in skipped]


#: the terms many models log, as their ``term_descriptions`` state them
COMMON_TERMS = {
    "loss": "the objective the model's optimizer minimises, on each batch",
    "recon": "reconstruction error −log p(x|z) summed over pixels, batch mean, nats",
    "kl": "KL(q(z|x) ‖ p(z)) summed over latent dimensions, analytic, batch mean, nats",
    "kl_per_dim": "KL(q(z|x) ‖ p(z)) of each latent dimension, analytic, batch mean, nats (a panel only when D = 1)",
    "elbo": "evidence lower bound −(recon + kl), batch mean, nats",
}


class Model(nn.Module):
    """Base class: subclasses set ``name``, ``config_class`` and ``capabilities`` and
    implement the methods.

    Models with an adversary (FactorVAE, VAE-GAN, AVB, InfoGAN) override ``players``:
    each player's optimizer takes the gradient of its own loss term, all computed on
    the same forward pass and applied together, as disentanglement_lib does. Models that
    need structured batches (DC-IGN, FactorVAE's second batch, the pairs of the weakly
    supervised VAEs) override ``sample_batch``.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: buffers set when the model is built and never changed (the semi-supervised models'
    #: labelled set): unlike updated buffers, they allow data-parallel training
    constant_buffers: ClassVar[tuple[str, ...]] = ()
    #: buffers only ``sample_batch`` changes, the same way in every process (each draws the
    #: global batch from the run's generator; the semi-supervised models' count of batches
    #: drawn): they too allow data-parallel training
    sampling_buffers: ClassVar[tuple[str, ...]] = ()
    #: ``None``: the model trains only alone. A tuple: it can train packed with others of
    #: its kind (``disentangle.train.packed``) — one player, ``Model.sample_batch``'s
    #: batches, noise drawn only through ``models.noise.standard_normal_like`` — and
    #: these config fields, which ``loss`` only uses arithmetically, may differ between
    #: the models of a group (each then a 0-d tensor in ``loss``)
    packable_settings: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, config: ModelConfig, observation_shape: tuple[int, int, int]):
        super().__init__()
        self.config = config
        self.observation_shape = tuple(int(s) for s in observation_shape)
        self.likelihood = get_likelihood(config.likelihood, config.gaussian_std)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def make_encoder(self, out_features: int, observation_shape: tuple[int, int, int] | None = None) -> nn.Module:
        """An encoder net of the run's architecture: ``(N, C, H, W)`` → ``(N, out_features)``
        (observations of the model's shape unless ``observation_shape`` is given)."""
        shape = observation_shape or self.observation_shape
        return make_encoder(self.config.architecture, shape, out_features, self.config.architecture_options)

    def make_decoder(self, latent_dim: int) -> nn.Module:
        """A decoder net of the run's architecture: ``(N, latent_dim)`` → likelihood parameters
        shaped like the observations."""
        return make_decoder(self.config.architecture, latent_dim, self.observation_shape,
                            self.config.architecture_options)

    def players(self) -> list[Player]:
        """The parameter groups and the loss term each minimises (default: one player)."""
        return [Player("model", tuple(self.parameters()))]

    def encode(self, x: Tensor) -> Tensor:
        """The representation scored by metrics: ``(N, latent_dim)``."""
        raise NotImplementedError

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-variance of q(z|x), each ``(N, latent_dim)``; only for models whose
        ``capabilities.gaussian_posterior`` is true."""
        raise NotImplementedError(f"{self.name} has no Gaussian posterior q(z|x)")

    def decode(self, z: Tensor) -> Tensor:
        """Likelihood parameters ``(N, C, H, W)`` for codes ``(N, latent_dim)``."""
        raise NotImplementedError

    def reconstruct(self, x: Tensor) -> Tensor:
        """The expected reconstruction of ``x`` in [0, 1]."""
        return self.likelihood.mean(self.decode(self.encode(x)))

    def check_dataset(self, dataset: ImageDataset) -> None:
        """Raise ``InputError`` if this model cannot train on ``dataset`` (checked before
        a run folder is created). Default: every dataset will do."""

    def sample_batch(self, dataset: ImageDataset, batch_size: int, generator: torch.Generator) -> Batch:
        """One training step's ``Batch`` for a run of ``batch_size``.

        Default: ``batch_size`` observations drawn uniformly with replacement, one block,
        no context. Models that need structured batches override it, drawing every
        random number from ``generator`` so that a resumed run repeats its batches.
        """
        return Batch(dataset.observations(dataset.sample_indices(batch_size, generator)))

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        """``loss`` (the scalar to minimise), each further player's loss, and every
        term worth logging. Models whose ``sample_batch`` gives a context or rows take
        them as further keyword arguments."""
        raise NotImplementedError

    def term_descriptions(self) -> dict[str, str]:
        """What each term ``loss`` logs is (estimator, units), for the report's captions;
        a model adds its own to these (and says what a renamed term meant in older logs)."""
        return dict(COMMON_TERMS)
