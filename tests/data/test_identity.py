"""What a run records of its data files: each source's size and SHA-256, computed once."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from disentangle.data import get_dataset, identity
from disentangle.data import dsprites as dsprites_module
from disentangle.data.dsprites import DSprites
from disentangle.data.identity import changes, file_records


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_is_recorded_by_its_size_and_sha256(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, np.arange(48, dtype=np.uint8).reshape(3, 4, 4))
    records = file_records(get_dataset("array", path=str(path)))
    assert records == {str(path.resolve()): {"size": path.stat().st_size, "sha256": sha256(path)}}


def test_a_folder_is_recorded_by_the_count_size_and_digests_of_the_files_read_there_in_order(tmp_path):
    folder = tmp_path / "pictures"
    (folder / "b").mkdir(parents=True)
    files = [folder / "a.png", folder / "b" / "c.png", folder / "d.png"]
    for value, file in enumerate(files):
        Image.fromarray(np.full((5, 5), 40 * value, np.uint8)).save(file)
    (folder / "notes.txt").write_text("not an image, not read")
    records = file_records(get_dataset("folder", path=str(folder)))
    listing = "".join(f"{sha256(file)}\n" for file in files)
    assert records == {str(folder.resolve()): {
        "files": 3, "size": sum(file.stat().st_size for file in files),
        "sha256": hashlib.sha256(listing.encode()).hexdigest(),
    }}


def test_a_dataset_made_without_files_records_none(monkeypatch):
    monkeypatch.setattr(dsprites_module, "_load_or_render", lambda cache_dir, version: np.zeros((1, 512), np.uint8))
    assert file_records(DSprites()) == {} and file_records(get_dataset("digits")) == {}


def test_scream_dsprites_records_its_background_and_the_official_sprites_file(tmp_path, monkeypatch):
    monkeypatch.setattr(dsprites_module, "read_official_npz", lambda path: np.zeros((737_280, 512), np.uint8))
    background, sprites = tmp_path / "scream.png", tmp_path / dsprites_module.OFFICIAL_FILENAME
    Image.fromarray(np.zeros((80, 90, 3), np.uint8)).save(background)
    sprites.write_bytes(b"the official file's bytes")
    dataset = get_dataset("scream-dsprites", path=str(background), dsprites_path=str(sprites))
    assert sorted(file_records(dataset)) == sorted([str(background.resolve()), str(sprites.resolve())])


def test_a_digest_is_computed_once_per_version_of_the_file(tmp_path, monkeypatch):
    path = tmp_path / "images.npy"
    np.save(path, np.zeros((3, 4, 4), np.uint8))
    dataset = get_dataset("array", path=str(path))
    first = file_records(dataset)
    hashed = []
    monkeypatch.setattr(identity, "_sha256", lambda file: hashed.append(file) or "0" * 64)
    assert file_records(dataset) == first and hashed == []
    np.save(path, np.ones((3, 4, 4), np.uint8))  # the same size, other bytes, a later modification time
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert file_records(dataset)[str(path.resolve())]["sha256"] == "0" * 64 and len(hashed) == 1


def test_a_damaged_cached_digest_is_computed_again(tmp_path, monkeypatch):
    monkeypatch.setenv("DISENTANGLE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "images.npy"
    np.save(path, np.zeros((3, 4, 4), np.uint8))
    dataset = get_dataset("array", path=str(path))
    expected = file_records(dataset)
    (cached,) = (tmp_path / "cache" / "digests").glob("*.json")
    assert json.loads(cached.read_text()) == {"source": str(path.resolve()), **expected[str(path.resolve())]}
    for damage in ("not json", json.dumps({"source": "elsewhere", "size": 1, "sha256": "x"}), "[]"):
        cached.write_text(damage)
        assert file_records(dataset) == expected


def test_changes_name_each_source_and_what_changed_in_it():
    recorded = {
        "/data/3dshapes.h5": {"size": 1000, "sha256": "1f0c5e2a9b3d" + "0" * 52},
        "/data/cars": {"files": 183, "size": 5000, "sha256": "a" * 64},
        "/data/same.npy": {"size": 10, "sha256": "b" * 64},
    }
    current = {
        "/data/3dshapes.h5": {"size": 1024, "sha256": "77ab01c3d2e4" + "0" * 52},
        "/data/cars": {"files": 182, "size": 5000, "sha256": "c" * 64},
        "/data/same.npy": {"size": 10, "sha256": "b" * 64},
    }
    assert changes(recorded, current) == [
        "/data/3dshapes.h5 changed since the run was trained (size 1,000 → 1,024 bytes, "
        "sha256 1f0c5e2a9b3d… → 77ab01c3d2e4…)",
        f"/data/cars changed since the run was trained (files 183 → 182, sha256 {'a' * 12}… → {'c' * 12}…)",
    ]
    assert changes(recorded, recorded) == [] and changes({}, {}) == []


def test_the_record_of_a_source_does_not_depend_on_where_it_lies(tmp_path):
    """Sizes and digests only: the same files elsewhere (another machine) are the same data."""
    records = {}
    for place in ("here", "there"):
        folder = tmp_path / place
        folder.mkdir()
        Image.fromarray(np.eye(6, dtype=np.uint8) * 255).save(folder / "one.png")
        records[place] = [identity.source_record(str(source), [folder / "one.png"])
                          for source in (folder, folder / "one.png")]
    assert records["here"] == records["there"]
    assert records["here"][0]["files"] == 1 and "files" not in records["here"][1]
