"""VQ-VAE (van den Oord et al. 2017, "Neural Discrete Representation Learning").

The encoder's output z_e ``(N, latent_dim)`` is read as P code positions of d numbers
each (P = latent_dim / ``embedding_dim``); each position is replaced by its nearest
entry of a codebook of K vectors e_1..e_K ∈ R^d, giving z_q. The decoder sees z_q in
the forward pass and passes its gradient straight through to z_e (eq. 3).

Loss (eq. 3), with distances summed over the latent_dim numbers and averaged over the
batch like every KL here: recon + ‖sg[z_e] − z_q‖² + β·‖z_e − sg[z_q]‖² (sg: stop
gradient). With ``codebook_update="ema"`` (the paper's appendix A.1) the codebook term
is dropped and each entry is instead the exponential moving average, with decay γ, of
the encoder outputs assigned to it: N_i and m_i (below) start at zero, so e_i = m_i / N_i
is the bias-free weighted mean of the encodings assigned to it so far, and a code
never assigned keeps its initial value. The codebook starts from N(0, 1) draws.

The representation (``encode``) is z_q flattened: ``(N, latent_dim)`` = P positions × d,
position p occupying entries p·d … p·d + d − 1, each block a codebook entry. The prior
is uniform over the K codes at every position, so KL(q ‖ p) = P·log K nats, a constant
the loss leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from disentangle.models.base import Capabilities, Model, ModelConfig, require

CODEBOOK_UPDATES = ("ema", "loss")
#: EMA cluster sizes N_i below this count as "never assigned" (also after an underflow)
EMA_MIN_SIZE = 1e-20


@dataclass(frozen=True)
class VQVAEConfig(ModelConfig):
    """``num_embeddings`` is K, ``embedding_dim`` is d (it must divide ``latent_dim``),
    ``beta`` weighs the commitment loss (paper: 0.25), ``codebook_update`` is ``ema``
    or ``loss``, ``decay`` is the EMA's γ (paper: 0.99)."""

    num_embeddings: int = 64
    embedding_dim: int = 1
    beta: float = 0.25
    codebook_update: str = "ema"
    decay: float = 0.99

    def __post_init__(self):
        super().__post_init__()
        require(isinstance(self.num_embeddings, int) and self.num_embeddings >= 2,
                "num_embeddings", "an integer ≥ 2", self.num_embeddings)
        d = self.embedding_dim
        require(isinstance(d, int) and d >= 1 and self.latent_dim % d == 0,
                "embedding_dim", f"an integer ≥ 1 dividing latent_dim = {self.latent_dim}", d)
        require(self.beta >= 0, "beta", "≥ 0", self.beta)
        require(self.codebook_update in CODEBOOK_UPDATES,
                "codebook_update", f"one of {', '.join(CODEBOOK_UPDATES)}", self.codebook_update)
        require(0 < self.decay < 1, "decay", "in (0, 1)", self.decay)


def perplexity(counts: Tensor) -> Tensor:
    """exp of the entropy (nats) of the codes' empirical distribution, from the count of
    each code ``(K,)``: 1 when a single code is used, K when all are used equally often."""
    p = counts.float() / counts.sum()
    return torch.exp(-torch.special.xlogy(p, p).sum())


