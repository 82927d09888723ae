"""Encoders and decoders: architectures only, no objectives.

An encoder maps observations ``(N, C, H, W)`` to features ``(N, out_features)``; a
decoder maps codes ``(N, latent_dim)`` to distribution parameters shaped like the
observations ``(N, C, H, W)``. Models decide what the features mean (a Gaussian's
mean and log-variance, a code, ...).

Architectures are looked up by name in a registry. The built-in ones are ``conv``
(square power-of-two images from 16 to 256 pixels, and 28×28), ``conv-2x2`` (dlib's
64×64 encoder), ``mlp`` (any shape) and ``auto`` (``conv`` where it applies, else
``mlp``). Bring your own with ``register_architecture``; a run folder then stores the
architecture's name and the keyword arguments its constructors were given
(``architecture_options``), never code, so the process that loads the run registers
the same name first.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from torch import nn

from disentangle.errors import InputError, SettingError
from disentangle.nets.adversarial import Discriminator, PairDiscriminator
from disentangle.nets.conv import CONV_SIZES, Conv28Decoder, Conv28Encoder, ConvDecoder, ConvEncoder
from disentangle.nets.discriminator import CodeDiscriminator
from disentangle.nets.draw import DRAWDecoderCell, DRAWEncoderCell
from disentangle.nets.mlp import MLPDecoder, MLPEncoder

Shape = tuple[int, int, int]


@dataclass(frozen=True)
class Architecture:
    """The two constructors of an architecture.

    ``make_encoder(observation_shape, out_features, **options)`` returns a module mapping
    ``(N, C, H, W)`` to ``(N, out_features)``; ``make_decoder(latent_dim,
    observation_shape, **options)`` one mapping ``(N, latent_dim)`` to ``(N, C, H, W)``
    parameters of the likelihood (logits for Bernoulli). ``options`` are the run's
    ``architecture_options``, JSON values. Either may raise ``InputError`` for an
    observation shape it cannot take.
    """

    make_encoder: Callable[..., nn.Module]
    make_decoder: Callable[..., nn.Module]


def _conv_size(observation_shape: Shape) -> int:
    """The side of square observations the conv nets take (28 or 16…256, a power of two)."""
    height, width = observation_shape[1:]
    if height != width or (height not in CONV_SIZES and height != 28):
        sizes = ", ".join(str(size) for size in CONV_SIZES)
        raise InputError(
            f"--architecture conv: needs square observations of {sizes} or 28 pixels, got {height}×{width} "
            "(use --architecture mlp)"
        )
    return height


def _conv_encoder(observation_shape: Shape, out_features: int) -> nn.Module:
    channels, size = observation_shape[0], _conv_size(observation_shape)
    return Conv28Encoder(channels, out_features) if size == 28 else ConvEncoder(channels, size, out_features)


def _conv_decoder(latent_dim: int, observation_shape: Shape) -> nn.Module:
    channels, size = observation_shape[0], _conv_size(observation_shape)
    return Conv28Decoder(latent_dim, channels) if size == 28 else ConvDecoder(latent_dim, channels, size)


def _conv_2x2_encoder(observation_shape: Shape, out_features: int) -> nn.Module:
    if tuple(observation_shape[1:]) != (64, 64):
        raise InputError("--architecture conv-2x2: dlib's 2×2 variant exists for 64×64 observations only")
    return ConvEncoder(observation_shape[0], 64, out_features, dlib_2x2=True)


def _conv_2x2_decoder(latent_dim: int, observation_shape: Shape) -> nn.Module:
    if tuple(observation_shape[1:]) != (64, 64):
        raise InputError("--architecture conv-2x2: dlib's 2×2 variant exists for 64×64 observations only")
    return ConvDecoder(latent_dim, observation_shape[0], 64)


#: ``auto`` is not an entry: it names ``conv`` or ``mlp`` by the observations' shape
AUTO = "auto"
_REGISTRY: dict[str, Architecture] = {
    "conv": Architecture(_conv_encoder, _conv_decoder),
    "conv-2x2": Architecture(_conv_2x2_encoder, _conv_2x2_decoder),
    "mlp": Architecture(MLPEncoder, MLPDecoder),
}
BUILT_IN = (AUTO, *_REGISTRY)


def register_architecture(
    name: str, make_encoder: Callable[..., nn.Module], make_decoder: Callable[..., nn.Module]
) -> None:
    """Make ``name`` usable as a model's ``architecture`` in this process (see ``Architecture``).

    Register it before building, training or loading a model that names it; every model
    builds its encoder, decoder and discriminator bodies with these constructors.
    Raises ``InputError`` if ``name`` is taken.
    """
    if not isinstance(name, str) or not name or name == AUTO or name in _REGISTRY:
        raise InputError(f"register_architecture: '{name}' is already taken (registered: {', '.join(architectures())})")
    if not callable(make_encoder) or not callable(make_decoder):
        raise InputError(f"register_architecture: '{name}': make_encoder and make_decoder must be callables")
    _REGISTRY[name] = Architecture(make_encoder, make_decoder)


def architectures() -> list[str]:
    """Every architecture name a model may use now: ``auto``, the built-in ones, then those registered."""
    return [AUTO, *_REGISTRY]


def check_architecture(name) -> None:
    """Raise ``SettingError`` naming how to register ``name`` unless it is registered."""
    if name not in architectures():
        expected = (
            f"one of {', '.join(architectures())}, or a name registered in this process with "
            f"disentangle.nets.register_architecture('{name}', make_encoder, make_decoder)"
        )
        raise SettingError("architecture", expected, repr(name))


def resolve_architecture(architecture: str, observation_shape: Shape) -> str:
    """``auto`` → ``conv`` for the square sizes the conv nets take, ``mlp`` otherwise;
    any other registered name is itself."""
    check_architecture(architecture)
    if architecture != AUTO:
        return architecture
    try:
        _conv_size(observation_shape)
    except InputError:
        return "mlp"
    return "conv"


def _build(architecture: str, role: str, constructor: Callable, arguments: tuple, options: Mapping) -> nn.Module:
    options = dict(options or {})
    if options and architecture in BUILT_IN:
        raise InputError(f"--architecture-options: the built-in architecture {architecture} takes none, got {options}")
    try:
        inspect.signature(constructor).bind(*arguments, **options)
    except TypeError as error:
        raise InputError(
            f"--architecture-options: {architecture}'s make_{role} does not take {options} ({error})"
        ) from None
    except ValueError:  # no signature to inspect (a builtin): let the call say
        pass
    return constructor(*arguments, **options)


def make_encoder(
    architecture: str, observation_shape: Shape, out_features: int, options: Mapping | None = None
) -> nn.Module:
    """The encoder of ``architecture`` for these observations, built with ``options``."""
    name = resolve_architecture(architecture, observation_shape)
    arguments = (tuple(observation_shape), out_features)
    return _build(name, "encoder", _REGISTRY[name].make_encoder, arguments, options)


def make_decoder(
    architecture: str, latent_dim: int, observation_shape: Shape, options: Mapping | None = None
) -> nn.Module:
    """The decoder of ``architecture`` producing parameters shaped like the observations."""
    name = resolve_architecture(architecture, observation_shape)
    arguments = (latent_dim, tuple(observation_shape))
    return _build(name, "decoder", _REGISTRY[name].make_decoder, arguments, options)


__all__ = [
    "Architecture", "CodeDiscriminator", "DRAWDecoderCell", "DRAWEncoderCell", "Discriminator", "PairDiscriminator",
    "architectures", "check_architecture", "make_decoder", "make_encoder", "register_architecture",
    "resolve_architecture",
]
