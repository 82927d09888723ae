"""Colour, noisy and scream dSprites: dlib's recipes, and one image per index and seed."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy import stats

from disentangle.data import get_dataset
from disentangle.data.dsprites import DSprites
from disentangle.data.dsprites_variants import ColorDSprites, NoisyDSprites, ScreamDSprites, read_background
from disentangle.data.nuisance import image_keys, uniform_streams
from disentangle.errors import InputError

#: a stratified sample: every value of every factor, the rest drawn at random
SAMPLE = np.random.default_rng(0).integers(0, 737_280, 600)


@pytest.fixture(scope="module")
def background_path(tmp_path_factory):
    """A random 200×150 RGB image (small enough that thumbnailing leaves it unchanged)."""
    path = tmp_path_factory.mktemp("scream") / "background.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (150, 200, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def sprites() -> DSprites:
    return DSprites()


@pytest.fixture(scope="module")
def variants(background_path, sprites) -> dict:
    return {
        "color-dsprites": ColorDSprites(),
        "noisy-dsprites": NoisyDSprites(),
        "scream-dsprites": ScreamDSprites(background_path),
    }


def _masks(sprites, indices) -> np.ndarray:
    """bool ``(N, 1, 64, 64)``: where each sprite is."""
    return sprites.images(indices).numpy() > 0


# --------------------------------------------------------------------------- the grid


@pytest.mark.parametrize("name", ["color-dsprites", "noisy-dsprites", "scream-dsprites"])
def test_each_variant_is_dsprites_grid_and_order_in_rgb(variants, sprites, name):
    data = variants[name]
    assert len(data) == 737_280 and data.factors_num_values == [3, 6, 40, 32, 32]
    assert data.factor_names == ["shape", "scale", "orientation", "posX", "posY"]
    assert data.observation_shape == (3, 64, 64)
    assert all(np.array_equal(a, b) for a, b in zip(data.factor_values(), sprites.factor_values()))
    x = data.observations(SAMPLE)
    assert x.shape == (len(SAMPLE), 3, 64, 64) and x.dtype == torch.float32
    assert float(x.min()) >= 0 and float(x.max()) <= 1


# --------------------------------------------------------------------------- dlib's recipes


def test_color_dsprites_is_the_sprite_in_one_colour_from_u_half_one_on_black(variants, sprites):
    x = variants["color-dsprites"].observations(SAMPLE).numpy()
    masks = np.broadcast_to(_masks(sprites, SAMPLE), x.shape)
    assert np.all(x[~masks] == 0)
    colours = x.max(axis=(2, 3))  # (N, 3)
    assert np.all(x == masks * colours[:, :, None, None])  # constant over the sprite
    assert colours.min() >= 0.5 and colours.max() < 1
    many = variants["color-dsprites"].observations(np.arange(0, 737_280, 97)).numpy().max(axis=(2, 3))
    for channel in many.T:  # U(0.5, 1) in each channel, independently
        assert stats.kstest(channel, "uniform", args=(0.5, 0.5)).pvalue > 1e-3
    assert np.all(np.abs(np.corrcoef(many.T) - np.eye(3)) < 0.05)


def test_noisy_dsprites_is_a_white_sprite_on_uniform_noise_per_pixel_and_channel(variants, sprites):
    x = variants["noisy-dsprites"].observations(SAMPLE[:100]).numpy()
    masks = np.broadcast_to(_masks(sprites, SAMPLE[:100]), x.shape)
    assert np.all(x[masks] == 1)
    noise = x[~masks]
    assert noise.min() >= 0 and noise.max() < 1
    assert stats.kstest(noise[::7], "uniform").pvalue > 1e-3
    channels = x[:, :, 0, 0]  # a corner pixel, never under a sprite: the channels are independent
    assert abs(np.corrcoef(channels[:, 0], channels[:, 1])[0, 1]) < 0.35


def _dlib_scream(background: np.ndarray, mask: np.ndarray, row: int, column: int, colour: np.ndarray) -> np.ndarray:
    """dlib's per-image recipe with given draws: ``background`` (H, W, 3), mask (64, 64)."""
    patch = (background[row : row + 64, column : column + 64] + colour) / 2.0
    patch[mask] = 1 - patch[mask]
    return patch.transpose(2, 0, 1)


def test_scream_dsprites_is_dlibs_recipe_with_the_draws_of_each_images_stream(variants, sprites, background_path):
    data = variants["scream-dsprites"]
    background = np.asarray(Image.open(background_path).convert("RGB"), dtype=np.float64) / 255
    height, width = background.shape[:2]
    x = data.observations(SAMPLE).numpy()
    masks = _masks(sprites, SAMPLE)[:, 0]
    draws = uniform_streams(image_keys(0, SAMPLE), 5).astype(np.float64)
    rows = np.floor(draws[:, 0] * (height - 64)).astype(int)
    columns = np.floor(draws[:, 1] * (width - 64)).astype(int)
    for n in range(len(SAMPLE)):
        expected = _dlib_scream(background, masks[n], rows[n], columns[n], draws[n, 2:])
        np.testing.assert_allclose(x[n], expected, atol=1e-6)
    # dlib's randint(0, H - 64): every offset but the last can be drawn
    assert rows.min() == 0 and rows.max() == height - 65
    assert 0 <= columns.min() < 5 and width - 70 < columns.max() <= width - 65


