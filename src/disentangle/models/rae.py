"""Regularised autoencoders, RAE (Ghosh et al. 2020, "From Variational to Deterministic
Autoencoders", eq. 11), as pythae's RAE_L2 and RAE_GP run them, with their ex-post density.

A deterministic encoder z = E(x) and a decoder D; the objective is

    recon + β·½‖z‖² + λ·L_REG,

batch means, with β = ``embedding_weight`` (pythae's 1e-4) and λ = ``reg_weight``
(pythae's 1e-7). L_REG regularises the decoder:

- RAE-L2: L_REG = ½‖θ_D‖², the squared norm of every decoder parameter. pythae puts
  weight decay λ on the decoder's Adam (torch's coupled decay, gradient += λθ); adding
  λ·½‖θ_D‖² to the loss gives the decoder exactly that gradient and leaves the encoder's.
- RAE-GP: L_REG = ‖∇_z Σ_p D(z)_p‖², the gradient of the decoded image (its mean in
  [0, 1], summed over pixels) with respect to the code, per example. With
  ``penalty_wrt="input"`` it is pythae's ‖∇_x Σ_p D(E(x))_p‖², through encoder and
  decoder, with respect to the pixels. (The authors' code differentiates Σ_p D(z)_p²
  with respect to z and averages the squares over the latent dimensions.)

pythae's reconstruction is the squared error summed over pixels: ``likelihood="gaussian"``
with its default σ = 1/√2 (up to a constant); the default likelihood stays Bernoulli.

The ex-post density (Section 4): the RAE has no prior to sample from, so after training a
Gaussian mixture of 10 full-covariance components (scikit-learn, max_iter 2000,
tol 1e-3, as the authors' ``DensityEstimator`` and pythae's ``GaussianMixtureSampler``)
is fitted on the codes of training observations, and new images are the decodings of
its samples. A user gets it from a run folder with::

    from disentangle.train import load_run
    from disentangle.models.rae import fit_ex_post_density

    density = fit_ex_post_density(load_run("runs/rae"))
    images = density.sample(64)            # (64, C, H, W) in [0, 1]
    codes = density.sample_codes(64)       # (64, latent_dim)

It is fitted on a uniform draw of ``num_codes`` (10,000) training observations, not all of
them as the paper (``num_codes=None`` takes all); it works on any model's ``encode``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from disentangle.models.autoencoders import DeterministicAutoencoder
from disentangle.models.base import Capabilities, Model, ModelConfig, require

if TYPE_CHECKING:  # scikit-learn is imported when a mixture is fitted, not with the models
    from sklearn.mixture import GaussianMixture

PENALTY_INPUTS = ("code", "input")
#: the ex-post Gaussian mixture's settings (Ghosh et al.'s code; pythae's sampler)
MIXTURE_COMPONENTS = 10
MIXTURE_SETTINGS = dict(covariance_type="full", max_iter=2000, tol=1e-3)


@dataclass(frozen=True)
class RAEConfig(ModelConfig):
    """``embedding_weight`` is β (weight of ½‖z‖²), ``reg_weight`` is λ (weight of the
    decoder's regulariser); pythae's defaults."""

    embedding_weight: float = 1e-4
    reg_weight: float = 1e-7

    def __post_init__(self):
        super().__post_init__()
        require(self.embedding_weight >= 0, "embedding_weight", "≥ 0", self.embedding_weight)
        require(self.reg_weight >= 0, "reg_weight", "≥ 0", self.reg_weight)


@dataclass(frozen=True)
class RAEGPConfig(RAEConfig):
    """``penalty_wrt``: ``code`` (∇_z of the decoder, the paper's) or ``input`` (∇_x of the
    autoencoder, pythae's)."""

    penalty_wrt: str = "code"

    def __post_init__(self):
        super().__post_init__()
        require(self.penalty_wrt in PENALTY_INPUTS, "penalty_wrt", f"one of {', '.join(PENALTY_INPUTS)}",
                self.penalty_wrt)


def embedding_penalty(z: Tensor) -> Tensor:
    """½‖z‖² per example, batch mean: ``(N, D)`` → scalar."""
    return 0.5 * z.square().sum(1).mean()


def parameter_l2(module: torch.nn.Module) -> Tensor:
    """½ Σ_θ ‖θ‖² over every parameter of ``module`` (weights and biases)."""
    return 0.5 * sum(parameter.square().sum() for parameter in module.parameters())


def gradient_penalty(output: Tensor, inputs: Tensor) -> Tensor:
    """‖∇_{inputs_i} Σ_p output_{i,p}‖² per example, batch mean, kept in the graph; the
    examples must not interact (no batch statistics), so the gradient of the batch's sum
    gives each example's own."""
    (gradient,) = torch.autograd.grad(output.sum(), inputs, create_graph=True)
    return gradient.square().flatten(1).sum(1).mean()


class RegularisedAE(DeterministicAutoencoder):
    """recon + β·½‖z‖² + λ·``decoder_regularizer``; subclasses give the regulariser."""

    config_class = RAEConfig
    capabilities = Capabilities(representation="the deterministic code E(x)")
    #: the name the regulariser is logged under
    regularizer_name: str

    def decoder_regularizer(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(the code z, the decoder's output for z, L_REG) for the batch ``x``."""
        raise NotImplementedError

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        c = self.config
        z, params, regularizer = self.decoder_regularizer(x)
        recon = -self.likelihood.log_prob(x, params).mean()
        embedding = embedding_penalty(z)
        return {
            "loss": recon + c.embedding_weight * embedding + c.reg_weight * regularizer,
            "recon": recon,
            "embedding": embedding,
            self.regularizer_name: regularizer,
        }

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "embedding": "½‖z‖² of the deterministic code, batch mean, unweighted (the loss weighs it by β)",
        }


class RAEL2(RegularisedAE):
    """RAE-L2: L_REG = ½‖θ_D‖² (pythae's decoder weight decay as a loss term). Logs
    ``embedding`` and ``decoder_l2``."""

    name = "rae-l2"
    regularizer_name = "decoder_l2"

    def decoder_regularizer(self, x):
        z = self.encode(x)
        return z, self.decoder(z), parameter_l2(self.decoder)

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "decoder_l2": ("½ Σ θ² over every decoder parameter, unweighted (the loss weighs it by λ: the decoder's "
                           "weight decay λ)"),
        }


class RAEGP(RegularisedAE):
    """RAE-GP: L_REG = ‖∇ Σ_p D(z)_p‖² with respect to the code z (or, with
    ``penalty_wrt="input"``, to the pixels x). Logs ``embedding`` and ``gradient_penalty``."""

    name = "rae-gp"
    config_class = RAEGPConfig
    regularizer_name = "gradient_penalty"

    def decoder_regularizer(self, x):
        with torch.enable_grad():  # the penalty is a gradient, even where the caller evaluates without them
            if self.config.penalty_wrt == "input":
                pixels = x.detach().requires_grad_(True)
                z = self.encode(pixels)
                params = self.decoder(z)
                return z, params, gradient_penalty(self.likelihood.mean(params), pixels)
            z = self.encode(x)
            if not z.requires_grad:
                z = z.detach().requires_grad_(True)
            params = self.decoder(z)
            return z, params, gradient_penalty(self.likelihood.mean(params), z)

    def term_descriptions(self) -> dict[str, str]:
        wrt = {"code": "the code z", "input": "the pixels x, through encoder and decoder"}[self.config.penalty_wrt]
        return {
            **super().term_descriptions(),
            "gradient_penalty": (f"‖∇ Σ_p D(z)_p‖², the squared gradient of the decoded image (its mean in [0, 1], "
                                 f"summed over pixels) with respect to {wrt}, per example, batch mean, unweighted "
                                 "(the loss weighs it by λ)"),
        }


# --------------------------------------------------------------------------- the ex-post density


def fit_code_mixture(codes: np.ndarray, components: int = MIXTURE_COMPONENTS, seed: int = 0) -> GaussianMixture:
    """A Gaussian mixture of ``components`` full-covariance components fitted on ``codes``
    ``(N, D)`` (at most N components, as pythae), with the authors' settings."""
    from sklearn.mixture import GaussianMixture

    codes = np.asarray(codes, dtype=np.float64)
    mixture = GaussianMixture(n_components=min(components, len(codes)), random_state=seed, **MIXTURE_SETTINGS)
    return mixture.fit(codes)


@dataclass
class ExPostDensity:
    """A model's decoder with a Gaussian mixture fitted on its codes.

    Attributes:
        model: the trained model (its ``decode`` and likelihood make the images).
        mixture: the fitted ``sklearn.mixture.GaussianMixture``.
    """

    model: Model
    mixture: GaussianMixture

    def sample_codes(self, num: int, seed: int = 0) -> Tensor:
        """``num`` codes ``(num, latent_dim)`` drawn from the mixture (float32)."""
        self.mixture.random_state = seed
        codes, _ = self.mixture.sample(num)
        return torch.from_numpy(codes).float()

    @torch.no_grad()
    def sample(self, num: int, seed: int = 0) -> Tensor:
        """``num`` images ``(num, C, H, W)`` in [0, 1]: the means of p(x|z) for mixture codes z."""
        device = next(self.model.parameters()).device
        params = self.model.decode(self.sample_codes(num, seed).to(device))
        return self.model.likelihood.mean(params).cpu()

    def log_likelihood(self, codes: Tensor | np.ndarray) -> np.ndarray:
        """log density of the mixture at each code ``(N, latent_dim)``: ``(N,)`` nats."""
        codes = codes.detach().cpu().numpy() if torch.is_tensor(codes) else np.asarray(codes)
        return self.mixture.score_samples(codes.astype(np.float64))


@torch.no_grad()
def fit_ex_post_density(run, num_codes: int | None = 10_000, components: int = MIXTURE_COMPONENTS, seed: int = 0,
                        batch_size: int = 512) -> ExPostDensity:
    """The ex-post density of a loaded run (``disentangle.train.load_run``'s ``Run``): a
    Gaussian mixture fitted on ``encode``'s codes of ``num_codes`` training observations
    drawn uniformly without replacement (all of them when ``None`` or when the dataset
    is smaller), with the mixture's random state ``seed``."""
    model, dataset = run.model, run.dataset
    size = len(dataset)
    if num_codes is None or num_codes >= size:
        indices = np.arange(size)
    else:
        indices = np.sort(np.random.default_rng(seed).choice(size, num_codes, replace=False))
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    codes = [model.encode(dataset.observations(torch.from_numpy(chunk)).to(device)).cpu()
             for chunk in np.array_split(indices, max(1, -(-len(indices) // batch_size)))]
    model.train(was_training)
    return ExPostDensity(model, fit_code_mixture(torch.cat(codes).numpy(), components, seed))
