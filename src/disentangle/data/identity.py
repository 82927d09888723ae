"""What a run folder records of the files its images were read from, and what changed since.

A run's ``config.json`` names its data by the dataset's options (``data``: the name, the
files' paths, a procedural render's ``render_version``, ``nuisance_seed``, ...) and, under
``data_files``, by what those files held when the run was created: for each file or
folder an option names (``ImageDataset.source_files``), its size in bytes and its
SHA-256 — of the file itself, or for a folder of the SHA-256 digests of the files read
there, one hex digest a line in reading order, with their count (``files``). A
procedural dataset reads no file; its options alone name its images.

A source's record is computed once per version of its files and cached in
``default_cache_dir()/digests/``, keyed by each file's resolved path, size and
modification time: hashing reads every byte once (about 1 GB/s), and later run
starts and evaluations cost a ``stat`` per file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from disentangle.data.base import ImageDataset
from disentangle.data.cache import write_json_quietly
from disentangle.data.dsprites import default_cache_dir

#: bytes hashed at a time
_CHUNK = 8 * 2**20
#: what a source's record holds, in the order a change is described
_FIELDS = ("files", "size", "sha256")


def file_records(dataset: ImageDataset) -> dict[str, dict]:
    """The ``data_files`` of a run on ``dataset``: each source's record (see the module's
    description); empty for a dataset made without files."""
    return {source: source_record(source, files) for source, files in dataset.source_files.items()}


def source_record(source: str, files: Sequence[Path]) -> dict:
    """``{"size": bytes, "sha256": hex}`` of the file ``source``, or for a folder
    ``{"files": count, "size": total bytes, "sha256": hex}`` over the ``files`` read there;
    from the cache when their paths, sizes and modification times are those it was
    computed from."""
    stats = [(Path(file).resolve(), os.stat(file)) for file in files]
    key = [source, [(str(path), stat.st_size, stat.st_mtime_ns) for path, stat in stats]]
    name = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:20]
    cached = default_cache_dir() / "digests" / f"{name}.json"
    try:
        record = json.loads(cached.read_text())
        if isinstance(record, dict) and record.get("source") == source and "sha256" in record:
            return {field: record[field] for field in _FIELDS if field in record}
    except (OSError, ValueError):
        pass
    size = sum(stat.st_size for _, stat in stats)
    if Path(source).is_file():
        record = {"size": size, "sha256": _sha256(source)}
    else:
        listing = "".join(f"{_sha256(path)}\n" for path, _ in stats)
        record = {"files": len(files), "size": size, "sha256": hashlib.sha256(listing.encode()).hexdigest()}
    write_json_quietly(cached, {"source": source, **record})
    return record


def changes(recorded: Mapping, current: Mapping) -> list[str]:
    """One phrase per source whose record in ``current`` differs from ``recorded`` (two
    ``data_files``), naming it and what changed: ``/data/3dshapes.h5 changed since the run
    was trained (size 1,000 → 1,024 bytes, sha256 1f0c5e2a9b3d… → 77ab01c3d2e4…)``."""
    found = []
    for source in sorted(recorded.keys() | current.keys()):
        before, now = recorded.get(source) or {}, current.get(source) or {}
        differing = [
            f"{field} {_shown(field, before.get(field))} → {_shown(field, now.get(field))}"
            + (" bytes" if field == "size" else "")
            for field in _FIELDS
            if before.get(field) != now.get(field)
        ]
        if differing:
            found.append(f"{source} changed since the run was trained ({', '.join(differing)})")
    return found


def _shown(field: str, value) -> str:
    if value is None:
        return "none"
    if field == "sha256":
        return f"{str(value)[:12]}…"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
