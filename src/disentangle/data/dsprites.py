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

from disentangle.data.base import DataFiles, FactorDataset, absolute_path, as_index_tensor
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

__all__ = [
    "FACTORS_NUM_VALUES", "FACTOR_NAMES", "IMAGE_SIZE", "NUM_IMAGES", "OFFICIAL_FILENAME", "RENDER_VERSION",
    "SHAPE_NAMES", "DSprites", "default_cache_dir", "factor_values", "read_factor_npz", "read_official_npz",
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


def _load_or_render(cache_dir: Path | None) -> np.ndarray:
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"dsprites-procedural-v{RENDER_VERSION}.npy"
    return cached_render(path, (NUM_IMAGES, PACKED_BYTES), np.uint8, render_packed)


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
    """

    name = "dsprites"
    factor_names = FACTOR_NAMES
    factors_num_values = FACTORS_NUM_VALUES
    data_files = DataFiles(f"the official {OFFICIAL_FILENAME}", optional=True)

    def __init__(self, path: str | Path | None = None, cache_dir: str | Path | None = None):
        #: the official file as an absolute path, so that ``describe()`` works from any folder
        self.path = None if path is None else absolute_path(path)
        self.cache_dir = None if cache_dir is None else str(cache_dir)
        packed = read_official_npz(path) if path is not None else _load_or_render(cache_dir)
        self._packed = torch.from_numpy(packed)

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
        """``name`` and ``path`` (absolute, or ``None`` when rendered). ``cache_dir`` is
        left out: it is where this machine keeps its render, not what the data is."""
        return {"name": self.name, "path": self.path}
