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

Without a file the images are rendered procedurally: a pixel is on when its centre
lies inside the shape. The sprite centre moves in steps of 1.5 pixels from
(8.75, 8.75) to (55.25, 55.25) in continuous pixel coordinates (pixel ``(i, j)``
covers ``[j, j+1) × [i, i+1)``), so every pixel centre sits at an offset of
``0.25 + 0.5 m`` pixels from the sprite centre. Each of the 720 (shape, scale,
orientation) sprites is therefore rendered once on a half-pixel lattice, and the
1,024 positions are strided views of it. Orientation 2π is rendered as exactly 0, so
the first and last orientations give identical images, as in the official file.
The procedural images are not pixel-identical to the official file; the grid, the
order and the factor semantics are.

Geometry (one shape unit is 6 pixels at scale 1, 3 at scale 0.5): the square has
side 1.92 units, the ellipse semi-axes 1.25 × 0.6 units, and the heart (a square
turned 45° with two half-disks on its upper sides) an area of 4.0 units², about
that of the square. Every point of every shape lies less than 8.25 pixels from its
centre at scale 1, so no sprite lights a border pixel at any position (the border
pixel centres are 8.25 pixels from the sprite centre at the extreme positions).
Every one-step change of any factor changes the image, at every position.

The renderer is exactly mirror-symmetric: orientations ``o`` and ``39 − o`` are
computed from one cosine and opposite sines, and the half-pixel lattice is symmetric
about the sprite centre, so the image at ``(shape, scale, 39 − o, 31 − posX, posY)``
is the image at ``(shape, scale, o, posX, posY)`` flipped left to right (all three
shapes are symmetric about their vertical axis).

Images are held bit-packed (512 bytes each, 377 MB for the whole set) and cached on
disk so that a second start only reads the file.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from disentangle.data.base import FactorDataset, absolute_path, as_index_tensor, load_numpy_file
from disentangle.errors import InputError

FACTOR_NAMES = ["shape", "scale", "orientation", "posX", "posY"]
FACTORS_NUM_VALUES = [3, 6, 40, 32, 32]
SHAPE_NAMES = ["square", "ellipse", "heart"]
IMAGE_SIZE = 64
NUM_IMAGES = int(np.prod(FACTORS_NUM_VALUES))
PACKED_BYTES = IMAGE_SIZE * IMAGE_SIZE // 8
OFFICIAL_FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"

#: bump whenever the rendering changes, so stale caches are never reused
RENDER_VERSION = 2

# Geometry of the procedural renderer, in pixels.
_FIRST_CENTRE = 8.75  # sprite centre at pos = 0
_POSITION_STEP = 1.5  # centre shift between consecutive positions (31 steps = 46.5 px)
_UNIT = 6.0  # length of one shape unit at scale 1
# Half-pixel lattice covering every (pixel centre − sprite centre) offset:
# offset(t) = -54.75 + 0.5 t, t in [0, 220). Pixel j at position k reads t = 2j + 93 - 3k.
_LATTICE = 220
_LATTICE_ORIGIN = -54.75
_LATTICE_CENTRE = 93


def factor_values() -> list[np.ndarray]:
    """The physical value of each factor level, as in the official ``latents_values``."""
    return [
        np.arange(1, 4, dtype=np.float64),  # official shape values are 1, 2, 3
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    ]


