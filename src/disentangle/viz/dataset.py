"""Pictures of a factor dataset itself, as disentanglement_lib's ``visualize_dataset``:
one row per factor sweeping its values, and an animated sweep of each factor."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from disentangle.data import FactorDataset
from disentangle.viz.traversal import tile_images

#: the most values of one factor shown in a row of the grid (evenly spaced when more)
MAX_COLUMNS = 12
#: images side by side in each factor's animation (dlib: 5 animations per factor)
ANIMATED_IMAGES = 5


def _sweep_indices(dataset: FactorDataset, factor: int, values: np.ndarray, base: np.ndarray,
                   nuisance: np.ndarray) -> np.ndarray:
    """Indices of the images that set ``factor`` to each of ``values``, the other factors
    at ``base`` and the nuisance factors at ``nuisance`` (fixed along the sweep)."""
    factors = np.tile(base, (len(values), 1))
    factors[:, factor] = values
    return dataset.index_of(factors, np.tile(nuisance, (len(values), 1)))


def _random_bases(dataset: FactorDataset, count: int, random_state: np.random.RandomState):
    """``count`` factor vectors and nuisance levels drawn uniformly."""
    bases = dataset.sample_factors(count, random_state)
    nuisance = np.stack([random_state.randint(dataset.grid_num_values[axis], size=count)
                         for axis in dataset.nuisance_axes], axis=1) if dataset.nuisance_axes else np.zeros((count, 0), int)
    return bases, nuisance


def factor_sweep_grid(dataset: FactorDataset, seed: int = 0) -> Image.Image:
    """One row per factor, labelled, around one random image: row k shows the images that
    set factor k to each of its values (at most ``MAX_COLUMNS``, evenly spaced), every
    other factor (and nuisance factor) as in that image. RGB datasets stay in colour."""
    bases, nuisance = _random_bases(dataset, 1, np.random.RandomState(seed))
    columns = min(MAX_COLUMNS, max(dataset.factors_num_values))
    channels, height, width = dataset.observation_shape
    rows = []
    for factor, size in enumerate(dataset.factors_num_values):
        values = np.unique(np.linspace(0, size - 1, min(size, MAX_COLUMNS)).round().astype(np.int64))
        images = dataset.observations(_sweep_indices(dataset, factor, values, bases[0], nuisance[0]))
        blank = torch.ones(columns - len(values), channels, height, width)
        rows.append(torch.cat([images, blank]))
    grid = tile_images(torch.cat(rows), len(rows), columns).convert("RGB")
    return _label_rows(grid, [f"{name} ({size})" for name, size in zip(dataset.factor_names, dataset.factors_num_values)],
                       height + 2)


def _label_rows(grid: Image.Image, labels: list[str], row_height: int) -> Image.Image:
    """``grid`` with a white margin on the left naming each row."""
    margin = 8 + 7 * max(len(label) for label in labels)
    canvas = Image.new("RGB", (grid.width + margin, grid.height), "white")
    canvas.paste(grid, (margin, 0))
    draw = ImageDraw.Draw(canvas)
    for row, label in enumerate(labels):
        draw.text((4, 2 + row * row_height + row_height // 2 - 6), label, fill="black")
    return canvas


def factor_sweep_gif(dataset: FactorDataset, factor: int, seed: int = 0, frame_ms: int = 150) -> bytes:
    """A looping GIF sweeping ``factor`` through all its values around ``ANIMATED_IMAGES``
    random images side by side (the other factors and the nuisance fixed per image)."""
    bases, nuisance = _random_bases(dataset, ANIMATED_IMAGES, np.random.RandomState(seed + 1 + factor))
    values = np.arange(dataset.factors_num_values[factor])
    sweeps = torch.stack([dataset.observations(_sweep_indices(dataset, factor, values, base, levels))
                          for base, levels in zip(bases, nuisance)], dim=1)  # (values, images, C, H, W)
    frames = [tile_images(frame, 1, ANIMATED_IMAGES).convert("RGB") for frame in sweeps]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return buffer.getvalue()


def write_dataset_figures(dataset: FactorDataset, out: str | Path, seed: int = 0) -> list[Path]:
    """Write ``out`` (a PNG: ``factor_sweep_grid``) and beside it ``<stem>-<factor>.gif``
    for each factor (``factor_sweep_gif``); returns the paths written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    factor_sweep_grid(dataset, seed).save(out)
    paths = [out]
    for factor, name in enumerate(dataset.factor_names):
        path = out.with_name(f"{out.stem}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.gif")
        path.write_bytes(factor_sweep_gif(dataset, factor, seed))
        paths.append(path)
    return paths
