"""Colour, noisy and scream dSprites: disentanglement_lib's RGB variants of dSprites.

Each has dSprites' five factors, grid and index order (shape, scale, orientation, posX,
posY; posY fastest; 737,280 images) and RGB observations ``(3, 64, 64)`` made from the
binary sprite with dlib's recipes (``data/ground_truth/dsprites.py``):

==================  ==========================================================================
name                observation, from the sprite mask ``m`` ∈ {0, 1}
==================  ==========================================================================
``color-dsprites``  ``m · c``, one colour ``c ~ U(0.5, 1)³`` per image: the sprite coloured,
                    the background black
``noisy-dsprites``  ``min(m + ε, 1)``, ``ε ~ U(0, 1)`` per pixel and channel: the sprite white
                    on uniform noise
``scream-dsprites`` ``b = (patch + c) / 2`` with a random 64×64 ``patch`` of a background image
                    (dlib: Munch's *The Scream* thumbnailed to fit 350×274) and ``c ~ U(0, 1)³``;
                    ``1 − b`` where ``m = 1``, ``b`` elsewhere
==================  ==========================================================================

Where the randomness comes from — the one departure from dlib. dlib draws a new colour,
noise field or crop every time it samples an observation, so one factor vector has
infinitely many images. Here each image's nuisance is a deterministic function of its
dataset index and the dataset option ``nuisance_seed`` (default 0), drawn from a counter-based
stream keyed by the index (:mod:`disentangle.data.nuisance`). So an index names one image,
which every layer relies on: training batches are ``observations(sample_indices(...))``,
``evaluate`` memoises codes by index, the report, traversals and explorer show images by
index, and a resumed run sees exactly the batches of an uninterrupted one.
``sample_observations_from_factors(factors, random_state)`` keeps dlib's signature and
ignores ``random_state``. The nuisances keep dlib's distributions and stay independent of
the factors across the dataset (neighbouring indices get unrelated draws); what changes is
that a model sees each factor combination with one nuisance (per ``nuisance_seed``) instead of a
fresh one at every visit, and that two draws of the same factor vector in a metric give
the same image, as they do in dSprites itself (docs/datasets.md discusses both).
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from disentangle.compiled import compiled
from disentangle.data.base import FactorDataset, absolute_path, as_index_tensor
from disentangle.data.dsprites import (
    FACTOR_NAMES,
    FACTORS_NUM_VALUES,
    IMAGE_SIZE,
    NUM_IMAGES,
    DSprites,
    check_render_version,
    factor_values,
    unrecorded_render,
)
from disentangle.data.nuisance import image_keys, uniform_streams
from disentangle.errors import InputError

#: dlib thumbnails the background image to fit this (width, height) before cropping
SCREAM_THUMBNAIL = (350, 274)
_CHANNELS = 3


class NuisanceDSprites(FactorDataset):
    """dSprites' factors with RGB images composed from the sprite mask and per-image
    uniforms (``uniforms_per_image`` of them, from the image's stream).

    Args:
        dsprites_path: the official dSprites ``.npz``; ``None`` renders the sprites.
        cache_dir: where procedural sprites are cached (see ``DSprites``).
        nuisance_seed: selects every image's nuisance (colour, noise, crop); any integer.
        render_version: the render of the sprites (see ``DSprites``); only without ``dsprites_path``.
    """

    factor_names = FACTOR_NAMES
    categorical_factors = (0,)  # shape, as DCI-ES's reference declares it for dSprites
    factors_num_values = FACTORS_NUM_VALUES
    #: how many uniforms in [0, 1) ``compose`` takes per image
    uniforms_per_image: int
    #: the option naming the official dSprites file
    sprites_option = "path"

    def __init__(
        self, dsprites_path: str | Path | None, cache_dir: str | Path | None, nuisance_seed: int,
        render_version: int | None,
    ):
        if isinstance(nuisance_seed, bool) or not isinstance(nuisance_seed, (int, np.integer)):
            raise InputError(f"--data {self.name}: option 'nuisance_seed' must be an integer, got {nuisance_seed!r}")
        self.nuisance_seed = int(nuisance_seed)
        # Checked here first, so that an error names this dataset and its option for the file.
        check_render_version(render_version, dsprites_path, self.name, self.sprites_option)
        self.sprites = DSprites(dsprites_path, cache_dir, render_version)

    @classmethod
    def unrecorded_options(cls, options) -> dict:
        return unrecorded_render(options, cls.sprites_option)

    @property
    def render_version(self) -> int | None:
        return self.sprites.render_version

    @property
    def source_files(self) -> dict[str, list[Path]]:
        return self.sprites.source_files

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        return (_CHANNELS, IMAGE_SIZE, IMAGE_SIZE)

    def factor_values(self) -> list[np.ndarray]:
        return factor_values()

    @abstractmethod
    def compose(self, masks: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """float32 ``(N, 3, 64, 64)`` in [0, 1] from sprite masks, uint8 ``(N, 1, 64, 64)``
        of 0s and 1s, and each image's uniforms, float32 ``(N, uniforms_per_image)``."""

    def observations(self, indices) -> torch.Tensor:
        index = as_index_tensor(indices, NUM_IMAGES).numpy()
        uniforms = uniform_streams(image_keys(self.nuisance_seed, index), self.uniforms_per_image)
        return torch.from_numpy(self.compose(self.sprites.sprite_masks(index), uniforms))

    def images(self, indices) -> torch.Tensor:
        pixels = self.observations(indices).numpy()
        pixels *= np.float32(255)
        return torch.from_numpy(np.rint(pixels).astype(np.uint8))

    def describe(self) -> dict:
        """``name``, the official dSprites file (``path``, or ``None`` when rendered),
        ``nuisance_seed`` and ``render_version`` (``None`` for the official file)."""
        return {
            "name": self.name, "path": self.sprites.path, "nuisance_seed": self.nuisance_seed,
            "render_version": self.render_version,
        }


class ColorDSprites(NuisanceDSprites):
    """``color-dsprites``: the sprite times a colour from U(0.5, 1)³, on black.

    Args:
        path: the official dSprites ``.npz``; ``None`` renders the sprites.
        cache_dir, nuisance_seed, render_version: as in ``NuisanceDSprites``.
    """

    name = "color-dsprites"
    uniforms_per_image = _CHANNELS

    def __init__(
        self, path: str | Path | None = None, cache_dir: str | Path | None = None, nuisance_seed: int = 0,
        render_version: int | None = None,
    ):
        super().__init__(path, cache_dir, nuisance_seed, render_version)

    def compose(self, masks: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        colours = np.float32(0.5) + np.float32(0.5) * uniforms
        return masks.astype(np.float32) * colours[:, :, None, None]


class NoisyDSprites(NuisanceDSprites):
    """``noisy-dsprites``: a white sprite on U(0, 1) noise, independent per pixel and channel.

    Args:
        path: the official dSprites ``.npz``; ``None`` renders the sprites.
        cache_dir, nuisance_seed, render_version: as in ``NuisanceDSprites``.
    """

    name = "noisy-dsprites"
    uniforms_per_image = _CHANNELS * IMAGE_SIZE * IMAGE_SIZE

    def __init__(
        self, path: str | Path | None = None, cache_dir: str | Path | None = None, nuisance_seed: int = 0,
        render_version: int | None = None,
    ):
        super().__init__(path, cache_dir, nuisance_seed, render_version)

    def compose(self, masks: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        noise = uniforms.reshape(len(uniforms), _CHANNELS, IMAGE_SIZE, IMAGE_SIZE)
        # dlib's min(m + ε, 1) for m ∈ {0, 1} and ε ∈ [0, 1), in place
        return np.maximum(noise, masks.astype(np.float32), out=noise)


class ScreamDSprites(NuisanceDSprites):
    """``scream-dsprites``: a crop of a background image, averaged with a random colour and
    inverted under the sprite.

    The crop's top-left corner is uniform over rows ``[0, H − 64)`` and columns
    ``[0, W − 64)`` of the thumbnailed image, as dlib's ``randint(0, H − 64)`` (so the
    image must be at least 65×65 after thumbnailing).

    Args:
        path: the background image (dlib: Munch's *The Scream*, ``scream.jpg``); any
            image PIL reads, converted to RGB and thumbnailed to fit 350×274. Required.
        dsprites_path: the official dSprites ``.npz``; ``None`` renders the sprites.
        cache_dir, nuisance_seed, render_version: as in ``NuisanceDSprites``.
    """

    name = "scream-dsprites"
    #: crop row, crop column, then the colour's three channels
    uniforms_per_image = 2 + _CHANNELS
    sprites_option = "dsprites_path"

    def __init__(
        self,
        path: str | Path | None = None,
        dsprites_path: str | Path | None = None,
        cache_dir: str | Path | None = None,
        nuisance_seed: int = 0,
        render_version: int | None = None,
    ):
        if path is None:
            raise InputError(
                f"--data {self.name}: needs a background image: give --data-path FILE (path=FILE in Python); "
                "disentanglement_lib uses Munch's The Scream (scream.jpg)"
            )
        #: float32 ``(3, H, W)`` in [0, 1]
        self.background = read_background(path)
        self.background_path = absolute_path(path)
        super().__init__(dsprites_path, cache_dir, nuisance_seed, render_version)

    def compose(self, masks: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        _, height, width = self.background.shape
        rows = (uniforms[:, 0].astype(np.float64) * (height - IMAGE_SIZE)).astype(np.int64)
        columns = (uniforms[:, 1].astype(np.float64) * (width - IMAGE_SIZE)).astype(np.int64)
        return _invert_under_sprites(self.background, masks, rows, columns, np.ascontiguousarray(uniforms[:, 2:]))

    @property
    def source_files(self) -> dict[str, list[Path]]:
        return {self.background_path: [Path(self.background_path)], **self.sprites.source_files}

    def describe(self) -> dict:
        """``name``, the background image (``path``, absolute), the official dSprites file
        (``dsprites_path``, or ``None`` when rendered), ``nuisance_seed`` and ``render_version``."""
        return {
            "name": self.name, "path": self.background_path, "dsprites_path": self.sprites.path,
            "nuisance_seed": self.nuisance_seed, "render_version": self.render_version,
        }


@compiled
def _invert_under_sprites(background, masks, rows, columns, colours):
    """float32 ``(N, 3, 64, 64)``: image n is ``b = (background[:, r:r+64, c:c+64] + colour) / 2``
    with ``(r, c) = (rows[n], columns[n])``, and ``1 − b`` where ``masks[n, 0]`` is 1."""
    count = masks.shape[0]
    size = masks.shape[2]
    out = np.empty((count, background.shape[0], size, size), dtype=np.float32)
    half, one = np.float32(0.5), np.float32(1.0)
    for n in range(count):
        for channel in range(background.shape[0]):
            colour = colours[n, channel]
            for y in range(size):
                patch = background[channel, rows[n] + y, columns[n] : columns[n] + size]
                mask = masks[n, 0, y]
                for x in range(size):
                    value = (patch[x] + colour) * half
                    out[n, channel, y, x] = one - value if mask[x] else value
    return out


def read_background(path: str | Path) -> np.ndarray:
    """float32 ``(3, H, W)`` in [0, 1]: the image at ``path`` in RGB, thumbnailed as dlib does
    (shrunk, aspect kept, to fit 350×274; never enlarged). ``InputError`` for a missing or
    unreadable file, or one smaller than 65×65 after thumbnailing."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{path}: no such file (expected a background image for scream-dsprites, e.g. scream.jpg)")
    try:
        with Image.open(file) as image:
            image = image.convert("RGB")
        image.thumbnail(SCREAM_THUMBNAIL)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise InputError(f"{path}: not a readable image ({error})") from None
    width, height = image.size
    if min(width, height) <= IMAGE_SIZE:
        raise InputError(
            f"{path}: the background is {width}×{height} pixels after thumbnailing to fit "
            f"{SCREAM_THUMBNAIL[0]}×{SCREAM_THUMBNAIL[1]}; scream-dsprites needs at least "
            f"{IMAGE_SIZE + 1}×{IMAGE_SIZE + 1}"
        )
    return np.ascontiguousarray(np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / np.float32(255))
