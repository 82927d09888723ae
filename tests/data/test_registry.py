"""``get_dataset``: options checked against each constructor; ``describe()`` round trips."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from disentangle.data import DATASETS, get_dataset
from disentangle.data import dsprites as dsprites_module
from disentangle.data.dsprites import DSprites
from disentangle.errors import InputError

# --------------------------------------------------------------------------- options


#: (dataset, options) -> the whole error message
MISFITS = {
    ("mnist", (("path", "x"), ("splt", "t"))): "--data mnist: unknown option 'splt' (accepted: path, split)",
    ("dsprites", (("cache", "c"),)): (
        "--data dsprites: unknown option 'cache' (accepted: path, cache_dir, render_version)"
    ),
    ("array", (("path", "x"), ("a", 1), ("b", 2))): (
        "--data array: unknown options 'a', 'b' (accepted: path, key)"
    ),
    ("digits", (("size", 8),)): "--data digits: unknown option 'size' (it takes no options)",
    ("folder", (("mode", "L"),)): "--data folder: missing option 'path' (accepted: path, mode, size)",
}


@pytest.mark.parametrize(("name", "options"), MISFITS, ids=list(MISFITS.values()))
def test_options_that_do_not_fit_the_constructor_are_rejected_by_name(name, options):
    message = MISFITS[name, options]
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        get_dataset(name, **dict(options))


def test_options_set_to_none_are_dropped():
    assert len(get_dataset("digits", size=None, path=None)) == 1797


def test_a_type_error_raised_inside_a_constructor_propagates_unchanged(monkeypatch):
    def broken(path: str):
        raise TypeError("a bug inside the constructor")

    monkeypatch.setitem(DATASETS, "broken", broken)
    with pytest.raises(TypeError, match="^a bug inside the constructor$"):
        get_dataset("broken", path="x")


def test_a_constructor_taking_any_keyword_gets_every_option(monkeypatch):
    received = {}
    monkeypatch.setitem(DATASETS, "open", lambda **options: received.update(options))
    get_dataset("open", anything=1)
    assert received == {"anything": 1}


# --------------------------------------------------------------------------- describe()


def write_sources(folder: Path) -> dict[str, dict]:
    """One small source per file-reading dataset, as options relative to ``folder``."""
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    (folder / "mnist").mkdir()
    header = (0x00000803).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in images.shape)
    (folder / "mnist" / "train-images-idx3-ubyte").write_bytes(header + images.tobytes())
    np.save(folder / "images.npy", images)
    (folder / "pictures").mkdir()
    for index, image in enumerate(images):
        Image.fromarray(image).save(folder / "pictures" / f"{index}.png")
    return {
        "mnist": {"path": "mnist"},
        "fashion-mnist": {"path": "mnist"},
        "array": {"path": "images.npy"},
        "folder": {"path": "pictures"},
    }


def test_describe_stores_absolute_paths_that_rebuild_the_dataset_from_any_folder(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    sources = write_sources(data)
    monkeypatch.chdir(data)
    built = {name: get_dataset(name, **options) for name, options in sources.items()}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for name, dataset in built.items():
        description = dataset.describe()
        expected = str((data / sources[name]["path"]).resolve())
        assert description["path"] == expected, name
        rebuilt = get_dataset(**description)
        assert torch.equal(rebuilt.images(range(len(dataset))), dataset.images(range(len(dataset)))), name


def test_describe_resolves_symbolic_links(tmp_path):
    real = tmp_path / "real.npy"
    np.save(real, np.zeros((2, 4, 4), np.uint8))
    link = tmp_path / "link.npy"
    link.symlink_to(real)
    assert get_dataset("array", path=str(link)).describe()["path"] == str(real.resolve())


def test_dsprites_describe_stores_an_absolute_path_and_no_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(dsprites_module, "_load_or_render", lambda cache_dir, version: np.zeros((1, 512), np.uint8))
    monkeypatch.setattr(dsprites_module, "read_official_npz", lambda path: np.zeros((1, 512), np.uint8))
    rendered = DSprites(cache_dir=tmp_path / "cache").describe()
    assert rendered == {"name": "dsprites", "path": None, "render_version": 3}
    monkeypatch.chdir(tmp_path)
    official = DSprites(path=Path("files") / dsprites_module.OFFICIAL_FILENAME, cache_dir="cache")
    expected = str(tmp_path.resolve() / "files" / dsprites_module.OFFICIAL_FILENAME)
    assert official.describe() == {"name": "dsprites", "path": expected, "render_version": None}
