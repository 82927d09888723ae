"""Latent traversals and reconstruction grids as images.

A traversal decodes one code while sweeping a single latent dimension over a range
of values, leaving the others fixed: one row per dimension, one column per value.
Rows are sorted by each dimension's mean KL(q(z_j|x) ‖ p(z_j)) over a sample of the
data (most informative first); for a model without a posterior, by the variance of
the code over that sample.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from disentangle.data import ImageDataset
from disentangle.models import Model
from disentangle.models.vae import gaussian_kl_per_dim


def _sample(dataset: ImageDataset, num: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return dataset.observations(dataset.sample_indices(num, generator))


@torch.no_grad()
def latent_order(model: Model, dataset: ImageDataset, num: int = 1024, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(order, score)``: dimensions sorted by decreasing score, and the score per dimension.

    The score is the mean KL per dimension in nats for models with a Gaussian
    posterior, else the variance of the code over ``num`` random observations.
    """
    x = _sample(dataset, num, seed)
    if hasattr(model, "posterior"):
        mean, logvar = model.posterior(x)
        score = gaussian_kl_per_dim(mean, logvar).mean(0)
    else:
        score = model.encode(x).var(0)
    score = score.numpy().astype(np.float64)
    return np.argsort(-score, kind="stable"), score


def _tile(images: torch.Tensor, rows: int, columns: int, pad: int = 2) -> Image.Image:
    """``(rows·columns, C, H, W)`` images in [0, 1] → one grid image with white gutters."""
    count, channels, height, width = images.shape
    grid = torch.ones(channels, rows * (height + pad) + pad, columns * (width + pad) + pad)
    for index in range(count):
        r, c = divmod(index, columns)
        top, left = pad + r * (height + pad), pad + c * (width + pad)
        grid[:, top : top + height, left : left + width] = images[index]
    array = (grid.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(array[..., 0] if channels == 1 else array)


@torch.no_grad()
def traversal_grid(
    model: Model,
    x: torch.Tensor,
    values: np.ndarray | None = None,
    dimensions: np.ndarray | None = None,
) -> Image.Image:
    """Traverse each of ``dimensions`` (default: all, in order) around the code of ``x``.

    ``x`` is one observation ``(1, C, H, W)``; ``values`` the latent values of the
    columns (default: 10 evenly spaced in [−3, 3], the prior's ±3σ).
    """
    values = np.linspace(-3, 3, 10) if values is None else np.asarray(values)
    dimensions = np.arange(model.latent_dim) if dimensions is None else np.asarray(dimensions)
    code = model.encode(x)[0]
    codes = code.repeat(len(dimensions) * len(values), 1)
    for row, dimension in enumerate(dimensions):
        codes[row * len(values) : (row + 1) * len(values), dimension] = torch.as_tensor(values, dtype=code.dtype)
    images = model.likelihood.mean(model.decode(codes))
    return _tile(images, len(dimensions), len(values))


@torch.no_grad()
def reconstruction_grid(model: Model, x: torch.Tensor) -> Image.Image:
    """Inputs (top row) above their reconstructions (bottom row)."""
    return _tile(torch.cat([x, model.reconstruct(x)]), 2, len(x))


def write_traversals(model: Model, dataset: ImageDataset, out: Path, seed: int = 0, num_images: int = 8) -> list[Path]:
    """Write ``traversal.png`` and ``reconstructions.png`` into ``out``; returns the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    order, _ = latent_order(model, dataset, seed=seed)
    x = _sample(dataset, num_images, seed + 1)
    paths = [out / "traversal.png", out / "reconstructions.png"]
    traversal_grid(model, x[:1], dimensions=order).save(paths[0])
    reconstruction_grid(model, x).save(paths[1])
    return paths