class VQVAE(Model):
    """Encoder → nearest codebook entries → decoder; logs ``commitment`` (‖z_e − z_q‖²,
    unweighted), ``perplexity`` and ``codebook_usage`` (fraction of the K codes used
    in the batch)."""

    name = "vq-vae"
    config_class = VQVAEConfig
    capabilities = Capabilities(representation="the quantised code z_q, flattened")

    def __init__(self, config: VQVAEConfig, observation_shape: tuple[int, int, int]):
        super().__init__(config, observation_shape)
        self.encoder = self.make_encoder(config.latent_dim)
        self.decoder = self.make_decoder(config.latent_dim)
        codebook = torch.randn(config.num_embeddings, config.embedding_dim)
        if config.codebook_update == "ema":
            self.register_buffer("codebook", codebook)
            self.register_buffer("cluster_size", torch.zeros(config.num_embeddings))
            self.register_buffer("embedding_sum", torch.zeros_like(codebook))
        else:
            self.codebook = nn.Parameter(codebook)

    @property
    def code_positions(self) -> int:
        """P, the number of codes per observation."""
        return self.latent_dim // self.config.embedding_dim

    def quantize(self, z_e: Tensor) -> tuple[Tensor, Tensor]:
        """(z_q ``(N, latent_dim)``, the code index of every position ``(N, P)``)."""
        vectors = z_e.reshape(-1, self.config.embedding_dim)
        with torch.no_grad():
            codes = torch.cdist(vectors, self.codebook).argmin(1)
        return F.embedding(codes, self.codebook).reshape_as(z_e), codes.view(z_e.shape[0], -1)

    def encode(self, x: Tensor) -> Tensor:
        return self.quantize(self.encoder(x))[0]

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    @torch.no_grad()
    def sample(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        """``num`` images ``(num, C, H, W)`` in [0, 1]: the mean of p(x|z_q) for codes drawn
        uniformly at every position (the prior)."""
        codes = torch.randint(self.config.num_embeddings, (num * self.code_positions,), generator=generator)
        z_q = self.codebook[codes.to(self.codebook.device)].view(num, self.latent_dim)
        return self.likelihood.mean(self.decode(z_q))

    @torch.no_grad()
    def _ema_update(self, z_e: Tensor, codes: Tensor) -> None:
        """N_i ← γN_i + (1 − γ)n_i, m_i ← γm_i + (1 − γ)Σ_{z_e ↦ i} z_e, e_i = m_i / N_i
        (n_i: the number of positions assigned to code i in this batch)."""
        vectors = z_e.detach().reshape(-1, self.config.embedding_dim)
        one_hot = F.one_hot(codes.flatten(), self.config.num_embeddings).to(vectors.dtype)
        decay = self.config.decay
        self.cluster_size.mul_(decay).add_(one_hot.sum(0), alpha=1 - decay)
        self.embedding_sum.mul_(decay).add_(one_hot.T @ vectors, alpha=1 - decay)
        assigned = self.cluster_size > EMA_MIN_SIZE
        self.codebook[assigned] = self.embedding_sum[assigned] / self.cluster_size[assigned, None]

    def loss(self, x: Tensor, step: int) -> dict[str, Tensor]:
        z_e = self.encoder(x)
        z_q, codes = self.quantize(z_e)
        straight_through = z_e + (z_q - z_e).detach()
        recon = -self.likelihood.log_prob(x, self.decoder(straight_through)).mean()
        commitment = (z_e - z_q.detach()).square().sum(1).mean()
        loss = recon + self.config.beta * commitment
        if self.config.codebook_update == "loss":
            loss = loss + (z_e.detach() - z_q).square().sum(1).mean()
        elif self.training:
            self._ema_update(z_e, codes)
        counts = torch.bincount(codes.flatten(), minlength=self.config.num_embeddings)
        return {
            "loss": loss,
            "recon": recon,
            "commitment": commitment,
            "perplexity": perplexity(counts),
            "codebook_usage": counts.gt(0).float().mean(),
        }

    def term_descriptions(self) -> dict[str, str]:
        codebook = "; the codebook term ‖sg[z_e] − z_q‖², not logged, has the same value"
        return {
            **super().term_descriptions(),
            "recon": ("reconstruction error −log p(x|z_q) of the quantised code z_q, summed over pixels, batch mean, "
                      "nats"),
            "commitment": ("‖z_e − z_q‖², the squared distance of the encodings to their codebook entries summed over "
                           "the latent_dim numbers, batch mean, unweighted (the loss weighs it by β)"
                           + (codebook if self.config.codebook_update == "loss" else "")),
            "perplexity": ("exp of the entropy (nats) of the codes' distribution over the batch's positions: 1 when "
                           "one code is used, K when all are used equally"),
            "codebook_usage": "fraction of the K codebook entries assigned to at least one position of the batch",
        }
