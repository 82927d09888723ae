"""An independent β-VAE training loop, to check ``disentangle.train`` against.

Trains dlib's β-VAE on dSprites with nothing of ``disentangle`` but the images: its
own copy of dlib's nets (written out here, not imported), its own batch sampling (a
NumPy generator over the unpacked images), its own loss (Bernoulli log-likelihood
summed over pixels, KL to N(0, I) summed over latents, both averaged over the batch)
and plain ``torch.optim.Adam``. The trained encoder is then scored by the same metric
code as ``disentangle evaluate`` (MIG, DCI and the BetaVAE score, preset ``fast``),
so the two loops can be compared at equal steps:

    python benchmarks/independent_loop.py --steps 3320 --seeds 0,1 [--beta 4 --lr 1e-4 --batch 64]
    disentangle sweep configs/sweeps/quickstart-recipes.yaml --out sweeps/recipes   # its first recipe: the same, ours
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from disentangle.data import get_dataset
from disentangle.scoring.evaluate import score_representation
from disentangle.scoring.representation import IndexedFactorData, MemoisedEncoder, torch_encoder


def dlib_encoder(latent_dim: int) -> nn.Module:
    """dlib's ``conv_encoder``: 4×4/2 convs of 32, 32, then 2×2/2 of 64, 64, dense 256, (mean, logvar)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 32, 4, 2, 1), nn.ReLU(),
        nn.Conv2d(32, 64, 2, 2), nn.ReLU(), nn.Conv2d(64, 64, 2, 2), nn.ReLU(),
        nn.Flatten(), nn.Linear(64 * 4 * 4, 256), nn.ReLU(), nn.Linear(256, 2 * latent_dim),
    )


def dlib_decoder(latent_dim: int) -> nn.Module:
    """dlib's ``deconv_decoder``: dense 256, 1024, then 4×4/2 transposed convs of 64, 32, 32, 1 (logits)."""
    return nn.Sequential(
        nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 1024), nn.ReLU(), nn.Unflatten(1, (64, 4, 4)),
        nn.ConvTranspose2d(64, 64, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(32, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1),
    )


def train(images: np.ndarray, steps: int, seed: int, beta: float, lr: float, batch: int, latent_dim: int = 10):
    """images: uint8 ``(N, 64, 64)`` in {0, 1}. Returns the trained encoder and the last losses."""
    torch.manual_seed(seed)
    encoder, decoder = dlib_encoder(latent_dim), dlib_decoder(latent_dim)
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=lr)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = torch.from_numpy(images[rng.integers(0, len(images), batch)]).float().unsqueeze(1)
        mean, logvar = encoder(x).chunk(2, dim=1)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        recon = F.binary_cross_entropy_with_logits(decoder(z), x, reduction="sum") / batch
        kl = 0.5 * (mean.pow(2) + logvar.exp() - logvar - 1).sum(dim=1).mean()
        loss = recon + beta * kl
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return encoder, {"recon": recon.item(), "kl": kl.item()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3320)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--beta", type=float, default=4.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    print(f"command: python {' '.join(sys.argv)}")
    dataset = get_dataset("dsprites")
    images = np.unpackbits(dataset.packed(), axis=1).reshape(-1, 64, 64)
    for seed in [int(s) for s in args.seeds.split(",")]:
        start = time.perf_counter()
        encoder, losses = train(images, args.steps, seed, args.beta, args.lr, args.batch)
        seconds = time.perf_counter() - start
        encoder.eval()
        memo = MemoisedEncoder(dataset, torch_encoder(lambda x: encoder(x)[:, :10]))
        scores = score_representation(IndexedFactorData(dataset), memo, ["mig", "dci", "beta_vae"], preset="fast")
        headline = [("mig", "discrete_mig"), ("dci", "disentanglement"), ("beta_vae", "eval_accuracy")]
        summary = {f"{m}.{k}": round(scores["summary"][m][k]["mean"], 4) for m, k in headline}
        print(json.dumps({"seed": seed, "steps": args.steps, "train_s": round(seconds, 1), **losses, **summary}))


if __name__ == "__main__":
    main()
