"""The procedural dSprites renderer: the official factor grid drawn on a pixel lattice.

This is render version 3 (``RENDER_VERSION``), the default; version 2, the geometry of
the releases before it, is kept in :mod:`disentangle.data.dsprites_render_v2`.

The geometry is that of the official file, measured on the 320 official frames of
DeepMind's ``dsprites.gif`` (``benchmarks/dsprites_geometry.py`` prints the agreement):

- The sprite's centre, also its centre of rotation, moves from (16, 16) to (48, 48) in
  continuous pixel coordinates (pixel ``(i, j)`` covers ``[j, j+1) × [i, i+1)``): position
  level ``k`` puts it at ``16 + 32 k / 31``, so the sprites stay in the centre half
  of the image.
- Sizes are in pixels at scale 1 and shrink linearly with the scale (0.5 … 1): the
  square has side 19.2 (20 pixels lit when it is axis-aligned: 10, 12, …, 20 over the six
  scales, as in the official file), the ellipse semi-axes 12.8 × 7.2, and the heart is a
  square turned 45° (half-diagonal 8) with two disks of radius 5.2 on its upper sides.
- A pixel is on when its centre lies inside the shape.

The official images are not published with their renderer, so these images are not
pixel-identical to them: over the official frames the square differs in 8 pixels of
about 17,000, the ellipse in 56 of about 12,000 and the heart in about 7 pixels per
frame of about 220. The mean pixel is 0.0425, as in the official file.

Every offset between a pixel centre and a sprite centre is an odd multiple of 1/62
pixel, ``(62 j − 64 k − 961) / 62`` for pixel ``j`` at position ``k``; so each of the 720
(shape, scale, orientation) sprites is rendered once on that lattice (spacing 1/31
pixel), and the 1,024 positions are strided views of it. Orientation 2π is rendered as
exactly 0, so the first and last orientations give identical images, as in the
official file. No sprite lights a border pixel at any position.

The renderer is exactly mirror-symmetric: orientations ``o`` and ``39 − o`` are computed
from one cosine and opposite sines, and the lattice is symmetric about the sprite
centre, so the image at ``(shape, scale, 39 − o, 31 − posX, posY)`` is the image at
``(shape, scale, o, posX, posY)`` flipped left to right (all three shapes are symmetric
about their vertical axis).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

FACTOR_NAMES = ["shape", "scale", "orientation", "posX", "posY"]
FACTORS_NUM_VALUES = [3, 6, 40, 32, 32]
SHAPE_NAMES = ["square", "ellipse", "heart"]
IMAGE_SIZE = 64
NUM_IMAGES = int(np.prod(FACTORS_NUM_VALUES))
PACKED_BYTES = IMAGE_SIZE * IMAGE_SIZE // 8
#: the version of this render (``dsprites_render_v2`` keeps version 2); a new geometry is a
#: new version, so that a run keeps the images it was trained on and stale caches are never reused
RENDER_VERSION = 3


def factor_values() -> list[np.ndarray]:
    """The physical value of each factor level, as in the official ``latents_values``."""
    return [
        np.arange(1, 4, dtype=np.float64),  # official shape values are 1, 2, 3
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    ]


#: the sprite centre at position level 0, in continuous pixel coordinates
FIRST_CENTRE = 16.0
#: the centre's travel from position level 0 to level 31, in pixels
POSITION_RANGE = 32.0

_NUM_ORIENTATIONS, _NUM_POSITIONS = FACTORS_NUM_VALUES[2], FACTORS_NUM_VALUES[3]
#: every offset is an odd integer over this many pixels: the centre moves 64/62 pixel per level
_OFFSET_DENOMINATOR = 2 * (_NUM_POSITIONS - 1)
#: lattice points (2/62 pixel apart) per pixel and per position level
_PIXEL_STRIDE = _OFFSET_DENOMINATOR // 2
_POSITION_STRIDE = round(POSITION_RANGE * _OFFSET_DENOMINATOR / (_NUM_POSITIONS - 1)) // 2
#: the offset of pixel 0's centre at position 0 (−15.5 pixels), times the denominator
_FIRST_NUMERATOR = round((0.5 - FIRST_CENTRE) * _OFFSET_DENOMINATOR)
#: the largest offset (pixel 63 at position 0, 47.5 pixels), times the denominator; the
#: smallest is its negative (pixel 0 at position 31), as the range of centres is centred
_LAST_NUMERATOR = _FIRST_NUMERATOR + 2 * _PIXEL_STRIDE * (IMAGE_SIZE - 1)
#: lattice points on each axis (2946): offsets (2 m − 2945) / 62 for m = 0 … 2945
_LATTICE = _LAST_NUMERATOR + 1
#: the lattice index of pixel 0's centre at position level 0 (992); pixel j at
#: position k reads index _LATTICE_CENTRE + 31 j − 32 k
_LATTICE_CENTRE = (_FIRST_NUMERATOR + _LAST_NUMERATOR) // 2

#: half-side of the square, in pixels at scale 1
_SQUARE_HALF_SIDE = 9.6
#: semi-axes of the ellipse (horizontal, vertical), in pixels at scale 1
_ELLIPSE_SEMI_AXES = (12.8, 7.2)
#: the heart, in pixels at scale 1: a square with corners (0, ±h), (±h, 0) (its lower
#: corner is the tip) and two disks of radius r centred at (±d, d) from its centre
_HEART_SIZE, _HEART_LOBE_RADIUS, _HEART_LOBE_OFFSET = 8.0, 5.2, 4.4
#: height of the sprite centre (the centre of rotation) above the centre of the heart's square
_HEART_CENTRE = 0.4
#: no point of any shape lies farther than this from its centre, in pixels at scale 1
#: (the square's half-diagonal, 13.58); the border pixel centres are at least 15.5 away
_REACH = 14.0


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether points in pixels at scale 1 (u right, v up; shape centred at 0) lie inside.

    Each test depends on ``u`` through ``|u|`` or ``u²`` only, so every shape is
    exactly symmetric about its vertical axis, in floating point too.
    """
    if shape == 0:  # square
        return np.maximum(np.abs(u), np.abs(v)) <= _SQUARE_HALF_SIDE
    if shape == 1:  # ellipse
        a, b = _ELLIPSE_SEMI_AXES
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0
    # heart: the turned square |x| + |y| <= h, and the disks on its upper sides
    h, r, d = _HEART_SIZE, _HEART_LOBE_RADIUS, _HEART_LOBE_OFFSET
    x, y = np.abs(u), v + _HEART_CENTRE
    return (x + np.abs(y) <= h) | ((x - d) ** 2 + (y - d) ** 2 <= r * r)


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


