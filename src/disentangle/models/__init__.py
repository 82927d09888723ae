"""Models: one file per family, each the mathematics of one objective.

``build_model(name, observation_shape, **hyperparameters)`` validates the
hyperparameters through the model's frozen config dataclass and builds it.
"""

from __future__ import annotations

import dataclasses

from disentangle.errors import InputError
from disentangle.models.autoencoders import Autoencoder, ContractiveAE, DenoisingAE, KSparseAE, SparseAE
from disentangle.models.aae import AAE, DeterministicAAE
from disentangle.models.avb import AVB
from disentangle.models.base import Batch, Capabilities, Model, ModelConfig, Player
from disentangle.models.dc_ign import DCIGN
from disentangle.models.dip_vae import DIPVAEI, DIPVAEII
from disentangle.models.draw import DRAW
from disentangle.models.factor_vae import FactorVAE
from disentangle.models.flow_vae import IAFVAE, LinearFlowVAE
from disentangle.models.info_vae import InfoVAE
from disentangle.models.infogan import InfoGAN
from disentangle.models.iwae import IWAE
from disentangle.models.iwae_variants import CIWAE, MIWAE, PIWAE
from disentangle.models.latent_quantization import QLAE
from disentangle.models.rae import RAEGP, RAEL2
from disentangle.models.svae import HypersphericalVAE
from disentangle.models.tc_wae import TCWAEGAN, TCWAEMWS
from disentangle.models.tcvae import BetaTCVAE
from disentangle.models.triplet import AdaTripletVAE, TripletVAE
from disentangle.models.vae import VAE, AnnealedVAE, BetaVAE, GaussianVAE
from disentangle.models.vae_gan import VAEGAN
from disentangle.models.vamp import VampPriorVAE
from disentangle.models.vq_vae import VQVAE
from disentangle.models.wae import WAEMMD
from disentangle.models.semi_supervised import S2BetaTCVAE, S2BetaVAE, S2DIPVAEI, S2DIPVAEII, S2FactorVAE, SupervisedVAE
from disentangle.models.weak import MLVAE, AdaGVAE, AdaMLVAE, GroupVAE

#: name used at the command line and in config.json -> model class
MODELS: dict[str, type[Model]] = {
    cls.name: cls
    for cls in (
        VAE, BetaVAE, AnnealedVAE,
        Autoencoder, DenoisingAE, SparseAE, KSparseAE, ContractiveAE,
        BetaTCVAE, DIPVAEI, DIPVAEII, InfoVAE,
        FactorVAE,
        VAEGAN, AVB, VQVAE, IWAE, InfoGAN, DCIGN, DRAW,
        MIWAE, CIWAE, PIWAE,
        VampPriorVAE, LinearFlowVAE, IAFVAE,
        HypersphericalVAE, WAEMMD, RAEL2, RAEGP, AAE, DeterministicAAE,
        QLAE, TCWAEMWS, TCWAEGAN,
        GroupVAE, MLVAE, AdaGVAE, AdaMLVAE,
        TripletVAE, AdaTripletVAE,
        S2BetaVAE, S2FactorVAE, S2DIPVAEI, S2DIPVAEII, S2BetaTCVAE, SupervisedVAE,
    )
}


def hyperparameter_names(name: str) -> list[str]:
    """The hyperparameters (config fields) of the model called ``name``."""
    return [field.name for field in dataclasses.fields(model_class(name).config_class)]


def model_class(name: str) -> type[Model]:
    if name not in MODELS:
        raise InputError(f"--model: unknown model '{name}' (expected one of {', '.join(sorted(MODELS))})")
    return MODELS[name]


def model_config(name: str, **hyperparameters) -> ModelConfig:
    """The validated configuration of model ``name``; unknown hyperparameters are errors."""
    valid = hyperparameter_names(name)
    for key in hyperparameters:
        if key not in valid:
            raise InputError(f"--{key.replace('_', '-')}: not a hyperparameter of {name} (it takes {', '.join(valid)})")
    return model_class(name).config_class(**hyperparameters)


def build_model(name: str, observation_shape: tuple[int, int, int], **hyperparameters) -> Model:
    """The model called ``name`` for observations of ``observation_shape``."""
    return model_class(name)(model_config(name, **hyperparameters), observation_shape)


__all__ = [
    "MODELS", "Batch", "Capabilities", "GaussianVAE", "Model", "ModelConfig", "Player",
    "build_model", "hyperparameter_names", "model_class", "model_config",
]
