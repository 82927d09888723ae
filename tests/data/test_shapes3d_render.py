"""The Shapes3D ray caster: analytic distances and normals, the camera, the layers' shading."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.data import shapes3d_render as render

CUBE, CYLINDER, SPHERE, CAPSULE = range(4)


def _distance(shape, scale, origin, direction) -> float:
    direction = np.asarray(direction, dtype=np.float64)
    direction = direction / np.linalg.norm(direction)
    return float(render.object_distance(shape, scale, np.array([origin], float), np.array([direction]))[0])


#: (shape, scale, ray origin, direction) -> distance to the object, by hand
DISTANCES = {
    "cube front": (CUBE, 1.0, (0, 1, -10), (0, 0, 1), 9.0),
    "cube side, scaled": (CUBE, 1.25, (5, 1, 0), (-1, 0, 0), 5 - 1.25),
    "cube top": (CUBE, 0.75, (0.2, 10, 0.3), (0, -1, 0), 10 - 1.5),
    "cube corner, diagonal": (CUBE, 1.0, (-5, 1, -5), (1, 0, 1), np.sqrt(2) * 4),
    "cylinder side": (CYLINDER, 1.0, (0, 1, -10), (0, 0, 1), 9.0),
    "cylinder top": (CYLINDER, 1.25, (0, 10, 0), (0, -1, 0), 10 - 2.5),
    "cylinder side, off-centre": (CYLINDER, 1.0, (0.6, 1, -10), (0, 0, 1), 10 - 0.8),
    "sphere": (SPHERE, 0.75, (0, 0.75, -10), (0, 0, 1), 10 - 0.75),
    "sphere from above": (SPHERE, 1.0, (0, 10, 0), (0, -1, 0), 8.0),
    "capsule end": (CAPSULE, 1.0, (-10, 0.8, 0), (1, 0, 0), 10 - 1.5),
    "capsule side": (CAPSULE, 1.0, (0, 0.8, -10), (0, 0, 1), 10 - 0.8),
    "capsule end cap, off-axis": (CAPSULE, 1.0, (1.1, 10, 0), (0, -1, 0), 10 - 0.8 - np.sqrt(0.64 - 0.16)),
}


@pytest.mark.parametrize("case", DISTANCES, ids=list(DISTANCES))
def test_distances_to_each_object_are_the_hand_computed_ones(case):
    shape, scale, origin, direction, expected = DISTANCES[case]
    assert _distance(shape, scale, origin, direction) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("shape", range(4))
def test_rays_that_pass_the_object_miss_it(shape):
    assert _distance(shape, 1.25, (0, 5, -10), (0, 0, 1)) == np.inf  # above every object
    assert _distance(shape, 1.25, (3, 1, -10), (0, 0, 1)) == np.inf  # beside it
    assert _distance(shape, 1.0, (0, 1, 10), (0, 0, 1)) == np.inf  # pointing away


#: (shape, point on the surface at scale 1) -> outward normal
NORMALS = {
    "cube front": (CUBE, (0.3, 1.2, -1), (0, 0, -1)),
    "cube top": (CUBE, (0.3, 2, 0.5), (0, 1, 0)),
    "cube right": (CUBE, (1, 0.5, 0.2), (1, 0, 0)),
    "cylinder side": (CYLINDER, (0.6, 1.0, -0.8), (0.6, 0, -0.8)),
    "cylinder top": (CYLINDER, (0.2, 2, 0.1), (0, 1, 0)),
    "sphere": (SPHERE, (0, 2, 0), (0, 1, 0)),
    "capsule end": (CAPSULE, (-1.5, 0.8, 0), (-1, 0, 0)),
    "capsule side": (CAPSULE, (0.3, 0.8, -0.8), (0, 0, -1)),
}


@pytest.mark.parametrize("case", NORMALS, ids=list(NORMALS))
@pytest.mark.parametrize("scale", [0.75, 1.25])
def test_normals_point_outwards_and_have_unit_length(case, scale):
    shape, point, expected = NORMALS[case]
    normal = render.object_normals(shape, scale, np.array([point], float) * scale)[0]
    np.testing.assert_allclose(normal, expected, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(
    shape=st.integers(0, 3),
    scale=st.sampled_from(list(render.scales())),
    x=st.floats(-0.9, 0.9),
    y=st.floats(0.1, 1.9),
)
def test_a_ray_meets_a_surface_point_whose_normal_faces_the_ray(shape, scale, x, y):
    """From far in front, any ray that hits the object hits it where the normal faces back
    to the camera, and the hit point lies on the object's surface (the distance is exact)."""
    origin = np.array([[0.0, scale, -20.0]])
    target = np.array([x, y, 0.0]) * scale
    direction = (target - origin) / np.linalg.norm(target - origin)
    t = render.object_distance(shape, scale, origin, direction)
    if np.isinf(t[0]):
        return
    point = origin + t[:, None] * direction
    normal = render.object_normals(shape, scale, point)
    assert float(normal[0] @ direction[0]) < 0
    # stepping a little along the normal leaves the object: a ray back towards it hits it at that step
    outside = point + 1e-3 * normal
    assert render.object_distance(shape, scale, outside, -normal)[0] == pytest.approx(1e-3, abs=1e-7)


def test_camera_rays_have_unit_length_and_rows_run_top_to_bottom():
    origin, directions = render.camera_rays(0.0)
    assert directions.shape == (64 * 64 * render.SUPERSAMPLING**2, 3)
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0)
    per_pixel = directions.reshape(64, 64, -1, 3).mean(axis=2)
    assert np.all(np.diff(per_pixel[:, 32, 1]) < 0)  # lower rows look further down
    assert np.all(np.diff(per_pixel[32, :, 0]) > 0)  # columns to the right look further right
    assert origin[2] < 0 and origin[1] > 0  # in front of the object and above the floor


def test_orientation_orbits_the_camera_about_the_vertical_axis_through_the_object():
    for angle in render.orientations():
        origin, directions = render.camera_rays(angle)
        assert np.hypot(origin[0], origin[2]) == pytest.approx(render.CAMERA_DISTANCE)
        assert origin[1] == pytest.approx(render.CAMERA_HEIGHT)
        assert np.degrees(np.arctan2(origin[0], -origin[2])) == pytest.approx(angle)


def test_layers_hold_the_shading_of_each_surface_between_ambient_and_one():
    view = render.render_view(10.0, [(SPHERE, 1.0), (CUBE, 0.75)])
    for layer in view:
        assert layer.shape == (3, 64, 64) and layer.dtype == np.float32
        total = layer.sum(axis=0)
        assert total.min() >= render.AMBIENT - 1e-6 and total.max() <= 1 + 1e-6
    sphere = view[0][2]
    # the light comes from the upper left: the sphere's upper left is brighter than its lower right
    rows, columns = np.nonzero(sphere > 0)
    top_left = sphere[rows.min() + 3, columns.min() + 5]
    bottom_right = sphere[rows.max() - 3, columns.max() - 5]
    assert top_left > bottom_right


def test_the_object_casts_a_shadow_on_the_floor_away_from_the_light():
    with_object, = render.render_view(0.0, [(CUBE, 1.25)])
    without, = render.render_view(0.0, [(CUBE, 1e-3)])  # a speck: no shadow to speak of
    darker = (with_object[0] < without[0] - 0.1) & (with_object[2] == 0)
    rows, columns = np.nonzero(darker)
    assert darker.sum() > 20
    assert columns.mean() > 32  # the light is on the left, the shadow falls right
