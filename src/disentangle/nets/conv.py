"""Convolutional encoders and decoders.

``Conv64*`` are the nets of disentanglement_lib and Burgess et al. 2018 for 64×64
inputs: conv 32, 32, 64, 64 (4×4, stride 2, ReLU) → FC 256 → features, and the
mirror image for decoding. dlib's own encoder uses 2×2 kernels in the third and fourth
convolution (``dlib_2x2=True``). ``Conv28*`` is the same pattern for 28×28 (MNIST).
"""

from __future__ import annotations

from torch import Tensor, nn


class Conv64Encoder(nn.Module):
    """``(N, C, 64, 64)`` → ``(N, out_features)``."""

    def __init__(self, channels: int, out_features: int, dlib_2x2: bool = False):
        super().__init__()
        late = {"kernel_size": 2, "stride": 2, "padding": 0} if dlib_2x2 else {"kernel_size": 4, "stride": 2, "padding": 1}
        self.net = nn.Sequential(
            nn.Conv2d(channels, 32, 4, 2, 1), nn.ReLU(),  # 32×32
            nn.Conv2d(32, 32, 4, 2, 1), nn.ReLU(),  # 16×16
            nn.Conv2d(32, 64, **late), nn.ReLU(),  # 8×8
            nn.Conv2d(64, 64, **late), nn.ReLU(),  # 4×4
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 256), nn.ReLU(),
            nn.Linear(256, out_features),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Conv64Decoder(nn.Module):
    """``(N, latent_dim)`` → ``(N, C, 64, 64)`` parameters (logits for Bernoulli)."""

    def __init__(self, latent_dim: int, channels: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 256), nn.ReLU(),
            nn.Linear(256, 64 * 4 * 4), nn.ReLU(),
            nn.Unflatten(1, (64, 4, 4)),
            nn.ConvTranspose2d(64, 64, 4, 2, 1), nn.ReLU(),  # 8×8
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),  # 16×16
            nn.ConvTranspose2d(32, 32, 4, 2, 1), nn.ReLU(),  # 32×32
            nn.ConvTranspose2d(32, channels, 4, 2, 1),  # 64×64
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class Conv28Encoder(nn.Module):
    """``(N, C, 28, 28)`` → ``(N, out_features)``: conv 32, 64 (4×4, stride 2) → FC 256."""

    def __init__(self, channels: int, out_features: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, 32, 4, 2, 1), nn.ReLU(),  # 14×14
            nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),  # 7×7
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 256), nn.ReLU(),
            nn.Linear(256, out_features),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Conv28Decoder(nn.Module):
    """``(N, latent_dim)`` → ``(N, C, 28, 28)`` parameters."""

    def __init__(self, latent_dim: int, channels: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 256), nn.ReLU(),
            nn.Linear(256, 64 * 7 * 7), nn.ReLU(),
            nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),  # 14×14
            nn.ConvTranspose2d(32, channels, 4, 2, 1),  # 28×28
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)
