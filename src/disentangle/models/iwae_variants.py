"""MIWAE, CIWAE and PIWAE (Rainforth et al. 2018, "Tighter Variational Bounds are Not
Necessarily Better", ICML), as pythae's ``MIWAE``, ``CIWAE`` and ``PIWAE`` with its defaults.

Each is the IWAE's model (``disentangle.models.iwae``: the VAE's nets, Gaussian q(z|x),
N(0, I) prior) trained on another bound built from the same log-weights
log w_i = log p(x|z_i) + log p(z_i) − log q(z_i|x), z_i ~ q(z|x), as the paper's section on
its new estimators defines them:

- MIWAE(M, K): the mean of M IWAE bounds of K samples each,
  L = (1/M) Σ_m log (1/K) Σ_k w_{m,k}; M = 1 is the IWAE, K = 1 the ELBO.
- CIWAE(β): the convex combination β·ELBO + (1 − β)·IWAE_K of the ELBO and the IWAE
  bound, both estimated from the same K samples; β = 1 is the ELBO, β = 0 the IWAE.
- PIWAE(M, K): the inference network ascends MIWAE(M, K) and the generative network
  IWAE_{M·K}, the IWAE bound of all M·K samples; two players, each optimizer taking the
  gradient of its own bound with respect to its own net only.

Where pythae differs (each said again at the class): its MIWAE and PIWAE normalise the
importance weights over the M axis of its (batch, M, K) log-weights, i.e. compute the mean
of K IWAE bounds of M samples each, so its defaults (M = 5, K = 10) train what here is
M = 10, K = 5; here the axes are the paper's. Its loss is −Σ_i w̃_i log w_i with w̃ the
detached normalised weights, whose gradient is that of the bound: here the loss is −bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from disentangle.models.base import Player, require
from disentangle.models.iwae import IWAE, IWAEConfig, importance_weighted_bound


@dataclass(frozen=True)
class MIWAEConfig(IWAEConfig):
    """``num_samples`` is K, the importance samples of each bound (pythae's
    ``number_samples``, 10), ``num_estimates`` M, the bounds averaged (pythae's
    ``number_gradient_estimates``, 5); each step decodes M·K codes per observation."""

    num_samples: int = 10
    num_estimates: int = 5

    def __post_init__(self):
        super().__post_init__()
        require(isinstance(self.num_estimates, int) and self.num_estimates >= 1,
                "num_estimates", "an integer ≥ 1", self.num_estimates)


@dataclass(frozen=True)
class CIWAEConfig(IWAEConfig):
    """``num_samples`` is K (pythae's ``number_samples``, 10); ``beta`` ∈ [0, 1] weighs the
    ELBO against the IWAE bound (pythae's ``beta``, 0.5; Rainforth's β)."""

    num_samples: int = 10
    beta: float = 0.5

    def __post_init__(self):
        super().__post_init__()
        require(0 <= self.beta <= 1, "beta", "in [0, 1]", self.beta)


class MIWAE(IWAE):
    """loss = −MIWAE(M, K) averaged over the batch (nats): M·K draws z ~ q(z|x) per
    observation, split into M groups of K, one IWAE bound per group, their mean. Logs
    ``miwae_bound`` and, from the same draws, ``elbo``, ``recon``, ``kl`` and ``kl_per_dim``.

    pythae's code averages K bounds of M samples (weights normalised over its M axis);
    the paper's M bounds of K samples are computed here."""

    name = "miwae"
    config_class = MIWAEConfig

    def bounds(self, x: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """(MIWAE(M, K), IWAE_{M·K}, the terms ``sample_log_weights`` logs), batch means,
        all from one set of M·K draws per observation."""
        estimates, samples = self.config.num_estimates, self.config.num_samples
        log_w, terms = self.sample_log_weights(x, estimates * samples)
        miwae = importance_weighted_bound(log_w.view(-1, estimates, samples)).mean()
        return miwae, importance_weighted_bound(log_w).mean(), terms

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        miwae, _, terms = self.bounds(x)
        return {"loss": -miwae, "miwae_bound": miwae, **terms}

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "recon": ("−log p(x|z_i) summed over pixels, averaged over the M·K samples z_i ~ q(z|x) and the batch, "
                      "nats"),
            "elbo": ("the ELBO estimated from the same M·K samples: log w_i averaged over them and the batch, nats "
                     "(≤ miwae_bound)"),
            "miwae_bound": ("MIWAE(M, K) = (1/M) Σ_m log (1/K) Σ_k w_{m,k}, the mean of M IWAE bounds of K samples, "
                            "w = p(x|z) p(z) / q(z|x), batch mean, nats; the loss is −miwae_bound"),
        }


class CIWAE(IWAE):
    """loss = −(β·ELBO + (1 − β)·IWAE_K) averaged over the batch (nats), both bounds from
    the same K draws z ~ q(z|x) (pythae's ``CIWAE``). Logs ``ciwae_bound``, ``iwae_bound``,
    ``elbo``, ``recon``, ``kl`` and ``kl_per_dim``."""

    name = "ciwae"
    config_class = CIWAEConfig

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        log_w, terms = self.sample_log_weights(x, self.config.num_samples)
        iwae = importance_weighted_bound(log_w).mean()
        bound = self.config.beta * terms["elbo"] + (1 - self.config.beta) * iwae
        return {"loss": -bound, "ciwae_bound": bound, "iwae_bound": iwae, **terms}

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "iwae_bound": ("the K-sample bound L_K = log (1/K) Σ_i w_i, w_i = p(x|z_i) p(z_i) / q(z_i|x), batch mean, "
                           "nats"),
            "ciwae_bound": ("CIWAE(β) = β·elbo + (1 − β)·iwae_bound from the same K samples, batch mean, nats; the "
                            "loss is −ciwae_bound"),
        }


class PIWAE(MIWAE):
    """Players ``encoder`` (``loss`` = −MIWAE(M, K)) and ``decoder`` (``loss_decoder`` =
    −IWAE_{M·K}), both bounds from one set of M·K draws per observation. Logs
    ``miwae_bound``, ``iwae_bound`` and the terms of the MIWAE.

    pythae's ``CoupledOptimizerTrainer`` calls ``backward`` on both losses before stepping,
    so its encoder's gradient is that of −(MIWAE + IWAE_{M·K}); here, as in the paper, the
    encoder's is that of −MIWAE alone (and its MIWAE axes are the paper's, see ``MIWAE``)."""

    name = "piwae"

    def players(self) -> list[Player]:
        return [
            Player("encoder", tuple(self.encoder.parameters())),
            Player("decoder", tuple(self.decoder.parameters()), loss_key="loss_decoder"),
        ]

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        miwae, iwae, terms = self.bounds(x)
        return {"loss": -miwae, "loss_decoder": -iwae, "miwae_bound": miwae, "iwae_bound": iwae, **terms}

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "loss": "the encoder's loss, −miwae_bound",
            "loss_decoder": "the decoder's loss, −iwae_bound",
            "miwae_bound": ("MIWAE(M, K) = (1/M) Σ_m log (1/K) Σ_k w_{m,k}, the mean of M IWAE bounds of K samples, "
                            "w = p(x|z) p(z) / q(z|x), batch mean, nats: the bound the encoder ascends"),
            "iwae_bound": ("IWAE_{M·K} = log (1/(M·K)) Σ_i w_i over all M·K samples, batch mean, nats "
                           "(≥ miwae_bound): the bound the decoder ascends"),
        }
