"""Cars3D (Reed et al. 2015) from the official ``cars/*.mat`` files.

183 MATLAB files, one per car model, each with ``im``: uint8 ``(128, 128, 3, 24, 4)``
(height, width, RGB, azimuth, elevation). Resized to 64×64 as disentanglement_lib
does (Pillow's Lanczos filter: dlib's ``thumbnail(…, ANTIALIAS)`` on a square image
is a plain Lanczos resize), 17,568 images, one per combination of

=========  ======  ===============================================
factor     values  meaning
=========  ======  ===============================================
elevation  4       the file's last axis, camera elevation levels
azimuth    24      the file's fourth axis, 15-degree steps
object     183     the car model: files in sorted name order, or
                   in the order of ``list.txt`` when the folder has one
=========  ======  ===============================================

in C order (object fastest), dlib's factor and index order. dlib numbers the objects
in directory-listing order, which differs between machines; sorting the names makes
the object factor reproducible. The converted images are cached
(``disentangle.data.cache``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from disentangle.data.base import DataFiles, absolute_path
from disentangle.data.cache import cache_path, load_or_convert
from disentangle.data.mapped import MappedFactorDataset, locate, resize_lanczos
from disentangle.errors import InputError

FACTOR_NAMES = ["elevation", "azimuth", "object"]
FACTORS_NUM_VALUES = [4, 24, 183]
#: shape of each file's ``im``: height, width, RGB, azimuth, elevation
MESH_SHAPE = (128, 128, 3, 24, 4)
#: version of the conversion into the cache
READER_VERSION = 1


def object_files(folder: Path) -> list[Path]:
    """The 183 ``.mat`` files of ``folder`` in object order: ``list.txt``'s order when
    present (one name a line, with or without ``.mat``), else sorted by name."""
    found = sorted(file.name for file in folder.glob("*.mat") if file.is_file())
    listing = folder / "list.txt"
    if listing.is_file():
        lines = [line.strip() for line in listing.read_text(errors="replace").splitlines() if line.strip()]
        names = [line if line.endswith(".mat") else f"{line}.mat" for line in lines]
        if sorted(names) != found:
            missing = sorted(set(names) - set(found)) or sorted(set(found) - set(names)) or ["a repeated name"]
            raise InputError(f"{listing}: does not name exactly the folder's .mat files (e.g. {missing[0]})")
    else:
        names = found
    if len(names) != FACTORS_NUM_VALUES[2]:
        raise InputError(f"{folder}: holds {len(names)} .mat files, expected the {FACTORS_NUM_VALUES[2]} of Cars3D")
    return [folder / name for name in names]


def read_mesh(path: Path) -> np.ndarray:
    """``im`` of one car's file, uint8 ``(128, 128, 3, 24, 4)``, checked."""
    import scipy.io  # here, not with the datasets: it costs every command a quarter of a second to start

    try:
        content = scipy.io.loadmat(path, variable_names=["im"])
    except (ValueError, OSError, NotImplementedError, TypeError) as error:
        raise InputError(f"{path.name}: not a readable MATLAB v5 file ({error})") from None
    if "im" not in content:
        raise InputError(f"{path.name}: no variable 'im' (expected im {MESH_SHAPE} uint8)")
    mesh = content["im"]
    if mesh.dtype != np.uint8:
        raise InputError(f"{path.name}: im has dtype {mesh.dtype}, expected uint8")
    if mesh.shape != MESH_SHAPE:
        raise InputError(f"{path.name}: im has shape {mesh.shape}, expected {MESH_SHAPE}")
    return mesh


class Cars3D(MappedFactorDataset):
    """Cars3D at 64×64 (see the module's description).

    Args:
        path: the ``cars`` folder (default ``default_data_dir() / "cars"``).
        cache_dir: where the converted images are cached (default ``default_cache_dir()``).
    """

    name = "cars3d"
    factor_names = FACTOR_NAMES
    categorical_factors = (2,)  # the car model (DCI-ES's reference)
    factors_num_values = FACTORS_NUM_VALUES
    data_files = DataFiles("the official cars/*.mat files (Reed et al. 2015)", "cars")

    def __init__(self, path: str | Path | None = None, cache_dir: str | Path | None = None):
        folder = locate(path, "cars", "the folder of the 183 Cars3D .mat files")
        if not folder.is_dir():
            raise InputError(f"{folder}: is a file, expected the folder of the 183 Cars3D .mat files")
        self.path = absolute_path(folder)
        files = object_files(folder)
        listing = [folder / "list.txt"] if (folder / "list.txt").is_file() else []
        self.source_files = {self.path: files + listing}
        cache = cache_path(self.name, READER_VERSION, {}, files + listing, cache_dir)
        self._pixels = load_or_convert(cache, (len(self), 3, 64, 64), lambda out: _convert(files, out))
        self.mapped_file = cache

    def describe(self) -> dict:
        return {"name": self.name, "path": self.path}


def _convert(files: list[Path], out: np.ndarray) -> None:
    """Write each car's 96 resized views into ``out`` ``(17568, 3, 64, 64)`` at the index
    of (elevation, azimuth, object)."""
    elevation, azimuth = np.meshgrid(np.arange(4), np.arange(24), indexing="ij")
    for number, path in enumerate(files):
        mesh = read_mesh(path)
        views = mesh.transpose(4, 3, 0, 1, 2).reshape(-1, 128, 128, 3)  # (elevation, azimuth) row-major
        index = np.ravel_multi_index((elevation.ravel(), azimuth.ravel(), np.full(96, number)), FACTORS_NUM_VALUES)
        out[index] = resize_lanczos(views, 64).transpose(0, 3, 1, 2)