#: half-side of the square, in units: its half-diagonal, 0.96 √2 × 6 = 8.15 pixels at
#: scale 1, stays under the 8.25 pixels that separate the sprite centre from the border
#: pixel centres at the extreme positions
_SQUARE_HALF_SIDE = 0.96
#: the heart's size ``h``, in units: a square with corners (0, ±h), (±h, 0) (its lower
#: corner is the tip) and two disks of radius h/√2 centred on its upper sides' midpoints
#: (±h/2, h/2), so that their tops rise (1/2 + 1/√2) h above the square's centre
_HEART_SIZE = 1.06
#: height of the sprite centre (the centre of rotation) above the centre of the heart's
#: square, in units. The lobes' farthest points lie 1.368 units (8.21 pixels at scale 1)
#: from the sprite centre, the tip 1.272 units. Of the heights that keep the heart
#: within 8.25 pixels, this one (found by search) makes every one-step turn of the heart
#: change at least two pixels of every image, at every scale and position.
_HEART_CENTRE = 0.2 * _HEART_SIZE


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether points in shape units (u right, v up; shape centred at 0) lie inside.

    Each test depends on ``u`` through ``|u|`` or ``u²`` only, so every shape is
    exactly symmetric about its vertical axis, in floating point too.
    """
    if shape == 0:  # square
        return np.maximum(np.abs(u), np.abs(v)) <= _SQUARE_HALF_SIDE
    if shape == 1:  # ellipse, semi-axes 1.25 and 0.6 units
        return (u / 1.25) ** 2 + (v / 0.6) ** 2 <= 1.0
    # heart: the turned square |x| + |y| <= h, and the disks on its upper sides
    h = _HEART_SIZE
    x, y = np.abs(u), v + _HEART_CENTRE
    return (x + np.abs(y) <= h) | ((x - h / 2) ** 2 + (y - h / 2) ** 2 <= h * h / 2)


def orientation_cos_sin(orientation: int) -> tuple[float, float]:
    """``(cos θ, sin θ)`` of an orientation level, as the renderer uses them.

    Level ``o`` is drawn at ``θ = 2π k / 39`` with ``k = o mod 39`` taken in
    ``[-19, 19]``: level 39 (2π) is exactly level 0, and levels ``o`` and ``39 − o``
    get the same cosine and exactly opposite sines (mirror images).
    """
    k = orientation % 39
    k = k - 39 if k > 19 else k
    angle = 2 * np.pi * abs(k) / 39
    return float(np.cos(angle)), float(np.copysign(np.sin(angle), k))


def render_sprites(shape: int, scale: float) -> np.ndarray:
    """bool ``(40, 220, 220)``: the sprite at every orientation on the half-pixel lattice.

    Entry ``[o, a, b]`` says whether the point at offset ``(dx, dy) = (off(b), off(a))``
    pixels from the sprite centre is inside the shape rotated by orientation ``o``
    (counter-clockwise on screen). One orientation at a time, so that the float
    temporaries stay at 220 × 220.
    """
    offsets = _LATTICE_ORIGIN + 0.5 * np.arange(_LATTICE)
    # Image offsets in shape units, y up. The lattice is symmetric about 0, so x of
    # column b is exactly -x of column 219 - b.
    x = (offsets / (scale * _UNIT))[None, :]
    y = (-offsets / (scale * _UNIT))[:, None]
    sprites = np.empty((40, _LATTICE, _LATTICE), dtype=bool)
    for orientation in range(40):
        cos, sin = orientation_cos_sin(orientation)
        # Rotate image offsets back into the shape frame.
        u = cos * x + sin * y
        v = cos * y - sin * x
        sprites[orientation] = _inside(shape, u, v)
    return sprites


def _positions_view(sprite: np.ndarray) -> np.ndarray:
    """uint8 view ``(32 posX, 32 posY, 64, 64)`` of one lattice sprite at every position."""
    sprite = np.ascontiguousarray(sprite, dtype=np.uint8)
    row, col = sprite.strides
    start = sprite[_LATTICE_CENTRE:, _LATTICE_CENTRE:]
    return np.lib.stride_tricks.as_strided(
        start,
        shape=(32, 32, IMAGE_SIZE, IMAGE_SIZE),
        strides=(-3 * col, -3 * row, 2 * row, 2 * col),
        writeable=False,
    )


def render_packed() -> np.ndarray:
    """Render all 737,280 images, bit-packed: uint8 ``(737280, 512)``, row-major bits."""
    packed = np.empty((NUM_IMAGES, PACKED_BYTES), dtype=np.uint8)
    per_orientation = 32 * 32
    scales = factor_values()[1]
    index = 0
    for shape in range(3):
        for scale in scales:
            for sprite in render_sprites(shape, float(scale)):
                images = _positions_view(sprite).reshape(per_orientation, -1)
                packed[index : index + per_orientation] = np.packbits(images, axis=1)
                index += per_orientation
    return packed


def default_cache_dir() -> Path:
    """``$DISENTANGLE_CACHE`` if set, else ``~/.cache/disentangle``."""
    return Path(os.environ.get("DISENTANGLE_CACHE") or Path.home() / ".cache" / "disentangle")


def _load_or_render(cache_dir: Path | None) -> np.ndarray:
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"dsprites-procedural-v{RENDER_VERSION}.npy"
    if path.is_file():
        try:
            packed = np.load(path, allow_pickle=False)
            if packed.shape == (NUM_IMAGES, PACKED_BYTES) and packed.dtype == np.uint8:
                return packed
        except (ValueError, OSError):
            pass  # a damaged cache is re-rendered and replaced below
    packed = render_packed()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache, suffix=".npy.tmp", delete=False) as handle:
            np.save(handle, packed)
        os.replace(handle.name, path)
    except OSError:
        pass  # a read-only cache folder only costs the next start a re-render
    return packed


#: bytes of ``imgs`` decompressed at a time when reading an ``.npz`` (bounds peak memory)
_READ_CHUNK_BYTES = 64 * 2**20
_NPZ_KEYS = ("imgs", "latents_classes", "latents_values")
#: what reading a damaged archive member raises
_UNREADABLE = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error)


def read_factor_npz(path: str | Path, factors_num_values: Sequence[int], image_size: int) -> np.ndarray:
    """Read a factor dataset stored in the official dSprites ``.npz`` layout.

    Expects ``imgs``: uint8 ``(N, image_size, image_size)`` of 0s and 1s;
    ``latents_classes``: integers ``(N, 1 + num_factors)``, a colour column of 0s
    followed by the factor levels in row-major order (last factor fastest);
    ``latents_values``: floats ``(N, 1 + num_factors)``; N = prod(factors_num_values).
    Other entries (the official ``metadata``) are not read, and nothing is unpickled.

    Returns the images bit-packed, uint8 ``(N, ceil(image_size² / 8))`` (``np.packbits``
    of each row-major image), decompressing ``imgs`` in chunks so that the
    unpacked images are never all in memory.
    """
    path = Path(path)
    num_images = int(np.prod(factors_num_values))
    archive = load_numpy_file(path, ".npz file", f"an .npz with arrays {', '.join(_NPZ_KEYS)}")
    if isinstance(archive, np.ndarray):
        raise InputError(f"{path}: holds a single array, expected an .npz with arrays {', '.join(_NPZ_KEYS)}")
    with archive:
        for key in _NPZ_KEYS:
            if key not in archive.files:
                raise InputError(f"{path}: missing array '{key}' (expected arrays {', '.join(_NPZ_KEYS)})")
        member = "imgs.npy" if "imgs.npy" in archive.zip.namelist() else "imgs"
        try:
            with archive.zip.open(member) as imgs:
                shape, fortran_order, dtype = _read_npy_header(imgs)
                expected = (num_images, image_size, image_size)
                if shape != expected or dtype != np.uint8:
                    raise InputError(
                        f"{path}: array 'imgs' has shape {shape} and dtype {dtype}, "
                        f"expected shape {expected} and dtype uint8"
                    )
                if fortran_order:
                    raise InputError(f"{path}: array 'imgs' is stored in Fortran order, expected C order")
                _check_latents(archive, path, factors_num_values)
                return _read_packed_binary(imgs, path, num_images, image_size * image_size)
        except InputError:
            raise
        except _UNREADABLE as error:
            raise InputError(f"{path}: array 'imgs' unreadable ({error})") from None


def _read_npy_header(stream) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` from the header of a ``.npy`` stream."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(stream)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(stream)
    raise ValueError(f".npy format version {version} (expected 1.0 or 2.0)")


def _check_latents(archive, path: Path, factors_num_values: Sequence[int]) -> None:
    """Check ``latents_classes`` (order) and ``latents_values`` (shape, dtype)."""
    num_images = int(np.prod(factors_num_values))
    shape = (num_images, 1 + len(factors_num_values))
    for key, kind, dtype_name in (
        ("latents_classes", np.integer, "integers"),
        ("latents_values", np.floating, "floats"),
    ):
        try:
            array = archive[key]
        except _UNREADABLE as error:
            raise InputError(f"{path}: array '{key}' unreadable ({error})") from None
        if not isinstance(array, np.ndarray):
            raise InputError(f"{path}: entry '{key}' is not a .npy array")
        if array.shape != shape or not np.issubdtype(array.dtype, kind):
            raise InputError(
                f"{path}: array '{key}' has shape {array.shape} and dtype {array.dtype}, "
                f"expected shape {shape} of {dtype_name}"
            )
        if key == "latents_classes":
            order = np.stack(np.unravel_index(np.arange(num_images), factors_num_values), axis=1)
            if np.any(array[:, 0] != 0) or not np.array_equal(array[:, 1:], order):
                raise InputError(
                    f"{path}: 'latents_classes' is not in the official order "
                    "(colour column of 0s, then the factors with the last varying fastest)"
                )


def _read_packed_binary(stream, path: Path, num_images: int, pixels_per_image: int) -> np.ndarray:
    """Bit-pack ``num_images`` uint8 images of 0s and 1s read row by row from ``stream``."""
    packed = np.empty((num_images, (pixels_per_image + 7) // 8), dtype=np.uint8)
    per_chunk = max(1, _READ_CHUNK_BYTES // pixels_per_image)
    for start in range(0, num_images, per_chunk):
        count = min(per_chunk, num_images - start)
        data = stream.read(count * pixels_per_image)
        if len(data) != count * pixels_per_image:
            last = start + len(data) // pixels_per_image
            raise InputError(f"{path}: array 'imgs' is truncated (it ends inside image {last})")
        images = np.frombuffer(data, dtype=np.uint8).reshape(count, pixels_per_image)
        if images.max() > 1:
            raise InputError(f"{path}: 'imgs' must be binary (0 or 1), found values up to {images.max()}")
        packed[start : start + count] = np.packbits(images, axis=1)
    return packed


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

    def _bits(self, indices) -> np.ndarray:
        """uint8 ``(N, 1, 64, 64)`` of 0s and 1s for the given indices."""
        index = as_index_tensor(indices, NUM_IMAGES)
        pixels = np.unpackbits(self._packed.index_select(0, index).numpy(), axis=1)
        return pixels.reshape(len(index), 1, IMAGE_SIZE, IMAGE_SIZE)

    # The conversions run in NumPy, single-threaded: on a batch this small, torch's
    # multi-threaded kernels cost milliseconds waiting for each other on busy cores.
    def observations(self, indices) -> torch.Tensor:
        return torch.from_numpy(self._bits(indices).astype(np.float32))

    def images(self, indices) -> torch.Tensor:
        pixels = self._bits(indices)
        pixels *= np.uint8(255)
        return torch.from_numpy(pixels)

    def packed(self) -> np.ndarray:
        """The bit-packed images, uint8 ``(737280, 512)`` (a view, not a copy)."""
        return self._packed.numpy()

    def describe(self) -> dict:
        """``name`` and ``path`` (absolute, or ``None`` when rendered). ``cache_dir`` is
        left out: it is where this machine keeps its render, not what the data is."""
        return {"name": self.name, "path": self.path}