def lattice_offsets() -> np.ndarray:
    """float64 ``(2946,)``: the lattice's offsets in pixels, exactly antisymmetric."""
    return (2 * np.arange(_LATTICE) - _LAST_NUMERATOR) / _OFFSET_DENOMINATOR


def render_sprite(shape: int, scale: float, orientation: int) -> np.ndarray:
    """bool ``(2946, 2946)``: one sprite on the lattice.

    Entry ``[a, b]`` says whether the point at offset ``(dx, dy) = (off(b), off(a))``
    pixels from the sprite centre is inside the shape rotated by ``orientation``
    (counter-clockwise on screen). Only the square of half-side ``_REACH · scale``
    around the centre is evaluated; the rest of the lattice is off.
    """
    offsets = lattice_offsets()
    near = np.flatnonzero(np.abs(offsets) <= _REACH * scale)
    window = slice(near[0], near[-1] + 1)
    # Offsets in pixels at scale 1, y up. The lattice is symmetric about 0, so x of
    # column b is exactly -x of column 2945 - b.
    x = (offsets[window] / scale)[None, :]
    y = (-offsets[window] / scale)[:, None]
    cos, sin = orientation_cos_sin(orientation)
    # Rotate image offsets back into the shape frame.
    u = cos * x + sin * y
    v = cos * y - sin * x
    sprite = np.zeros((_LATTICE, _LATTICE), dtype=bool)
    sprite[window, window] = _inside(shape, u, v)
    return sprite


def lattice_positions(sprite: np.ndarray, centre: int, pixel_stride: int, position_stride: int) -> np.ndarray:
    """uint8 view ``(32 posX, 32 posY, 64, 64)`` of one sprite (a C-contiguous bool lattice
    render) at every position: on each axis, pixel ``j`` at position level ``k`` reads the
    lattice index ``centre + pixel_stride · j − position_stride · k``."""
    sprite = sprite.view(np.uint8)
    row, col = sprite.strides
    start = sprite[centre:, centre:]
    return np.lib.stride_tricks.as_strided(
        start,
        shape=(_NUM_POSITIONS, _NUM_POSITIONS, IMAGE_SIZE, IMAGE_SIZE),
        strides=(-position_stride * col, -position_stride * row, pixel_stride * row, pixel_stride * col),
        writeable=False,
    )


def pack_sprites(sprites: Iterable[np.ndarray], positions: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """All 737,280 images bit-packed, uint8 ``(737280, 512)`` with row-major bits, from the
    720 lattice sprites in index order (shape, scale, orientation); ``positions(sprite)``
    views one sprite at every position (``lattice_positions``)."""
    packed = np.empty((NUM_IMAGES, PACKED_BYTES), dtype=np.uint8)
    per_sprite = _NUM_POSITIONS * _NUM_POSITIONS
    for index, sprite in enumerate(sprites):
        images = positions(sprite).reshape(per_sprite, -1)
        packed[index * per_sprite : (index + 1) * per_sprite] = np.packbits(images, axis=1)
    return packed


def _positions_view(sprite: np.ndarray) -> np.ndarray:
    """uint8 view ``(32 posX, 32 posY, 64, 64)`` of one lattice sprite at every position."""
    return lattice_positions(sprite, _LATTICE_CENTRE, _PIXEL_STRIDE, _POSITION_STRIDE)


def render_packed() -> np.ndarray:
    """Render all 737,280 images, bit-packed: uint8 ``(737280, 512)``, row-major bits."""
    sprites = (
        render_sprite(shape, float(scale), orientation)
        for shape in range(len(SHAPE_NAMES))
        for scale in factor_values()[1]
        for orientation in range(_NUM_ORIENTATIONS)
    )
    return pack_sprites(sprites, _positions_view)
