"""β-TCVAE (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs").

dlib's BetaTCVAE: Chen's eq. 4 with α = γ = 1, i.e. recon + KL + (β − 1)·TC, where KL
is the analytic batch-mean KL and TC the total correlation of q(z) estimated on the
minibatch (see ``tc_estimators``). With the default estimator (``mws``) the gradient
is dlib's exactly; the value of ``tc``, and so of ``loss``, includes the constant
(D − 1)·log(N·M) that dlib drops.
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
    KL (nats): ``index_code_mi`` + ``tc`` + ``dimwise_kl`` = the Monte Carlo KL at z."""

    name = "beta-tcvae"
    config_class = BetaTCVAEConfig
    packable_settings = ("beta",)

    def __init__(self, config: BetaTCVAEConfig, observation_shape: tuple[int, int, int]):
        require(config.dataset_size is not None, "dataset_size",
                "set (config.for_dataset(dataset) sets it to the training data's size)", None)
        super().__init__(config, observation_shape)

    def regularizer(self, kl, kl_per_dim, mean, logvar, z, step):
        terms = kl_decomposition(z, mean, logvar, self.config.dataset_size, self.config.estimator)
        return {"regularizer": kl + (self.config.beta - 1) * terms["tc"], **terms}
