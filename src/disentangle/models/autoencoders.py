"""Deterministic autoencoders: plain, denoising, sparse, k-sparse and contractive.

They share ``DeterministicAutoencoder``: the encoder net maps x to features f
``(N, 256)``, a code layer h = a(W f + b) gives the code ``(N, latent_dim)`` that
``encode`` returns, and the decoder maps h to the parameters of p(x|h). The activation
a and the penalty are each model's own. ``recon`` is −log p(x|h) summed over pixels and
averaged over the batch (Bernoulli: cross-entropy; Gaussian: squared error), as for
the VAEs. Survey: Lilian Weng, "From Autoencoder to Beta-VAE" (2018).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from disentangle.models.base import Model, ModelConfig, require

#: width of the encoder net's output, the input of the code layer
FEATURES = 256


class DeterministicAutoencoder(Model):
    """x → features f → code h = ``code(f)`` → p(x|h); the loss is ``recon`` alone.

    The encoder net's output is linear, so f ↦ W f + b composes two linear maps: the
    encoder computes the same functions as the VAEs' nets, with W exposed as
    ``code_layer`` for the penalties that need it.
    """

    def __init__(self, config: ModelConfig, observation_shape: tuple[int, int, int]):
        super().__init__(config, observation_shape)
        self.encoder = self.make_encoder(FEATURES)
        self.code_layer = nn.Linear(FEATURES, config.latent_dim)
        self.decoder = self.make_decoder(config.latent_dim)

    def features(self, x: Tensor) -> Tensor:
        """The code layer's input f: ``(N, FEATURES)``."""
        return self.encoder(x)

    def code(self, features: Tensor) -> Tensor:
        """The code h for features f (here linear: h = W f + b)."""
        return self.code_layer(features)

    def encode(self, x: Tensor) -> Tensor:
        return self.code(self.features(x))

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def recon(self, x: Tensor, code: Tensor) -> Tensor:
        """−log p(x | code), summed over pixels, averaged over the batch (nats)."""
        return -self.likelihood.log_prob(x, self.decoder(code)).mean()

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        recon = self.recon(x, self.encode(x))
        return {"loss": recon, "recon": recon}

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "recon": ("reconstruction error −log p(x|h) of the deterministic code h, summed over pixels, batch mean, "
                      "nats (Bernoulli: cross-entropy; Gaussian: squared error / 2σ² plus its constant)"),
        }


class Autoencoder(DeterministicAutoencoder):
    """The plain autoencoder: recon only (cross-entropy or squared error)."""

    name = "ae"
    packable_settings = ()


# --------------------------------------------------------------------------- denoising

CORRUPTIONS = ("masking", "gaussian", "salt-and-pepper")


@dataclass(frozen=True)
class DenoisingAEConfig(ModelConfig):
    """``corruption``: ``masking`` (a fraction ``corruption_level`` of each input's
    pixels set to 0), ``gaussian`` (additive N(0, level²) noise) or ``salt-and-pepper``
    (that fraction set to 0 or 1 with equal probability)."""

    corruption: str = "masking"
    corruption_level: float = 0.3

    def __post_init__(self):
        super().__post_init__()
        expected = f"one of {', '.join(CORRUPTIONS)}"
        require(self.corruption in CORRUPTIONS, "corruption", expected, self.corruption)
        require(0 <= self.corruption_level < 1, "corruption_level", "in [0, 1)", self.corruption_level)


def corrupt(x: Tensor, corruption: str, level: float) -> tuple[Tensor, Tensor]:
    """The corrupted x̃ and the realised level (fraction of pixels corrupted, or the
    root mean square of the added noise for ``gaussian``).

    As Vincent et al. 2008, masking and salt-and-pepper corrupt exactly
    round(level · pixels) pixels of every input, chosen uniformly at random.
    """
    if corruption == "gaussian":
        noise = level * torch.randn_like(x)
        return x + noise, noise.square().mean().sqrt()
    batch, pixels = x.shape[0], x[0].numel()
    chosen = torch.rand(batch, pixels, device=x.device).argsort(1)[:, : round(level * pixels)]
    mask = torch.zeros(batch, pixels, dtype=torch.bool, device=x.device).scatter_(1, chosen, True).view_as(x)
    if corruption == "masking":
        value = torch.zeros_like(x)
    else:
        value = torch.randint(0, 2, x.shape, device=x.device).to(x.dtype)
    return torch.where(mask, value, x), mask.float().mean()


class DenoisingAE(DeterministicAutoencoder):
    """Vincent et al. 2008: reconstruct the clean x from the code of a corrupted x̃,
    drawn afresh at every call of ``loss``. ``encode`` sees clean inputs. Logs the
    realised ``corruption_level``."""

    name = "denoising-ae"
    config_class = DenoisingAEConfig

    def loss(self, x, step):
        corrupted, realised = corrupt(x, self.config.corruption, self.config.corruption_level)
        recon = self.recon(x, self.encode(corrupted))
        return {"loss": recon, "recon": recon, "corruption_level": realised}

    def term_descriptions(self) -> dict[str, str]:
        realised = {
            "masking": "the realised fraction of each input's pixels set to 0, round(level · pixels) / pixels",
            "salt-and-pepper": ("the realised fraction of each input's pixels set to 0 or 1 at random (some keep their "
                                "value), round(level · pixels) / pixels"),
            "gaussian": "the realised root mean square of the added N(0, level²) noise over the batch's pixels",
        }
        return {
            **super().term_descriptions(),
            "recon": ("−log p(x|h(x̃)) of the clean x from the code of a freshly corrupted x̃, summed over pixels, "
                      "batch mean, nats"),
            "corruption_level": realised[self.config.corruption],
        }


