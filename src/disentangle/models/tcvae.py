"""β-TCVAE (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs").

dlib's BetaTCVAE: Chen's eq. 4 with α = γ = 1, i.e. recon + KL + (β − 1)·TC, where KL
is the analytic batch-mean KL and TC the total correlation of q(z) estimated on the
minibatch (see ``tc_estimators``). With the default estimator (``mws``) the gradient
is dlib's exactly; the value of the TC the loss weighs, and so of ``loss``, includes
the constant (D − 1)·log(N·M) that dlib drops.

The log names each estimate by its estimator, since neither reads as the quantity it
estimates: ``tc_mws`` (with ``mws``: the term the loss weighs) is high by about
(D − 1)·log N, and ``index_code_mi_mss``, ``tc_mss``, ``dimwise_kl_mss`` (always; with
``mss`` the loss weighs ``tc_mss``) are biased where a batch holds few neighbours of a
code: q(z) comes out low, the MI high and the TC low, even negative. On the quick-start
run (step 1,060, batch 256) they were MI 11.2, TC −3.3 where the exact decomposition over
the whole dataset (``metrics.elbo_decomposition``, ``estimator="exact"``) gives 7.7 and
0.12 (``docs/metrics.md``). Runs logged before these names (``index_code_mi``, ``tc``,
``dimwise_kl``) hold the loss's estimator's estimates under the plain names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from disentangle.models.base import ModelConfig, require
from disentangle.models.tc_estimators import ESTIMATORS, kl_decomposition
from disentangle.models.vae import GaussianVAE


@dataclass(frozen=True)
class BetaTCVAEConfig(ModelConfig):
    """β weighs the total correlation (β = 1 is the VAE); ``estimator`` is ``mws``
    (minibatch weighted sampling, dlib's) or ``mss`` (minibatch stratified sampling);
    ``dataset_size`` is N, the number of training observations (default: the size of
    the dataset the run trains on, set when training starts and stored in config.json)."""

    beta: float = 6.0
    estimator: str = "mws"
    dataset_size: int | None = None

    DATA_DERIVED: ClassVar = {"dataset_size": len}

    def __post_init__(self):
        super().__post_init__()
        require(self.beta > 0, "beta", "> 0", self.beta)
        require(self.estimator in ESTIMATORS, "estimator", f"one of {', '.join(ESTIMATORS)}", self.estimator)
        require(
            self.dataset_size is None or (isinstance(self.dataset_size, int) and self.dataset_size >= 1),
            "dataset_size", "an integer ≥ 1", self.dataset_size,
        )


class BetaTCVAE(GaussianVAE):
    """recon + KL + (β − 1)·TC; logs the batch estimates of Chen's decomposition of the
    KL by MSS (nats): ``index_code_mi_mss`` + ``tc_mss`` + ``dimwise_kl_mss`` = the Monte
    Carlo KL at z, and with ``mws`` the loss's own TC estimate ``tc_mws``."""

    name = "beta-tcvae"
    config_class = BetaTCVAEConfig
    packable_settings = ("beta",)

    def __init__(self, config: BetaTCVAEConfig, observation_shape: tuple[int, int, int]):
        require(config.dataset_size is not None, "dataset_size",
                "set (config.for_dataset(dataset) sets it to the training data's size)", None)
        super().__init__(config, observation_shape)

    def regularizer(self, kl, kl_per_dim, mean, logvar, z, step):
        estimator, dataset_size = self.config.estimator, self.config.dataset_size
        weighed = kl_decomposition(z, mean, logvar, dataset_size, estimator)
        regularizer = kl + (self.config.beta - 1) * weighed["tc"]
        if estimator == "mss":
            return {"regularizer": regularizer, **_named(weighed, "mss")}
        logged = {"tc_mws": weighed["tc"]}
        if z.shape[0] >= 2 and dataset_size >= z.shape[0] - 1:  # what MSS needs
            logged.update(_named(kl_decomposition(z.detach(), mean.detach(), logvar.detach(), dataset_size, "mss"),
                                 "mss"))
        return {"regularizer": regularizer, **logged}

    def term_descriptions(self) -> dict[str, str]:
        estimates = {
            "mss": ("minibatch stratified sampling estimate on each batch, nats; biased where the batch holds few "
                    "neighbours of a code in q(z): MI too high, TC too low (even negative)"),
            "mws": "minibatch weighted sampling estimate on each batch, nats",
        }
        offsets = {  # of MWS where posteriors overlap (see tc_estimators)
            "index_code_mi": "high by between log M and log N", "tc": "high by about (D − 1)·log N",
            "dimwise_kl": "low by about (D − 1)·log N",
        }
        descriptions = super().term_descriptions()
        for term, name in QUANTITIES.items():
            for estimator, estimate in estimates.items():
                offset = f", {offsets[term]}" if estimator == "mws" else ""
                weighs = "; the loss weighs it by β − 1" if term == "tc" and estimator == self.config.estimator else ""
                descriptions[f"{term}_{estimator}"] = f"{name}: {estimate}{offset}{weighs}"
            # logs written before the names said the estimator: the loss's estimator's estimates
            descriptions[term] = descriptions[f"{term}_{self.config.estimator}"]
        return descriptions


#: the terms of Chen's decomposition of the KL, as the log names them (before the estimator)
QUANTITIES = {
    "index_code_mi": "index-code mutual information I(x; z) of q(z|x)",
    "tc": "total correlation of the aggregate posterior q(z)",
    "dimwise_kl": "dimension-wise KL Σ_l KL(q(z_l) ‖ p(z_l))",
}


def _named(terms: dict, estimator: str) -> dict:
    return {f"{term}_{estimator}": value for term, value in terms.items()}
