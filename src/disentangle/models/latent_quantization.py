"""QLAE, the quantised-latent autoencoder (Hsu, Dorrell, Whittington, Wu & Finn 2023,
"Disentanglement via Latent Quantization", NeurIPS 2023), as its reference code
(kylehkhsu/latent_quantization: ``latents/quantized.py``, ``models/quantized_ae.py``,
``configs/model_partial/quantized_ae.yaml``) runs it.

Each latent dimension j has its own scalar codebook of V learnable values
v_j1 … v_jV, starting evenly spaced in [−0.5, 0.5] (``jnp.linspace(-0.5, 0.5, V)``).
The encoder's continuous code z_c ``(N, latent_dim)`` is quantised dimension by
dimension to the nearest value of that dimension's codebook, z_q,j = argmin_v |z_c,j − v|;
the decoder sees z_q in the forward pass and passes its gradient straight through to
z_c (z_c + sg[z_q − z_c]).

Loss, per example (the paper's QLAE objective as the reference's ``batched_loss``
computes it), then averaged over the batch:

    BCE(x, x̂) + λ_q·mean_j (sg[z_c,j] − z_q,j)² + λ_c·mean_j (z_c,j − sg[z_q,j])²

with BCE averaged over pixels and λ_q = λ_c = 0.01. Here ``recon`` is summed over the
P = C·H·W pixels (the project's convention), so the loss is P times the reference's:
recon + P·(λ_q·``quantization`` + λ_c·``commitment``), which keeps the weights' meaning
and gives Adam the same steps.

The paper's "strong weight decay" is the optimiser's, as in the reference
(``models/ae.py``: ``construct_optimizer``, ``param_labels``): AdamW with decoupled decay
``weight_decay`` = 0.1 on every weight but the biases and the codebooks, each of those
weights' gradient entries first clipped to ±``gradient_clip`` = 1 (``optax.clip``). As the
loss here is P times the reference's, the clip is P times its value, so that it cuts the
same gradients; Adam's steps and the decoupled decay do not depend on the loss's scale.
The paper's learning rate, 1e-3, is the run's ``--learning-rate``. ``weight_decay`` 0 is
the paper's "QLAE w/o weight decay" ablation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from disentangle.models.base import Capabilities, Model, ModelConfig, Player, require

#: the reference's initial codebook: ``num_values`` values evenly spaced over this interval
INITIAL_RANGE = (-0.5, 0.5)


@dataclass(frozen=True)
class QLAEConfig(ModelConfig):
    """``num_values`` is V, the size of each dimension's scalar codebook (reference: 10);
    ``quantization_weight`` λ_q and ``commitment_weight`` λ_c weigh the two latent terms
    against the per-pixel mean reconstruction error (reference: 0.01 each; its fixed
    dSprites and Shapes3D configs use 0.001); ``weight_decay`` is AdamW's decoupled decay
    of the nets' weights (reference: 0.1; 0 for none) and ``gradient_clip`` the bound on
    each of their gradient entries, in the reference's per-pixel units (reference: 1)."""

    num_values: int = 10
    quantization_weight: float = 0.01
    commitment_weight: float = 0.01
    weight_decay: float = 0.1
    gradient_clip: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        require(isinstance(self.num_values, int) and self.num_values >= 2,
                "num_values", "an integer ≥ 2", self.num_values)
        require(self.quantization_weight >= 0, "quantization_weight", "≥ 0", self.quantization_weight)
        require(self.commitment_weight >= 0, "commitment_weight", "≥ 0", self.commitment_weight)
        require(self.weight_decay >= 0, "weight_decay", "≥ 0", self.weight_decay)
        require(self.gradient_clip > 0, "gradient_clip", "> 0", self.gradient_clip)


def quantize(z: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
    """(z_q ``(N, D)``, the index of each entry's value ``(N, D)``) for codes ``z`` ``(N, D)``
    and codebooks ``values`` ``(D, V)``: each z_ij replaced by the value of row j nearest to
    it (the first of equally near ones). z_q is differentiable in ``values`` only."""
    with torch.no_grad():
        indices = (z.unsqueeze(2) - values.unsqueeze(0)).abs().argmin(2)
    dims = torch.arange(values.shape[0], device=z.device)
    return values[dims, indices], indices


def straight_through(z: Tensor, z_q: Tensor) -> Tensor:
    """z_q in the forward pass, the identity's gradient to ``z`` in the backward pass."""
    return z + (z_q - z).detach()


class QLAE(Model):
    """Encoder → per-dimension scalar quantisation → decoder. Logs ``quantization`` and
    ``commitment`` (the mean over dimensions of the squared quantisation error, batch
    mean, unweighted) and ``codebook_usage`` (the fraction of the latent_dim × V values
    used in the batch)."""

    name = "qlae"
    config_class = QLAEConfig
    capabilities = Capabilities(representation="the quantised code z_q (each dimension one of its V codebook values)")

    def __init__(self, config: QLAEConfig, observation_shape: tuple[int, int, int]):
        super().__init__(config, observation_shape)
        self.encoder = self.make_encoder(config.latent_dim)
        self.decoder = self.make_decoder(config.latent_dim)
        initial = torch.linspace(*INITIAL_RANGE, config.num_values)
        self.codebook = nn.Parameter(initial.repeat(config.latent_dim, 1))

    @property
    def pixels(self) -> int:
        """P = C·H·W, the number of values a reconstruction error is summed over."""
        return math.prod(self.observation_shape)

    def players(self) -> list[Player]:
        """One player; AdamW decays and clips the nets' weights, not their biases or the codebook."""
        if not self.config.weight_decay:
            return super().players()
        undecayed = tuple(parameter for name, parameter in self.named_parameters()
                          if name == "codebook" or name.endswith("bias"))
        return [Player("model", tuple(self.parameters()), weight_decay=self.config.weight_decay, undecayed=undecayed,
                       gradient_clip=self.config.gradient_clip * self.pixels)]

    def encode(self, x: Tensor) -> Tensor:
        return quantize(self.encoder(x), self.codebook)[0]

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        c = self.config
        z_c = self.encoder(x)
        z_q, indices = quantize(z_c, self.codebook)
        recon = -self.likelihood.log_prob(x, self.decoder(straight_through(z_c, z_q))).mean()
        quantization = (z_c.detach() - z_q).square().mean(1).mean()
        commitment = (z_c - z_q.detach()).square().mean(1).mean()
        latent = c.quantization_weight * quantization + c.commitment_weight * commitment
        used = torch.zeros_like(self.codebook, dtype=torch.bool).scatter_(1, indices.T, True)
        return {
            "loss": recon + self.pixels * latent,
            "recon": recon,
            "quantization": quantization,
            "commitment": commitment,
            "codebook_usage": used.float().mean(),
        }

    def term_descriptions(self) -> dict[str, str]:
        return {
            **super().term_descriptions(),
            "recon": ("reconstruction error −log p(x|z_q) of the quantised code, summed over pixels, batch mean, nats "
                      "(the reference's BCE is this divided by the number of pixels)"),
            "quantization": ("mean over latent dimensions of (sg[z_c] − z_q)², the codebook term, batch mean, "
                             "unweighted (the loss weighs it by λ_q · pixels)"),
            "commitment": ("mean over latent dimensions of (z_c − sg[z_q])², the encoder's commitment term (the same "
                           "value as quantization, other gradient), batch mean, unweighted (the loss weighs it by "
                           "λ_c · pixels)"),
            "codebook_usage": "fraction of the latent_dim × V codebook values that code at least one batch entry",
        }
