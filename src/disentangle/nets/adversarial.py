"""Discriminators: the adversaries of VAE-GAN, InfoGAN and AVB (architectures only).

Each takes as its body the encoder net of the run's architecture, built by the model
with ``make_encoder(architecture, observation_shape, FEATURES)`` (the conv nets for
64×64 and 28×28 observations, the MLP otherwise), so an adversary sees the
observations through the same shapes as the encoder it plays against.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

#: width of a discriminator body's output, the features its heads read
FEATURES = 256


def _head(out_features: int) -> nn.Module:
    return nn.Sequential(nn.ReLU(), nn.Linear(FEATURES, out_features))


class Discriminator(nn.Module):
    """x ``(N, C, H, W)`` → features f = body(x) ``(N, FEATURES)`` → one linear head per name.

    ``forward`` returns ``(f, {name: (N, size)})``. f is the last hidden layer (linear,
    before the heads' ReLU): VAE-GAN's Dis_l. InfoGAN gives its Q head a name of its own
    so that its parameters can be trained by another player than the body's.
    """

    def __init__(self, body: nn.Module, heads: dict[str, int]):
        super().__init__()
        self.body = body
        self.heads = nn.ModuleDict({name: _head(size) for name, size in heads.items()})

    def forward(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        features = self.body(x)
        return features, {name: head(features) for name, head in self.heads.items()}


class PairDiscriminator(nn.Module):
    """AVB's adversary T(x, z): x through ``x_net`` (an encoder body, ``FEATURES`` out), z
    through an MLP (256, ReLU, 256), both concatenated → ReLU → MLP (256, ReLU) → one
    logit ``(N,)``."""

    def __init__(self, x_net: nn.Module, latent_dim: int):
        super().__init__()
        self.x_net = x_net
        self.z_net = nn.Sequential(
            nn.Linear(latent_dim, FEATURES), nn.ReLU(),
            nn.Linear(FEATURES, FEATURES),
        )
        self.joint = nn.Sequential(
            nn.ReLU(),
            nn.Linear(2 * FEATURES, FEATURES), nn.ReLU(),
            nn.Linear(FEATURES, 1),
        )

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return self.joint(torch.cat([self.x_net(x), self.z_net(z)], dim=1)).squeeze(1)
