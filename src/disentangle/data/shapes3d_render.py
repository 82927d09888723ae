"""A small ray caster for Shapes3D-like scenes: a floor, a wall and one object.

The scene, in world units (x right, y up, z away from the camera at orientation 0):

- the floor is the plane ``y = 0``, the wall the plane ``z = WALL_DISTANCE`` behind the
  object; both are infinite, so every ray meets one of them;
- the object stands on the floor at the origin, scaled about its base by ``scale``: a cube
  (side 2), a cylinder (radius 1, height 2, axis vertical), a sphere (radius 1) or a
  capsule lying along x (radius 0.8, 3.0 long);
- the camera looks at ``CAMERA_TARGET`` from ``CAMERA_DISTANCE`` away (horizontally) and
  ``CAMERA_HEIGHT`` up, with a vertical field of view of ``FIELD_OF_VIEW_DEGREES``;
  orientation θ orbits it by θ degrees about the vertical axis through the object (to the
  object's right for θ > 0), so the object turns by −θ in the picture and the floor–wall
  edge tilts, while the light stays fixed in the world;
- one directional light ``LIGHT_DIRECTION`` (towards the light): Lambertian shading
  ``AMBIENT + (1 − AMBIENT)·max(0, n·l)``, with the object's shadow on the floor and wall.

Every pixel averages ``SUPERSAMPLING²`` rays. A rendered *layer* holds, per pixel and
per surface (floor, wall, object), the fraction of the pixel's rays that hit the surface
times their shading: a pixel's colour is ``Σ_surface layer[surface] · rgb(surface hue)``,
so a hue changes exactly the pixels its surface covers. Each of the 4 × 8 × 15 (shape,
scale, orientation) scenes is one layer.
"""

from __future__ import annotations

import numpy as np

IMAGE_SIZE = 64
SHAPE_NAMES = ["cube", "cylinder", "sphere", "capsule"]
SURFACES = ["floor", "wall", "object"]
NUM_SCALES, NUM_ORIENTATIONS = 8, 15

WALL_DISTANCE = 4.0
CAMERA_DISTANCE = 11.0
CAMERA_HEIGHT = 4.5
CAMERA_TARGET = (0.0, 1.6, 0.0)
FIELD_OF_VIEW_DEGREES = 36.0
#: towards the light: from the upper left, in front of the object
LIGHT_DIRECTION = (-0.45, 0.8, -0.4)
AMBIENT = 0.4
SUPERSAMPLING = 3
#: the capsule's radius and the half-length of its axis segment, at scale 1
CAPSULE_RADIUS, CAPSULE_HALF_LENGTH = 0.8, 0.7

_MISS = np.inf


def scales() -> np.ndarray:
    """The 8 object scales, ``linspace(0.75, 1.25, 8)`` as in the official file."""
    return np.linspace(0.75, 1.25, NUM_SCALES)


def orientations() -> np.ndarray:
    """The 15 orientations in degrees, ``linspace(-30, 30, 15)`` as in the official file."""
    return np.linspace(-30.0, 30.0, NUM_ORIENTATIONS)


