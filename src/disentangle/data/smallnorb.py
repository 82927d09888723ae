"""SmallNORB (LeCun et al. 2004) from the six official files, with dlib's protocol.

The files ``smallnorb-5x46789x9x18x6x2x96x96-training-{dat,cat,info}.mat`` and
``smallnorb-5x01235x9x18x6x2x96x96-testing-{dat,cat,info}.mat`` (each raw or ``.gz``)
hold 24,300 stereo pairs each: ``dat`` uint8 ``(24300, 2, 96, 96)`` (two cameras),
``cat`` int32 ``(24300,)`` (category 0–4), ``info`` int32 ``(24300, 4)`` (instance,
elevation 0–8, azimuth 0, 2, …, 34, lighting 0–5). Training holds instances 4, 6–9,
testing 0–3, 5.

As in disentanglement_lib: camera 0, training and testing together (48,600 images),
resized to 64×64 (Pillow's Lanczos filter, what dlib's ``Image.ANTIALIAS`` was), and
four ground-truth factors

============  ======  ========================================================
factor        values  meaning
============  ======  ========================================================
category      5       animal, human, airplane, truck, car
elevation     9       30, 35, …, 70 degrees
azimuth       18      0, 20, …, 340 degrees (the file's 0, 2, …, 34, halved)
lighting      6       lighting conditions 0–5
============  ======  ========================================================

with the instance (10 toys per category) a *nuisance* factor: the image grid is
category × instance × elevation × azimuth × lighting (C order), and
``sample_observations_from_factors`` draws the instance uniformly, as dlib does.
Options: ``size=96`` keeps the original resolution; ``cameras=2`` uses both cameras,
the camera a second nuisance factor (the grid's last axis; 97,200 images).

dlib maps the byte magic to int8 (a bug: pixels are unsigned); here pixels are uint8.
The converted images are cached (``disentangle.data.cache``).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from disentangle.data.base import DataFiles, absolute_path
from disentangle.data.cache import cache_path, load_or_convert
from disentangle.data.mapped import MappedFactorDataset, locate, resize_lanczos
from disentangle.errors import InputError

#: the binary matrix format's magic numbers and the element type each means
MAGIC_DTYPES = {
    0x1E3D4C55: np.dtype(np.uint8),
    0x1E3D4C54: np.dtype("<i4"),
    0x1E3D4C56: np.dtype("<i2"),
    0x1E3D4C51: np.dtype("<f4"),
    0x1E3D4C53: np.dtype("<f8"),
}
#: the largest number of dimensions a header may declare
MAX_NDIM = 16
#: the two chunks: file name prefix -> instances it holds
CHUNKS = {
    "smallnorb-5x46789x9x18x6x2x96x96-training": (4, 6, 7, 8, 9),
    "smallnorb-5x01235x9x18x6x2x96x96-testing": (0, 1, 2, 3, 5),
}
PAIRS_PER_FILE = 24_300
GRID_NAMES = ["category", "instance", "elevation", "azimuth", "lighting"]
GRID_NUM_VALUES = [5, 10, 9, 18, 6]
CATEGORY_NAMES = ["animal", "human", "airplane", "truck", "car"]
#: version of the conversion into the cache
READER_VERSION = 1
#: stereo pairs read at a time (18 MB)
_BLOCK = 1_000


def parse_header(header: bytes, source: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """``(dtype, shape, header_bytes)`` from the first bytes of a NORB binary matrix.

    The format: a little-endian int32 magic (``MAGIC_DTYPES``), an int32 ``ndim``, then
    ``max(3, ndim)`` int32 dimensions (those past ``ndim`` unused), then the data in
    C order. Raises ``InputError`` naming ``source`` for anything else.
    """
    if len(header) < 8:
        raise InputError(f"{source}: {len(header)} bytes is too short for a NORB binary matrix header")
    magic, ndim = (int.from_bytes(header[k : k + 4], "little", signed=True) for k in (0, 4))
    if magic not in MAGIC_DTYPES:
        raise InputError(f"{source}: magic 0x{magic & 0xFFFFFFFF:08x} is not a NORB binary matrix type")
    if not 1 <= ndim <= MAX_NDIM:
        raise InputError(f"{source}: header declares {ndim} dimensions, expected 1 to {MAX_NDIM}")
    size = 8 + 4 * max(3, ndim)
    if len(header) < size:
        raise InputError(f"{source}: header is truncated ({len(header)} of {size} bytes)")
    shape = tuple(int.from_bytes(header[8 + 4 * k : 12 + 4 * k], "little", signed=True) for k in range(ndim))
    if any(n < 0 for n in shape):
        raise InputError(f"{source}: header declares a negative dimension {shape}")
    return MAGIC_DTYPES[magic], shape, size


def open_matrix(path: Path, dtype: str, shape: tuple[int, ...]):
    """An open binary stream positioned at the data of the NORB matrix ``path`` (raw or
    gzip, by content), after checking its header declares ``dtype`` and ``shape`` and
    that the file holds exactly that many bytes (for gzip, as its trailer records)."""
    with open(path, "rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
        raw.seek(-4 if compressed else 0, 2)
        stored = int.from_bytes(raw.read(4), "little") if compressed else raw.tell()
    stream = gzip.open(path, "rb") if compressed else open(path, "rb")
    try:
        found_dtype, found_shape, size = parse_header(stream.read(8 + 4 * MAX_NDIM), path.name)
        if found_dtype != np.dtype(dtype) or found_shape != shape:
            raise InputError(
                f"{path.name}: holds {found_dtype.name} {found_shape}, expected {np.dtype(dtype).name} {shape}"
            )
        total = size + int(np.prod(shape)) * found_dtype.itemsize
        if (total % 2**32 != stored) if compressed else (total != stored):
            what = "its gzip trailer records" if compressed else "the file holds"
            raise InputError(f"{path.name}: header declares {total:,} bytes but {what} {stored:,}")
        stream.seek(size)
        return stream
    except BaseException:
        stream.close()
        raise


def read_labels(path: Path) -> np.ndarray:
    """The whole (small) matrix ``path`` as an int32 array, shape checked by the caller."""
    kind = path.name.rsplit("-", 1)[1].split(".")[0]
    shape = (PAIRS_PER_FILE,) if kind == "cat" else (PAIRS_PER_FILE, 4)
    with open_matrix(path, "<i4", shape) as stream:
        data = stream.read()
    if len(data) != np.prod(shape) * 4:
        raise InputError(f"{path.name}: is truncated ({len(data):,} of {np.prod(shape) * 4:,} data bytes)")
    return np.frombuffer(data, "<i4").reshape(shape)


def grid_coordinates(category: np.ndarray, info: np.ndarray, instances: tuple[int, ...], source: str) -> np.ndarray:
    """int ``(N, 5)`` (category, instance, elevation, azimuth / 2, lighting) of one chunk's
    pairs, after checking every value is one the official files hold."""
    coordinates = np.column_stack([category, info[:, 0], info[:, 1], info[:, 2] // 2, info[:, 3]]).astype(np.int64)
    problems = [
        ("category", category, range(5)), ("instance", info[:, 0], instances), ("elevation", info[:, 1], range(9)),
        ("azimuth", info[:, 2], range(0, 35, 2)), ("lighting", info[:, 3], range(6)),
    ]
    for name, values, allowed in problems:
        bad = ~np.isin(values, list(allowed))
        if bad.any():
            raise InputError(
                f"{source}: {name} {int(values[bad][0])} at row {int(np.flatnonzero(bad)[0])} "
                f"(expected one of {list(allowed)})"
            )
    return coordinates


class SmallNORB(MappedFactorDataset):
    """SmallNORB with dlib's protocol (see the module's description).

    Args:
        path: the folder holding the six files, raw or ``.gz`` (default
            ``default_data_dir() / "smallnorb"``).
        size: 64 (default, as dlib) or 96 (the original resolution).
        cameras: 1 (camera 0, as dlib) or 2 (both; the camera a nuisance factor).
        cache_dir: where the converted images are cached (default ``default_cache_dir()``).
    """

    name = "smallnorb"
    factor_names = ["category", "elevation", "azimuth", "lighting"]
    #: the toy's category and the lighting condition (six setups of lamps, not an intensity
    #: scale); DCI-ES's reference does not cover SmallNORB, so this is ours
    categorical_factors = (0, 3)
    factors_num_values = [5, 9, 18, 6]
    data_files = DataFiles(
        "the six official smallnorb-5x…-{training,testing}-{dat,cat,info}.mat[.gz]", "smallnorb",
        md5={
            "smallnorb-5x46789x9x18x6x2x96x96-training-dat.mat.gz": "66054832f9accfe74a0f4c36a75bc0a2",
            "smallnorb-5x46789x9x18x6x2x96x96-training-cat.mat.gz": "23c8b86101fbf0904a000b43d3ed2fd9",
            "smallnorb-5x46789x9x18x6x2x96x96-training-info.mat.gz": "51dee1210a742582ff607dfd94e332e3",
            "smallnorb-5x01235x9x18x6x2x96x96-testing-dat.mat.gz": "e4ad715691ed5a3a5f138751a4ceb071",
            "smallnorb-5x01235x9x18x6x2x96x96-testing-cat.mat.gz": "5aa791cd7e6016cf957ce9bdb93b8603",
            "smallnorb-5x01235x9x18x6x2x96x96-testing-info.mat.gz": "a9454f3864d7fd4bb3ea7fc3eb84924e",
        },
    )

    def __init__(self, path: str | Path | None = None, size: int = 64, cameras: int = 1,
                 cache_dir: str | Path | None = None):
        if size not in (64, 96):
            raise InputError(f"size: expected 64 or 96, got {size!r}")
        if cameras not in (1, 2):
            raise InputError(f"cameras: expected 1 (camera 0, as dlib) or 2 (both), got {cameras!r}")
        self.size, self.cameras = size, cameras
        folder = locate(path, "smallnorb", "a folder with the six official SmallNORB .mat files")
        if not folder.is_dir():
            raise InputError(f"{folder}: is a file, expected the folder holding the six SmallNORB .mat files")
        self.path = absolute_path(folder)
        files = {(chunk, kind): _find(folder, f"{chunk}-{kind}.mat") for chunk in CHUNKS for kind in ("dat", "cat", "info")}
        self.source_files = {self.path: list(files.values())}
        options = {"size": size, "cameras": cameras}
        cache = cache_path(self.name, READER_VERSION, options, list(files.values()), cache_dir)
        try:
            self._pixels = load_or_convert(cache, (len(self), 1, size, size), lambda out: self._convert(files, out))
            self.mapped_file = cache
        except (EOFError, zlib.error, gzip.BadGzipFile) as error:
            raise InputError(f"{folder}: a SmallNORB file is unreadable ({error})") from None

    @property
    def grid_num_values(self) -> list[int]:
        return GRID_NUM_VALUES + ([2] if self.cameras == 2 else [])

    @property
    def grid_names(self) -> list[str]:
        return GRID_NAMES + (["camera"] if self.cameras == 2 else [])

    @property
    def factor_axes(self) -> tuple[int, ...]:
        return (0, 2, 3, 4)

    def _convert(self, files: dict, out: np.ndarray) -> None:
        """Check the labels of both chunks, then write every pair's resized images into
        ``out`` at the index of its grid point."""
        positions = {}
        for chunk, instances in CHUNKS.items():
            category, info = read_labels(files[chunk, "cat"]), read_labels(files[chunk, "info"])
            positions[chunk] = np.ravel_multi_index(
                tuple(grid_coordinates(category, info, instances, files[chunk, "info"].name).T), GRID_NUM_VALUES
            )
        every = np.concatenate(list(positions.values()))
        if np.unique(every).size != every.size:
            first = np.unravel_index(int(every[np.argmax(np.bincount(every))]), GRID_NUM_VALUES)
            raise InputError(
                f"{self.path}: labels are not the official grid: (category, instance, elevation, azimuth/2, "
                f"lighting) = {tuple(int(v) for v in first)} appears more than once"
            )
        for chunk in CHUNKS:
            self._convert_images(files[chunk, "dat"], positions[chunk], out)

    def _convert_images(self, path: Path, positions: np.ndarray, out: np.ndarray) -> None:
        per_pair = 2 * 96 * 96
        with open_matrix(path, "uint8", (PAIRS_PER_FILE, 2, 96, 96)) as stream:
            for start in range(0, PAIRS_PER_FILE, _BLOCK):
                count = min(_BLOCK, PAIRS_PER_FILE - start)
                data = stream.read(count * per_pair)
                if len(data) != count * per_pair:
                    raise InputError(f"{path.name}: is truncated (it ends inside pair {start + len(data) // per_pair})")
                pairs = np.frombuffer(data, np.uint8).reshape(count, 2, 96, 96)
                where = positions[start : start + count]
                for camera in range(self.cameras):
                    index = where * self.cameras + camera
                    out[index, 0] = resize_lanczos(pairs[:, camera], self.size)

    def describe(self) -> dict:
        return {"name": self.name, "path": self.path, "size": self.size, "cameras": self.cameras}


def _find(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise InputError(f"{folder}: no {name} or {name}.gz (expected the six official SmallNORB files)")
