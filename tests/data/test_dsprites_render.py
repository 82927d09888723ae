"""The renderer's lattice: its constants follow from the documented geometry."""

from __future__ import annotations

import numpy as np

from disentangle.data import dsprites_render as render


def test_every_pixel_at_every_position_reads_the_lattice_point_at_its_offset():
    lattice = render.lattice_offsets()
    pixels = np.arange(render.IMAGE_SIZE)
    for position in range(render.FACTORS_NUM_VALUES[3]):
        index = render._LATTICE_CENTRE + render._PIXEL_STRIDE * pixels - render._POSITION_STRIDE * position
        centre = render.FIRST_CENTRE + render.POSITION_RANGE * position / 31
        np.testing.assert_allclose(lattice[index], pixels + 0.5 - centre, rtol=0, atol=1e-12)


def test_the_lattice_is_the_documented_grid_of_odd_62nds_symmetric_about_the_centre():
    strides = (render._PIXEL_STRIDE, render._POSITION_STRIDE)
    assert (render._LATTICE, render._LATTICE_CENTRE, strides) == (2946, 992, (31, 32))
    lattice = render.lattice_offsets()
    np.testing.assert_array_equal(lattice, -lattice[::-1])
    assert lattice[0] == -47.5 and np.allclose(np.diff(lattice), 1 / 31)
    last_centre = render.FIRST_CENTRE + render.POSITION_RANGE
    assert last_centre == 48 and render.IMAGE_SIZE - last_centre == render.FIRST_CENTRE  # centred range


def test_one_sprite_at_every_position_is_a_view_of_its_lattice_render():
    sprite = render.render_sprite(shape=2, scale=1.0, orientation=7)
    views = render._positions_view(sprite)
    assert views.shape == (32, 32, 64, 64) and not views.flags.writeable
    np.testing.assert_array_equal(views[0, 0], sprite[992 : 992 + 31 * 64 : 31, 992 : 992 + 31 * 64 : 31])
    np.testing.assert_array_equal(views[31, 31], sprite[0 : 31 * 64 : 31, 0 : 31 * 64 : 31])


def test_the_evaluated_window_holds_the_whole_sprite():
    """Widening the window beyond ``_REACH`` lights no further lattice point."""
    for shape in range(3):
        sprite = render.render_sprite(shape, 1.0, orientation=5)
        lit_rows = np.flatnonzero(sprite.any(axis=1))
        offsets = render.lattice_offsets()
        assert np.abs(offsets[lit_rows]).max() < render._REACH - 0.3