# --------------------------------------------------------------------------- sparse


@dataclass(frozen=True)
class SparseAEConfig(ModelConfig):
    """``rho`` ∈ (0, 1) is the target mean activation ρ of each code unit, ``beta`` > 0
    the weight of the sparsity penalty."""

    rho: float = 0.05
    beta: float = 3.0

    def __post_init__(self):
        super().__post_init__()
        require(0 < self.rho < 1, "rho", "in (0, 1)", self.rho)
        require(self.beta > 0, "beta", "> 0", self.beta)


def sparsity_kl(pre_activation: Tensor, rho: float) -> Tensor:
    """Σ_j KL(ρ ‖ ρ̂_j) in nats, ρ̂_j = mean over the batch of sigmoid(pre_activation_j).

    Computed from the ``(N, D)`` pre-activations in log space, with no clamp: log ρ̂ and
    log(1 − ρ̂) are log-mean-exps of log-sigmoids, so a saturated unit gets its exact,
    finite KL (linear in its logit) and gradient.
    """
    log_n = math.log(pre_activation.shape[0])
    log_rho_hat = torch.logsumexp(F.logsigmoid(pre_activation), 0) - log_n
    log_one_minus_rho_hat = torch.logsumexp(F.logsigmoid(-pre_activation), 0) - log_n
    kl = rho * (math.log(rho) - log_rho_hat) + (1 - rho) * (math.log(1 - rho) - log_one_minus_rho_hat)
    return kl.sum()


class SparseAE(DeterministicAutoencoder):
    """Sparse autoencoder (Ng's lecture notes; Weng 2018): sigmoid code units,
    recon + β·Σ_j KL(ρ ‖ ρ̂_j). Logs ``sparsity`` (that sum, nats) and
    ``mean_activation`` (ρ̂ averaged over units)."""

    name = "sparse-ae"
    config_class = SparseAEConfig

    def code(self, features):
        return torch.sigmoid(self.code_layer(features))

    def loss(self, x, step):
        pre_activation = self.code_layer(self.features(x))
        recon = self.recon(x, torch.sigmoid(pre_activation))
        sparsity = sparsity_kl(pre_activation, self.config.rho)
        return {
            "loss": recon + self.config.beta * sparsity,
            "recon": recon,
            "sparsity": sparsity,
            "mean_activation": torch.sigmoid(pre_activation).mean(),
        }

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "sparsity": ("Σ_j KL(ρ ‖ ρ̂_j) over the code units, ρ̂_j the batch mean of unit j's sigmoid activation, "
                         "nats, unweighted (the loss weighs it by β)"),
            "mean_activation": ("ρ̂ averaged over the code units: the batch's mean sigmoid activation, in (0, 1), "
                                "target ρ"),
        }


# --------------------------------------------------------------------------- k-sparse


@dataclass(frozen=True)
class KSparseAEConfig(ModelConfig):
    """``k`` code units are kept in training; optionally k starts at ``k_start`` and
    falls linearly to ``k`` over the first ``k_anneal_steps`` steps; ``encode`` keeps
    round(``alpha``·k) units (α ≥ 1, at most all of them)."""

    k: int = 5
    k_start: int | None = None
    k_anneal_steps: int = 0
    alpha: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        require(
            isinstance(self.k, int) and 1 <= self.k <= self.latent_dim,
            "k", f"an integer in [1, latent_dim = {self.latent_dim}]", self.k,
        )
        if self.k_start is not None:
            require(
                isinstance(self.k_start, int) and self.k <= self.k_start <= self.latent_dim,
                "k_start", f"an integer in [k = {self.k}, latent_dim = {self.latent_dim}]", self.k_start,
            )
        require(isinstance(self.k_anneal_steps, int) and self.k_anneal_steps >= 0,
                "k_anneal_steps", "an integer ≥ 0", self.k_anneal_steps)
        require(self.k_start is None or self.k_anneal_steps >= 1,
                "k_anneal_steps", "≥ 1 when --k-start is given", self.k_anneal_steps)
        require(self.alpha >= 1, "alpha", "≥ 1", self.alpha)


def k_schedule(step: int, k: int, k_start: int | None, anneal_steps: int) -> int:
    """k at ``step``: from ``k_start`` down to ``k`` linearly over ``anneal_steps``
    steps (rounded to the nearest integer), then ``k``; ``k`` throughout without ``k_start``."""
    if k_start is None or step >= anneal_steps:
        return k
    return round(k_start + (k - k_start) * step / anneal_steps)


