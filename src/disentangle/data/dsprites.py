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

Images are held bit-packed (512 bytes each, 377 MB for the whole set) and cached on
disk so that a second start only reads the file.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

from disentangle.data.base import FactorDataset, as_index_tensor
from disentangle.errors import InputError

FACTOR_NAMES = ["shape", "scale", "orientation", "posX", "posY"]
FACTORS_NUM_VALUES = [3, 6, 40, 32, 32]
SHAPE_NAMES = ["square", "ellipse", "heart"]
IMAGE_SIZE = 64
NUM_IMAGES = int(np.prod(FACTORS_NUM_VALUES))
PACKED_BYTES = IMAGE_SIZE * IMAGE_SIZE // 8
OFFICIAL_FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"

#: bump whenever the rendering changes, so stale caches are never reused
RENDER_VERSION = 1

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


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether points in shape units (u right, v up; shape centred at 0) lie inside."""
    if shape == 0:  # square, side 2 units
        return np.maximum(np.abs(u), np.abs(v)) <= 1.0
    if shape == 1:  # ellipse, semi-axes 1.25 and 0.6 units
        return (u / 1.25) ** 2 + (v / 0.6) ** 2 <= 1.0
    # heart: (x² + y² − 1)³ ≤ x² y³, spanning y in [-1, 1.236]; recentred vertically
    x, y = u * 0.95, v * 0.95 + 0.118
    return (x * x + y * y - 1.0) ** 3 <= x * x * y**3


def render_sprites(shape: int, scale: float) -> np.ndarray:
    """bool ``(40, 220, 220)``: the sprite at every orientation on the half-pixel lattice.

    Entry ``[o, a, b]`` says whether the point at offset ``(dx, dy) = (off(b), off(a))``
    pixels from the sprite centre is inside the shape rotated by orientation ``o``.
    """
    offsets = _LATTICE_ORIGIN + 0.5 * np.arange(_LATTICE)
    dy, dx = np.meshgrid(offsets, offsets, indexing="ij")
    # 2π is drawn as exactly 0 so that the first and last orientations coincide.
    angles = 2 * np.pi * (np.arange(40) % 39) / 39
    cos, sin = np.cos(angles)[:, None, None], np.sin(angles)[:, None, None]
    # Rotate image offsets back into the shape frame (counter-clockwise on screen, y up).
    x, y = dx[None] / (scale * _UNIT), -dy[None] / (scale * _UNIT)
    u = cos * x + sin * y
    v = -sin * x + cos * y
    return _inside(shape, u, v)


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


def read_official_npz(path: str | Path) -> np.ndarray:
    """Read the official ``dsprites_ndarray_...npz``; returns the bit-packed images.

    Checks the keys, shapes and dtypes, and that ``latents_classes`` follows the
    official index order. Never unpickles (the file's ``metadata`` entry is not read).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file (expected the official dSprites {OFFICIAL_FILENAME})")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise InputError(f"{path}: not a readable .npz file ({error})") from None
    with archive:
        expected = {"imgs": ((NUM_IMAGES, 64, 64), np.uint8), "latents_classes": ((NUM_IMAGES, 6), None)}
        for key, (shape, dtype) in expected.items():
            if key not in archive.files:
                raise InputError(f"{path}: missing array '{key}' (expected keys imgs, latents_classes, latents_values)")
            try:
                array = archive[key]
            except ValueError as error:
                raise InputError(f"{path}: array '{key}' unreadable ({error})") from None
            if array.shape != shape or (dtype is not None and array.dtype != dtype):
                raise InputError(
                    f"{path}: array '{key}' has shape {array.shape} and dtype {array.dtype}, "
                    f"expected shape {shape}" + (f" and dtype {np.dtype(dtype)}" if dtype else "")
                )
        classes = archive["latents_classes"]
        if not np.issubdtype(classes.dtype, np.integer):
            raise InputError(f"{path}: 'latents_classes' has dtype {classes.dtype}, expected integers")
        order = np.stack(np.unravel_index(np.arange(NUM_IMAGES), FACTORS_NUM_VALUES), axis=1)
        if np.any(classes[:, 0] != 0) or not np.array_equal(classes[:, 1:], order):
            raise InputError(f"{path}: 'latents_classes' is not in the official order (posY fastest)")
        imgs = archive["imgs"]
        if imgs.max(initial=0) > 1:
            raise InputError(f"{path}: 'imgs' must be binary (0 or 1), found values up to {imgs.max()}")
        return np.packbits(imgs.reshape(NUM_IMAGES, -1), axis=1)


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
        self.path = None if path is None else str(path)
        self.cache_dir = None if cache_dir is None else str(cache_dir)
        packed = read_official_npz(path) if path is not None else _load_or_render(cache_dir)
        self._packed = torch.from_numpy(packed)
        bits = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8)
        byte_values = torch.arange(256, dtype=torch.uint8)[:, None]
        self._byte_to_pixels = (byte_values & bits != 0).to(torch.float32)  # (256, 8)

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        return (1, IMAGE_SIZE, IMAGE_SIZE)

    def factor_values(self) -> list[np.ndarray]:
        return factor_values()

    def observations(self, indices) -> torch.Tensor:
        index = as_index_tensor(indices, NUM_IMAGES)
        packed = self._packed.index_select(0, index).to(torch.int64)
        return self._byte_to_pixels[packed].view(-1, 1, IMAGE_SIZE, IMAGE_SIZE)

    def images(self, indices) -> torch.Tensor:
        return self.observations(indices).to(torch.uint8).mul_(255)

    def packed(self) -> np.ndarray:
        """The bit-packed images, uint8 ``(737280, 512)`` (a view, not a copy)."""
        return self._packed.numpy()

    def describe(self) -> dict:
        return {"name": self.name, "path": self.path}
