"""shapes3d-procedural: Shapes3D's grid, order and values; every factor visible; hues local."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
import torch

from disentangle.data import get_dataset
from disentangle.data import shapes3d_procedural as module
from disentangle.data.shapes3d_procedural import Shapes3DProcedural

SIZES = [10, 10, 10, 8, 4, 15]
FLOOR, WALL, OBJECT, SCALE, SHAPE, ORIENTATION = range(6)


@pytest.fixture(scope="module")
def shapes3d() -> Shapes3DProcedural:
    return Shapes3DProcedural()


def _geometry_grid() -> np.ndarray:
    """int ``(480, 3)``: every (scale, shape, orientation)."""
    return np.stack(np.meshgrid(range(8), range(4), range(15), indexing="ij"), axis=-1).reshape(-1, 3)


def _with_random_hues(geometry: np.ndarray, seed: int) -> np.ndarray:
    hues = np.random.default_rng(seed).integers(0, 10, (len(geometry), 3))
    return np.concatenate([hues, geometry], axis=1)


# --------------------------------------------------------------------------- grid and order


def test_the_grid_is_shapes3ds_480000_rgb_images_with_its_factor_names(shapes3d):
    assert len(shapes3d) == 480_000 and shapes3d.factors_num_values == SIZES
    assert shapes3d.factor_names == ["floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"]
    assert shapes3d.observation_shape == (3, 64, 64)
    assert shapes3d.images([0, 479_999]).shape == (2, 3, 64, 64)


def test_factor_values_are_the_official_labels(shapes3d):
    values = shapes3d.factor_values()
    for hue in values[:3]:
        np.testing.assert_allclose(hue, [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    np.testing.assert_allclose(values[SCALE], [0.75 + k / 14 for k in range(8)])
    np.testing.assert_array_equal(values[SHAPE], [0, 1, 2, 3])
    np.testing.assert_allclose(values[ORIENTATION], [-30 + 30 * k / 7 for k in range(15)], atol=1e-12)


def test_the_index_order_has_floor_hue_slowest_and_orientation_fastest(shapes3d):
    assert shapes3d.factors_of(1).tolist() == [[0, 0, 0, 0, 0, 1]]
    assert shapes3d.factors_of(15).tolist() == [[0, 0, 0, 0, 1, 0]]
    assert shapes3d.factors_of(60).tolist() == [[0, 0, 0, 1, 0, 0]]
    assert shapes3d.factors_of(480).tolist() == [[0, 0, 1, 0, 0, 0]]
    assert shapes3d.factors_of(48_000).tolist() == [[1, 0, 0, 0, 0, 0]]
    index = np.arange(0, 480_000, 7)
    assert np.array_equal(shapes3d.index_of(shapes3d.factors_of(index)), index)


# --------------------------------------------------------------------------- what each factor does


@pytest.mark.parametrize("factor", [SCALE, SHAPE, ORIENTATION])
def test_every_one_step_change_of_scale_shape_or_orientation_changes_the_image(shapes3d, factor):
    """Over the whole (scale, shape, orientation) grid, with random hues."""
    factors = _with_random_hues(_geometry_grid(), seed=factor)
    factors = factors[factors[:, factor] < SIZES[factor] - 1]
    stepped = factors.copy()
    stepped[:, factor] += 1
    before = shapes3d.images(shapes3d.index_of(factors))
    after = shapes3d.images(shapes3d.index_of(stepped))
    changed = (before != after).flatten(1).sum(1)
    assert changed.min() > 0


@pytest.mark.parametrize(("factor", "surface"), [(FLOOR, 0), (WALL, 1), (OBJECT, 2)])
def test_every_hue_step_changes_its_surfaces_pixels_and_no_other(shapes3d, factor, surface):
    """Every step of the hue in each of the 480 scenes (other hues random): the changed
    pixels are among those the surface covers, and are most of them."""
    coverage = shapes3d.layers[:, surface].reshape(4, 8, 15, 64, 64).transpose(1, 0, 2, 3, 4).reshape(480, 64, 64)
    geometry = _geometry_grid()
    for value in range(9):
        factors = _with_random_hues(geometry, seed=value)
        factors[:, factor] = value
        stepped = factors.copy()
        stepped[:, factor] += 1
        changed = (shapes3d.images(shapes3d.index_of(factors)) != shapes3d.images(shapes3d.index_of(stepped)))
        changed = changed.any(dim=1).numpy()
        covered = coverage > 0
        assert not np.any(changed & ~covered)
        assert np.all(changed.sum(axis=(1, 2)) >= 0.9 * covered.sum(axis=(1, 2)))


def test_the_floor_fills_the_bottom_row_the_wall_the_top_row_and_the_object_the_middle(shapes3d):
    floor, wall, thing = (shapes3d.layers[:, s].reshape(480, 64, 64) for s in range(3))
    assert np.all(floor[:, -1].sum(axis=1) > 0.9 * 64 * 0.4)
    assert np.all(wall[:, 0].sum(axis=1) > 0.9 * 64 * 0.4)
    assert np.all(floor[:, 0] == 0) and np.all(wall[:, -1] == 0)
    assert np.all(thing[:, :, :8] == 0) and np.all(thing[:, :, -8:] == 0) and np.all(thing.sum(axis=(1, 2)) > 20)


def test_the_object_grows_with_its_scale_for_every_shape_and_orientation(shapes3d):
    area = shapes3d.layers[:, 2].reshape(4, 8, 15, -1).astype(bool).sum(axis=3)  # pixels the object touches
    assert np.all(np.diff(area, axis=1) > 0)


def test_colours_are_the_hues_at_full_saturation_and_value_times_the_shading(shapes3d):
    """A pixel covered by one surface only is its hue's HSV colour times one shading factor."""
    layers = shapes3d.layers.reshape(4, 8, 15, 3, 64 * 64)
    rng = np.random.default_rng(2)
    for _ in range(20):
        hues = rng.integers(0, 10, 3)
        shape, scale, orientation = rng.integers(0, 4), rng.integers(0, 8), rng.integers(0, 15)
        image = shapes3d.observations(shapes3d.index_of([[*hues, scale, shape, orientation]]))[0].numpy()
        image = image.reshape(3, -1)
        for surface in range(3):
            covered = layers[shape, scale, orientation, surface]
            alone = (covered > 0) & (layers[shape, scale, orientation].sum(axis=0) == covered)
            rgb = np.array(colorsys.hsv_to_rgb(hues[surface] / 10, 1, 1))
            np.testing.assert_allclose(image[:, alone], np.rint(rgb[:, None] * covered[alone] * 255) / 255, atol=1e-6)


