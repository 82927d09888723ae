"""Encoders and decoders: architectures only, no objectives.

An encoder maps observations ``(N, C, H, W)`` to features ``(N, out_features)``; a
decoder maps codes ``(N, latent_dim)`` to distribution parameters shaped like the
observations ``(N, C, H, W)``. Models decide what the features mean (a Gaussian's
mean and log-variance, a code, ...).
"""

from __future__ import annotations

from torch import nn

from disentangle.errors import InputError
from disentangle.nets.adversarial import Discriminator, PairDiscriminator
from disentangle.nets.conv import Conv28Decoder, Conv28Encoder, Conv64Decoder, Conv64Encoder
from disentangle.nets.discriminator import CodeDiscriminator
from disentangle.nets.draw import DRAWDecoderCell, DRAWEncoderCell
from disentangle.nets.mlp import MLPDecoder, MLPEncoder

ARCHITECTURES = ("auto", "conv", "conv-2x2", "mlp")


def resolve_architecture(architecture: str, observation_shape: tuple[int, int, int]) -> str:
    """``auto`` → ``conv`` for 64×64 and 28×28 observations, ``mlp`` otherwise."""
    if architecture not in ARCHITECTURES:
        raise InputError(f"--architecture: unknown '{architecture}' (expected one of {', '.join(ARCHITECTURES)})")
    size = tuple(observation_shape[1:])
    if architecture == "auto":
        return "conv" if size in ((64, 64), (28, 28)) else "mlp"
    if architecture.startswith("conv") and size not in ((64, 64), (28, 28)):
        raise InputError(
            f"--architecture {architecture}: needs 64×64 or 28×28 observations, got {size[0]}×{size[1]} "
            "(use --architecture mlp)"
        )
    if architecture == "conv-2x2" and size != (64, 64):
        raise InputError("--architecture conv-2x2: dlib's 2×2 variant exists for 64×64 observations only")
    return architecture


def make_encoder(architecture: str, observation_shape: tuple[int, int, int], out_features: int) -> nn.Module:
    """The encoder named ``architecture`` (see ``ARCHITECTURES``) for these observations."""
    architecture = resolve_architecture(architecture, observation_shape)
    channels, height, _ = observation_shape
    if architecture == "mlp":
        return MLPEncoder(observation_shape, out_features)
    if height == 28:
        return Conv28Encoder(channels, out_features)
    return Conv64Encoder(channels, out_features, dlib_2x2=architecture == "conv-2x2")


def make_decoder(architecture: str, latent_dim: int, observation_shape: tuple[int, int, int]) -> nn.Module:
    """The decoder named ``architecture`` producing parameters shaped like the observations."""
    architecture = resolve_architecture(architecture, observation_shape)
    channels, height, _ = observation_shape
    if architecture == "mlp":
        return MLPDecoder(latent_dim, observation_shape)
    if height == 28:
        return Conv28Decoder(latent_dim, channels)
    return Conv64Decoder(latent_dim, channels)


__all__ = [
    "ARCHITECTURES", "CodeDiscriminator", "DRAWDecoderCell", "DRAWEncoderCell", "Discriminator", "PairDiscriminator",
    "make_decoder", "make_encoder", "resolve_architecture",
]
