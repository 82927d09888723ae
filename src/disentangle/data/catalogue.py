"""What ``disentangle data list`` and ``data check`` say about every registered dataset.

Works from the registry (``DATASETS``) and what each dataset class declares: its
factors (``factor_names``, ``factors_num_values``; only for ``FactorDataset``) and its
files (``data_files``: ``None`` for a dataset that needs none). ``check_dataset``
builds a dataset, which runs every check of its reader (and converts its files into
the cache on first use), verifies published MD5 digests where they are known, and
leaves a stamp so that ``list`` can say the files were checked.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from disentangle.data import DATASETS, get_dataset
from disentangle.data.base import FactorDataset, ImageDataset
from disentangle.data.cache import write_json_quietly
from disentangle.data.dsprites import default_cache_dir
from disentangle.data.mapped import default_data_dir
from disentangle.errors import InputError

#: bytes read at a time when hashing a file
_HASH_CHUNK = 16 * 2**20


@dataclass(frozen=True)
class Entry:
    """One line of ``data list``."""

    name: str
    #: (factor name, number of values), or ``None`` for a dataset without factors
    factors: list[tuple[str, int]] | None
    #: the files in words, or ``None`` when the dataset needs none
    files: str | None
    #: where the files are looked for without ``--data-path`` (``None``: nowhere by default)
    location: Path | None
    #: "no file needed", "give --data-path", "missing", "found" or "found, checked"
    status: str


def catalogue() -> list[Entry]:
    """Every registered dataset, by name."""
    return [_entry(name, DATASETS[name]) for name in sorted(DATASETS)]


def _entry(name: str, constructor) -> Entry:
    is_class = isinstance(constructor, type)
    factors = None
    if is_class and issubclass(constructor, FactorDataset):
        factors = list(zip(constructor.factor_names, constructor.factors_num_values))
    declared = constructor.data_files if is_class and issubclass(constructor, ImageDataset) else None
    if declared is None:
        return Entry(name, factors, None, None, "no file needed")
    if declared.default is None:
        status = "no file needed (renders without one)" if declared.optional else "give --data-path"
        return Entry(name, factors, declared.description, None, status)
    location = default_data_dir() / declared.default
    if not location.exists():
        return Entry(name, factors, declared.description, location, "missing")
    checked = _stamp(name).is_file() and json.loads(_stamp(name).read_text()) == _identity(location.resolve())
    return Entry(name, factors, declared.description, location, "found, checked" if checked else "found")


def check_dataset(name: str, path: str | Path | None = None, **options) -> list[str]:
    """Build dataset ``name`` from ``path`` (default: where it looks) with every check of
    its reader, verify the published MD5 of each of its files that has one, and return
    what was checked, one line each. Raises ``InputError`` for what fails."""
    if name not in DATASETS:
        raise InputError(f"data check: unknown dataset '{name}' (expected one of {', '.join(sorted(DATASETS))})")
    dataset = get_dataset(name, path=None if path is None else str(path), **options)
    lines = [f"{name}: {len(dataset):,} images of {'×'.join(map(str, dataset.observation_shape))} (C×H×W)"]
    if isinstance(dataset, FactorDataset):
        factors = ", ".join(f"{factor} {size}" for factor, size in zip(dataset.factor_names, dataset.factors_num_values))
        lines.append(f"factors: {factors}")
        if dataset.nuisance_axes:
            nuisance = [f"{dataset.grid_names[axis]} {dataset.grid_num_values[axis]}" for axis in dataset.nuisance_axes]
            lines.append(f"nuisance factors (drawn at random for a factor vector): {', '.join(nuisance)}")
    declared = type(dataset).data_files
    described = dataset.describe().get("path")
    location = Path(described) if declared is not None and described else None
    if location is None:
        lines.append("files: none needed")
        return lines
    files = sorted(location.iterdir()) if location.is_dir() else [location]
    lines.append(f"shapes, dtypes, image counts and label grids: as the official layout ({location})")
    for file in files:
        digest = declared.md5.get(file.name)
        if digest is None:
            continue
        found = md5_of(file)
        if found != digest:
            raise InputError(f"{file}: MD5 {found}, expected the published {digest}")
        lines.append(f"{file.name}: MD5 {found} matches the published digest")
    if not any(file.name in declared.md5 for file in files):
        lines.append("no published checksum is known for these files" if not declared.md5 else
                     f"no file named as the published ones ({', '.join(sorted(declared.md5))}): checksums not verified")
    if declared.default is not None and location == (default_data_dir() / declared.default).resolve():
        _write_stamp(name, _identity(location))
    return lines


def md5_of(path: Path) -> str:
    """Hex MD5 digest of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _identity(location: Path) -> list:
    """Name, size and modification time of the file, or of each file in the folder."""
    files = sorted(location.iterdir()) if location.is_dir() else [location]
    return [[file.name, file.stat().st_size, file.stat().st_mtime_ns] for file in files if file.is_file()]


def _stamp(name: str) -> Path:
    return default_cache_dir() / "checked" / f"{name}.json"


def _write_stamp(name: str, identity: list) -> None:
    """Record (atomically) that the files at ``name``'s default location passed ``data check``;
    a read-only cache only costs ``list`` the word "checked"."""
    write_json_quietly(_stamp(name), identity)