# --------------------------------------------------------------------------- images and cache


def test_observations_are_the_uint8_images_over_255_and_identical_across_instances(shapes3d):
    index = np.random.default_rng(3).integers(0, 480_000, 64)
    images = shapes3d.images(index)
    assert images.dtype == torch.uint8
    assert torch.equal(shapes3d.observations(index), images.to(torch.float32) / 255)
    assert torch.equal(get_dataset("shapes3d-procedural").images(index), images)
    factors = shapes3d.factors_of(index)
    assert np.array_equal(shapes3d.sample_observations_from_factors(factors, np.random.RandomState(0)),
                          shapes3d.observations(index).numpy())
    assert shapes3d.describe() == {"name": "shapes3d-procedural", "render_version": 1}


def test_the_render_is_cached_and_a_damaged_cache_is_rendered_again(tmp_path, monkeypatch):
    rendered = []
    layers = np.random.default_rng(0).random((4, 8, 15, 3, 64, 64), dtype=np.float32) / 3

    def render():
        rendered.append(1)
        return layers

    monkeypatch.setitem(module.RENDERS, module.RENDER_VERSION, render)
    first = Shapes3DProcedural(cache_dir=tmp_path)
    second = Shapes3DProcedural(cache_dir=tmp_path)
    assert len(rendered) == 1 and torch.equal(first.images(range(100)), second.images(range(100)))
    cached = tmp_path / f"shapes3d-procedural-v{module.RENDER_VERSION}.npy"
    assert [path.name for path in tmp_path.iterdir()] == [cached.name]
    cached.write_bytes(cached.read_bytes()[:1000])
    third = Shapes3DProcedural(cache_dir=tmp_path)
    assert len(rendered) == 2 and torch.equal(third.images(range(100)), first.images(range(100)))
    assert np.array_equal(np.load(cached), layers)
