"""Shapes3D rendered procedurally, on the official factor grid (Kim & Mnih 2018).

480,000 RGB 64×64 images, one per combination of

===========  ======  ===========================================================
factor       values  meaning
===========  ======  ===========================================================
floor_hue    10      0.0, 0.1, …, 0.9: the floor's hue
wall_hue     10      0.0, 0.1, …, 0.9: the wall's hue
object_hue   10      0.0, 0.1, …, 0.9: the object's hue
scale        8       linspace(0.75, 1.25, 8): the object's size
shape        4       0 cube, 1 cylinder, 2 sphere, 3 capsule
orientation  15      linspace(−30, 30, 15) degrees: the view's turn about the object
===========  ======  ===========================================================

in the official file's index order (floor hue slowest, orientation fastest) and with its
factor values (``factor_values()`` is the official ``labels`` grid).

The images are not the official ones, whose renderer is not published: a small ray
caster (:mod:`disentangle.data.shapes3d_render`) draws the same kind of scene — a floor,
a wall behind, the object standing in the middle, a fixed light with shadows — so that
RGB training, Gaussian likelihoods and every metric run without the official file, in
tests and in CI. Scores on it are not comparable with published Shapes3D numbers.

Each of the 480 (shape, scale, orientation) scenes is rendered once into a layer of
per-surface shading (about 4 s, then cached in ``default_cache_dir()``); a batch is
composed by indexing the layers and colouring each surface, ``Σ shading · rgb(hue)``,
with ``rgb`` the HSV colour of the hue at full saturation and value. Pixels are rounded
to 8 bits, as in the official file, so ``observations`` is ``images / 255``.
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
import torch

from disentangle.compiled import compiled
from disentangle.data.base import FactorDataset, as_index_tensor, chosen_render
from disentangle.data.dsprites import cached_render, default_cache_dir
from disentangle.data.shapes3d import FACTOR_NAMES, FACTORS_NUM_VALUES, NUM_IMAGES, factor_values
from disentangle.data.shapes3d_render import (
    IMAGE_SIZE,
    NUM_ORIENTATIONS,
    NUM_SCALES,
    SHAPE_NAMES,
    SURFACES,
    render_layers,
)

#: the version of this render; a new scene is a new version, kept beside the old ones
#: (``RENDERS``) so that a run keeps the images it was trained on
RENDER_VERSION = 1
_LAYERS_SHAPE = (len(SHAPE_NAMES), NUM_SCALES, NUM_ORIENTATIONS, len(SURFACES), IMAGE_SIZE, IMAGE_SIZE)


def hues() -> np.ndarray:
    """The 10 hues of each colour factor, 0.0 … 0.9 (hue 1.0 would be 0.0 again)."""
    return factor_values()[0]


def hue_colours() -> np.ndarray:
    """float32 ``(10, 3)``: the RGB colour of each hue (HSV at saturation 1, value 1)."""
    return np.array([colorsys.hsv_to_rgb(hue, 1.0, 1.0) for hue in hues()], dtype=np.float32)


#: the released renders, each selectable with the option ``render_version``: version -> its renderer
RENDERS = {RENDER_VERSION: render_layers}


def _load_or_render(cache_dir: Path | None, version: int) -> np.ndarray:
    """Every layer of render ``version``, ``_LAYERS_SHAPE`` float32: read from the cache, else
    rendered and cached."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"shapes3d-procedural-v{version}.npy"
    return cached_render(path, _LAYERS_SHAPE, np.float32, RENDERS[version])


@compiled
def _colour_scenes(layers, scenes, colours, divisor):
    """float32 ``(N, 3, P)``: ``rint(colours[n] @ layers[scenes[n]]) / divisor``, from layers
    ``(scenes, surfaces, P)`` and colours ``(N, 3 channels, surfaces)`` in [0, 255]."""
    count, channels, surfaces = colours.shape
    out = np.empty((count, channels, layers.shape[2]), dtype=np.float32)
    for n in range(count):
        layer = layers[scenes[n]]
        for channel in range(channels):
            row = out[n, channel]
            row[:] = 0
            for surface in range(surfaces):
                weight = colours[n, channel, surface]
                shading = layer[surface]
                for pixel in range(row.shape[0]):
                    row[pixel] += weight * shading[pixel]
            for pixel in range(row.shape[0]):
                row[pixel] = np.rint(row[pixel]) / divisor
    return out


class Shapes3DProcedural(FactorDataset):
    """``shapes3d-procedural``: Shapes3D's factors, grid and order, rendered here.

    Args:
        cache_dir: where the rendered layers are cached (default ``default_cache_dir()``).
        render_version: which released render draws the scenes, one of ``RENDERS``
            (default: the latest, ``RENDER_VERSION``).
    """

    name = "shapes3d-procedural"
    factor_names = FACTOR_NAMES
    categorical_factors = (4,)  # shape, as Shapes3D
    factors_num_values = FACTORS_NUM_VALUES

    def __init__(self, cache_dir: str | Path | None = None, render_version: int | None = None):
        self.render_version = chosen_render(render_version, tuple(RENDERS), self.name)
        self.cache_dir = None if cache_dir is None else str(cache_dir)
        #: float32 ``(480 scenes, 3 surfaces, 4096 pixels)``, scene = (shape·8 + scale)·15 + orientation
        layers = _load_or_render(cache_dir, self.render_version)
        self.layers = layers.reshape(-1, len(SURFACES), IMAGE_SIZE * IMAGE_SIZE)
        #: float32 ``(10 hues, 3)``: each hue's RGB colour in [0, 255]
        self._colours = hue_colours() * np.float32(255)

    @classmethod
    def unrecorded_options(cls, options) -> dict:
        """A ``config.json`` without ``render_version`` was written when version 1 was the only one."""
        return {} if "render_version" in options else {"render_version": 1}

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        return (3, IMAGE_SIZE, IMAGE_SIZE)

    def factor_values(self) -> list[np.ndarray]:
        return factor_values()

    def _pixels(self, indices, divisor: float) -> np.ndarray:
        """float32 ``(N, 3, 64, 64)``: the images in [0, 255], rounded, over ``divisor``."""
        index = as_index_tensor(indices, NUM_IMAGES).numpy()
        floor, wall, thing, scale, shape, orientation = np.unravel_index(index, FACTORS_NUM_VALUES)
        scenes = (shape * NUM_SCALES + scale) * NUM_ORIENTATIONS + orientation
        colours = np.stack([self._colours[floor], self._colours[wall], self._colours[thing]], axis=2)
        pixels = _colour_scenes(self.layers, scenes, colours, np.float32(divisor))
        return pixels.reshape(len(index), 3, IMAGE_SIZE, IMAGE_SIZE)

    def observations(self, indices) -> torch.Tensor:
        return torch.from_numpy(self._pixels(indices, 255))

    def images(self, indices) -> torch.Tensor:
        return torch.from_numpy(self._pixels(indices, 1).astype(np.uint8))

    def describe(self) -> dict:
        """``name`` and ``render_version``: ``cache_dir`` is where this machine keeps the
        render, not what the data is."""
        return {"name": self.name, "render_version": self.render_version}
