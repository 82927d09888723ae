"""DRAW's recurrent cells and Gaussian attention (Gregor et al. 2015, "DRAW: A Recurrent
Neural Network For Image Generation", section 3).

An N × N grid of Gaussian filters is placed on a B × A image (height × width) by five
numbers read linearly from the decoder state h_dec (eq. 21): the grid centre (g_X, g_Y),
the stride δ between filters, the isotropic variance σ² of every filter and an
intensity γ. The filterbank matrices F_X ``(N, A)`` and F_Y ``(N, B)`` (eqs. 25–26)
extract an N × N glimpse F_Y x F_Xᵀ (``read``) or paint a patch w as F_Yᵀ w F_X
(``write``), one channel at a time. Any image size works; pixel coordinates run 1..A
and 1..B as in the paper.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

#: added to each filter's normaliser Z, so a filter far outside the image stays finite
EPSILON = 1e-8


def filterbank(centre: Tensor, stride: Tensor, variance: Tensor, size: int, grid: int) -> Tensor:
    """F ``(batch, grid, size)``: row i is the Gaussian at μ_i = centre + (i − grid/2 − 0.5)·stride
    (i = 1..grid, eq. 19–20) over the pixel coordinates 1..size, normalised to sum to 1
    (eqs. 25–26). ``centre``, ``stride``, ``variance`` are ``(batch,)``."""
    offsets = torch.arange(1, grid + 1, dtype=centre.dtype, device=centre.device) - grid / 2 - 0.5
    mu = centre[:, None] + offsets * stride[:, None]  # (batch, grid)
    pixels = torch.arange(1, size + 1, dtype=centre.dtype, device=centre.device)
    weights = torch.exp(-(pixels - mu[:, :, None]).square() / (2 * variance[:, None, None]))
    return weights / (weights.sum(2, keepdim=True) + EPSILON)


class AttentionWindow(nn.Module):
    """h_dec ``(batch, hidden)`` → (F_Y ``(batch, N, B)``, F_X ``(batch, N, A)``, γ ``(batch,)``).

    eq. 21–24: (g̃_X, g̃_Y, log σ², log δ̃, log γ) = W h_dec + b; g_X = (A + 1)/2·(g̃_X + 1),
    g_Y = (B + 1)/2·(g̃_Y + 1), δ = (max(A, B) − 1)/(N − 1)·δ̃ (for N = 1, δ = δ̃).
    """

    def __init__(self, hidden_size: int, height: int, width: int, grid: int):
        super().__init__()
        self.height, self.width, self.grid = height, width, grid
        self.parameters_layer = nn.Linear(hidden_size, 5)

    def forward(self, h_dec: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        g_x, g_y, log_variance, log_stride, log_gamma = self.parameters_layer(h_dec).unbind(1)
        centre_x = (self.width + 1) / 2 * (g_x + 1)
        centre_y = (self.height + 1) / 2 * (g_y + 1)
        stride = (max(self.height, self.width) - 1) / max(self.grid - 1, 1) * log_stride.exp()
        variance = log_variance.exp()
        f_y = filterbank(centre_y, stride, variance, self.height, self.grid)
        f_x = filterbank(centre_x, stride, variance, self.width, self.grid)
        return f_y, f_x, log_gamma.exp()


def read_glimpse(image: Tensor, f_y: Tensor, f_x: Tensor) -> Tensor:
    """F_Y x F_Xᵀ for each channel: ``(batch, C, B, A)`` → ``(batch, C, N, N)``."""
    return torch.einsum("bjh,bchw,biw->bcji", f_y, image, f_x)


class DRAWEncoderCell(nn.Module):
    """One step of the inference network (eqs. 4–5 and 27).

    r_t = γ [read(x), read(x̂_t)] with the window of h_dec_{t−1}; h_enc_t =
    LSTM_enc(h_enc_{t−1}, [r_t, h_dec_{t−1}]); (μ_t, log σ_t²) = W h_enc_t + b.
    """

    def __init__(
        self, observation_shape: tuple[int, int, int], read_size: int, hidden_size: int, latent_dim: int
    ):
        super().__init__()
        channels, height, width = observation_shape
        self.window = AttentionWindow(hidden_size, height, width, read_size)
        self.lstm = nn.LSTMCell(2 * channels * read_size**2 + hidden_size, hidden_size)
        self.posterior = nn.Linear(hidden_size, 2 * latent_dim)

    def forward(
        self, x: Tensor, x_hat: Tensor, h_dec: Tensor, state: tuple[Tensor, Tensor]
    ) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor]]:
        """``(μ_t, log σ_t², (h_enc_t, cell_t))``, each of μ, log σ² ``(batch, latent_dim)``."""
        f_y, f_x, gamma = self.window(h_dec)
        glimpse = torch.cat([read_glimpse(x, f_y, f_x), read_glimpse(x_hat, f_y, f_x)], dim=1)
        r = gamma[:, None] * glimpse.flatten(1)
        state = self.lstm(torch.cat([r, h_dec], dim=1), state)
        mean, logvar = self.posterior(state[0]).chunk(2, dim=1)
        return mean, logvar, state


class DRAWDecoderCell(nn.Module):
    """One step of the generative network (eqs. 7–8 and 28–29).

    h_dec_t = LSTM_dec(h_dec_{t−1}, z_t); w_t = W h_dec_t + b, an N × N patch per channel;
    write(h_dec_t) = (1/γ̂) F̂_Yᵀ w_t F̂_X ``(batch, C, B, A)``, added to the canvas.
    """

    def __init__(
        self, observation_shape: tuple[int, int, int], write_size: int, hidden_size: int, latent_dim: int
    ):
        super().__init__()
        channels, height, width = observation_shape
        self.patch_shape = (channels, write_size, write_size)
        self.window = AttentionWindow(hidden_size, height, width, write_size)
        self.lstm = nn.LSTMCell(latent_dim, hidden_size)
        self.patch = nn.Linear(hidden_size, channels * write_size**2)

    def forward(self, z: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """``(write_t, (h_dec_t, cell_t))``."""
        state = self.lstm(z, state)
        f_y, f_x, gamma = self.window(state[0])
        w = self.patch(state[0]).view(-1, *self.patch_shape)
        write = torch.einsum("bjh,bcji,biw->bchw", f_y, w, f_x)
        return write / gamma[:, None, None, None], state
