"""Shapes3D (Kim & Mnih 2018) from the official ``3dshapes.h5``.

480,000 RGB 64×64 images, one per combination of

================  ======  ===========================================
factor            values  meaning (the file's ``labels``)
================  ======  ===========================================
floor hue         10      0.0, 0.1, …, 0.9
wall hue          10      0.0, 0.1, …, 0.9
object hue        10      0.0, 0.1, …, 0.9
scale             8       linspace(0.75, 1.25, 8)
shape             4       0 cube, 1 cylinder, 2 sphere, 3 capsule
orientation       15      linspace(-30, 30, 15) degrees
================  ======  ===========================================

in the file's row order (C order: floor hue slowest, orientation fastest), which the
reader checks against ``labels``. The file holds ``images`` (480000×64×64×3 uint8) and
``labels`` (480000×6 float64). The official file is chunked and gzip-compressed
(268 MB for 5.9 GB of pixels), so it cannot be mapped: its first use converts it into
the cache (``disentangle.data.cache``). An HDF5 file whose ``images`` are stored
contiguous and uncompressed is mapped in place instead, with no copy.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from disentangle.data.base import DataFiles, absolute_path
from disentangle.data.cache import cache_path, load_or_convert
from disentangle.data.mapped import MappedFactorDataset, locate, map_images
from disentangle.errors import InputError

FILENAME = "3dshapes.h5"
FACTOR_NAMES = ["floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"]
FACTORS_NUM_VALUES = [10, 10, 10, 8, 4, 15]
NUM_IMAGES = 480_000
IMAGE_SHAPE = (64, 64, 3)
SHAPE_NAMES = ["cube", "cylinder", "sphere", "capsule"]
#: version of the conversion into the cache (a new version never reads an older cache)
READER_VERSION = 1
#: images converted at a time (150 MB of pixels)
_BLOCK = 12_000


def factor_values() -> list[np.ndarray]:
    """The ``labels`` value of each level of each factor, in factor order."""
    hue = np.arange(10) / 10
    return [hue, hue, hue, np.linspace(0.75, 1.25, 8), np.arange(4.0), np.linspace(-30.0, 30.0, 15)]


def official_labels() -> np.ndarray:
    """float64 ``(480000, 6)``: the official file's ``labels``, row by row."""
    grid = np.stack(np.unravel_index(np.arange(NUM_IMAGES), FACTORS_NUM_VALUES), axis=1)
    return np.stack([values[grid[:, k]] for k, values in enumerate(factor_values())], axis=1)


def check_shapes3d(file) -> None:
    """Raise ``InputError`` unless the open ``h5py.File`` holds the official ``images``
    (480000×64×64×3 uint8) and ``labels`` (480000×6 float64, the official grid in row
    order); reads the labels, not the images."""
    name = Path(file.filename).name
    for key, shape, dtype in (("images", (NUM_IMAGES, *IMAGE_SHAPE), "uint8"), ("labels", (NUM_IMAGES, 6), "float64")):
        if not isinstance(file.get(key), h5py.Dataset):
            raise InputError(f"{name}: no dataset '{key}' (expected '{key}' {shape} {dtype} as in the official file)")
        dataset = file[key]
        if dataset.shape != shape:
            raise InputError(f"{name}: {key} has shape {dataset.shape}, expected {shape}")
        if dataset.dtype != np.dtype(dtype):
            raise InputError(f"{name}: {key} has dtype {dataset.dtype}, expected {dtype}")
    labels = file["labels"][()]
    wrong = np.flatnonzero(np.any(np.abs(labels - official_labels()) > 1e-3, axis=1))
    if wrong.size:
        row = int(wrong[0])
        raise InputError(
            f"{name}: labels row {row} is {np.round(labels[row], 4).tolist()}, expected "
            f"{np.round(official_labels()[row], 4).tolist()} (the official grid, floor hue slowest, orientation fastest)"
        )


def copy_channels_first(images, out: np.ndarray, block: int = _BLOCK) -> None:
    """Copy the first ``len(out)`` of ``images`` (an HDF5 dataset or array ``(N, H, W, C)``)
    into ``out`` ``(len(out), C, H, W)``, ``block`` images at a time."""
    for start in range(0, len(out), block):
        stop = min(start + block, len(out))
        out[start:stop] = images[start:stop].transpose(0, 3, 1, 2)


class Shapes3D(MappedFactorDataset):
    """Shapes3D from the official ``3dshapes.h5`` (see the module's description).

    Args:
        path: the file (default ``default_data_dir() / "3dshapes.h5"``).
        cache_dir: where the converted images are cached (default ``default_cache_dir()``).
    """

    name = "shapes3d"
    factor_names = FACTOR_NAMES
    categorical_factors = (4,)  # shape, as DCI-ES's reference declares it (hues, scale and angle are ordered)
    factors_num_values = FACTORS_NUM_VALUES
    data_files = DataFiles(
        "the official 3dshapes.h5 (DeepMind)", FILENAME,
        md5={FILENAME: "099a2078d58cec4daad0702c55d06868"},
    )

    def __init__(self, path: str | Path | None = None, cache_dir: str | Path | None = None):
        file_path = locate(path, FILENAME, f"the official {FILENAME}")
        self.path = absolute_path(file_path)
        self.source_files = {self.path: [Path(self.path)]}
        try:
            with h5py.File(file_path, "r") as file:
                check_shapes3d(file)
                images = file["images"]
                offset = images.id.get_offset()
                if offset is not None and images.compression is None and images.chunks is None:
                    self._channels_last = True
                    self._pixels, self.mapped_file = map_images(file_path, offset, images.shape), file_path
                    return
                cache = cache_path(self.name, READER_VERSION, {}, [file_path], cache_dir)
                shape = (NUM_IMAGES, IMAGE_SHAPE[2], *IMAGE_SHAPE[:2])
                self._pixels = load_or_convert(cache, shape, lambda out: copy_channels_first(images, out))
                self.mapped_file = cache
        except InputError:
            raise
        except (OSError, ValueError, KeyError) as error:
            raise InputError(f"{file_path}: not a readable HDF5 file ({error})") from None

    def factor_values(self) -> list[np.ndarray]:
        return factor_values()

    def describe(self) -> dict:
        return {"name": self.name, "path": self.path}
