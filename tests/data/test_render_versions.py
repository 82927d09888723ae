"""Every released procedural render stays selectable, and version 2 draws its old images."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
from PIL import Image

from disentangle.cli import main
from disentangle.data import DATASETS, dsprites_render_v2, get_dataset
from disentangle.data.dsprites import RENDER_VERSION, DSprites
from disentangle.data.dsprites_variants import ColorDSprites, ScreamDSprites
from disentangle.errors import InputError

#: SHA-256 of the 737,280 bit-packed images (``packed().tobytes()``) that render version 2
#: drew, computed with the code of commit 2385391 (the last release of version 2; its first,
#: b146da3, draws the same bytes)
VERSION_2_SHA256 = "7a6faf144d56f50964729510efe3d56d2b80a188517adcfbe0dbbb4ef8406a90"


@pytest.fixture(scope="module")
def version_2() -> DSprites:
    return DSprites(render_version=2)


def test_version_2_draws_the_images_of_its_release_bit_for_bit(version_2):
    assert hashlib.sha256(version_2.packed().tobytes()).hexdigest() == VERSION_2_SHA256


def test_version_2_squares_are_the_hand_computed_pixels(version_2):
    """Version 2's axis-aligned square has half-side 0.96 units of 6 pixels, times the scale:
    5.76 s pixels about a centre at 8.75 + 1.5 k. At scale 1 and position 0 the pixel
    centres j + 0.5 within [2.99, 14.51] are lit, j = 3 … 14: 12 × 12 pixels; over the six
    scales (0.5 … 1) the side is 6, 7, 8, 9, 10, 12 pixels. At position 31 (centre 55.25)
    the square covers rows and columns 49 … 60."""
    grid = version_2.packed().reshape(3, 6, 40, 32, 32, 512)
    lit = np.unpackbits(grid[0, :, 0, 0, 0], axis=-1).sum(axis=-1)
    np.testing.assert_array_equal(lit, [36, 49, 64, 81, 100, 144])
    for position, first in ((0, 3), (31, 49)):
        image = np.unpackbits(grid[0, 5, 0, position, position]).reshape(64, 64)
        expected = np.zeros((64, 64), np.uint8)
        expected[first : first + 12, first : first + 12] = 1
        np.testing.assert_array_equal(image, expected)


def test_versions_2_and_3_are_other_images_cached_in_files_of_their_own(version_2, tmp_path):
    latest = DSprites(render_version=RENDER_VERSION)
    assert latest.render_version == DSprites().render_version == 3
    differing = (version_2.packed() != latest.packed()).any(axis=1).mean()
    assert differing > 0.99
    DSprites(cache_dir=tmp_path, render_version=2)
    assert [path.name for path in tmp_path.iterdir()] == ["dsprites-procedural-v2.npy"]
    assert np.array_equal(np.load(tmp_path / "dsprites-procedural-v2.npy"), dsprites_render_v2.render_packed())


def test_the_variants_draw_the_sprites_of_the_render_they_describe(version_2):
    coloured = ColorDSprites(render_version=2)
    assert coloured.describe()["render_version"] == coloured.sprites.render_version == 2
    assert np.array_equal(coloured.sprites.packed(), version_2.packed())


@pytest.mark.parametrize(
    ("name", "allowed"), [("dsprites", "2, 3"), ("color-dsprites", "2, 3"), ("shapes3d-procedural", "1")]
)
def test_a_render_version_that_was_never_released_is_one_line_naming_the_option_and_the_versions(name, allowed):
    message = f"--data {name}: option 'render_version' must be one of {allowed}, got 7"
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        get_dataset(name, render_version=7)


def test_the_command_line_refuses_a_bad_render_version_before_it_writes_anything(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--out", str(out), "--data-option", "render_version=7", "--steps", "1", "--no-progress"])
    error = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert error == "disentangle train: error: --data dsprites: option 'render_version' must be one of 2, 3, got 7\n"


def test_a_render_version_with_the_official_file_is_refused_naming_the_file_option(tmp_path):
    with pytest.raises(InputError, match=r"^--data dsprites: option 'render_version' selects a procedural render; "
                                         r"it does not apply with 'path' \(the official file\)$"):
        DSprites(path=tmp_path / "dsprites.npz", render_version=3)
    background = tmp_path / "scream.png"
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(background)
    with pytest.raises(InputError, match="it does not apply with 'dsprites_path'"):
        ScreamDSprites(background, dsprites_path=tmp_path / "dsprites.npz", render_version=2)


@pytest.mark.parametrize(
    ("name", "options", "unrecorded"),
    [
        ("dsprites", {"name": "dsprites", "path": None}, {"render_version": 2}),
        ("dsprites", {"name": "dsprites"}, {"render_version": 2}),
        ("dsprites", {"name": "dsprites", "path": "/data/official.npz"}, {}),
        ("dsprites", {"name": "dsprites", "path": None, "render_version": 3}, {}),
        ("color-dsprites", {"name": "color-dsprites", "path": None, "nuisance_seed": 0}, {"render_version": 2}),
        ("scream-dsprites", {"name": "scream-dsprites", "path": "/s.jpg", "dsprites_path": None}, {"render_version": 2}),
        ("scream-dsprites", {"name": "scream-dsprites", "path": "/s.jpg", "dsprites_path": "/d.npz"}, {}),
        ("shapes3d-procedural", {"name": "shapes3d-procedural"}, {"render_version": 1}),
        ("mnist", {"name": "mnist", "path": "/data/mnist"}, {}),
    ],
)
def test_a_config_json_without_a_render_version_means_the_render_its_run_was_trained_on(name, options, unrecorded):
    """Runs written before render version 3 rendered dSprites with version 2."""
    assert DATASETS[name].unrecorded_options(options) == unrecorded
