"""The converted-file cache: keyed by the source files and the reader, written atomically."""

from __future__ import annotations

import os

import numpy as np
import pytest

from disentangle.data.cache import cache_path, load_or_convert
from disentangle.errors import InputError


def _source(tmp_path, content=b"official file"):
    path = tmp_path / "official.bin"
    path.write_bytes(content)
    return path


def test_the_key_changes_with_the_file_the_reader_version_and_the_options(tmp_path):
    source = _source(tmp_path)
    first = cache_path("reader", 1, {"size": 64}, [source], tmp_path)
    assert first == cache_path("reader", 1, {"size": 64}, [source], tmp_path)
    assert first != cache_path("reader", 2, {"size": 64}, [source], tmp_path)
    assert first != cache_path("reader", 1, {"size": 96}, [source], tmp_path)
    status = source.stat()
    source.write_bytes(b"OFFICIAL FILE")  # same size, same modification time: the content still tells
    os.utime(source, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert first != cache_path("reader", 1, {"size": 64}, [source], tmp_path)


def test_a_conversion_runs_once_and_is_then_served_from_a_read_only_map(tmp_path):
    calls = []

    def convert(out):
        calls.append(1)
        out[:] = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)

    path = tmp_path / "cache" / "x.npy"
    first = load_or_convert(path, (2, 3, 4), convert)
    second = load_or_convert(path, (2, 3, 4), convert)
    assert calls == [1] and not second.flags.writeable and not second.flags.owndata  # a view of the map
    assert np.array_equal(first, np.arange(24).reshape(2, 3, 4)) and np.array_equal(second, first)


def test_a_failed_conversion_leaves_nothing_in_the_cache(tmp_path):
    def convert(out):
        out[0] = 1
        raise InputError("official.bin: labels has shape (3, 6), expected (480000, 6)")

    folder = tmp_path / "cache"
    with pytest.raises(InputError, match="labels has shape"):
        load_or_convert(folder / "x.npy", (2, 3), convert)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("damage", ["truncated", "other shape", "not npy"])
def test_a_damaged_cache_file_is_converted_again(tmp_path, damage):
    path = tmp_path / "x.npy"
    if damage == "truncated":
        np.save(path, np.ones((2, 3), np.uint8))
        path.write_bytes(path.read_bytes()[:-2])
    elif damage == "other shape":
        np.save(path, np.ones((3, 3), np.uint8))
    else:
        path.write_bytes(b"garbage")
    result = load_or_convert(path, (2, 3), lambda out: out.fill(7))
    assert np.array_equal(result, np.full((2, 3), 7))
