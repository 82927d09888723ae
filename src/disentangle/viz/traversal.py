"""Latent traversals, reconstructions and prior samples as images.

A traversal decodes one code while sweeping a single latent dimension over a range
of values, leaving the others fixed: one row per dimension, one column per value.
Rows are sorted by each dimension's mean KL(q(z_j|x) ‖ p(z_j)) over a sample of the
data (most informative first); for a model without a posterior, by the variance of
the code over that sample.

The swept values are either shared by every row (default: 10 values evenly spaced in
[−3, 3], the prior's ±3σ) or one range per row (``aggregate_posterior_values``: each
dimension swept across the spread of its codes over the data, for models whose codes
do not live on the prior's scale). Traversals are drawn around the codes of dataset
images (``traversal_grid``) or around samples of the prior (``prior_traversal_grid``),
and animated (``animated_traversal_gif``).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from disentangle.data import FactorDataset, ImageDataset
from disentangle.models import Model
from disentangle.models.gaussian import gaussian_kl_per_dim

#: default traversal values: the prior's ±3σ in 10 steps
DEFAULT_VALUES = np.linspace(-3.0, 3.0, 10)


def sample_observations(dataset: ImageDataset, num: int, seed: int) -> torch.Tensor:
    """``num`` random observations ``(num, C, H, W)`` in [0, 1], reproducible from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return dataset.observations(dataset.sample_indices(num, generator))