def _unit(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` over their norms along the last axis (zero vectors stay zero)."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-300)


def camera_rays(orientation_degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """``(origin (3,), directions (64·64·S², 3))``: unit ray directions, pixel-major (row
    by row, top row first), the S² sub-pixel rays of a pixel consecutive."""
    angle = np.radians(orientation_degrees)
    origin = np.array([CAMERA_DISTANCE * np.sin(angle), CAMERA_HEIGHT, -CAMERA_DISTANCE * np.cos(angle)])
    forward = _unit(np.asarray(CAMERA_TARGET) - origin)
    right = _unit(np.cross([0.0, 1.0, 0.0], forward))
    up = np.cross(forward, right)
    # sub-pixel sample centres, in pixels from the image's top-left corner
    offsets = (np.arange(SUPERSAMPLING) + 0.5) / SUPERSAMPLING
    pixels = np.arange(IMAGE_SIZE)
    row, column, sub_row, sub_column = np.meshgrid(pixels, pixels, offsets, offsets, indexing="ij")
    rows, columns = row + sub_row, column + sub_column
    half_extent = np.tan(np.radians(FIELD_OF_VIEW_DEGREES) / 2)
    x = (2 * columns.reshape(-1) / IMAGE_SIZE - 1) * half_extent
    y = (1 - 2 * rows.reshape(-1) / IMAGE_SIZE) * half_extent
    return origin, _unit(forward + x[:, None] * right + y[:, None] * up)


def _sphere(origins, directions, centre, radius) -> np.ndarray:
    """Nearest positive distance along unit ``directions`` to a sphere (``inf`` on a miss)."""
    relative = origins - centre
    b = np.einsum("ij,ij->i", relative, directions)
    c = np.einsum("ij,ij->i", relative, relative) - radius * radius
    root = np.sqrt(np.maximum(b * b - c, 0.0))
    t = -b - root
    return np.where((b * b - c >= 0) & (t > 1e-9), t, _MISS)


def _tube(origins, directions, axis: int, centre, radius, low, high) -> np.ndarray:
    """Nearest positive distance to the side of a cylinder along coordinate ``axis``
    through ``centre``, between ``low`` and ``high`` along that axis."""
    others = [k for k in range(3) if k != axis]
    o = origins[:, others] - np.asarray(centre)[others]
    d = directions[:, others]
    a = np.einsum("ij,ij->i", d, d)
    b = np.einsum("ij,ij->i", o, d)
    c = np.einsum("ij,ij->i", o, o) - radius * radius
    discriminant = b * b - a * c
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (-b - np.sqrt(np.maximum(discriminant, 0.0))) / a
    along = origins[:, axis] + t * directions[:, axis]
    hit = (discriminant >= 0) & (a > 0) & (t > 1e-9) & (along >= low) & (along <= high)
    return np.where(hit, t, _MISS)


def _plane(origins, directions, axis: int, level: float, inside) -> np.ndarray:
    """Nearest positive distance to the plane ``coordinate[axis] = level`` where the hit
    point satisfies ``inside(point)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (level - origins[:, axis]) / directions[:, axis]
        points = origins + t[:, None] * directions
    return np.where(np.isfinite(t) & (t > 1e-9) & inside(points), t, _MISS)


def object_distance(shape: int, scale: float, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Distance along each ray to the object (``inf`` on a miss), shape frame at the origin."""
    o = origins / scale  # the object at scale 1; distances scale back below
    if shape == 0:  # cube [-1, 1] × [0, 2] × [-1, 1]: the nearest of its faces
        low, high = np.array([-1.0, 0.0, -1.0]), np.array([1.0, 2.0, 1.0])
        faces = []
        for axis in range(3):
            others = [k for k in range(3) if k != axis]

            def inside(points, others=others):
                return np.all((points[:, others] >= low[others]) & (points[:, others] <= high[others]), axis=1)

            faces += [_plane(o, directions, axis, low[axis], inside), _plane(o, directions, axis, high[axis], inside)]
        t = np.minimum.reduce(faces)
    elif shape == 1:  # cylinder: side and top disc
        t = np.minimum(
            _tube(o, directions, 1, (0.0, 0.0, 0.0), 1.0, 0.0, 2.0),
            _plane(o, directions, 1, 2.0, lambda p: p[:, 0] ** 2 + p[:, 2] ** 2 <= 1.0),
        )
    elif shape == 2:  # sphere
        t = _sphere(o, directions, np.array([0.0, 1.0, 0.0]), 1.0)
    else:  # capsule along x: a tube and two end spheres
        r, a = CAPSULE_RADIUS, CAPSULE_HALF_LENGTH
        t = np.minimum.reduce([
            _tube(o, directions, 0, (0.0, r, 0.0), r, -a, a),
            _sphere(o, directions, np.array([-a, r, 0.0]), r),
            _sphere(o, directions, np.array([a, r, 0.0]), r),
        ])
    return t * scale


def object_normals(shape: int, scale: float, points: np.ndarray) -> np.ndarray:
    """Unit outward normals ``(M, 3)`` of the object at surface ``points`` ``(M, 3)``."""
    p = points / scale
    if shape == 0:  # the face whose slab the point is closest to leaving
        distance_to_face = np.abs(np.abs(p - np.array([0.0, 1.0, 0.0])) - 1.0)
        axis = np.argmin(distance_to_face, axis=1)
        normals = np.zeros_like(p)
        normals[np.arange(len(p)), axis] = np.sign((p - np.array([0.0, 1.0, 0.0]))[np.arange(len(p)), axis])
        return normals
    if shape == 1:
        on_top = p[:, 1] >= 2.0 - 1e-6
        side = p * np.array([1.0, 0.0, 1.0])
        return np.where(on_top[:, None], np.array([0.0, 1.0, 0.0]), _unit(side))
    if shape == 2:
        return _unit(p - np.array([0.0, 1.0, 0.0]))
    r, a = CAPSULE_RADIUS, CAPSULE_HALF_LENGTH
    nearest_on_axis = np.stack([np.clip(p[:, 0], -a, a), np.full(len(p), r), np.zeros(len(p))], axis=1)
    return _unit(p - nearest_on_axis)


#: a sphere about (0, scale, 0) of this radius times the scale holds every object
_BOUNDING_RADIUS = 1.8


def _near_object(scale: float, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """bool ``(M,)``: the rays that meet the object's bounding sphere (the others miss it)."""
    return np.isfinite(_sphere(origins, directions, np.array([0.0, scale, 0.0]), _BOUNDING_RADIUS * scale))


def _distance_if_near(shape: int, scale: float, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """``object_distance``, computed only for the rays near the object."""
    distance = np.full(len(directions), _MISS)
    near = _near_object(scale, origins, directions)
    distance[near] = object_distance(shape, scale, origins[near], directions[near])
    return distance


def render_view(orientation_degrees: float, shapes_and_scales) -> list[np.ndarray]:
    """The layers of one orientation, for each ``(shape, scale)`` of ``shapes_and_scales``:
    float32 ``(3, 64, 64)``, per surface (floor, wall, object) the pixel's rays that hit it
    times their shading, averaged over the pixel's rays (the three sum to the pixel's mean
    shading, in [AMBIENT, 1])."""
    origin, directions = camera_rays(orientation_degrees)
    origins = np.broadcast_to(origin, directions.shape)
    everywhere = lambda points: np.ones(len(points), dtype=bool)  # noqa: E731
    planes = np.stack([
        _plane(origins, directions, 1, 0.0, everywhere),
        _plane(origins, directions, 2, WALL_DISTANCE, everywhere),
    ])
    light = _unit(np.asarray(LIGHT_DIRECTION))
    layers = []
    for shape, scale in shapes_and_scales:
        distances = np.concatenate([planes, _distance_if_near(shape, scale, origins, directions)[None]])
        surface = np.argmin(distances, axis=0)
        points = origin + distances[surface, np.arange(len(surface))][:, None] * directions
        normals = np.where((surface == 0)[:, None], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0])
        on_object = surface == 2
        normals[on_object] = object_normals(shape, scale, points[on_object])
        lit = np.maximum(normals @ light, 0.0)
        # the object's shadow on the floor and wall; the convex object shades itself by
        # max(0, n·l) alone
        background = np.flatnonzero(~on_object)
        shadow_origins = points[background] + 1e-6 * normals[background]
        shadow_directions = np.broadcast_to(light, shadow_origins.shape)
        lit[background[np.isfinite(_distance_if_near(shape, scale, shadow_origins, shadow_directions))]] = 0.0
        layer = np.zeros((len(SURFACES), len(surface)))
        layer[surface, np.arange(len(surface))] = AMBIENT + (1 - AMBIENT) * lit
        layers.append(layer.reshape(len(SURFACES), IMAGE_SIZE, IMAGE_SIZE, SUPERSAMPLING**2).mean(axis=3))
    return [layer.astype(np.float32) for layer in layers]


def render_layers() -> np.ndarray:
    """float32 ``(4 shapes, 8 scales, 15 orientations, 3 surfaces, 64, 64)``: every layer."""
    grid = [(shape, scale) for shape in range(len(SHAPE_NAMES)) for scale in scales()]
    views = np.stack([np.stack(render_view(angle, grid)) for angle in orientations()])  # (15, 32, 3, 64, 64)
    return np.ascontiguousarray(
        views.reshape(NUM_ORIENTATIONS, len(SHAPE_NAMES), NUM_SCALES, *views.shape[2:]).transpose(1, 2, 0, 3, 4, 5)
    )
