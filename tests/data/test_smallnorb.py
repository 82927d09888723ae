"""SmallNORB: the NORB binary matrix header, the six official files (sparse, full size),
dlib's protocol with the instance a nuisance factor, and bad files."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.data import get_dataset
from disentangle.testing import norb_header, write_smallnorb
from disentangle.data.smallnorb import CHUNKS, MAGIC_DTYPES, parse_header
from disentangle.errors import InputError

TRAINING, TESTING = CHUNKS


@settings(max_examples=200, deadline=None)
@given(magic=st.sampled_from(sorted(MAGIC_DTYPES)), shape=st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=6))
def test_a_header_written_in_the_format_reads_back(magic, shape):
    header = norb_header(magic, tuple(shape))
    assert len(header) == 8 + 4 * max(3, len(shape))
    assert parse_header(header + b"data", "x.mat") == (MAGIC_DTYPES[magic], tuple(shape), len(header))


@settings(max_examples=300, deadline=None)
@given(header=st.binary(max_size=80))
def test_any_bytes_either_parse_as_a_header_or_are_refused_in_one_line(header):
    try:
        dtype, shape, size = parse_header(header, "x.mat")
    except InputError as error:
        assert str(error).startswith("x.mat: ") and "\n" not in str(error)
    else:
        assert dtype in MAGIC_DTYPES.values() and 1 <= len(shape) <= 16 and min(shape) >= 0
        assert size == 8 + 4 * max(3, len(shape)) <= len(header)


def _image(seed):
    return np.random.RandomState(seed).randint(0, 256, (96, 96), dtype=np.uint8)


def _labels(folder, chunk, row):
    """(category, instance, elevation, azimuth / 2, lighting) of a row, read back from the files."""
    category = np.fromfile(folder / f"{chunk}-cat.mat", "<i4", offset=20)[row]
    info = np.fromfile(folder / f"{chunk}-info.mat", "<i4", offset=20).reshape(-1, 4)[row]
    return [int(category), int(info[0]), int(info[1]), int(info[2]) // 2, int(info[3])]


@pytest.mark.slow
def test_a_known_image_lands_at_the_index_of_its_factors_and_the_instance_is_a_nuisance(tmp_path):
    marked = {(TESTING, 100, 0): _image(0), (TESTING, 100, 1): _image(1), (TRAINING, 7, 0): _image(2)}
    folder = write_smallnorb(tmp_path / "norb", marked)
    known = {(chunk, row): _labels(folder, chunk, row) for chunk, row in ((TESTING, 100), (TRAINING, 7))}
    for kind in ("cat", "info"):  # labels gzipped, images raw: each file is recognised by its content
        raw = folder / f"{TESTING}-{kind}.mat"
        with open(raw, "rb") as source, gzip.open(f"{raw}.gz", "wb") as target:
            shutil.copyfileobj(source, target)
        raw.unlink()
    data = get_dataset("smallnorb", path=str(folder), size=96, cache_dir=str(tmp_path / "cache"))
    assert len(data) == 48_600 and data.observation_shape == (1, 96, 96)
    assert data.factors_num_values == [5, 9, 18, 6] and data.grid_num_values == [5, 10, 9, 18, 6]
    for chunk, row, seed in ((TESTING, 100, 0), (TRAINING, 7, 2)):
        grid = known[chunk, row]
        index = data.index_of([grid[:1] + grid[2:]], nuisance=[[grid[1]]])
        assert np.array_equal(data.images(index)[0, 0].numpy(), _image(seed))
        assert data.factors_of(index).tolist() == [grid[:1] + grid[2:]]
    assert int((np.asarray(data._pixels) != 0).any(axis=(1, 2, 3)).sum()) == 2  # camera 1 is not read
    # the instance is drawn for each image: the same factors give other toys
    factors = np.tile(np.asarray(grid[:1] + grid[2:]), (200, 1))
    instances = data.grid_of(data.sample_indices_of(factors, np.random.RandomState(0)))[:, 1]
    assert set(instances.tolist()) == set(range(10))


def _refused(folder, tmp_path, **options) -> str:
    with pytest.raises(InputError) as error:
        get_dataset("smallnorb", path=str(folder), size=96, cache_dir=str(tmp_path / "cache"), **options)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
    return str(error.value)


def test_bad_headers_and_sizes_are_named_in_one_line(tmp_path):
    folder = write_smallnorb(tmp_path / "norb")
    dat = folder / f"{TRAINING}-dat.mat"
    with open(dat, "r+b") as handle:
        handle.write((0x1E3D4C54).to_bytes(4, "little"))  # int32 magic on the pixels
    assert _refused(folder, tmp_path) == (
        f"{TRAINING}-dat.mat: holds int32 (24300, 2, 96, 96), expected uint8 (24300, 2, 96, 96)")
    with open(dat, "r+b") as handle:
        handle.write((0x1E3D4C99).to_bytes(4, "little"))
    assert _refused(folder, tmp_path) == f"{TRAINING}-dat.mat: magic 0x1e3d4c99 is not a NORB binary matrix type"
    with open(dat, "r+b") as handle:
        handle.write((0x1E3D4C55).to_bytes(4, "little"))
        handle.truncate(10**6)
    assert _refused(folder, tmp_path) == (
        f"{TRAINING}-dat.mat: header declares 447,897,624 bytes but the file holds 1,000,000")
    cat = folder / f"{TESTING}-cat.mat"
    cat.write_bytes(norb_header(0x1E3D4C54, (24_299,)) + b"\0" * 4 * 24_299)
    assert _refused(folder, tmp_path) == f"{TESTING}-cat.mat: holds int32 (24299,), expected int32 (24300,)"
    cat.unlink()
    assert f"no {TESTING}-cat.mat or {TESTING}-cat.mat.gz" in _refused(folder, tmp_path)


def test_a_label_grid_that_is_not_the_official_one_is_refused(tmp_path):
    write_smallnorb(tmp_path / "probe")
    info = np.fromfile(tmp_path / "probe" / f"{TESTING}-info.mat", "<i4", offset=20).reshape(-1, 4).copy()
    odd = info.copy()
    odd[5, 2] = 3  # azimuth must be even
    assert _refused(write_smallnorb(tmp_path / "a", info={TESTING: odd}), tmp_path) == (
        f"{TESTING}-info.mat: azimuth 3 at row 5 (expected one of {list(range(0, 35, 2))})")
    foreign = info.copy()
    foreign[9, 0] = 4  # instance 4 belongs to the training files
    assert _refused(write_smallnorb(tmp_path / "b", info={TESTING: foreign}), tmp_path) == (
        f"{TESTING}-info.mat: instance 4 at row 9 (expected one of [0, 1, 2, 3, 5])")
    twice = info.copy()
    twice[1] = twice[0]  # one grid point twice, another never
    assert "labels are not the official grid" in _refused(write_smallnorb(tmp_path / "c", info={TESTING: twice}), tmp_path)


def test_options_are_checked(tmp_path):
    with pytest.raises(InputError, match=r"^size: expected 64 or 96, got 32$"):
        get_dataset("smallnorb", path=str(tmp_path), size=32)
    with pytest.raises(InputError, match=r"^cameras: expected 1 \(camera 0, as dlib\) or 2 \(both\), got 3$"):
        get_dataset("smallnorb", path=str(tmp_path), cameras=3)