def central_index(dataset: FactorDataset) -> int:
    """The index of the image whose factors all sit at the middle of their ranges
    (level ``size // 2``): for dSprites an ellipse at scale 0.8 in the centre of the frame."""
    sizes = np.asarray(dataset.factors_num_values)
    return int(dataset.index_of((sizes // 2)[None, :])[0])


def traversal_observations(dataset: ImageDataset, num: int, seed: int) -> torch.Tensor:
    """``num`` observations to traverse around: for a dataset with factors the central
    image (``central_index``) first, so that no positional sweep starts at the frame's
    edge, then random ones; otherwise ``num`` random ones."""
    x = sample_observations(dataset, num, seed)
    if isinstance(dataset, FactorDataset) and num > 0:
        x[0] = dataset.observations([central_index(dataset)])[0]
    return x


@torch.no_grad()
def latent_order(model: Model, dataset: ImageDataset, num: int = 1024, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(order, score)``: dimensions sorted by decreasing score, and the score per dimension.

    The score is the mean KL per dimension in nats for models with a Gaussian
    posterior, else the variance of the code over ``num`` random observations.
    """
    x = sample_observations(dataset, num, seed)
    if model.capabilities.gaussian_posterior:
        mean, logvar = model.posterior(x)
        score = gaussian_kl_per_dim(mean, logvar).mean(0)
    else:
        score = model.encode(x).var(0)
    score = score.numpy().astype(np.float64)
    return np.argsort(-score, kind="stable"), score


def aggregate_posterior_values(
    codes: np.ndarray, dimensions: np.ndarray | None = None, num: int = 10, percentiles: tuple[float, float] = (1, 99)
) -> np.ndarray:
    """Per-dimension traversal values ``(len(dimensions), num)`` across the codes' spread.

    ``codes`` ``(N, latent_dim)`` are codes of dataset images (the aggregate posterior's
    means); row ``r`` sweeps ``dimensions[r]`` evenly from its ``percentiles[0]``-th to
    its ``percentiles[1]``-th percentile, so one outlying image does not stretch the range.
    """
    codes = np.asarray(codes, dtype=np.float64)
    dimensions = np.arange(codes.shape[1]) if dimensions is None else np.asarray(dimensions)
    low, high = np.percentile(codes[:, dimensions], percentiles, axis=0)
    return np.linspace(low, high, num, axis=1)


def tile_images(images: torch.Tensor, rows: int, columns: int, pad: int = 2) -> Image.Image:
    """``(rows·columns, C, H, W)`` images in [0, 1], row-major → one grid image with white gutters."""
    count, channels, height, width = images.shape
    grid = torch.ones(channels, rows * (height + pad) + pad, columns * (width + pad) + pad)
    for index in range(count):
        r, c = divmod(index, columns)
        top, left = pad + r * (height + pad), pad + c * (width + pad)
        grid[:, top : top + height, left : left + width] = images[index]
    array = (grid.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(array[..., 0] if channels == 1 else array)


def _row_values(values: np.ndarray | None, rows: int) -> np.ndarray:
    """Traversal values as ``(rows, columns)``: a shared 1-D sweep is repeated per row."""
    values = DEFAULT_VALUES if values is None else np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        return np.tile(values, (rows, 1))
    if values.shape[0] != rows:
        raise ValueError(f"values has {values.shape[0]} rows; expected one per traversed dimension ({rows})")
    return values


@torch.no_grad()
def traverse_codes(
    model: Model, codes: torch.Tensor, values: np.ndarray | None = None, dimensions: np.ndarray | None = None
) -> torch.Tensor:
    """Decoded traversals ``(K, rows, columns, C, H, W)`` around each of ``codes`` ``(K, latent_dim)``.

    Row ``r`` sets dimension ``dimensions[r]`` (default: all, in order) to each of its
    values (``values``: 1-D shared by all rows, or ``(rows, columns)``); the other
    dimensions keep the code's value. Images are the likelihood's mean, in [0, 1].
    """
    dimensions = np.arange(model.latent_dim) if dimensions is None else np.asarray(dimensions)
    table = torch.as_tensor(_row_values(values, len(dimensions)), dtype=codes.dtype)
    rows, columns = table.shape
    swept = codes[:, None, None, :].repeat(1, rows, columns, 1)
    for row, dimension in enumerate(dimensions):
        swept[:, row, :, int(dimension)] = table[row]
    images = model.likelihood.mean(model.decode(swept.reshape(-1, codes.shape[1])))
    return images.reshape(len(codes), rows, columns, *images.shape[1:])


def _side_by_side(blocks: torch.Tensor, gap: int = 6) -> Image.Image:
    """Traversal blocks ``(K, rows, columns, C, H, W)`` → the K grids left to right."""
    grids = [np.asarray(tile_images(block.flatten(0, 1), block.shape[0], block.shape[1])) for block in blocks]
    height = grids[0].shape[0]
    spacer = np.full((height, gap, *grids[0].shape[2:]), 255, dtype=np.uint8)
    parts = [part for grid in grids for part in (grid, spacer)][:-1]
    return Image.fromarray(np.concatenate(parts, axis=1))


@torch.no_grad()
def traversal_grid(
    model: Model,
    x: torch.Tensor,
    values: np.ndarray | None = None,
    dimensions: np.ndarray | None = None,
) -> Image.Image:
    """Traverse each of ``dimensions`` (default: all, in order) around the code of each image of ``x``.

    ``x`` ``(K, C, H, W)``: one grid per image, side by side (rows = dimensions,
    columns = ``values``; see ``traverse_codes``).
    """
    return _side_by_side(traverse_codes(model, model.encode(x), values, dimensions))


def prior_codes(model: Model, num: int, seed: int) -> torch.Tensor:
    """``num`` codes drawn from N(0, I) over ``model.latent_dim`` dimensions, reproducible from ``seed``."""
    return torch.randn(num, model.latent_dim, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def prior_traversal_grid(
    model: Model, num: int = 1, seed: int = 0, values: np.ndarray | None = None, dimensions: np.ndarray | None = None
) -> Image.Image:
    """Like ``traversal_grid``, around ``num`` codes drawn from the N(0, I) prior instead of images."""
    return _side_by_side(traverse_codes(model, prior_codes(model, num, seed), values, dimensions))


@torch.no_grad()
def prior_samples(model: Model, num: int = 32, seed: int = 0, columns: int = 8) -> Image.Image:
    """Decodings (likelihood means) of ``num`` codes z ~ N(0, I), ``columns`` per row."""
    images = model.likelihood.mean(model.decode(prior_codes(model, num, seed)))
    return tile_images(images, -(-num // columns), columns)


@torch.no_grad()
def reconstruction_grid(model: Model, x: torch.Tensor) -> Image.Image:
    """Inputs (top row) above their reconstructions (bottom row)."""
    return tile_images(torch.cat([x, model.reconstruct(x)]), 2, len(x))


@torch.no_grad()
def animated_traversal_gif(
    model: Model,
    x: torch.Tensor,
    values: np.ndarray | None = None,
    dimensions: np.ndarray | None = None,
    frame_ms: int = 150,
) -> bytes:
    """A looping GIF of traversals: frame t sets each row's latent to its t-th value.

    ``x`` ``(K, C, H, W)``: one column per image, one row per dimension of
    ``dimensions`` (default: all, in order); ``values`` as in ``traverse_codes``
    (default: 10 evenly spaced in [−3, 3]). The sweep runs forth and back, and a bar
    under the images marks the frame's position in it.
    """
    blocks = traverse_codes(model, model.encode(x), values, dimensions)  # (K, rows, T, C, H, W)
    steps = blocks.shape[2]
    frames = []
    for step in [*range(steps), *range(steps - 2, 0, -1)]:
        tile = np.asarray(tile_images(blocks[:, :, step].transpose(0, 1).flatten(0, 1), blocks.shape[1], len(x)))
        canvas = np.full((tile.shape[0] + 6, *tile.shape[1:]), 255, dtype=np.uint8)
        canvas[: tile.shape[0]] = tile
        width = tile.shape[1]
        canvas[-4:-1, step * width // steps : (step + 1) * width // steps] = 0
        frames.append(Image.fromarray(canvas))
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return buffer.getvalue()


def write_traversals(model: Model, dataset: ImageDataset, out: Path, seed: int = 0, num_images: int = 8) -> list[Path]:
    """Write ``traversal.png`` (around the central image, see ``traversal_observations``),
    ``traversal.gif`` (around it and 3 random images) and ``reconstructions.png`` into
    ``out``; returns the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    order, _ = latent_order(model, dataset, seed=seed)
    x = traversal_observations(dataset, num_images, seed + 1)
    paths = [out / "traversal.png", out / "traversal.gif", out / "reconstructions.png"]
    traversal_grid(model, x[:1], dimensions=order).save(paths[0])
    paths[1].write_bytes(animated_traversal_gif(model, x[:4], dimensions=order))
    reconstruction_grid(model, x).save(paths[2])
    return paths
