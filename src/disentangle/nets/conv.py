"""Convolutional encoders and decoders for square images.

``ConvEncoder`` and ``ConvDecoder`` generalise the nets of disentanglement_lib and
Burgess et al. 2018 to any square power-of-two size from 16 to 256 pixels: 4×4
convolutions of stride 2 (ReLU) halve the image until it is 4×4, then FC 256 →
features; the decoder mirrors it. At 64×64 these are exactly dlib's nets — conv 32,
32, 64, 64 → FC 256 — and dlib's own encoder uses 2×2 kernels in the third and fourth
convolution (``dlib_2x2=True``, 64×64 only). Other sizes keep the pattern: the first
half of the convolutions has 32 channels, the second half 64 (16×16: 32, 64;
128×128: 32, 32, 64, 64, 64). ``Conv28*`` is the same pattern for 28×28 (MNIST).
"""

from __future__ import annotations

from torch import Tensor, nn

#: square image sizes (pixels) the power-of-two convolutional nets take
CONV_SIZES = tuple(2**k for k in range(4, 9))
#: side of the feature map after the last convolution
_BOTTOM = 4


def conv_widths(size: int) -> list[int]:
    """Channels of each stride-2 convolution of a ``size``×``size`` encoder, first to last."""
    if size not in CONV_SIZES:
        raise ValueError(f"conv nets take square sizes {CONV_SIZES}, got {size}")
    layers = size.bit_length() - _BOTTOM.bit_length()
    return [32 if i < layers // 2 else 64 for i in range(layers)]


class ConvEncoder(nn.Module):
    """``(N, C, size, size)`` → ``(N, out_features)``."""

    def __init__(self, channels: int, size: int, out_features: int, dlib_2x2: bool = False):
        super().__init__()
        if dlib_2x2 and size != 64:
            raise ValueError("dlib's 2×2 variant exists for 64×64 observations only")
        widths = conv_widths(size)
        four = {"kernel_size": 4, "stride": 2, "padding": 1}
        late = {"kernel_size": 2, "stride": 2, "padding": 0} if dlib_2x2 else four
        layers: list[nn.Module] = []
        for index, (width_in, width_out) in enumerate(zip([channels, *widths], widths)):
            shape = late if index >= 2 else four
            layers += [nn.Conv2d(width_in, width_out, **shape), nn.ReLU()]
        self.net = nn.Sequential(
            *layers,
            nn.Flatten(),
            nn.Linear(widths[-1] * _BOTTOM * _BOTTOM, 256), nn.ReLU(),
            nn.Linear(256, out_features),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """``(N, latent_dim)`` → ``(N, C, size, size)`` parameters (logits for Bernoulli)."""

    def __init__(self, latent_dim: int, channels: int, size: int):
        super().__init__()
        widths = conv_widths(size)[::-1]
        # Modules are created in the order they run, which fixes how they draw their initial weights.
        layers: list[nn.Module] = [
            nn.Linear(latent_dim, 256), nn.ReLU(),
            nn.Linear(256, widths[0] * _BOTTOM * _BOTTOM), nn.ReLU(),
            nn.Unflatten(1, (widths[0], _BOTTOM, _BOTTOM)),
        ]
        for width_in, width_out in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(width_in, width_out, 4, 2, 1), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1))

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
