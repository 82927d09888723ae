"""The reader of factor datasets in the official dSprites .npz layout: images bit-packed as
read, in chunks, and every malformed file refused in one line naming the file and the fault."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from disentangle.data import factor_npz
from disentangle.data.factor_npz import read_factor_npz
from disentangle.errors import InputError

SMALL_GRID = [2, 3, 4]  # three factors, 24 images
SMALL_SIZE = 8


def official_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """The arrays of an official-format file on ``SMALL_GRID``, with random binary images."""
    count = int(np.prod(SMALL_GRID))
    levels = np.stack(np.unravel_index(np.arange(count), SMALL_GRID), axis=1)
    classes = np.concatenate([np.zeros((count, 1), np.int64), levels], axis=1)
    return {
        "imgs": np.random.default_rng(seed).integers(0, 2, (count, SMALL_SIZE, SMALL_SIZE), dtype=np.uint8),
        "latents_classes": classes,
        "latents_values": classes.astype(np.float64) / 2,
        # the official metadata is a pickled dict; a plain string array needs no pickling
        "metadata": np.array("{'title': 'small grid in the official layout'}"),
    }


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez_compressed(path, **arrays)
    return path


def test_npz_reader_returns_the_images_bit_packed(tmp_path):
    arrays = official_arrays()
    packed = read_factor_npz(write_npz(tmp_path / "x.npz", arrays), SMALL_GRID, SMALL_SIZE)
    assert packed.dtype == np.uint8 and packed.shape == (24, SMALL_SIZE * SMALL_SIZE // 8)
    assert np.array_equal(packed, np.packbits(arrays["imgs"].reshape(24, -1), axis=1))


def test_npz_reader_gives_the_same_images_when_reading_in_small_chunks(tmp_path, monkeypatch):
    arrays = official_arrays()
    path = write_npz(tmp_path / "x.npz", arrays)
    monkeypatch.setattr(factor_npz, "_READ_CHUNK_BYTES", 5 * SMALL_SIZE * SMALL_SIZE)
    expected = np.packbits(arrays["imgs"].reshape(24, -1), axis=1)
    assert np.array_equal(read_factor_npz(path, SMALL_GRID, SMALL_SIZE), expected)


def without(key):
    return lambda arrays: {name: array for name, array in arrays.items() if name != key}


def replace(key, change):
    return lambda arrays: {**arrays, key: change(arrays[key])}


def binary_except_image_20(imgs: np.ndarray) -> np.ndarray:
    imgs = imgs.copy()
    imgs[20, 3, 3] = 2
    return imgs


#: name -> (how the official arrays are spoiled, what the error message says)
MALFORMED = {
    "missing imgs": (without("imgs"), "missing array 'imgs'"),
    "missing latents_classes": (without("latents_classes"), "missing array 'latents_classes'"),
    "missing latents_values": (without("latents_values"), "missing array 'latents_values'"),
    "imgs one image short": (replace("imgs", lambda a: a[:-1]), "array 'imgs' has shape (23, 8, 8)"),
    "imgs of another size": (replace("imgs", lambda a: a[:, :4, :4]), "array 'imgs' has shape (24, 4, 4)"),
    "imgs as int64": (
        replace("imgs", lambda a: a.astype(np.int64)),
        "dtype int64, expected shape (24, 8, 8) and dtype uint8",
    ),
    "imgs as float": (replace("imgs", lambda a: a.astype(np.float32)), "dtype float32"),
    "imgs not binary": (
        replace("imgs", binary_except_image_20),
        "must be binary (0 or 1), found values up to 2",
    ),
    "imgs as 0 and 255": (replace("imgs", lambda a: a * np.uint8(255)), "found values up to 255"),
    "imgs in Fortran order": (replace("imgs", np.asfortranarray), "Fortran order"),
    "imgs pickled": (
        replace("imgs", lambda a: np.array([None] * 24, dtype=object)),
        "array 'imgs' has shape (24,) and dtype object",
    ),
    "classes without colour": (
        replace("latents_classes", lambda a: a[:, 1:]),
        "array 'latents_classes' has shape (24, 3)",
    ),
    "classes as float": (
        replace("latents_classes", lambda a: a.astype(np.float64)),
        "expected shape (24, 4) of integers",
    ),
    "classes out of order": (replace("latents_classes", lambda a: a[::-1]), "not in the official order"),
    "classes with factors swapped": (
        replace("latents_classes", lambda a: a[:, [0, 1, 3, 2]]),
        "not in the official order",
    ),
    "classes with colour 1": (
        replace("latents_classes", lambda a: a + np.eye(1, 4, dtype=a.dtype)),
        "not in the official order",
    ),
    "values one row short": (
        replace("latents_values", lambda a: a[:-1]),
        "array 'latents_values' has shape (23, 4)",
    ),
    "values as integers": (
        replace("latents_values", lambda a: a.astype(np.int64)),
        "expected shape (24, 4) of floats",
    ),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_npz_is_rejected_naming_the_file_and_the_fault(tmp_path, monkeypatch, name):
    change, message = MALFORMED[name]
    monkeypatch.setattr(factor_npz, "_READ_CHUNK_BYTES", 4 * SMALL_SIZE * SMALL_SIZE)
    path = write_npz(tmp_path / "x.npz", change(official_arrays()))
    with pytest.raises(InputError, match=f"^{re.escape(str(path))}: .*{re.escape(message)}") as error:
        read_factor_npz(path, SMALL_GRID, SMALL_SIZE)
    assert "\n" not in str(error.value)


def test_file_that_is_not_a_zip_is_rejected(tmp_path):
    path = tmp_path / "x.npz"
    path.write_bytes(b"PK\x03\x04 but not a zip archive")
    with pytest.raises(InputError, match=f"^{re.escape(str(path))}: not a readable .npz file"):
        read_factor_npz(path, SMALL_GRID, SMALL_SIZE)


def test_zip_cut_short_is_rejected(tmp_path):
    path = write_npz(tmp_path / "x.npz", official_arrays())
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(InputError, match=f"^{re.escape(str(path))}: "):
        read_factor_npz(path, SMALL_GRID, SMALL_SIZE)


def test_single_npy_array_is_rejected(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, official_arrays()["imgs"])
    with pytest.raises(InputError, match=f"^{re.escape(str(path))}: holds a single array"):
        read_factor_npz(path, SMALL_GRID, SMALL_SIZE)


def test_missing_npz_file_is_rejected(tmp_path):
    with pytest.raises(InputError, match=f"^{re.escape(str(tmp_path / 'x.npz'))}: no such file"):
        read_factor_npz(tmp_path / "x.npz", SMALL_GRID, SMALL_SIZE)
