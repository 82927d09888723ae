"""Fully connected nets of Higgins et al. 2017 (dSprites): 4096 → 1200 → 1200 → features
(ReLU), and features → 1200 → 1200 → 1200 (tanh) → pixels. Any observation shape."""

from __future__ import annotations

import math

from torch import Tensor, nn


class MLPEncoder(nn.Module):
    """``(N, C, H, W)`` → ``(N, out_features)``."""

    def __init__(self, observation_shape: tuple[int, int, int], out_features: int, hidden: int = 1200):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(observation_shape), hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, out_features),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class MLPDecoder(nn.Module):
    """``(N, latent_dim)`` → ``(N, C, H, W)`` parameters."""

    def __init__(self, latent_dim: int, observation_shape: tuple[int, int, int], hidden: int = 1200):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.Tanh(),
            nn.Linear(hidden, hidden), nn.Tanh(),
            nn.Linear(hidden, hidden), nn.Tanh(),
            nn.Linear(hidden, math.prod(observation_shape)),
            nn.Unflatten(1, tuple(observation_shape)),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)
