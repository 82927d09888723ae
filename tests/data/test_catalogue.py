"""``data list`` and ``data check``: from the registry and each dataset's declarations."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from disentangle.cli import main
from disentangle.data import DATASETS, Shapes3D, catalogue
from disentangle.testing import write_npz_images, write_shapes3d
from disentangle.errors import InputError


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DISENTANGLE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DISENTANGLE_CACHE", str(tmp_path / "cache"))
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def test_every_registered_dataset_is_listed_with_its_factors_and_files(data_dir):
    entries = {entry.name: entry for entry in catalogue.catalogue()}
    assert set(entries) == set(DATASETS)
    assert entries["shapes3d"].factors == [("floor_hue", 10), ("wall_hue", 10), ("object_hue", 10), ("scale", 8),
                                           ("shape", 4), ("orientation", 15)]
    assert entries["smallnorb"].factors == [("category", 5), ("elevation", 9), ("azimuth", 18), ("lighting", 6)]
    assert entries["shapes3d"].location == data_dir / "3dshapes.h5" and entries["shapes3d"].status == "missing"
    assert entries["digits"].status == "no file needed" and entries["digits"].factors is None
    assert entries["dsprites"].status == "no file needed (renders without one)"
    assert entries["mnist"].status == "give --data-path"


def test_a_dataset_registered_by_someone_else_gets_the_defaults(data_dir, monkeypatch):
    from disentangle.data import FactorDataset

    class Generated(FactorDataset):
        factor_names, factors_num_values = ["a"], [3]

    monkeypatch.setitem(DATASETS, "generated", Generated)
    monkeypatch.setitem(DATASETS, "from-a-function", lambda: None)
    entries = {entry.name: entry for entry in catalogue.catalogue()}
    assert entries["generated"] == catalogue.Entry("generated", [("a", 3)], None, None, "no file needed")
    assert entries["from-a-function"].status == "no file needed" and entries["from-a-function"].factors is None


def test_check_reads_the_file_verifies_the_published_md5_and_list_then_says_checked(data_dir, monkeypatch):
    write_shapes3d(data_dir / "3dshapes.h5", contiguous=True)
    digests = {"3dshapes.h5": "0" * 32}
    monkeypatch.setattr(catalogue, "md5_of", lambda path: digests[path.name])  # hashing 5.9 GB: tested below
    with pytest.raises(InputError, match=f"3dshapes.h5: MD5 {'0' * 32}, expected the published 099a2078d58cec4daad0702c55d06868$"):
        catalogue.check_dataset("shapes3d")
    assert {entry.name: entry.status for entry in catalogue.catalogue()}["shapes3d"] == "found"
    published = dataclasses.replace(Shapes3D.data_files, md5=digests)
    monkeypatch.setattr(Shapes3D, "data_files", published)
    lines = catalogue.check_dataset("shapes3d")
    assert lines[0] == "shapes3d: 480,000 images of 3×64×64 (C×H×W)"
    assert lines[-1] == f"3dshapes.h5: MD5 {'0' * 32} matches the published digest"
    assert {entry.name: entry.status for entry in catalogue.catalogue()}["shapes3d"] == "found, checked"
    with open(data_dir / "3dshapes.h5", "r+b") as handle:  # the file changes: no longer checked
        handle.seek(0, 2)
        handle.write(b"\x01")
    assert {entry.name: entry.status for entry in catalogue.catalogue()}["shapes3d"] == "found"


def test_md5_of_matches_hashlib_on_a_file_of_several_chunks(tmp_path, monkeypatch):
    import hashlib

    monkeypatch.setattr(catalogue, "_HASH_CHUNK", 1000)
    content = np.random.RandomState(0).bytes(12_345)
    (tmp_path / "f").write_bytes(content)
    assert catalogue.md5_of(tmp_path / "f") == hashlib.md5(content).hexdigest()


def _cli(capsys, *argv):
    code = main(["data", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_the_data_command_lists_checks_and_shows(data_dir, tmp_path, capsys):
    code, out, _ = _cli(capsys, "list")
    assert code == 0 and "shapes3d: floor_hue 10, wall_hue 10" in out and f"at {data_dir / '3dshapes.h5'}: missing" in out
    path = write_npz_images(tmp_path / "toy.npz", (1_036_800, 64, 64, 3), {0: np.full((64, 64, 3), (255, 0, 0), np.uint8)})
    code, out, _ = _cli(capsys, "check", "mpi3d-toy", "--data-path", path)
    assert code == 0 and "mpi3d-toy: 1,036,800 images of 3×64×64 (C×H×W)" in out
    assert "toy.npz" not in out or "MD5" not in out  # not the published name: no digest to compare
    code, out, err = _cli(capsys, "check", "mpi3d-toy", "--data-path", path, "--data-option", "release=challenge")
    assert code == 2 and err.count("\n") == 1 and "images has shape (1036800, 64, 64, 3), expected (460800" in err
    code, out, _ = _cli(capsys, "show", "mpi3d-toy", "--data-path", path, "--out", tmp_path / "figures" / "toy.png")
    assert code == 0 and (tmp_path / "figures" / "toy.png").is_file()
    assert sorted(p.name for p in (tmp_path / "figures").glob("*.gif"))[:2] == ["toy-background-colour.gif",
                                                                                "toy-camera-height.gif"]
    code, out, err = _cli(capsys, "show", "digits", "--out", tmp_path / "d.png")
    assert code == 2 and "data show: 'digits' has no ground-truth factors to sweep" in err
