"""VAEs whose posterior is a normalising flow: planar and radial flows (Rezende &
Mohamed 2015, "Variational Inference with Normalizing Flows") and the inverse
autoregressive flow (Kingma et al. 2016, "Improved Variational Inference with Inverse
Autoregressive Flow"), as pythae's ``VAE_LinNF`` and ``VAE_IAF`` run them.

The encoder gives a diagonal Gaussian q_0(z_0|x) = N(μ, diag σ²); a reparameterised
z_0 is pushed through invertible maps z_k = f_k(z_{k−1}), k = 1..K, and the decoder
sees z_K. By the change of variables (Rezende & Mohamed eq. 6–7)

    log q_K(z_K|x) = log q_0(z_0|x) − Σ_k log |det ∂f_k/∂z_{k−1}|,

and the loss is the negative single-sample ELBO (their free energy, eq. 15)

    loss = recon + log q_K(z_K|x) − log N(z_K; 0, I),

the second part the Monte Carlo estimate of KL(q_K(z|x) ‖ N(0, I)). As in pythae, the
flows' parameters are learned once for all observations (the papers amortise them,
computing them from x by the encoder).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from disentangle.models.base import Capabilities, Model, ModelConfig, require
from disentangle.models.gaussian import LOG_2PI, elbo_terms, log_density_gaussian, reparameterize


class PlanarFlow(nn.Module):
    """f(z) = z + û·tanh(wᵀz + b) (Rezende & Mohamed eq. 10) on codes ``(N, D)``, with
    log |det ∂f/∂z| = log |1 + ûᵀψ(z)|, ψ(z) = tanh'(wᵀz + b)·w (eq. 11–12).

    û = u + [m(wᵀu) − wᵀu]·w/‖w‖², m(a) = −1 + log(1 + eᵃ), makes wᵀû > −1, so f is
    invertible (appendix A.1; pythae uses u itself and adds 1e-4 inside the logarithm,
    we take the exact logarithm). h = tanh, as pythae's VAE_LinNF; w, u and b start as
    N(0, 1) draws, as in pythae.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.w = nn.Parameter(torch.randn(dim))
        self.u = nn.Parameter(torch.randn(dim))
        self.b = nn.Parameter(torch.randn(()))

    def u_hat(self) -> Tensor:
        """û ``(D,)``, the u that keeps f invertible (wᵀû = m(wᵀu) > −1)."""
        wu = self.w @ self.u
        return self.u + (F.softplus(wu) - 1 - wu) * self.w / self.w.square().sum()

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(f(z) ``(N, D)``, log |det ∂f/∂z| ``(N,)``)."""
        activation = torch.tanh(z @ self.w + self.b)
        # 1 + ûᵀψ(z) = 1 + (1 − tanh²)·wᵀû with wᵀû = m(wᵀu) = −1 + log(1 + exp(wᵀu)), written
        # as tanh² + (1 − tanh²)·log(1 + exp(wᵀu)) > 0, which does not round to 0 as wᵀû → −1
        squared = activation.square()
        log_det = torch.log(squared + (1 - squared) * F.softplus(self.w @ self.u))
        return z + activation[:, None] * self.u_hat(), log_det


class RadialFlow(nn.Module):
    """f(z) = z + β·h(α, r)·(z − z₀), r = ‖z − z₀‖, h = 1/(α + r) (Rezende & Mohamed
    eq. 14) on codes ``(N, D)``, with log |det ∂f/∂z| = (D − 1)·log(1 + βh) +
    log(1 + βh + βh′r), h′ = −1/(α + r)².

    α = exp(log α) > 0 and β = −α + log(1 + exp β̂) ≥ −α keep f invertible (appendix
    A.2, as pythae does). z₀, log α and β̂ start as N(0, 1) draws, as in pythae.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.z0 = nn.Parameter(torch.randn(dim))
        self.log_alpha = nn.Parameter(torch.randn(()))
        self.beta_raw = nn.Parameter(torch.randn(()))

    def alpha_beta(self) -> tuple[Tensor, Tensor]:
        """(α > 0, β ≥ −α), the flow's parameters after the invertibility constraint."""
        alpha = self.log_alpha.exp()
        return alpha, -alpha + F.softplus(self.beta_raw)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(f(z) ``(N, D)``, log |det ∂f/∂z| ``(N,)``)."""
        alpha, beta = self.alpha_beta()
        offset = z - self.z0
        r = offset.norm(dim=1)
        beta_h = beta / (alpha + r)
        log_det = (z.shape[1] - 1) * torch.log1p(beta_h) + torch.log1p(beta_h - beta_h * r / (alpha + r))
        return z + beta_h[:, None] * offset, log_det


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 ``mask`` ``(out, in)``."""

    def __init__(self, in_features: int, out_features: int, mask: Tensor):
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.mask * self.weight, self.bias)


