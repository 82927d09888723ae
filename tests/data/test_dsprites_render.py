"""The renderer's lattice: its constants follow from the documented geometry."""

from __future__ import annotations

import numpy as np

from disentangle.data import dsprites_render as render


def test_every_pixel_at_every_position_reads_the_lattice_point_at_its_offset():
    lattice = render._LATTICE_ORIGIN + render._LATTICE_STEP * np.arange(render._LATTICE)
    pixels = np.arange(render.IMAGE_SIZE)
    for position in range(render.FACTORS_NUM_VALUES[3]):
        index = render._LATTICE_CENTRE + render._PIXEL_STRIDE * pixels - render._POSITION_STRIDE * position
        offsets = pixels + 0.5 - (render.FIRST_CENTRE + render.POSITION_STEP * position)
        np.testing.assert_array_equal(lattice[index], offsets)


def test_the_lattice_is_the_documented_half_pixel_grid_symmetric_about_the_centre():
    assert (render._LATTICE, render._LATTICE_ORIGIN, render._LATTICE_CENTRE) == (220, -54.75, 93)
    lattice = render._LATTICE_ORIGIN + render._LATTICE_STEP * np.arange(render._LATTICE)
    np.testing.assert_array_equal(lattice, -lattice[::-1])
    last_centre = render.FIRST_CENTRE + render.POSITION_STEP * (render.FACTORS_NUM_VALUES[3] - 1)
    assert last_centre == 55.25 and render.IMAGE_SIZE - last_centre == render.FIRST_CENTRE  # centred range


def test_one_sprite_at_every_position_is_a_view_of_its_lattice_render():
    sprite = render.render_sprites(shape=2, scale=1.0)[7]
    views = render._positions_view(sprite)
    assert views.shape == (32, 32, 64, 64) and not views.flags.writeable
    np.testing.assert_array_equal(views[0, 0], sprite[93 : 93 + 128 : 2, 93 : 93 + 128 : 2])
    np.testing.assert_array_equal(views[31, 31], sprite[0:128:2, 0:128:2])
