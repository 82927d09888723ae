"""dSprites (Matthey et al. 2017): 2D shapes on the official factor grid.

737,280 binary 64×64 images, one per combination of

=============  ======  ==============================================
factor         values  meaning
=============  ======  ==============================================
shape          3       square, ellipse, heart
scale          6       linspace(0.5, 1, 6)
orientation    40      linspace(0, 2π, 40) radians (0 and 2π coincide)
posX           32      linspace(0, 1, 32), left to right
posY           32      linspace(0, 1, 32), top to bottom
=============  ======  ==============================================

in the official index order (posY fastest). The colour factor of the official file
(one value) is dropped, as in disentanglement_lib's ``dsprites_full``.

The images come from the official ``.npz`` file when a user has it
(:mod:`disentangle.data.factor_npz`), else from the procedural renderer
(:mod:`disentangle.data.dsprites_render`), which draws the official geometry (sprite
sizes, the range of positions, the centre of rotation) but is not pixel-identical to
the official file; the grid, the order and the factor semantics are the official ones.
Every released render stays selectable (option ``render_version``, ``RENDER_VERSIONS``):
version 3 is the default, version 2 (:mod:`disentangle.data.dsprites_render_v2`) is the
one that runs whose ``config.json`` records no version were trained on.

Images are held bit-packed (512 bytes each, 377 MB for the whole set), and procedural
renders are cached on disk so that a second start only reads the file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from disentangle.data import dsprites_render_v2
from disentangle.data.base import DataFiles, FactorDataset, absolute_path, as_index_tensor, chosen_render
from disentangle.data.dsprites_render import (
    FACTOR_NAMES,
    FACTORS_NUM_VALUES,
    IMAGE_SIZE,
    NUM_IMAGES,
    PACKED_BYTES,
    RENDER_VERSION,
    SHAPE_NAMES,
    factor_values,
    render_packed,
)
from disentangle.data.factor_npz import read_factor_npz
from disentangle.errors import InputError

OFFICIAL_FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"

#: the released procedural renders, each kept bit for bit: version -> its renderer
RENDERS: dict[int, Callable[[], np.ndarray]] = {
    dsprites_render_v2.RENDER_VERSION: dsprites_render_v2.render_packed,
    RENDER_VERSION: render_packed,
}
RENDER_VERSIONS = tuple(RENDERS)
#: the render of a run whose config.json records no ``render_version`` (written before version 3)
UNRECORDED_RENDER_VERSION = 2

__all__ = [
    "FACTORS_NUM_VALUES", "FACTOR_NAMES", "IMAGE_SIZE", "NUM_IMAGES", "OFFICIAL_FILENAME", "RENDERS",
    "RENDER_VERSION", "RENDER_VERSIONS", "SHAPE_NAMES", "DSprites", "check_render_version", "default_cache_dir",
    "factor_values", "read_factor_npz", "read_official_npz", "unrecorded_render",
]


def default_cache_dir() -> Path:
    """``$DISENTANGLE_CACHE`` if set, else ``~/.cache/disentangle``."""
    return Path(os.environ.get("DISENTANGLE_CACHE") or Path.home() / ".cache" / "disentangle")


def cached_render(path: Path, shape: tuple[int, ...], dtype, render: Callable[[], np.ndarray]) -> np.ndarray:
    """The array of ``shape`` and ``dtype`` cached as the ``.npy`` file ``path``, else
    ``render()`` written there atomically: a damaged cache is rendered again and replaced,
    a read-only cache folder only costs the next start a render."""
    if path.is_file():
        try:
            array = np.load(path, allow_pickle=False)
            if array.shape == tuple(shape) and array.dtype == dtype:
                return array
        except (ValueError, OSError):
            pass
    array = render()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npy.tmp", delete=False) as handle:
            np.save(handle, array)
        os.replace(handle.name, path)
    except OSError:
        pass
    return array


def _load_or_render(cache_dir: Path | None, version: int) -> np.ndarray:
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"dsprites-procedural-v{version}.npy"
    return cached_render(path, (NUM_IMAGES, PACKED_BYTES), np.uint8, RENDERS[version])


def check_render_version(version, path, dataset: str, path_option: str = "path") -> int | None:
    """The render a dSprites-based dataset draws: ``version`` (``None``: the latest,
    ``RENDER_VERSION``), or ``None`` when its sprites come from the official file ``path``.
    ``InputError`` naming ``dataset`` and the option for a version that is not one of
    ``RENDER_VERSIONS``, or one given together with ``path_option``."""
    if path is not None:
        if version is not None:
            raise InputError(
                f"--data {dataset}: option 'render_version' selects a procedural render; "
                f"it does not apply with '{path_option}' (the official file)"
            )
        return None
    return chosen_render(version, RENDER_VERSIONS, dataset)


def unrecorded_render(options, path_option: str) -> dict:
    """``{"render_version": 2}`` for the data options of a ``config.json`` written before
    version 3 that render the sprites (no ``render_version`` and no ``path_option``); else ``{}``."""
    if "render_version" in options or options.get(path_option) is not None:
        return {}
    return {"render_version": UNRECORDED_RENDER_VERSION}


def read_official_npz(path: str | Path) -> np.ndarray:
    """Read the official ``dsprites_ndarray_...npz``; returns the bit-packed images.

    See ``read_factor_npz``; the grid is the official one, colour then shape, scale,
    orientation, posX, posY.
    """
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file (expected the official dSprites {OFFICIAL_FILENAME})")
    return read_factor_npz(path, FACTORS_NUM_VALUES, IMAGE_SIZE)


class DSprites(FactorDataset):
    """dSprites with its five factors (shape, scale, orientation, posX, posY).

    Args:
        path: the official ``.npz`` file; ``None`` renders the images procedurally.
        cache_dir: where procedural renders are cached (default ``default_cache_dir()``).
        render_version: which released render draws them, one of ``RENDER_VERSIONS``
            (default: the latest, ``RENDER_VERSION``); only without ``path``.
    """

    name = "dsprites"
    factor_names = FACTOR_NAMES
    categorical_factors = (0,)  # shape, as DCI-ES's reference declares it
    factors_num_values = FACTORS_NUM_VALUES
    data_files = DataFiles(f"the official {OFFICIAL_FILENAME}", optional=True)

    def __init__(
        self, path: str | Path | None = None, cache_dir: str | Path | None = None, render_version: int | None = None
    ):
        self.render_version = check_render_version(render_version, path, self.name)
        #: the official file as an absolute path, so that ``describe()`` works from any folder
        self.path = None if path is None else absolute_path(path)
        self.cache_dir = None if cache_dir is None else str(cache_dir)
        if path is None:
            packed = _load_or_render(cache_dir, self.render_version)
        else:
            packed = read_official_npz(path)
            self.source_files = {self.path: [Path(self.path)]}
        self._packed = torch.from_numpy(packed)

    @classmethod
    def unrecorded_options(cls, options) -> dict:
        return unrecorded_render(options, "path")

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        return (1, IMAGE_SIZE, IMAGE_SIZE)

    def factor_values(self) -> list[np.ndarray]:
        return factor_values()

    def sprite_masks(self, indices) -> np.ndarray:
        """uint8 ``(N, 1, 64, 64)`` of 0s and 1s for the given indices."""
        index = as_index_tensor(indices, NUM_IMAGES)
        pixels = np.unpackbits(self._packed.index_select(0, index).numpy(), axis=1)
        return pixels.reshape(len(index), 1, IMAGE_SIZE, IMAGE_SIZE)

    # The conversions run in NumPy, single-threaded: on a batch this small, torch's
    # multi-threaded kernels cost milliseconds waiting for each other on busy cores.
    def observations(self, indices) -> torch.Tensor:
        return torch.from_numpy(self.sprite_masks(indices).astype(np.float32))

    def images(self, indices) -> torch.Tensor:
        pixels = self.sprite_masks(indices)
        pixels *= np.uint8(255)
        return torch.from_numpy(pixels)

    def packed(self) -> np.ndarray:
        """The bit-packed images, uint8 ``(737280, 512)`` (a view, not a copy)."""
        return self._packed.numpy()

    def packed_bits(self) -> np.ndarray:
        return self.packed()

    def describe(self) -> dict:
        """``name``, ``path`` (absolute, or ``None`` when rendered) and ``render_version``
        (``None`` for the official file). ``cache_dir`` is left out: it is where this
        machine keeps its render, not what the data is."""
        return {"name": self.name, "path": self.path, "render_version": self.render_version}
