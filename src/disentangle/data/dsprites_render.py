"""The procedural dSprites renderer: the official factor grid drawn on a pixel lattice.

The sprite's centre moves in steps of ``POSITION_STEP`` = 1.5 pixels from
``FIRST_CENTRE`` = (8.75, 8.75) to (55.25, 55.25) in continuous pixel coordinates
(pixel ``(i, j)`` covers ``[j, j+1) × [i, i+1)``), and a pixel is on when its centre lies
inside the shape. Every offset between a pixel centre and a sprite centre is then a
multiple of half a pixel, ``0.25 + 0.5 m``; so each of the 720 (shape, scale,
orientation) sprites is rendered once on that half-pixel lattice, and the 1,024
positions are strided views of it. Orientation 2π is rendered as exactly 0, so the
first and last orientations give identical images, as in the official file.

Geometry (one shape unit is ``UNIT`` = 6 pixels at scale 1, 3 at scale 0.5): the square
has side 1.92 units, the ellipse semi-axes 1.25 × 0.6 units, and the heart (a square
turned 45° with two half-disks on its upper sides) an area of 4.0 units², about that of
the square. Every point of every shape lies less than 8.25 pixels from its centre at
scale 1, so no sprite lights a border pixel at any position (the border pixel centres
are 8.25 pixels from the sprite centre at the extreme positions). Every one-step change
of any factor changes the image, at every position.

The renderer is exactly mirror-symmetric: orientations ``o`` and ``39 − o`` are computed
from one cosine and opposite sines, and the lattice is symmetric about the sprite
centre, so the image at ``(shape, scale, 39 − o, 31 − posX, posY)`` is the image at
``(shape, scale, o, posX, posY)`` flipped left to right (all three shapes are symmetric
about their vertical axis).
"""

from __future__ import annotations

import numpy as np

FACTOR_NAMES = ["shape", "scale", "orientation", "posX", "posY"]
FACTORS_NUM_VALUES = [3, 6, 40, 32, 32]
SHAPE_NAMES = ["square", "ellipse", "heart"]
IMAGE_SIZE = 64
NUM_IMAGES = int(np.prod(FACTORS_NUM_VALUES))
PACKED_BYTES = IMAGE_SIZE * IMAGE_SIZE // 8
#: bump whenever the rendering changes, so stale caches are never reused
RENDER_VERSION = 2


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
FIRST_CENTRE = 8.75
#: the centre's shift between consecutive position levels (31 steps: 46.5 pixels)
POSITION_STEP = 1.5
#: the length of one shape unit at scale 1, in pixels
UNIT = 6.0

_NUM_ORIENTATIONS, _NUM_POSITIONS = FACTORS_NUM_VALUES[2], FACTORS_NUM_VALUES[3]
#: the lattice spacing: pixel centres are 1 apart and sprite centres 1.5, so offsets are multiples of 0.5
_LATTICE_STEP = 0.5
#: lattice points per pixel and per position level
_PIXEL_STRIDE = round(1 / _LATTICE_STEP)
_POSITION_STRIDE = round(POSITION_STEP / _LATTICE_STEP)
#: the smallest offset: the first pixel centre from the last sprite centre (−54.75 pixels)
_LATTICE_ORIGIN = 0.5 - (FIRST_CENTRE + (_NUM_POSITIONS - 1) * POSITION_STEP)
#: lattice points on each axis, from −54.75 to 54.75 pixels (220)
_LATTICE = round(-2 * _LATTICE_ORIGIN / _LATTICE_STEP) + 1
#: the lattice index of the first pixel centre at position level 0 (93); pixel j at
#: position k reads index _LATTICE_CENTRE + 2j − 3k
_LATTICE_CENTRE = round((0.5 - FIRST_CENTRE - _LATTICE_ORIGIN) / _LATTICE_STEP)


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
    offsets = _LATTICE_ORIGIN + _LATTICE_STEP * np.arange(_LATTICE)
    # Image offsets in shape units, y up. The lattice is symmetric about 0, so x of
    # column b is exactly -x of column 219 - b.
    x = (offsets / (scale * UNIT))[None, :]
    y = (-offsets / (scale * UNIT))[:, None]
    sprites = np.empty((_NUM_ORIENTATIONS, _LATTICE, _LATTICE), dtype=bool)
    for orientation in range(_NUM_ORIENTATIONS):
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
        shape=(_NUM_POSITIONS, _NUM_POSITIONS, IMAGE_SIZE, IMAGE_SIZE),
        strides=(-_POSITION_STRIDE * col, -_POSITION_STRIDE * row, _PIXEL_STRIDE * row, _PIXEL_STRIDE * col),
        writeable=False,
    )


def render_packed() -> np.ndarray:
    """Render all 737,280 images, bit-packed: uint8 ``(737280, 512)``, row-major bits."""
    packed = np.empty((NUM_IMAGES, PACKED_BYTES), dtype=np.uint8)
    per_orientation = _NUM_POSITIONS * _NUM_POSITIONS
    scales = factor_values()[1]
    index = 0
    for shape in range(len(SHAPE_NAMES)):
        for scale in scales:
            for sprite in render_sprites(shape, float(scale)):
                images = _positions_view(sprite).reshape(per_orientation, -1)
                packed[index : index + per_orientation] = np.packbits(images, axis=1)
                index += per_orientation
    return packed