def test_scream_dsprites_outside_the_sprite_is_a_translated_crop_averaged_with_one_colour(tmp_path, sprites):
    """A background whose red is its row and green its column: outside the sprite, 2·x − ramp
    is one constant per channel (crop offset plus colour), and inside the sprite x is 1 minus
    the same plane; blue is constant, so 2·x there is the colour, U(0, 1)."""
    rows, columns = np.mgrid[0:140, 0:180]
    picture = np.stack([rows, columns, np.full_like(rows, 0)], axis=2).astype(np.uint8)
    Image.fromarray(picture).save(tmp_path / "ramp.png")
    data = ScreamDSprites(tmp_path / "ramp.png")
    x = data.observations(SAMPLE[:200]).numpy().astype(np.float64)
    inside = np.broadcast_to(_masks(sprites, SAMPLE[:200]), x.shape)
    plane = np.where(inside, 1 - x, x)  # the averaged crop everywhere
    ramp = np.stack([np.mgrid[0:64, 0:64][0], np.mgrid[0:64, 0:64][1], np.zeros((64, 64))]) / 255
    offsets = 2 * plane - ramp
    spread = offsets.max(axis=(2, 3)) - offsets.min(axis=(2, 3))
    assert spread.max() < 1e-5
    colours_blue = offsets[:, 2, 0, 0]
    assert colours_blue.min() >= 0 and colours_blue.max() < 1
    assert stats.kstest(colours_blue, "uniform").pvalue > 1e-3


def test_the_background_is_thumbnailed_to_fit_350_by_274_as_dlib_does(tmp_path):
    Image.fromarray(np.zeros((548, 1000, 3), np.uint8)).save(tmp_path / "wide.png")
    assert read_background(tmp_path / "wide.png").shape == (3, 192, 350)
    Image.fromarray(np.zeros((1096, 700), np.uint8)).save(tmp_path / "grey.png")  # grey is read as RGB
    assert read_background(tmp_path / "grey.png").shape == (3, 274, 175)


# --------------------------------------------------------------------------- one image per index and seed


@pytest.mark.parametrize("name", ["color-dsprites", "noisy-dsprites", "scream-dsprites"])
def test_identical_factors_and_seeds_give_identical_images_and_other_seeds_other_images(
    variants, background_path, name
):
    options = {"path": str(background_path)} if name == "scream-dsprites" else {}
    data = variants[name]
    again = get_dataset(name, **options)
    other = get_dataset(name, nuisance_seed=1, **options)
    factors = data.factors_of(SAMPLE[:50])
    first = data.sample_observations_from_factors(factors, np.random.RandomState(0))
    assert np.array_equal(first, again.sample_observations_from_factors(factors, np.random.RandomState(1)))
    assert np.array_equal(first, data.observations(SAMPLE[:50]).numpy())
    different = other.observations(SAMPLE[:50]).numpy()
    assert all(not np.array_equal(a, b) for a, b in zip(first, different))


@settings(max_examples=15, deadline=None)
@given(indices=st.lists(st.integers(0, 737_279), min_size=1, max_size=12))
def test_an_image_is_the_same_in_any_batch(variants, indices):
    for data in variants.values():
        batch = data.observations(indices)
        for row, index in enumerate(indices):
            assert torch.equal(batch[row], data.observations([index])[0])


@pytest.mark.parametrize("name", ["color-dsprites", "noisy-dsprites", "scream-dsprites"])
def test_uint8_images_are_the_observations_rounded(variants, name):
    data = variants[name]
    assert torch.equal(data.images(SAMPLE[:64]), (data.observations(SAMPLE[:64]) * 255).round().to(torch.uint8))


def test_describe_rebuilds_each_variant_with_its_seed(variants, background_path, tmp_path, monkeypatch):
    assert variants["color-dsprites"].describe() == {
        "name": "color-dsprites", "path": None, "nuisance_seed": 0, "render_version": 3
    }
    monkeypatch.chdir(background_path.parent)
    scream = get_dataset("scream-dsprites", path=background_path.name, nuisance_seed=5)
    description = scream.describe()
    assert description == {"name": "scream-dsprites", "path": str(background_path.resolve()),
                           "dsprites_path": None, "nuisance_seed": 5, "render_version": 3}
    monkeypatch.chdir(tmp_path)
    assert torch.equal(get_dataset(**description).images(SAMPLE[:8]), scream.images(SAMPLE[:8]))


# --------------------------------------------------------------------------- bad input


def test_scream_without_a_background_says_what_to_give():
    with pytest.raises(InputError, match=r"^--data scream-dsprites: needs a background image: give --data-path"):
        get_dataset("scream-dsprites")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file (expected a background image for scream-dsprites, e.g. scream.jpg)"),
        (b"not an image", "not a readable image"),
        ((64, 300), "the background is 300×64 pixels after thumbnailing to fit 350×274; scream-dsprites needs at least 65×65"),
    ],
    ids=["missing", "not an image", "too small"],
)
def test_a_bad_background_is_one_line_naming_the_file(tmp_path, content, message):
    path = tmp_path / "background.png"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        Image.fromarray(np.zeros((*content, 3), np.uint8)).save(path)
    with pytest.raises(InputError) as error:
        ScreamDSprites(path)
    assert str(error.value).startswith(f"{path}: {message}") and "\n" not in str(error.value)


def test_a_seed_that_is_not_an_integer_is_rejected_by_name():
    with pytest.raises(InputError, match=re.escape("--data noisy-dsprites: option 'nuisance_seed' must be an integer")):
        get_dataset("noisy-dsprites", nuisance_seed="one")
    with pytest.raises(InputError, match=re.escape("--data color-dsprites: option 'nuisance_seed' must be an integer")):
        ColorDSprites(nuisance_seed=1.5)
