"""The run folder: one directory per run, self-describing.

::

    RUN/config.json        every setting (model, data, train), seed, library versions, and
                           the size and SHA-256 of each data file read (data_files)
    RUN/checkpoints/       step-<8-digit step>.safetensors, written atomically
    RUN/log.jsonl          one line per logging step: step, time, every loss term
    RUN/events.*           TensorBoard scalars
    RUN/metrics.json       written by evaluate
    RUN/report.html        written by report

Everything is written through a temporary file and ``os.replace``, so an interrupted
write never leaves a half-written file behind; files get the usual permissions
(0666 less the process's umask), not the temporary file's private 0600. A temporary
is named ``.<file>.<host>-<pid>.<random>.tmp`` after its writer, so that one left by a
killed writer is recognised and removed (``clear_stale_temporaries``) when the folder
is next written to, while a live writer's is left alone.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import tempfile
import time
from importlib import metadata
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
#: this machine's name as temporaries carry it (letters and digits only)
_HOST = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname()) or "host"
#: a temporary of ours: ``.<file>.<host>-<pid>.<random>.tmp``
_TEMPORARY = re.compile(r"^\.(?P<file>.+)\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")
#: a temporary of the versions before writers were named: ``.<file>.<random>.tmp`` and checkpoints' ``.<file>.tmp``
_UNNAMED_TEMPORARY = re.compile(
    r"^\.(config\.json|log\.jsonl|metrics\.json|report\.html|comparison\.html|step-\d{8}\.safetensors)"
    r"\.([a-z0-9_]{8}\.)?tmp$"
)
#: a temporary written on another machine is stale after this many seconds (its writer cannot be asked)
STALE_AFTER_S = 3600


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder."""
    path = Path(path)
    prefix = f".{path.name}.{_HOST}-{os.getpid()}."
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=prefix, suffix=".tmp", delete=False) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(f.name, 0o666 & ~_UMASK)
    os.replace(f.name, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _is_stale(path: Path, now: float) -> bool:
    match = _TEMPORARY.match(path.name)
    if match is None:
        return _UNNAMED_TEMPORARY.match(path.name) is not None
    if match["host"] == _HOST:
        return int(match["pid"]) != os.getpid() and not _alive(int(match["pid"]))
    try:
        return now - path.stat().st_mtime > STALE_AFTER_S
    except FileNotFoundError:
        return False


def clear_stale_temporaries(folder: Path) -> list[Path]:
    """Remove the temporaries of ours that killed writers left in ``folder`` and its
    ``checkpoints`` folder: those of a process of this machine that is gone, those of
    another machine older than ``STALE_AFTER_S``, and those of earlier versions, which
    named no writer. Other files are never touched. Returns what was removed."""
    removed, now = [], time.time()
    for place in (Path(folder), Path(folder) / CHECKPOINTS):
        if not place.is_dir():
            continue
        for path in place.iterdir():
            if path.name.startswith(".") and path.name.endswith(".tmp") and path.is_file() and _is_stale(path, now):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


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
    for section in ("model", "data", "train", "environment", "data_files"):
        if not isinstance(config.get(section, {}), dict):
            raise InputError(f"{path}: '{section}' must be a mapping, got {type(config[section]).__name__}")
    if not all(isinstance(record, dict) for record in config.get("data_files", {}).values()):
        raise InputError(f"{path}: each entry of 'data_files' must be a mapping (size, sha256), as 'train' writes it")
    for section in ("model", "data"):
        if not isinstance(config[section].get("name"), str):
            raise InputError(
                f"{path}: {section}.name must be the {section}'s name (a string), as 'disentangle train' writes it"
            )
    version = config.get("format_version", 0)
    written_by = config.get("environment", {}).get("disentangle", "0")
    if isinstance(version, bool) or not isinstance(version, int) or not isinstance(written_by, str):
        raise InputError(f"{path}: format_version must be an integer and environment.disentangle a version string")
    if version > FORMAT_VERSION or _version_tuple(written_by) > _version_tuple(disentangle.__version__):
        raise InputError(
            f"{path}: written by disentangle {written_by} (run format {version}), "
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


def clear_training_outputs(run: Path) -> None:
    """Remove what an attempt at training left in ``run`` besides ``config.json``: the log,
    TensorBoard events, the checkpoints folder and stale temporaries (a run restarted from
    step 0). Call it only on a folder that ``holds_only_run_files``."""
    for path in Path(run).iterdir():
        if path.name == LOG or path.name.startswith("events.out.tfevents."):
            path.unlink()
        elif path.name == CHECKPOINTS and path.is_dir():
            shutil.rmtree(path)
    clear_stale_temporaries(run)


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
