"""Semi-supervised VAEs: an unsupervised objective plus γ·a supervised loss on a few
labelled images (Locatello et al. 2020, "Disentangling Factors of Variation Using Few
Labels"; dlib's ``methods/semi_supervised``).

The labelled subset (:mod:`disentangle.models.labels`) is split as dlib's
``train_test_split`` splits it: the first ⌈``num_labelled`` · ``train_percentage``⌉ points
drawn are trained on, the rest are held out. Every step draws a batch of unlabelled
images as the unsupervised model does, and a block of the same size b of the training
labelled images: with ``labelled_batches: cycle`` (dlib's), step t takes rows
(t·b + j) mod n_train, j < b — the points in the order drawn, block after block, wrapping
around from one pass to the next, as dlib's ``Dataset.repeat()`` then ``batch(b)`` does;
with ``uniform``, rows drawn uniformly with replacement from the run's generator. When
points are held out, a block of b of them, cycled the same way, follows; it is only
scored (``supervised_held_out``), as dlib reports its held-out points' supervised loss
after training. The loss is the unsupervised model's on the unlabelled batch plus
γ(step) · a supervised loss between the posterior means μ of the labelled images and their
labels y (``(n, L)``, L labels; latent i is tied to label i, so ``latent_dim`` ≥ L). The
supervised losses, as dlib's (sums over the batch and the labels, not means, except
``embed``):

- ``l2``: Σ (b·μ_i − y_i)², b a learned scale (dlib's ``learn_scale``);
- ``xent``: Σ sigmoid cross-entropy of the logits μ_i against y_i / |V_i|;
- ``cov``: Σ of the squared entries of the (D × L) covariance between μ and y over the
  batch, its diagonal (latent i with label i) left out;
- ``embed``: for each label i, a learned embedding e ∈ R^{|V_i|} of its values, logits
  −((μ_i − e_v)·σ)² over the values v, softmax cross-entropy with y_i (batch mean), summed
  over labels.

γ(step), step the number of updates already made (TensorFlow's global step as dlib's
loss reads it): ``fixed`` γ; ``annealed`` min(γ, γ·step / ``gamma_threshold``);
``fine-tune`` γ·min(1, max(0, step − ``gamma_threshold``)): 0 up to step
``gamma_threshold``, γ from the step after it (dlib's ``fixed``, ``anneal`` and
``fine_tune`` annealers).

Where this departs from dlib: the unlabelled images come from the run's torch generator
(dlib: one NumPy stream of ``unsupervised_data_seed``); dlib's evaluation averages the
held-out loss over ``num_labelled`` blocks once training ends, here it is logged at every
step, at that step's weights; dlib's ``S2FactorVAE`` steps both its optimizers with the
global step, which so advances by 2 per update (its γ(step) sees 2·update), here a step is
one update for every model.

``supervised-vae`` is dlib's fully supervised baseline: its encoder learns from the
supervised loss alone, its decoder reconstructs the unlabelled batch from codes whose
gradient stops at the encoder; there is no KL and no N(0, I) prior.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from disentangle.data import FactorDataset, ImageDataset
from disentangle.errors import InputError
from disentangle.models.base import Batch, Capabilities, ModelConfig, Player, require
from disentangle.models.dip_vae import DIPVAEI, DIPVAEII, DIPVAEConfig, DIPVAEIIConfig
from disentangle.models.factor_vae import FactorVAE, FactorVAEConfig
from disentangle.models.gaussian import reparameterize
from disentangle.models.labels import LABELLERS, LabelledSet, draw_labelled_set, num_train_labelled
from disentangle.models.tcvae import BetaTCVAE, BetaTCVAEConfig
from disentangle.models.vae import BetaVAE, BetaVAEConfig, GaussianVAE

SUPERVISED_LOSSES = ("l2", "xent", "cov", "embed")
GAMMA_SCHEDULES = ("fixed", "annealed", "fine-tune")
LABELLED_BATCHES = ("cycle", "uniform")


def supervision_weight(gamma: float, schedule: str, step: int, threshold: int) -> float:
    """γ(step) under ``schedule`` (see the module docstring)."""
    if schedule == "annealed":
        return min(gamma, gamma * step / threshold)
    if schedule == "fine-tune":
        return gamma * min(1, max(0, step - threshold))
    return gamma


def cycled_rows(batch: int, batch_size: int, size: int) -> Tensor:
    """The rows of a set of ``size`` points that its ``batch``-th block of ``batch_size``
    takes when the set is repeated in order and cut into blocks (dlib's
    ``repeat().batch(batch_size)``): (batch·batch_size + j) mod size, int64 ``(batch_size,)``."""
    return (batch * batch_size + torch.arange(batch_size)) % size


class SupervisedLoss(nn.Module):
    """One of ``SUPERVISED_LOSSES`` between codes ``(n, D)`` and labels ``(n, L)``, with its
    learned parameters (the ``l2`` scale, the ``embed`` embeddings)."""

    def __init__(self, kind: str, label_sizes: tuple[int, ...], embed_sigma: float):
        super().__init__()
        self.kind = kind
        self.register_buffer("label_sizes", torch.tensor(label_sizes, dtype=torch.float32), persistent=False)
        self.embed_sigma = embed_sigma
        if kind == "l2":
            self.scale = nn.Parameter(torch.ones(()))
        if kind == "embed":
            self.embeddings = nn.ParameterList(nn.Parameter(torch.randn(size) * 0.1) for size in label_sizes)

    def forward(self, codes: Tensor, labels: Tensor) -> Tensor:
        num_labels = labels.shape[1]
        tied = codes[:, :num_labels]
        if self.kind == "l2":
            return (tied * self.scale - labels).square().sum()
        if self.kind == "xent":
            return F.binary_cross_entropy_with_logits(tied, labels / self.label_sizes, reduction="sum")
        if self.kind == "cov":
            centred_codes, centred_labels = codes - codes.mean(0), labels - labels.mean(0)
            cross = centred_codes.T @ centred_labels / codes.shape[0]  # (D, L)
            diagonal = torch.arange(min(cross.shape))
            cross = cross.index_put((diagonal, diagonal), torch.zeros_like(diagonal, dtype=cross.dtype))
            return cross.square().sum()
        total = codes.new_zeros(())
        for column, embedding in enumerate(self.embeddings):
            logits = -((tied[:, column, None] - embedding) * self.embed_sigma).square()
            total = total + F.cross_entropy(logits, labels[:, column].long())
        return total


@dataclass(frozen=True)
class SemiSupervisedFields:
    """The settings every semi-supervised model adds (dlib's names where it has them).

    Attributes:
        gamma_sup: γ, the weight of the supervised loss.
        num_labelled: labelled images (the paper's 100 and 1,000).
        supervised_loss: ``l2``, ``xent``, ``cov`` or ``embed``.
        labeller: ``perfect``, ``bin``, ``noisy``, ``permuted`` or ``partial``.
        label_seed: seeds the draw of the labelled set (dlib's ``supervised_data_seed``).
        train_percentage: the fraction of the labelled set trained on, the first points drawn
            (dlib's ``train_percentage``, which it requires; 0.9 in its README and tests);
            the others are held out and scored.
        labelled_batches: ``cycle`` (the training points in order, block after block,
            dlib's) or ``uniform`` (drawn with replacement from the run's generator).
        gamma_schedule: ``fixed``, ``annealed`` or ``fine-tune``; ``gamma_threshold`` its step
            (dlib's ``iteration_threshold``: fine-tune's γ is on from the step after it).
        num_bins, prob_random, num_observed_factors: the ``bin``, ``noisy`` and ``partial``
            labellers' settings (dlib's defaults).
        embed_sigma: σ of the ``embed`` loss (a temperature; dlib leaves it to the config).
        factors_num_values: the training data's factor sizes, set when training starts
            (the labelled set is drawn from them).
    """

    gamma_sup: float = 1.0
    num_labelled: int = 1000
    supervised_loss: str = "xent"
    labeller: str = "perfect"
    label_seed: int = 0
    gamma_schedule: str = "fixed"
    gamma_threshold: int = 10_000
    num_bins: int = 5
    prob_random: float = 0.1
    num_observed_factors: int = 2
    embed_sigma: float = 1.0
    train_percentage: float = 0.9
    labelled_batches: str = "cycle"
    factors_num_values: list[int] | None = None

    DATA_DERIVED: ClassVar = {
        "factors_num_values": lambda data: list(data.factors_num_values) if isinstance(data, FactorDataset) else None,
    }
    #: before these settings every labelled point was trained on, drawn with replacement
    BEFORE_THE_FIELD: ClassVar = {"train_percentage": 1.0, "labelled_batches": "uniform"}

    def check_semi_supervised(self) -> None:
        require(self.gamma_sup >= 0, "gamma_sup", "≥ 0", self.gamma_sup)
        require(isinstance(self.num_labelled, int) and self.num_labelled >= 1, "num_labelled", "an integer ≥ 1",
                self.num_labelled)
        require(self.supervised_loss in SUPERVISED_LOSSES, "supervised_loss",
                f"one of {', '.join(SUPERVISED_LOSSES)}", self.supervised_loss)
        require(self.labeller in LABELLERS, "labeller", f"one of {', '.join(LABELLERS)}", self.labeller)
        require(isinstance(self.label_seed, int) and 0 <= self.label_seed < 2**32, "label_seed",
                "an integer in [0, 2^32)", self.label_seed)
        require(self.gamma_schedule in GAMMA_SCHEDULES, "gamma_schedule",
                f"one of {', '.join(GAMMA_SCHEDULES)}", self.gamma_schedule)
        require(isinstance(self.gamma_threshold, int) and self.gamma_threshold >= 1, "gamma_threshold",
                "an integer ≥ 1", self.gamma_threshold)
        require(isinstance(self.num_bins, int) and self.num_bins >= 2, "num_bins", "an integer ≥ 2", self.num_bins)
        require(0 <= self.prob_random <= 1, "prob_random", "in [0, 1]", self.prob_random)
        require(isinstance(self.num_observed_factors, int) and self.num_observed_factors >= 1,
                "num_observed_factors", "an integer ≥ 1", self.num_observed_factors)
        require(self.embed_sigma > 0, "embed_sigma", "> 0", self.embed_sigma)
        require(isinstance(self.train_percentage, (int, float)) and 0 < self.train_percentage <= 1,
                "train_percentage", "in (0, 1]", self.train_percentage)
        require(self.labelled_batches in LABELLED_BATCHES, "labelled_batches",
                f"one of {', '.join(LABELLED_BATCHES)}", self.labelled_batches)
        sizes = self.factors_num_values
        require(sizes is None or (isinstance(sizes, (list, tuple)) and all(isinstance(s, int) and s >= 1 for s in sizes)),
                "factors_num_values", "a list of factor sizes ≥ 1", sizes)


class SemiSupervised:
    """Mixin over an unsupervised Gaussian-posterior model (listed first among the bases):
    adds the labelled blocks to its batches and γ·the supervised loss to its ``loss``.
    ``num_train`` and ``num_held_out`` count the labelled points trained on and held out."""

    config: SemiSupervisedFields
    constant_buffers = ("labelled_factors", "labels", "supervision.label_sizes")
    sampling_buffers = ("batches_drawn",)
    packable_settings = None  # its labelled block is a structured batch: it trains alone

    def __init__(self, config, observation_shape: tuple[int, int, int]):
        super().__init__(config, observation_shape)
        sizes = config.factors_num_values
        self.num_train = num_train_labelled(config.num_labelled, config.train_percentage)
        self.num_held_out = config.num_labelled - self.num_train
        self.labelled: LabelledSet | None = None
        self._labelled_indices: Tensor | None = None
        if sizes is None:
            return  # not a factor dataset: check_dataset refuses it before any step
        if config.labeller == "partial" and config.num_observed_factors > len(sizes):
            raise InputError(
                f"--num-observed-factors: at most the dataset's {len(sizes)} factors, got {config.num_observed_factors}"
            )
        self.labelled = draw_labelled_set(
            sizes, config.num_labelled, config.labeller, config.label_seed,
            config.num_bins, config.prob_random, config.num_observed_factors,
        )
        # Kept with the weights in every checkpoint, so that the run folder records its labelled set.
        self.register_buffer("labelled_factors", torch.from_numpy(self.labelled.factors))
        self.register_buffer("labels", torch.from_numpy(self.labelled.labels))
        if self.counts_batches:
            # The blocks' place in their cycles; in checkpoints, so that a resumed run goes on from it.
            self.register_buffer("batches_drawn", torch.zeros((), dtype=torch.int64))
        self.supervision = SupervisedLoss(config.supervised_loss, self.labelled.label_sizes, config.embed_sigma)

    @property
    def counts_batches(self) -> bool:
        """Whether a block is cycled, so that the model counts the batches drawn (``batches_drawn``)."""
        return self.config.labelled_batches == "cycle" or self.num_held_out > 0

    def check_dataset(self, dataset: ImageDataset) -> None:
        if not isinstance(dataset, FactorDataset):
            raise InputError(
                f"--data: {self.name} learns from labelled factors and needs a dataset with ground-truth "
                f"factors (e.g. dsprites), got '{dataset.name}'"
            )
        if self.config.factors_num_values is None:
            raise InputError(
                f"{self.name}: factors_num_values is not set (build the model from "
                "RunConfig.for_dataset(dataset), as training does, or give it)"
            )
        if list(dataset.factors_num_values) != list(self.config.factors_num_values):
            raise InputError(
                f"--data: {self.name} was configured for factor sizes {self.config.factors_num_values}, "
                f"the dataset has {list(dataset.factors_num_values)}"
            )
        if len(self.labelled.label_sizes) > self.latent_dim:
            raise InputError(
                f"--latent-dim: {self.name} ties latent i to label i and needs at least "
                f"{len(self.labelled.label_sizes)} latents, got {self.latent_dim}"
            )
        super().check_dataset(dataset)

    def players(self) -> list[Player]:
        """The unsupervised model's players, with the supervised loss's parameters added to ``model``'s."""
        players = []
        for player in super().players():
            if player.name == "model":
                known = {id(parameter) for parameter in player.parameters}
                extra = tuple(p for p in self.supervision.parameters() if id(p) not in known)
                player = dataclasses.replace(player, parameters=player.parameters + extra)
            players.append(player)
        return players

    def sample_batch(self, dataset: ImageDataset, batch_size: int, generator: torch.Generator) -> Batch:
        """The unsupervised model's batch, then a block of ``batch_size`` training labelled
        images (``labelled_batches``) and, when points are held out, a block of as many
        held-out ones, cycled; their labels go to ``loss`` as ``labels`` and ``held_out_labels``."""
        self.check_dataset(dataset)
        batch = super().sample_batch(dataset, batch_size, generator)
        drawn = int(self.batches_drawn) if self.counts_batches else 0
        if self.config.labelled_batches == "cycle":
            rows = cycled_rows(drawn, batch_size, self.num_train)
        else:
            rows = torch.randint(self.num_train, (batch_size,), generator=generator)
        blocks, labels = [rows], {"labels": self.labels[rows]}
        if self.num_held_out:
            held_out = self.num_train + cycled_rows(drawn, batch_size, self.num_held_out)
            blocks.append(held_out)
            labels["held_out_labels"] = self.labels[held_out]
        if self.counts_batches:
            self.batches_drawn.add_(1)
        labelled = dataset.observations(self.labelled_indices(dataset)[torch.cat(blocks)])
        return Batch(torch.cat([batch.observations, labelled]), blocks=batch.blocks + len(blocks),
                     context=batch.context, rows={**batch.rows, **labels})

    def labelled_indices(self, dataset: FactorDataset) -> Tensor:
        """The dataset indices of the labelled images, int64 ``(num_labelled,)``: fixed, any
        nuisance levels (SmallNORB's instance) drawn once, from a stream of ``label_seed``."""
        if self._labelled_indices is None:
            stream = np.random.RandomState(np.random.SeedSequence([self.config.label_seed, 1]).generate_state(1))
            self._labelled_indices = torch.from_numpy(dataset.sample_indices_of(self.labelled.factors, stream))
        return self._labelled_indices

    def supervised_loss(self, x_labelled: Tensor, labels: Tensor) -> Tensor:
        """The supervised loss of the labelled images' posterior means (before γ)."""
        return self.supervision(self.posterior(x_labelled)[0], labels.to(x_labelled.device))

    def loss(self, x: Tensor, step: int, labels: Tensor | None = None, held_out_labels: Tensor | None = None,
             **batch) -> dict[str, Tensor]:
        """``x``: the unsupervised model's blocks, the labelled block (``labels`` its labels),
        then the held-out block if any (``held_out_labels``), which is only scored."""
        if labels is None:
            raise InputError(f"{self.name}: the loss needs a labelled block (batches from sample_batch)")
        held = 0 if held_out_labels is None else held_out_labels.shape[0]
        end = x.shape[0] - held
        x_unlabelled, x_labelled = x[: end - labels.shape[0]], x[end - labels.shape[0]: end]
        terms = super().loss(x_unlabelled, step, **batch)
        supervised = self.supervised_loss(x_labelled, labels)
        gamma = supervision_weight(self.config.gamma_sup, self.config.gamma_schedule, step, self.config.gamma_threshold)
        terms = {**terms, "loss": terms["loss"] + gamma * supervised, "supervised": supervised,
                 "gamma_sup": supervised.new_tensor(gamma)}
        if held_out_labels is not None:
            with torch.no_grad():
                terms["supervised_held_out"] = self.supervised_loss(x[end:], held_out_labels)
        return terms

    def term_descriptions(self) -> dict[str, str]:
        kinds = {
            "l2": "Σ (b·μ_i − y_i)² over the labelled images and the labels, b a learned scale",
            "xent": ("sigmoid cross-entropy of the logits μ_i against y_i / |V_i|, summed over the labelled images "
                     "and the labels, nats"),
            "cov": ("Σ of the squared entries of the batch covariance between μ and y (D × L), latent i with label i "
                    "left out"),
            "embed": ("softmax cross-entropy of the embedding logits against each label's value, batch mean, summed "
                      "over the labels, nats"),
        }
        terms = {
            **super().term_descriptions(),
            "supervised": ("the supervised loss of the labelled block's posterior means μ, before γ: "
                           f"{kinds[self.config.supervised_loss]}"),
            "gamma_sup": f"γ(step), the weight of supervised in the loss ({self.config.gamma_schedule} schedule)",
        }
        if self.num_held_out:
            terms["supervised_held_out"] = (
                f"supervised on a block of the {self.num_held_out} held-out labelled images (never trained "
                "on), cycled in order, at the step's weights; no gradient")
        return terms


def _semi_supervised_config(base: type) -> type:
    """``base`` (a frozen config dataclass) with the semi-supervised fields, validated by both."""

    @dataclass(frozen=True)
    class Config(SemiSupervisedFields, base):
        DATA_DERIVED: ClassVar = {**base.DATA_DERIVED, **SemiSupervisedFields.DATA_DERIVED}
        BEFORE_THE_FIELD: ClassVar = {**base.BEFORE_THE_FIELD, **SemiSupervisedFields.BEFORE_THE_FIELD}

        def __post_init__(self):
            base.__post_init__(self)
            self.check_semi_supervised()

    Config.__name__ = Config.__qualname__ = f"SemiSupervised{base.__name__}"
    Config.__doc__ = f"{base.__name__}'s settings and the semi-supervised ones (``SemiSupervisedFields``)."
    return Config


class S2BetaVAE(SemiSupervised, BetaVAE):
    """β-VAE + γ·supervised (dlib's ``S2BetaVAE``)."""

    name = "s2-beta-vae"
    config_class = _semi_supervised_config(BetaVAEConfig)


class S2FactorVAE(SemiSupervised, FactorVAE):
    """FactorVAE + γ·supervised (dlib's ``S2FactorVAE``)."""

    name = "s2-factor-vae"
    config_class = _semi_supervised_config(FactorVAEConfig)


class S2DIPVAEI(SemiSupervised, DIPVAEI):
    """DIP-VAE-I + γ·supervised (dlib's ``S2DIPVAE`` with ``dip_type="i"``)."""

    name = "s2-dip-vae-i"
    config_class = _semi_supervised_config(DIPVAEConfig)


class S2DIPVAEII(SemiSupervised, DIPVAEII):
    """DIP-VAE-II + γ·supervised (dlib's ``S2DIPVAE`` with ``dip_type="ii"``)."""

    name = "s2-dip-vae-ii"
    config_class = _semi_supervised_config(DIPVAEIIConfig)


class S2BetaTCVAE(SemiSupervised, BetaTCVAE):
    """β-TCVAE + γ·supervised (dlib's ``S2BetaTCVAE``)."""

    name = "s2-beta-tcvae"
    config_class = _semi_supervised_config(BetaTCVAEConfig)


class _Unsupervised(GaussianVAE):
    """``supervised-vae``'s unsupervised part: the decoder reconstructs from codes whose
    gradient stops at the encoder; no KL."""

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        mean, logvar = self.posterior(x)
        recon = self.recon(x, reparameterize(mean, logvar).detach())
        return {"loss": recon, "recon": recon}


class SupervisedVAE(SemiSupervised, _Unsupervised):
    """dlib's ``SupervisedVAE``: the encoder learns from the labels alone (γ·supervised),
    the decoder learns to reconstruct from the encoder's codes."""

    name = "supervised-vae"
    config_class = _semi_supervised_config(ModelConfig)
    capabilities = Capabilities(gaussian_posterior=True, standard_normal_prior=False,
                                representation="the posterior mean")


__all__ = [
    "GAMMA_SCHEDULES", "LABELLED_BATCHES", "SUPERVISED_LOSSES", "S2BetaTCVAE", "S2BetaVAE", "S2DIPVAEI",
    "S2DIPVAEII", "S2FactorVAE", "SemiSupervised", "SemiSupervisedFields", "SupervisedLoss", "SupervisedVAE",
    "cycled_rows", "supervision_weight",
]
