"""Discriminators on codes: architectures only, no objectives.

``CodeDiscriminator`` is the FactorVAE discriminator of Kim & Mnih 2018 (Appendix, all
datasets) and of disentanglement_lib's ``fc_discriminator``: 6 fully connected layers
of 1000 units with LeakyReLU(0.2), then a linear layer to 2 logits.
"""

from __future__ import annotations

from torch import Tensor, nn


class CodeDiscriminator(nn.Module):
    """``(N, latent_dim)`` codes → ``(N, out_features)`` logits.

    ``layers`` hidden layers of ``hidden`` units, each LeakyReLU with slope
    ``negative_slope``; the defaults are Kim & Mnih's and dlib's.
    """

    def __init__(
        self,
        latent_dim: int,
        hidden: int = 1000,
        layers: int = 6,
        out_features: int = 2,
        negative_slope: float = 0.2,
    ):
        super().__init__()
        widths = [latent_dim] + [hidden] * layers
        blocks = []
        for width_in, width_out in zip(widths, widths[1:]):
            blocks += [nn.Linear(width_in, width_out), nn.LeakyReLU(negative_slope)]
        self.net = nn.Sequential(*blocks, nn.Linear(widths[-1], out_features))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)
