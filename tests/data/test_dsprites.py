"""dSprites: the procedural set on the official grid, its cache, and the official file."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from disentangle.data import dsprites as dsprites_module
from disentangle.data import get_dataset
from disentangle.data.dsprites import (
    FACTORS_NUM_VALUES,
    NUM_IMAGES,
    OFFICIAL_FILENAME,
    RENDER_VERSION,
    DSprites,
    factor_values,
    read_official_npz,
)
from disentangle.errors import InputError


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """The module's dSprites cache; also ``$DISENTANGLE_CACHE``, so the home folder is never touched."""
    folder = tmp_path_factory.mktemp("dsprites-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DISENTANGLE_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def dsprites(cache_dir) -> DSprites:
    """All 737,280 procedural images, rendered once for the module."""
    return DSprites(cache_dir=cache_dir)


@pytest.fixture(scope="module")
def grid(dsprites) -> np.ndarray:
    """The bit-packed images as uint8 ``(shape, scale, orientation, posX, posY, 512)``."""
    return dsprites.packed().reshape(*FACTORS_NUM_VALUES, 512)


# --------------------------------------------------------------------------- the grid


def test_dsprites_is_the_official_grid_of_737280_binary_64x64_images(dsprites):
    assert len(dsprites) == NUM_IMAGES == 737_280
    assert dsprites.factors_num_values == [3, 6, 40, 32, 32] and dsprites.num_factors == 5
    assert dsprites.factor_names == ["shape", "scale", "orientation", "posX", "posY"]
    assert dsprites.observation_shape == (1, 64, 64)
    assert dsprites.packed().shape == (737_280, 512) and dsprites.packed().dtype == np.uint8


def test_every_index_and_its_factors_determine_each_other_with_posy_fastest(dsprites):
    index = np.arange(NUM_IMAGES)
    factors = dsprites.factors_of(index)
    every_combination = np.stack(
        np.meshgrid(*[np.arange(n) for n in FACTORS_NUM_VALUES], indexing="ij"), axis=-1
    ).reshape(-1, 5)
    assert np.array_equal(factors, every_combination)
    assert np.array_equal(dsprites.index_of(factors), index)


def test_factor_values_are_the_official_grid(dsprites):
    shape, scale, orientation, pos_x, pos_y = dsprites.factor_values()
    assert np.array_equal(shape, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(scale, np.linspace(0.5, 1.0, 6))
    np.testing.assert_allclose(orientation, np.linspace(0.0, 2 * np.pi, 40))
    np.testing.assert_allclose(pos_x, np.linspace(0.0, 1.0, 32))
    np.testing.assert_allclose(pos_y, np.linspace(0.0, 1.0, 32))


@pytest.mark.parametrize("axis", [0, 1, 3, 4], ids=["shape", "scale", "posX", "posY"])
def test_one_step_of_shape_scale_or_position_changes_every_image(grid, axis):
    size = FACTORS_NUM_VALUES[axis]
    changed = (grid.take(range(size - 1), axis=axis) != grid.take(range(1, size), axis=axis)).any(axis=-1)
    assert changed.all(), f"{(~changed).sum()} steps along factor {axis} leave the image unchanged"


#: bit ``7 - k`` of ``REVERSE_BITS[b]`` is bit ``k`` of ``b``
REVERSE_BITS = np.packbits(
    np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1)[:, ::-1], axis=1
)[:, 0]


def mirrored(packed: np.ndarray) -> np.ndarray:
    """Bit-packed 64×64 images (last axis: 64 rows of 8 bytes) flipped left to right."""
    rows = packed.reshape(*packed.shape[:-1], 64, 8)
    return REVERSE_BITS[rows[..., ::-1]].reshape(packed.shape)


def test_mirrored_flips_bit_packed_images_left_to_right():
    images = np.random.default_rng(0).integers(0, 2, (3, 64, 64), dtype=np.uint8)
    packed = np.packbits(images.reshape(3, -1), axis=1)
    assert np.array_equal(mirrored(packed), np.packbits(images[:, :, ::-1].reshape(3, -1), axis=1))


def test_flipping_an_image_left_right_gives_the_mirrored_orientation_at_the_mirrored_posx(grid):
    """Every shape is symmetric about its vertical axis, and the renderer is exactly so.

    Flipping the frame left to right maps posX ``k`` to ``31 − k`` and turns the shape
    by ``−θ``, which is orientation ``39 − o`` (0 and 2π, level 39, both mirror 0).
    """
    for shape in range(3):
        for scale in range(6):
            images = grid[shape, scale]
            assert np.array_equal(mirrored(images), images[::-1, ::-1]), (shape, scale)


#: how many rotations map each shape onto itself (square D4, ellipse D2, heart D1); each
#: shape is also symmetric about its vertical axis
ROTATIONAL_SYMMETRY = {"square": 4, "ellipse": 2, "heart": 1}


def mirror_steps(order: int) -> list[int]:
    """Orientation steps ``o → o + 1`` whose two angles show mirror images of a shape.

    Mirroring a shape whose rotations by multiples of ``2π / order`` leave it unchanged
    turns ``θ`` into ``−θ`` modulo ``2π / order``: the step is a mirror pair when
    ``θ_o + θ_{o+1}`` is a multiple of ``2π / order``.
    """
    angles = factor_values()[2]
    period = 2 * np.pi / order
    turns = (angles[:-1] + angles[1:]) / period
    return np.flatnonzero(np.abs(turns - np.round(turns)) < 1e-9).tolist()


def test_the_only_orientation_step_between_mirror_images_is_19_to_20_for_every_shape():
    """``θ_o + θ_{o+1} = 2π (2o + 1) / 39`` is a multiple of ``2π / n`` (n = 1, 2, 4) only
    when 39 divides ``n (2o + 1)``, i.e. ``2o + 1 = 39``: 175.4° and 184.6°, which is
    also the pair ``o, 39 − o`` that the mirror test above relates exactly."""
    for name, order in ROTATIONAL_SYMMETRY.items():
        assert mirror_steps(order) == [19], name


def test_one_step_of_orientation_changes_the_image_unless_the_two_are_mirror_images_alike(grid):
    """A step ``o → o + 1`` may leave an image unchanged only where symmetry explains it.

    At a mirror step (19 → 20, see above) the image at ``(o + 1, posX)`` is the image at
    ``(o, 31 − posX)`` flipped; the two orientations then give the same image at posX
    exactly when the pixels at ``(o, posX)`` equal that flipped image, which the test
    derives from orientation ``o`` alone. Every other step must change every image.
    """
    for shape, name in enumerate(dsprites_module.SHAPE_NAMES):
        sprites = grid[shape]
        unchanged = ~(sprites[:, :-1] != sprites[:, 1:]).any(axis=-1)
        expected = np.zeros_like(unchanged)
        for step in mirror_steps(ROTATIONAL_SYMMETRY[name]):
            before = sprites[:, step]
            expected[:, step] = (before == mirrored(before[:, ::-1])).all(axis=-1)
        assert np.array_equal(unchanged, expected), (
            f"{name}: {(unchanged & ~expected).sum()} steps leave the image unchanged without a "
            f"symmetry; {(expected & ~unchanged).sum()} mirror-alike steps change it"
        )


def test_at_the_mirror_step_only_12_positions_of_the_smallest_square_look_alike(grid):
    """So almost every one-step orientation change changes every image.

    At scale 0.5 the square (side 9.6 pixels) turned by ±4.6° lights the same pixels as
    its mirror image at 12 of its 1,024 positions; every other sprite at every position
    differs from its mirror image there. (The official frames show no unchanged step at
    scale 1 either; see ``benchmarks/dsprites_geometry.py``.)
    """
    alike = [(grid[shape, :, 19] == mirrored(grid[shape, :, 19, ::-1])).all(axis=-1).sum(axis=(1, 2))
             for shape in range(3)]
    np.testing.assert_array_equal(alike, [[12, 0, 0, 0, 0, 0], [0] * 6, [0] * 6])


def test_orientation_0_and_2pi_give_identical_images_for_every_shape_scale_and_position(grid):
    assert np.array_equal(grid[:, :, 0], grid[:, :, 39])


def test_no_sprite_touches_the_image_border_at_any_position(dsprites):
    """Rows 0 and 63 and columns 0 and 63 are off in all 737,280 images."""
    packed = dsprites.packed()  # each image: 64 rows of 8 bytes, most significant bit leftmost
    touching = (
        packed[:, :8].any(axis=1)  # top row
        | packed[:, -8:].any(axis=1)  # bottom row
        | (np.bitwise_or.reduce(packed[:, 0::8], axis=1) & 0x80).astype(bool)  # left column
        | (np.bitwise_or.reduce(packed[:, 7::8], axis=1) & 0x01).astype(bool)  # right column
    )
    offenders = dsprites.factors_of(np.flatnonzero(touching)[:5])
    assert not touching.any(), f"{touching.sum()} images touch the border, e.g. factors {offenders.tolist()}"


def test_sprites_light_the_official_pixel_counts(grid):
    """The official file's axis-aligned square is 10, 12, …, 20 pixels wide over the six
    scales, and its mean pixel is 0.0425 (measured on the official file; the heart lights
    222 pixels and the ellipse 288 at scale 1, orientation 0 and position (0, 0))."""
    lit = np.unpackbits(grid[..., 0, 0, :], axis=-1).sum(axis=-1)  # (shape, scale, orientation)
    np.testing.assert_array_equal(lit[0, :, 0], [100, 144, 196, 256, 324, 400])
    assert abs(lit[1, 5, 0] - 288) <= 4 and abs(lit[2, 5, 0] - 222) <= 8
    mean_pixel = np.unpackbits(grid[:, :, :, ::5, ::5], axis=-1).mean()
    assert abs(mean_pixel - 0.0425) < 0.0005


def test_posx_moves_the_sprite_right_and_posy_moves_it_down(dsprites):
    factors = np.array([[1, 3, 5, x, y] for x, y in [(0, 16), (31, 16), (16, 0), (16, 31)]])
    images = dsprites.images(dsprites.index_of(factors))[:, 0].float()
    rows, cols = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    mass = images.sum(dim=(1, 2))
    centre_col = (images * cols).sum(dim=(1, 2)) / mass
    centre_row = (images * rows).sum(dim=(1, 2)) / mass
    assert abs(centre_col[1] - centre_col[0] - 32) < 1 and abs(centre_row[1] - centre_row[0]) < 1
    assert abs(centre_row[3] - centre_row[2] - 32) < 1 and abs(centre_col[3] - centre_col[2]) < 1


def test_sample_observations_from_factors_are_binary_float32_images(dsprites):
    random_state = np.random.RandomState(0)
    factors = dsprites.sample_factors(256, random_state)
    observations = dsprites.sample_observations_from_factors(factors, random_state)
    assert isinstance(observations, np.ndarray)
    assert observations.dtype == np.float32 and observations.shape == (256, 1, 64, 64)
    assert set(np.unique(observations).tolist()) == {0.0, 1.0}
    index = dsprites.index_of(factors)
    assert np.array_equal(observations, dsprites.images(index).numpy() / np.float32(255))
    unpacked = np.unpackbits(dsprites.packed()[index], axis=1).reshape(256, 1, 64, 64)
    assert np.array_equal(observations, unpacked.astype(np.float32))


def test_observations_of_sampled_indices_match_the_uint8_images(dsprites):
    index = dsprites.sample_indices(64, torch.Generator().manual_seed(0))
    observations = dsprites.observations(index)
    assert observations.dtype == torch.float32 and observations.shape == (64, 1, 64, 64)
    assert torch.equal(observations, dsprites.images(index).float() / 255)
    assert dsprites.observations([]).shape == dsprites.images([]).shape == (0, 1, 64, 64)


# --------------------------------------------------------------------------- the cache


def test_rendering_writes_one_cache_file_holding_the_packed_images(dsprites, cache_dir):
    files = sorted(path.name for path in cache_dir.iterdir())
    assert files == [f"dsprites-procedural-v{RENDER_VERSION}.npy"]
    assert np.array_equal(np.load(cache_dir / files[0], allow_pickle=False), dsprites.packed())


def test_second_construction_reads_the_cache_instead_of_rendering(dsprites, cache_dir, monkeypatch):
    def no_render():
        raise AssertionError("rendered although the cache was valid")

    monkeypatch.setitem(dsprites_module.RENDERS, RENDER_VERSION, no_render)
    assert np.array_equal(DSprites(cache_dir=cache_dir).packed(), dsprites.packed())
    assert np.array_equal(get_dataset("dsprites").packed(), dsprites.packed())  # via $DISENTANGLE_CACHE


def garbage(path: Path, good: Path) -> None:
    path.write_bytes(b"garbage")


def truncated(path: Path, good: Path) -> None:
    with open(good, "rb") as file:
        path.write_bytes(file.read(4096))


def wrong_shape(path: Path, good: Path) -> None:
    np.save(path, np.zeros((10, 512), np.uint8))


@pytest.mark.parametrize("damage", [garbage, truncated, wrong_shape])
def test_damaged_cache_file_is_rendered_again_and_replaced(
    dsprites, cache_dir, tmp_path, monkeypatch, damage
):
    renders = []

    def render():
        renders.append(1)
        return dsprites.packed().copy()

    monkeypatch.setitem(dsprites_module.RENDERS, RENDER_VERSION, render)
    cache_file = tmp_path / f"dsprites-procedural-v{RENDER_VERSION}.npy"
    damage(cache_file, cache_dir / cache_file.name)
    assert np.array_equal(DSprites(cache_dir=tmp_path).packed(), dsprites.packed())
    assert len(renders) == 1
    assert np.array_equal(np.load(cache_file, allow_pickle=False), dsprites.packed())
    assert sorted(path.name for path in tmp_path.iterdir()) == [cache_file.name]


# --------------------------------------------------------------------------- the official file

def test_missing_official_file_is_rejected_naming_the_official_file(tmp_path):
    message = f"{tmp_path / 'x.npz'}: no such file (expected the official dSprites {OFFICIAL_FILENAME})"
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        DSprites(path=tmp_path / "x.npz")


def test_official_reader_rejects_a_file_on_another_grid(tmp_path):
    path = tmp_path / "x.npz"
    np.savez_compressed(path, imgs=np.zeros((24, 8, 8), np.uint8), latents_classes=np.zeros((24, 4), np.int64),
                        latents_values=np.zeros((24, 4)))
    expected = "has shape (24, 8, 8) and dtype uint8, expected shape (737280, 64, 64)"
    with pytest.raises(InputError, match=re.escape(expected)):
        read_official_npz(path)
