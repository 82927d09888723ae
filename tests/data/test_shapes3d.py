"""Shapes3D: the official 3dshapes.h5 at full size (fill values), its checks and its cache."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest

from disentangle.data import get_dataset, shapes3d
from disentangle.testing import write_shapes3d
from disentangle.errors import InputError


def _image(seed):
    return np.random.RandomState(seed).randint(0, 256, (64, 64, 3), dtype=np.uint8)


def test_the_official_labels_are_the_documented_grid():
    labels = shapes3d.official_labels()
    assert labels.shape == (480_000, 6)
    # row 0 and the last row: every factor at its first / last value
    assert labels[0].tolist() == [0.0, 0.0, 0.0, 0.75, 0.0, -30.0]
    assert np.allclose(labels[-1], [0.9, 0.9, 0.9, 1.25, 3.0, 30.0])
    # orientation varies fastest, floor hue slowest
    assert np.allclose(labels[1], [0, 0, 0, 0.75, 0, -30 + 60 / 14]) and np.allclose(labels[48_000, 0], 0.1)


def test_a_known_image_lands_at_the_index_of_its_factors(tmp_path):
    factors = [3, 9, 0, 7, 2, 11]  # floor hue 0.3, wall 0.9, object 0.0, scale 1.25, sphere, 17.1°
    index = int(np.ravel_multi_index(factors, shapes3d.FACTORS_NUM_VALUES))
    path = write_shapes3d(tmp_path / "3dshapes.h5", {index: _image(0)}, contiguous=True)
    data = get_dataset("shapes3d", path=str(path), cache_dir=str(tmp_path / "cache"))
    assert len(data) == 480_000 and data.observation_shape == (3, 64, 64)
    assert data.index_of([factors]).tolist() == [index]
    assert np.array_equal(data.images([index])[0].permute(1, 2, 0).numpy(), _image(0))
    assert data.images([index + 1]).sum() == 0
    assert not (tmp_path / "cache").exists()  # contiguous and uncompressed: mapped in place


def test_the_official_chunked_file_is_converted_channels_first(tmp_path, monkeypatch):
    path = write_shapes3d(tmp_path / "3dshapes.h5", {5: _image(5), 299: _image(6)})
    with h5py.File(path) as file:
        assert file["images"].compression == "gzip"  # as the official file: it cannot be mapped
        out = np.zeros((300, 3, 64, 64), np.uint8)  # the first 300 images of the conversion
        shapes3d.copy_channels_first(file["images"], out, block=128)
    assert np.array_equal(out[5].transpose(1, 2, 0), _image(5)) and np.array_equal(out[299].transpose(1, 2, 0), _image(6))
    assert out[[0, 6, 298]].sum() == 0
    calls = []
    monkeypatch.setattr(shapes3d, "load_or_convert", lambda cache, shape, convert: calls.append((cache, shape)) or out)
    get_dataset("shapes3d", path=str(path), cache_dir=str(tmp_path / "cache"))
    [(cache, shape)] = calls
    assert shape == (480_000, 3, 64, 64) and cache.parent == tmp_path / "cache" and cache.name.startswith("shapes3d-v1-")


def _file(path, images=((480_000, 64, 64, 3), "u1"), labels=None):
    with h5py.File(path, "w") as file:
        file.create_dataset("images", images[0], images[1], chunks=True, compression="gzip")
        if labels is not None:
            file.create_dataset("labels", data=labels)
    return path


def _refused(path, tmp_path) -> str:
    with pytest.raises(InputError) as error:
        get_dataset("shapes3d", path=str(path), cache_dir=str(tmp_path / "cache"))
    assert "\n" not in str(error.value) and not (tmp_path / "cache").exists()
    return str(error.value)


def test_wrong_shapes_and_dtypes_are_named_in_one_line(tmp_path):
    official = shapes3d.official_labels()
    cases = {
        "3dshapes.h5: labels has shape (1000, 6), expected (480000, 6)": {"labels": official[:1000]},
        "3dshapes.h5: images has shape (1000, 64, 64, 3), expected (480000, 64, 64, 3)": {
            "images": ((1000, 64, 64, 3), "u1"), "labels": official},
        "3dshapes.h5: images has dtype float32, expected uint8": {
            "images": ((480_000, 64, 64, 3), "f4"), "labels": official},
        "3dshapes.h5: labels has dtype float32, expected float64": {"labels": official.astype(np.float32)},
        "3dshapes.h5: no dataset 'labels' (expected 'labels' (480000, 6) float64 as in the official file)": {},
    }
    for number, (message, content) in enumerate(cases.items()):
        (tmp_path / str(number)).mkdir()
        assert _refused(_file(tmp_path / str(number) / "3dshapes.h5", **content), tmp_path) == message


def test_an_object_array_is_refused_without_being_read(tmp_path):
    path = tmp_path / "3dshapes.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("images", (480_000, 64, 64, 3), h5py.vlen_dtype(np.uint8))
        file.create_dataset("labels", data=shapes3d.official_labels())
    assert _refused(path, tmp_path) == "3dshapes.h5: images has dtype object, expected uint8"


@pytest.mark.parametrize("change", ["two rows swapped", "a value off the grid", "factor order reversed"])
def test_a_label_grid_that_is_not_the_official_one_is_refused(tmp_path, change):
    labels = shapes3d.official_labels()
    if change == "two rows swapped":
        labels[[1000, 1001]] = labels[[1001, 1000]]
    elif change == "a value off the grid":
        labels[7, 3] = 1.3
    else:
        labels = labels[:, ::-1].copy()
    path = write_shapes3d(tmp_path / "3dshapes.h5", labels=labels)
    message = _refused(path, tmp_path)
    assert re.match(r"^3dshapes\.h5: labels row \d+ is \[.*\], expected \[.*\] \(the official grid", message)
    assert ("row 1000 " in message) if change == "two rows swapped" else True


def test_a_truncated_or_foreign_file_is_refused(tmp_path):
    path = write_shapes3d(tmp_path / "3dshapes.h5")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert "not a readable HDF5 file" in _refused(path, tmp_path)
    path.write_bytes(b"not hdf5")
    assert "not a readable HDF5 file" in _refused(path, tmp_path)
    with pytest.raises(InputError, match=r"no such file or folder \(expected the official 3dshapes.h5\)"):
        get_dataset("shapes3d", path=str(tmp_path / "absent.h5"))
