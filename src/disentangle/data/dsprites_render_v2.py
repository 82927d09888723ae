"""Procedural dSprites, render version 2: the geometry of the releases before version 3.

A run trained before version 3 (its ``config.json`` records no ``render_version``) was
trained on these images; ``DSprites(render_version=2)`` renders them bit for bit as
those releases did (a test holds the SHA-256 of all 737,280 images), so that such a run
resumes and evaluates on its own data. Version 3 replaced this geometry with the
official file's (:mod:`disentangle.data.dsprites_render`).

The sprite's centre moves in steps of ``POSITION_STEP`` = 1.5 pixels from
``FIRST_CENTRE`` = (8.75, 8.75) to (55.25, 55.25) in continuous pixel coordinates
(pixel ``(i, j)`` covers ``[j, j+1) × [i, i+1)``), and a pixel is on when its centre lies
inside the shape. Every offset between a pixel centre and a sprite centre is then a
multiple of half a pixel, ``0.25 + 0.5 m``; so each of the 720 (shape, scale,
orientation) sprites is rendered once on that half-pixel lattice, and the 1,024
positions are strided views of it. Orientations are those of version 3
(``orientation_cos_sin``): 2π is exactly 0, and the render is exactly mirror-symmetric.

Geometry (one shape unit is ``UNIT`` = 6 pixels at scale 1, 3 at scale 0.5): the square
has side 1.92 units, the ellipse semi-axes 1.25 × 0.6 units, and the heart (a square
turned 45° with two half-disks on its upper sides) an area of 4.0 units², about that of
the square. Every point of every shape lies less than 8.25 pixels from its centre at
scale 1, so no sprite lights a border pixel at any position. The sprites cover 41 % of
the official area (mean pixel 0.0174, the official file's is 0.0425).
"""

from __future__ import annotations

import numpy as np

from disentangle.data.dsprites_render import (
    FACTORS_NUM_VALUES,
    SHAPE_NAMES,
    factor_values,
    lattice_positions,
    orientation_cos_sin,
    pack_sprites,
)

RENDER_VERSION = 2
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

#: half-side of the square, in units (its half-diagonal is 8.15 pixels at scale 1)
_SQUARE_HALF_SIDE = 0.96
#: the heart's size ``h``, in units: a square with corners (0, ±h), (±h, 0) (its lower
#: corner is the tip) and two disks of radius h/√2 centred on its upper sides' midpoints
_HEART_SIZE = 1.06
#: height of the sprite centre (the centre of rotation) above the centre of the heart's square, in units
_HEART_CENTRE = 0.2 * _HEART_SIZE


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether points in shape units (u right, v up; shape centred at 0) lie inside."""
    if shape == 0:  # square
        return np.maximum(np.abs(u), np.abs(v)) <= _SQUARE_HALF_SIDE
    if shape == 1:  # ellipse, semi-axes 1.25 and 0.6 units
        return (u / 1.25) ** 2 + (v / 0.6) ** 2 <= 1.0
    # heart: the turned square |x| + |y| <= h, and the disks on its upper sides
    h = _HEART_SIZE
    x, y = np.abs(u), v + _HEART_CENTRE
    return (x + np.abs(y) <= h) | ((x - h / 2) ** 2 + (y - h / 2) ** 2 <= h * h / 2)


def render_sprites(shape: int, scale: float) -> np.ndarray:
    """bool ``(40, 220, 220)``: the sprite at every orientation on the half-pixel lattice.

    Entry ``[o, a, b]`` says whether the point at offset ``(dx, dy) = (off(b), off(a))``
    pixels from the sprite centre is inside the shape rotated by orientation ``o``
    (counter-clockwise on screen).
    """
    offsets = _LATTICE_ORIGIN + _LATTICE_STEP * np.arange(_LATTICE)
    # Image offsets in shape units, y up.
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
    return lattice_positions(sprite, _LATTICE_CENTRE, _PIXEL_STRIDE, _POSITION_STRIDE)


def render_packed() -> np.ndarray:
    """Render all 737,280 images of version 2, bit-packed: uint8 ``(737280, 512)``, row-major bits."""
    sprites = (
        sprite
        for shape in range(len(SHAPE_NAMES))
        for scale in factor_values()[1]
        for sprite in render_sprites(shape, float(scale))
    )
    return pack_sprites(sprites, _positions_view)
