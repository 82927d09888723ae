"""MPI3D: the official .npz files (sparse, full size), mapped in place; releases and bad files."""

from __future__ import annotations

import re
import zipfile

import numpy as np
import pytest

from disentangle.data import get_dataset
from disentangle.testing import write_compressed_npz_images, write_npz_images
from disentangle.errors import InputError

FINAL = (1_036_800, 64, 64, 3)
CHALLENGE = (460_800, 64, 64, 3)


def _image(seed):
    return np.random.RandomState(seed).randint(0, 256, (64, 64, 3), dtype=np.uint8)


def test_a_known_image_lands_at_the_index_of_its_factors(tmp_path):
    # object colour 5, shape 2, size 1, camera height 0, background 2, first DOF 17, second DOF 39
    factors = [5, 2, 1, 0, 2, 17, 39]
    index = int(np.ravel_multi_index(factors, [6, 6, 2, 3, 3, 40, 40]))
    path = write_npz_images(tmp_path / "mpi3d_toy.npz", FINAL, {index: _image(0), index + 1: _image(1)})
    data = get_dataset("mpi3d-toy", path=str(path), cache_dir=str(tmp_path / "cache"))
    assert len(data) == 1_036_800 and data.observation_shape == (3, 64, 64)
    assert data.index_of([factors]).tolist() == [index] and data.factors_of([index]).tolist() == [factors]
    assert np.array_equal(data.images([index])[0].permute(1, 2, 0).numpy(), _image(0))
    assert np.array_equal(data.observations([index + 1, index - 1]).numpy(),
                          np.stack([_image(1), np.zeros((64, 64, 3), np.uint8)]).transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255))
    assert not (tmp_path / "cache").exists()  # mapped in place: nothing copied


def test_the_image_count_must_match_the_chosen_release(tmp_path):
    challenge = write_npz_images(tmp_path / "mpi3d_toy.npz", CHALLENGE)
    expected = ("mpi3d_toy.npz: images has shape (460800, 64, 64, 3), expected (1036800, 64, 64, 3) "
                "(the final release; a 460,800-image challenge file needs release=challenge)")
    with pytest.raises(InputError, match=f"^{re.escape(expected)}$"):
        get_dataset("mpi3d-toy", path=str(challenge))
    data = get_dataset("mpi3d-real", path=str(challenge), release="challenge")
    assert len(data) == 460_800 and data.factors_num_values == [4, 4, 2, 3, 3, 40, 40]
    final = write_npz_images(tmp_path / "final.npz", FINAL)
    with pytest.raises(InputError, match="needs release=final"):
        get_dataset("mpi3d-realistic", path=str(final), release="challenge")
    assert len(get_dataset("mpi3d-complex", path=str(challenge))) == 460_800
    with pytest.raises(InputError, match=r"expected \(460800, 64, 64, 3\) \(the MPI3D-complex grid"):
        get_dataset("mpi3d-complex", path=str(final))


def test_a_compressed_archive_is_converted_once_into_the_cache(tmp_path, monkeypatch):
    from disentangle.data import mpi3d

    monkeypatch.setitem(mpi3d.RELEASES, "final", [2, 2, 1, 1, 1, 2, 3])  # a small grid: compression is slow
    images = np.random.RandomState(0).randint(0, 256, (24, 64, 64, 3), dtype=np.uint8)
    path = write_compressed_npz_images(tmp_path / "small.npz", images)
    data = get_dataset("mpi3d-toy", path=str(path), cache_dir=str(tmp_path / "cache"))
    assert np.array_equal(data.images(np.arange(24)).numpy(), images.transpose(0, 3, 1, 2))
    assert len(list((tmp_path / "cache").glob("mpi3d-toy-v1-*.npy"))) == 1


def _refusal(tmp_path, write) -> str:
    path = tmp_path / "mpi3d_toy.npz"
    write(path)
    with pytest.raises(InputError) as error:
        get_dataset("mpi3d-toy", path=str(path), cache_dir=str(tmp_path / "cache"))
    assert "\n" not in str(error.value) and not (tmp_path / "cache").exists()
    return str(error.value)


def test_bad_files_are_refused_in_one_line_and_nothing_is_cached(tmp_path):
    def truncated(path):
        write_npz_images(path, FINAL)
        with open(path, "r+b") as handle:
            handle.truncate(10**6)

    def object_array(path):
        np.savez(path, images=np.array([{"a": 1}], dtype=object))

    def wrong_dtype(path):
        np.savez(path, images=np.zeros((2, 64, 64, 3), np.float32))

    def no_images(path):
        np.savez(path, imgs=np.zeros((2, 64, 64, 3), np.uint8))

    def not_a_zip(path):
        path.write_bytes(b"\x93NUMPY not an archive")

    assert "not a readable .npz archive" in _refusal(tmp_path, truncated)
    assert _refusal(tmp_path, object_array) == "mpi3d_toy.npz: images has dtype object, expected uint8"
    assert _refusal(tmp_path, wrong_dtype) == "mpi3d_toy.npz: images has dtype float32, expected uint8"
    assert "no array 'images'" in _refusal(tmp_path, no_images)
    assert "not a readable .npz archive" in _refusal(tmp_path, not_a_zip)
    with pytest.raises(InputError, match="^release: expected 'final' or 'challenge', got 'v2'$"):
        get_dataset("mpi3d-toy", path=str(tmp_path / "x.npz"), release="v2")


def test_the_sparse_writer_makes_an_archive_zipfile_reads(tmp_path):
    path = write_npz_images(tmp_path / "x.npz", (3, 2, 2, 3), {1: np.full((2, 2, 3), 9, np.uint8)})
    with zipfile.ZipFile(path) as archive:
        [member] = archive.infolist()
        assert member.filename == "images.npy" and member.compress_type == zipfile.ZIP_STORED
    assert path.stat().st_size < 10**4