def made_masks(dim: int, hidden_sizes: list[int]) -> list[Tensor]:
    """The masks of a MADE (Germain et al. 2015) with pythae's sequential degrees: input i
    has degree i, hidden unit k of every layer degree k mod (D − 1); a hidden unit sees
    the units of degree ≤ its own below it, and output i the last hidden units of degree
    < i, so output i depends on inputs 0..i − 1 only. (With D = 1 every hidden degree is
    0 and the output depends on nothing; pythae fails there.)"""
    degrees = [torch.arange(dim)] + [torch.arange(size) % max(dim - 1, 1) for size in hidden_sizes]
    masks = [(above[:, None] >= below[None]).float() for below, above in zip(degrees, degrees[1:])]
    return masks + [(degrees[-1][None] < degrees[0][:, None]).float()]


class MADE(nn.Module):
    """The autoregressive network of one IAF step, pythae's ``MADE``: masked linear
    layers with ReLUs, ``(N, D)`` → (m, s), each ``(N, D)``, (m_i, s_i) a function of
    z_0..z_{i−1}."""

    def __init__(self, dim: int, hidden_layers: int, hidden_size: int):
        super().__init__()
        sizes = [dim] + [hidden_size] * hidden_layers
        masks = made_masks(dim, sizes[1:])
        layers: list[nn.Module] = []
        for inputs, outputs, mask in zip(sizes[:-1], sizes[1:], masks[:-1]):
            layers += [MaskedLinear(inputs, outputs, mask), nn.ReLU()]
        layers.append(MaskedLinear(hidden_size, 2 * dim, masks[-1].repeat(2, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.net(z).chunk(2, dim=1)


class IAFStep(nn.Module):
    """One step of pythae's IAF: reverse the order of the coordinates, then
    z′ = z ⊙ exp(s) + m with (m, s) = MADE(z), so log |det| = Σ_i s_i (Kingma et al. §4
    with σ = exp(s); the paper's Algorithm 1 instead gates with σ = sigmoid(s) and
    feeds the MADE a context from the encoder, which pythae leaves out)."""

    def __init__(self, dim: int, hidden_layers: int, hidden_size: int):
        super().__init__()
        self.made = MADE(dim, hidden_layers, hidden_size)

    def autoregressive(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(z ⊙ exp(s) + m, Σ_i s_i ``(N,)``): output i depends on z_0..z_i only."""
        m, s = self.made(z)
        return z * s.exp() + m, s.sum(1)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(f(z) ``(N, D)``, log |det ∂f/∂z| ``(N,)``); the reversal's |det| is 1."""
        return self.autoregressive(z.flip(1))


class FlowPosteriorVAE(Model):
    """A VAE whose posterior sample z_0 ~ N(μ, diag σ²) passes through ``self.flows``
    (modules mapping codes ``(N, D)`` to (f(z), log |det ∂f/∂z| ``(N,)``)) before the
    decoder. Subclasses set ``make_flows``."""

    capabilities = Capabilities(
        standard_normal_prior=True,
        representation="the flow's output f_K(…f_1(μ)) of the Gaussian base posterior's mean μ",
    )

    def __init__(self, config: ModelConfig, observation_shape: tuple[int, int, int]):
        super().__init__(config, observation_shape)
        self.encoder = self.make_encoder(2 * config.latent_dim)
        self.decoder = self.make_decoder(config.latent_dim)
        self.flows = nn.ModuleList(self.make_flows())
        #: the MADEs' masks are set here and never change
        self.constant_buffers = tuple(name for name, _ in self.named_buffers())

    def make_flows(self) -> list[nn.Module]:
        raise NotImplementedError

    def base_posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-variance ``(N, latent_dim)`` of q_0(z_0|x), before the flow."""
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar

    def flow(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(z_K ``(N, D)``, Σ_k log |det ∂f_k/∂z_{k−1}| ``(N,)``) for z_0 = ``z``."""
        log_det = z.new_zeros(z.shape[0])
        for layer in self.flows:
            z, layer_log_det = layer(z)
            log_det = log_det + layer_log_det
        return z, log_det

    def encode(self, x: Tensor) -> Tensor:
        return self.flow(self.base_posterior(x)[0])[0]

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        mean, logvar = self.base_posterior(x)
        z0 = reparameterize(mean, logvar)
        z, log_det = self.flow(z0)
        log_q = log_density_gaussian(z0, mean, logvar).sum(1) - log_det
        log_prior = -0.5 * (z.square() + LOG_2PI).sum(1)
        kl = (log_q - log_prior).mean()
        recon = -self.likelihood.log_prob(x, self.decoder(z)).mean()
        return {"loss": recon + kl, **elbo_terms(recon, kl), "log_det_jacobian": log_det.mean()}

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "recon": ("reconstruction error −log p(x|z_K) at the flow's output z_K, summed over pixels, "
                      "batch mean, nats"),
            "kl": ("KL(q_K(z|x) ‖ N(0, I)), single-sample Monte Carlo estimate log q_K(z_K|x) − "
                   "log N(z_K; 0, I) with log q_K(z_K|x) = log q_0(z_0|x) − log_det_jacobian, batch mean, "
                   "nats"),
            "elbo": "evidence lower bound −(recon + kl), its single-sample estimate, batch mean, nats",
            "log_det_jacobian": ("Σ_k log |det ∂f_k/∂z_{k−1}| of the flow at the posterior sample z_0, batch "
                                 "mean, nats (0 without flows)"),
        }


FLOWS = {"planar": PlanarFlow, "radial": RadialFlow}


@dataclass(frozen=True)
class LinearFlowVAEConfig(ModelConfig):
    """``flows``: the flow layers applied in order, comma-separated names from ``planar``
    and ``radial`` (pythae's default, ``planar,planar``); empty for none (then the model
    is the VAE with its KL estimated by sampling). A list of names is accepted too."""

    flows: str = "planar,planar"

    def __post_init__(self):
        if isinstance(self.flows, (list, tuple)) and all(isinstance(name, str) for name in self.flows):
            object.__setattr__(self, "flows", ",".join(self.flows))
        elif isinstance(self.flows, str):
            names = (name.strip() for name in self.flows.split(","))
            object.__setattr__(self, "flows", ",".join(name for name in names if name))
        super().__post_init__()
        expected = f"comma-separated names from {', '.join(FLOWS)}, or empty"
        require(isinstance(self.flows, str) and all(name in FLOWS for name in self.flow_names),
                "flows", expected, self.flows)

    @property
    def flow_names(self) -> tuple[str, ...]:
        return tuple(self.flows.split(",")) if self.flows else ()


class LinearFlowVAE(FlowPosteriorVAE):
    """Rezende & Mohamed 2015 as pythae's ``VAE_LinNF``: the VAE with a sequence of planar
    and radial flows on its posterior sample."""

    name = "linear-flow-vae"
    config_class = LinearFlowVAEConfig

    def make_flows(self) -> list[nn.Module]:
        return [FLOWS[name](self.latent_dim) for name in self.config.flow_names]


@dataclass(frozen=True)
class IAFVAEConfig(ModelConfig):
    """``made_blocks``: the IAF steps, each one MADE (pythae's ``n_made_blocks``, 2; 0
    gives the VAE with its KL estimated by sampling); ``made_hidden_layers`` and
    ``made_hidden_size``: each MADE's hidden layers and their units (pythae's
    ``n_hidden_in_made`` 3 and ``hidden_size`` 128)."""

    made_blocks: int = 2
    made_hidden_layers: int = 3
    made_hidden_size: int = 128

    def __post_init__(self):
        super().__post_init__()
        require(isinstance(self.made_blocks, int) and self.made_blocks >= 0,
                "made_blocks", "an integer ≥ 0", self.made_blocks)
        require(isinstance(self.made_hidden_layers, int) and self.made_hidden_layers >= 1,
                "made_hidden_layers", "an integer ≥ 1", self.made_hidden_layers)
        require(isinstance(self.made_hidden_size, int) and self.made_hidden_size >= 1,
                "made_hidden_size", "an integer ≥ 1", self.made_hidden_size)


class IAFVAE(FlowPosteriorVAE):
    """Kingma et al. 2016 as pythae's ``VAE_IAF``: the VAE with ``made_blocks`` inverse
    autoregressive steps on its posterior sample (no batch normalisation between them,
    as pythae's VAE_IAF)."""

    name = "iaf-vae"
    config_class = IAFVAEConfig

    def make_flows(self) -> list[nn.Module]:
        c = self.config
        return [IAFStep(self.latent_dim, c.made_hidden_layers, c.made_hidden_size)
                for _ in range(c.made_blocks)]
