"""A memory-mapped cache of images converted once from a user's official files.

A reader that cannot map the official file as it is (it is compressed, or its images
need resizing) converts it on first use into a ``.npy`` file of uint8 images
``(N, C, H, W)`` (one image contiguous) in ``default_cache_dir()``; later starts map
that file and training reads only the pages it touches.

The cache file's name carries a key of everything the pixels depend on: the reader's
name and version, its options, and each source file's resolved path, size,
modification time and a hash of its first and last MiB. A different file, a file
changed in place, or a newer reader therefore never meets a stale cache. The cache is
written to a temporary file and renamed into place, so an interrupted or failed
conversion (a bad file) leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from disentangle.data.base import read_npy_header
from disentangle.data.dsprites import default_cache_dir
from disentangle.data.mapped import map_images

#: bytes hashed at each end of a source file for the cache key
_EDGE_BYTES = 2**20


def write_json_quietly(path: Path, value) -> None:
    """Write ``value`` as JSON to ``path`` atomically (a temporary file renamed into place);
    a cache folder that cannot be written is skipped silently, costing only the next
    start the work the file would have saved."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".json.tmp", delete=False) as handle:
            json.dump(value, handle)
        os.replace(handle.name, path)
    except OSError:
        pass


def file_identity(path: str | Path) -> dict:
    """What the cache key records of one source file: resolved path, size, modification
    time (ns) and the SHA-256 of its first and last MiB."""
    path = Path(path).resolve()
    status = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(_EDGE_BYTES))
        handle.seek(max(0, status.st_size - _EDGE_BYTES))
        digest.update(handle.read(_EDGE_BYTES))
    return {"path": str(path), "size": status.st_size, "mtime_ns": status.st_mtime_ns, "edges": digest.hexdigest()}


def cache_path(reader: str, version: int, options: dict, sources: Sequence[str | Path], cache_dir=None) -> Path:
    """``CACHE/<reader>-v<version>-<key>.npy``: the key is a hash of the options and of
    ``file_identity`` of every source file."""
    record = {"options": options, "sources": [file_identity(source) for source in sources]}
    key = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:20]
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return folder / f"{reader}-v{version}-{key}.npy"


def load_or_convert(
    path: Path, shape: tuple[int, ...], convert: Callable[[np.ndarray], None]
) -> np.ndarray:
    """The cached uint8 array ``shape`` at ``path``, memory-mapped read-only; if it is
    absent or damaged, ``convert(out)`` first fills a writable map ``out`` of that shape
    in a temporary file beside ``path``, which is then renamed to ``path``. Whatever
    ``convert`` raises (an ``InputError`` for a bad source file) removes the temporary
    file and propagates, so nothing is cached from a bad file."""
    cached = _mapped(path, shape)
    if cached is not None:
        return cached
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.stem + "-", suffix=".npy.tmp")
    os.close(handle)
    try:
        out = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.uint8, shape=shape)
        convert(out)
        out.flush()
        del out
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return _mapped(path, shape)


def _mapped(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """``path`` mapped read-only (``map_images``) if it is a C-order uint8 ``.npy`` of
    ``shape`` that holds all its data, else ``None``."""
    try:
        with open(path, "rb") as handle:
            found, fortran_order, dtype = read_npy_header(handle)
            offset = handle.tell()
        if found != shape or dtype != np.uint8 or fortran_order:
            return None
        return map_images(path, offset, shape)
    except (OSError, ValueError):
        return None
