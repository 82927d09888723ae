"""DRAW (Gregor et al. 2015, "DRAW: A Recurrent Neural Network For Image Generation").

A recurrent VAE that builds the image on a canvas over T = ``steps_t`` steps (eqs. 3–8):

    x̂_t = x − sigmoid(c_{t−1}),  r_t = read(x, x̂_t, h_dec_{t−1}),
    h_enc_t = RNN_enc(h_enc_{t−1}, [r_t, h_dec_{t−1}]),  z_t ~ Q(Z_t | h_enc_t) = N(μ_t, σ_t²),
    h_dec_t = RNN_dec(h_dec_{t−1}, z_t),  c_t = c_{t−1} + write(h_dec_t),

with c_0 = 0 and Gaussian read and write attention (``nets.draw``). The loss (eqs. 9–12)
is recon = −log p(x | c_T) (the run's likelihood on the final canvas, summed over
pixels) plus the KL of every step, KL(N(μ_t, σ_t²) ‖ N(0, I)) summed over the
``latent_dim`` latents of a step and over the T steps; both averaged over the batch.
Works for any H × W: the canvas has the observations' shape.

The representation (``encode``) concatenates the posterior means of the T steps:
``(N, steps_t · latent_dim)``, step t at entries t·latent_dim … (t + 1)·latent_dim − 1,
computed with the decoder fed z_t = μ_t (no sampling). ``decode`` takes a code of the
same layout and draws its T steps; ``canvases`` and ``sample`` give the drawing step
by step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from disentangle.models.base import Capabilities, Model, ModelConfig, require
from disentangle.models.gaussian import elbo_terms, gaussian_kl_per_dim, reparameterize
from disentangle.nets.draw import DRAWDecoderCell, DRAWEncoderCell


@dataclass(frozen=True)
class DRAWConfig(ModelConfig):
    """``steps_t`` is T; ``read_size`` and ``write_size`` are the N of the read and write
    attention grids (N × N filters; paper, MNIST: 2 and 5); ``hidden_size`` is the width
    of both LSTMs (paper: 256); ``latent_dim`` is the size of each step's z_t."""

    steps_t: int = 10
    read_size: int = 2
    write_size: int = 5
    hidden_size: int = 256

    def __post_init__(self):
        super().__post_init__()
        for option in ("steps_t", "read_size", "write_size", "hidden_size"):
            value = getattr(self, option)
            require(isinstance(value, int) and value >= 1, option, "an integer ≥ 1", value)


class DRAW(Model):
    """Logs ``kl_per_step`` ``(T,)`` (nats) besides ``recon``, ``kl`` and ``elbo``."""

    name = "draw"
    config_class = DRAWConfig
    capabilities = Capabilities(gaussian_posterior=True, standard_normal_prior=True,
                                representation="the posterior means of the T steps, concatenated")

    def __init__(self, config: DRAWConfig, observation_shape: tuple[int, int, int]):
        super().__init__(config, observation_shape)
        shape, hidden, latent = self.observation_shape, config.hidden_size, config.latent_dim
        self.encoder_cell = DRAWEncoderCell(shape, config.read_size, hidden, latent)
        self.decoder_cell = DRAWDecoderCell(shape, config.write_size, hidden, latent)

    @property
    def latent_dim(self) -> int:
        """The representation's size, steps_t · latent_dim."""
        return self.config.steps_t * self.config.latent_dim

    def _zero_state(self, batch: int, like: Tensor) -> tuple[Tensor, Tensor]:
        zeros = like.new_zeros(batch, self.config.hidden_size)
        return zeros, zeros

    def _infer(self, x: Tensor, sample: bool) -> tuple[Tensor, Tensor, Tensor]:
        """(μ, log σ²) ``(T, N, latent_dim)`` and the final canvas c_T ``(N, C, H, W)``;
        z_t is sampled, or μ_t when ``sample`` is false."""
        canvas = torch.zeros_like(x)
        encoder_state, decoder_state = self._zero_state(len(x), x), self._zero_state(len(x), x)
        means, logvars = [], []
        for _ in range(self.config.steps_t):
            x_hat = x - self.likelihood.mean(canvas)
            mean, logvar, encoder_state = self.encoder_cell(x, x_hat, decoder_state[0], encoder_state)
            z = reparameterize(mean, logvar) if sample else mean
            write, decoder_state = self.decoder_cell(z, decoder_state)
            canvas = canvas + write
            means.append(mean)
            logvars.append(logvar)
        return torch.stack(means), torch.stack(logvars), canvas

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The T steps' posterior means and log-variances, each ``(N, steps_t · latent_dim)``."""
        means, logvars, _ = self._infer(x, sample=False)
        return means.transpose(0, 1).flatten(1), logvars.transpose(0, 1).flatten(1)

    def encode(self, x: Tensor) -> Tensor:
        return self.posterior(x)[0]

    def canvases(self, z: Tensor) -> list[Tensor]:
        """The canvas (likelihood parameters ``(N, C, H, W)``) after each of the T steps
        of drawing the code z ``(N, steps_t · latent_dim)``."""
        canvas = z.new_zeros(len(z), *self.observation_shape)
        state, result = self._zero_state(len(z), z), []
        for z_t in z.reshape(len(z), self.config.steps_t, self.config.latent_dim).unbind(1):
            write, state = self.decoder_cell(z_t, state)
            canvas = canvas + write
            result.append(canvas)
        return result

    def decode(self, z: Tensor) -> Tensor:
        return self.canvases(z)[-1]

    @torch.no_grad()
    def sample(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        """``num`` images ``(num, C, H, W)`` in [0, 1], z_t ~ N(0, I) at every step."""
        z = torch.randn(num, self.latent_dim, generator=generator).to(next(self.parameters()).device)
        return self.likelihood.mean(self.decode(z))

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        means, logvars, canvas = self._infer(x, sample=True)
        recon = -self.likelihood.log_prob(x, canvas).mean()
        kl_per_step = gaussian_kl_per_dim(means, logvars).sum(2).mean(1)
        kl = kl_per_step.sum()
        return {"loss": recon + kl, **elbo_terms(recon, kl), "kl_per_step": kl_per_step}

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "recon": "reconstruction error −log p(x | c_T) of the final canvas, summed over pixels, batch mean, nats",
            "kl": ("Σ over the T steps of KL(N(μ_t, σ_t²) ‖ N(0, I)) summed over a step's latents, analytic, "
                   "batch mean, nats"),
            "kl_per_step": ("the KL of each drawing step (T values: a curve only when T = 1), analytic, batch mean, "
                            "nats"),
        }
