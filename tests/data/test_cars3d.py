"""Cars3D: the 183 official .mat files, the object order, the resizing and bad files."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
from PIL import Image

from disentangle.data import get_dataset
from disentangle.data.cars3d import object_files
from disentangle.data.mapped import resize_lanczos
from disentangle.testing import write_cars3d
from disentangle.errors import InputError


def _image(seed):
    return np.random.RandomState(seed).randint(0, 256, (128, 128, 3), dtype=np.uint8)


@pytest.mark.slow
def test_a_known_view_lands_at_the_index_of_its_factors_in_list_order(tmp_path):
    names = [f"car_{number:03d}" for number in range(183)][::-1]  # list.txt's order is not the sorted one
    folder = write_cars3d(tmp_path / "cars", {(5, 2, 13): _image(0), (182, 3, 23): _image(1)}, names=names)
    (folder / "list.txt").write_text("\n".join(names) + "\n")
    data = get_dataset("cars3d", path=str(folder), cache_dir=str(tmp_path / "cache"))
    assert len(data) == 17_568 and data.observation_shape == (3, 64, 64)
    for (car, elevation, azimuth), seed in (((5, 2, 13), 0), ((182, 3, 23), 1)):
        index = data.index_of([[elevation, azimuth, car]])
        assert int(index[0]) == (elevation * 24 + azimuth) * 183 + car  # object fastest, as dlib
        expected = np.asarray(Image.fromarray(_image(seed)).resize((64, 64), Image.Resampling.LANCZOS))
        assert np.array_equal(data.images(index)[0].permute(1, 2, 0).numpy(), expected)
    assert int((np.asarray(data._pixels) != 0).any(axis=(1, 2, 3)).sum()) == 2


def test_objects_are_numbered_in_sorted_name_order_unless_list_txt_says_otherwise(tmp_path):
    folder = tmp_path / "cars"
    folder.mkdir()
    names = [f"{chr(97 + number % 26)}{number:03d}.mat" for number in range(183)]
    for name in names:
        (folder / name).write_bytes(b"")
    assert [file.name for file in object_files(folder)] == sorted(names)
    (folder / "list.txt").write_text("\n".join(name[:-4] for name in reversed(names)))
    assert [file.name for file in object_files(folder)] == list(reversed(names))
    (folder / "list.txt").write_text("\n".join(names[1:] + ["other.mat"]))
    with pytest.raises(InputError, match=r"list.txt: does not name exactly the folder's .mat files \(e.g. other.mat\)$"):
        object_files(folder)
    (folder / "list.txt").unlink()
    (folder / names[0]).unlink()
    with pytest.raises(InputError, match=r"holds 182 .mat files, expected the 183 of Cars3D$"):
        object_files(folder)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"im": np.zeros((128, 128, 3, 24, 3), np.uint8)}, "im has shape (128, 128, 3, 24, 3), expected (128, 128, 3, 24, 4)"),
        ({"im": np.zeros((128, 128, 3, 24, 4), np.float32)}, "im has dtype float32, expected uint8"),
        ({"im": np.array([["a", 1]], dtype=object)}, "im has dtype object, expected uint8"),
        ({"pictures": np.zeros(3)}, "no variable 'im' (expected im (128, 128, 3, 24, 4) uint8)"),
    ],
)
def test_a_bad_file_is_named_in_one_line_and_nothing_is_cached(tmp_path, content, message):
    folder = write_cars3d(tmp_path / "cars")
    scipy.io.savemat(folder / "car_001_mesh.mat", content)  # the first object: refused before any other is read
    with pytest.raises(InputError) as error:
        get_dataset("cars3d", path=str(folder), cache_dir=str(tmp_path / "cache"))
    assert str(error.value) == f"car_001_mesh.mat: {message}"
    assert not any((tmp_path / "cache").iterdir())


def test_a_truncated_file_is_refused(tmp_path):
    folder = write_cars3d(tmp_path / "cars")
    first = folder / "car_001_mesh.mat"
    first.write_bytes(first.read_bytes()[:200])
    with pytest.raises(InputError, match=r"^car_001_mesh.mat: not a readable MATLAB v5 file"):
        get_dataset("cars3d", path=str(folder), cache_dir=str(tmp_path / "cache"))


def test_lanczos_resizing_keeps_flat_images_flat_and_halves_a_smooth_ramp():
    flat = np.full((3, 128, 128, 3), 77, np.uint8)
    assert np.array_equal(resize_lanczos(flat, 64), np.full((3, 64, 64, 3), 77))
    ramp = np.tile(np.arange(128, dtype=np.uint8)[None, :, None], (128, 1, 3))[None]
    halved = resize_lanczos(ramp, 64)[0, 10, 2:-2, 0].astype(int)
    assert np.abs(halved - (2 * np.arange(2, 62) + 0.5)).max() <= 1  # the mean of each pixel pair
