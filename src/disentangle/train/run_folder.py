"""The run folder: one directory per run, self-describing.

::

    RUN/config.json        every setting (model, data, train), seed, library versions
    RUN/checkpoints/       step-<8-digit step>.safetensors, written atomically
    RUN/log.jsonl          one line per logging step: step, time, every loss term
    RUN/events.*           TensorBoard scalars
    RUN/metrics.json       written by evaluate
    RUN/report.html        written by report

Everything is written through a temporary file and ``os.replace``, so an interrupted
write never leaves a half-written file behind; files get the usual permissions
(0666 less the process's umask), not the temporary file's private 0600.
"""

from __future__ import annotations

import json
from importlib import metadata
import os
import platform
import tempfile
from pathlib import Path

import torch

import disentangle
from disentangle.errors import InputError

#: version of the run-folder layout; bumped when older code could misread a folder
FORMAT_VERSION = 1
CONFIG = "config.json"
LOG = "log.jsonl"
CHECKPOINTS = "checkpoints"
#: the process's file-creation mask, read once (reading it means setting it)
_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder."""
    path = Path(path)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(f.name, 0o666 & ~_UMASK)
    os.replace(f.name, path)


def atomic_write_json(path: Path, payload) -> None:
    atomic_write_bytes(path, (json.dumps(payload, indent=2, sort_keys=False) + "\n").encode())


def environment() -> dict:
    """Library and platform versions, recorded with every run and every evaluation."""
    versions = {"disentangle": disentangle.__version__, "python": platform.python_version(), "torch": torch.__version__}
    for package in ("numpy", "scipy", "scikit-learn"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    versions["platform"] = platform.platform()
    return versions


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def read_config(run: Path) -> dict:
    """The run's ``config.json``, checked to be readable by this version."""
    path = Path(run) / CONFIG
    if not Path(run).is_dir():
        raise InputError(f"{run}: no such run folder")
    if not path.is_file():
        raise InputError(f"{path}: missing (expected a run folder written by 'disentangle train')")
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(config, dict) or not {"model", "data", "train"} <= config.keys():
        raise InputError(f"{path}: expected the keys model, data and train")
    written_by = config.get("environment", {}).get("disentangle", "0")
    if config.get("format_version", 0) > FORMAT_VERSION or _version_tuple(written_by) > _version_tuple(
        disentangle.__version__
    ):
        raise InputError(
            f"{path}: written by disentangle {written_by} (run format {config.get('format_version')}), "
            f"newer than this disentangle {disentangle.__version__} (format {FORMAT_VERSION}); upgrade to read it"
        )
    return config


def checkpoint_paths(run: Path) -> list[Path]:
    """The run's checkpoints, oldest first."""
    folder = Path(run) / CHECKPOINTS
    return sorted(folder.glob("step-*.safetensors")) if folder.is_dir() else []


def latest_checkpoint(run: Path) -> Path:
    paths = checkpoint_paths(run)
    if not paths:
        raise InputError(f"{Path(run) / CHECKPOINTS}: no checkpoint (expected step-*.safetensors from a training run)")
    return paths[-1]


def checkpoint_path(run: Path, step: int) -> Path:
    return Path(run) / CHECKPOINTS / f"step-{step:08d}.safetensors"


def holds_only_run_files(folder: Path) -> bool:
    """Whether every entry of ``folder`` is one that training writes (config, log,
    TensorBoard events, checkpoints, a temporary file of an atomic write)."""
    return all(
        path.name in (CONFIG, LOG, CHECKPOINTS) or path.name.startswith(("events.out.tfevents.", "."))
        for path in Path(folder).iterdir()
    )


def last_checkpoint_step(run: Path) -> int:
    """The training step of the run's latest checkpoint; 0 when it has none."""
    paths = checkpoint_paths(run)
    return int(paths[-1].stem.removeprefix("step-")) if paths else 0


def truncate_log(run: Path, last_step: int) -> None:
    """Drop log lines after ``last_step`` (the checkpoint a resumed run restarts from)."""
    path = Path(run) / LOG
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= last_step:
                kept.append(line)
        except json.JSONDecodeError:
            break  # a line cut by a crash ends the readable log
    atomic_write_bytes(path, "".join(f"{line}\n" for line in kept).encode())


def read_log(run: Path) -> list[dict]:
    """The parsed lines of ``log.jsonl`` (empty when there is none)."""
    path = Path(run) / LOG
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