def keep_top_k(code: Tensor, k: int) -> Tensor:
    """``code`` ``(N, D)`` with all but the k largest entries of each row set to exactly 0;
    the gradient flows through the k kept entries only."""
    values, indices = code.topk(k, dim=1)
    return torch.zeros_like(code).scatter(1, indices, values)


class KSparseAE(DeterministicAutoencoder):
    """Makhzani & Frey 2013, "k-Sparse Autoencoders": a linear code of which only the k
    largest units are kept (the support), recon only. ``encode`` keeps αk units.
    Logs the ``k`` in use."""

    name = "k-sparse-ae"
    config_class = KSparseAEConfig

    @property
    def encode_k(self) -> int:
        return min(self.latent_dim, round(self.config.alpha * self.config.k))

    def code(self, features):
        return keep_top_k(self.code_layer(features), self.encode_k)

    def loss(self, x, step):
        c = self.config
        k = k_schedule(step, c.k, c.k_start, c.k_anneal_steps)
        recon = self.recon(x, keep_top_k(self.code_layer(self.features(x)), k))
        return {"loss": recon, "recon": recon, "k": x.new_tensor(float(k))}

    def term_descriptions(self) -> dict[str, str]:
        c = self.config
        k = ("the number of code units kept in training, constant" if c.k_start is None else
             f"the number of code units kept in training at the step, from {c.k_start} down to {c.k} linearly over "
             f"the first {c.k_anneal_steps} steps, then {c.k}")
        return {
            **super().term_descriptions(),
            "recon": ("−log p(x|h) of the linear code with all but its k largest units (by value) set to 0, summed "
                      "over pixels, batch mean, nats"),
            "k": k,
        }


# --------------------------------------------------------------------------- contractive

JACOBIANS = ("closed-form", "autograd")


@dataclass(frozen=True)
class ContractiveAEConfig(ModelConfig):
    """``lam`` > 0 weighs ‖J‖_F²; ``jacobian`` says which Jacobian (see ``ContractiveAE``)."""

    lam: float = 1.0
    jacobian: str = "closed-form"

    def __post_init__(self):
        super().__post_init__()
        require(self.lam > 0, "lam", "> 0", self.lam)
        require(self.jacobian in JACOBIANS, "jacobian", f"one of {', '.join(JACOBIANS)}", self.jacobian)


def sigmoid_jacobian_norm(code: Tensor, weight: Tensor) -> Tensor:
    """‖∂h/∂f‖_F² per example for h = sigmoid(W f + b): Σ_j (h_j(1 − h_j))² Σ_i W_ji².

    ``code`` is h ``(N, D)``, ``weight`` is W ``(D, F)``; returns ``(N,)``.
    """
    return (code * (1 - code)).square() @ weight.square().sum(1)


def pixel_jacobian_norm(code: Tensor, x: Tensor) -> Tensor:
    """‖∂h/∂x‖_F² per example ``(N,)``, exactly, by one backward pass per code unit
    (kept in the graph, so the penalty can be differentiated). ``x`` must require grad
    and the encoder must treat examples independently (no batch statistics)."""
    total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for j in range(code.shape[1]):
        (row,) = torch.autograd.grad(code[:, j].sum(), x, create_graph=True)
        total = total + row.square().flatten(1).sum(1)
    return total


class ContractiveAE(DeterministicAutoencoder):
    """Rifai et al. 2011, "Contractive Auto-Encoders": sigmoid code units,
    recon + λ·‖J‖_F², batch-averaged; logs ``contraction`` (that ‖J‖_F²).

    ``jacobian="closed-form"`` (Rifai's eq.): J = ∂h/∂f, the Jacobian of the code with
    respect to the code layer's input f (the encoder net's output), not the pixels; it
    is the Jacobian with respect to x only for a one-layer encoder.
    ``jacobian="autograd"``: J = ∂h/∂x with respect to the pixels, exact, at the price
    of ``latent_dim`` extra backward passes and double backpropagation.
    """

    name = "contractive-ae"
    config_class = ContractiveAEConfig

    def code(self, features):
        return torch.sigmoid(self.code_layer(features))

    def loss(self, x, step):
        if self.config.jacobian == "closed-form":
            code = self.encode(x)
            contraction = sigmoid_jacobian_norm(code, self.code_layer.weight).mean()
        else:
            with torch.enable_grad():  # the penalty is a gradient, even where the caller evaluates without them
                pixels = x.detach().requires_grad_(True)
                code = self.encode(pixels)
                contraction = pixel_jacobian_norm(code, pixels).mean()
        recon = self.recon(x, code)
        return {"loss": recon + self.config.lam * contraction, "recon": recon, "contraction": contraction}

    def term_descriptions(self) -> dict[str, str]:
        jacobian = {
            "closed-form": "‖∂h/∂f‖_F², with respect to the code layer's input f (not the pixels)",
            "autograd": "‖∂h/∂x‖_F², with respect to the pixels (exact)",
        }
        return {
            **super().term_descriptions(),
            "contraction": (f"the squared Frobenius norm of the code's Jacobian {jacobian[self.config.jacobian]}, "
                            "per example, batch mean, unweighted (the loss weighs it by λ)"),
        }
