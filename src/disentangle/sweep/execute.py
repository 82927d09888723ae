"""One run of a sweep, brought to its finished state whatever state it was left in.

A sweep's output folder::

    DIR/sweep.json            every run of the sweep (number, name, settings, evaluation)
    DIR/runs/<name>/          each run's folder (see ``disentangle.run_folder``)
    DIR/status/<name>.json    the last attempt at each run: state, times, host, error

``run_one`` skips a finished run (trained to its steps and, when the sweep
evaluates, scored at that step with the requested metrics, seeds and preset),
resumes one with a checkpoint, restarts one killed before its first checkpoint,
then evaluates; ``run_group`` does the same for a group of runs that train packed in
one process (``disentangle.train.packed``). Both catch the runs' own errors: a failed
run is recorded in its status file (message and traceback) and returned as failed, so
a sweep goes on.
Each status file has one writer, so concurrent workers never share a file.
"""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from disentangle import run_folder
from disentangle.errors import InputError, TrainingDiverged
from disentangle.scoring.evaluate import METRICS_FILE, evaluate
from disentangle.sweep.spec import SweepRun
from disentangle.train import RunConfig, read_run_config, train_or_resume
from disentangle.train.packed import train_packed

RUNS = "runs"
STATUS = "status"
#: training settings that may differ between a run folder and its sweep: steps grow
#: when a sweep is extended, threads follow the executor's share of the cores
_MAY_DIFFER = ("steps", "threads")


@dataclass(frozen=True)
class RunResult:
    """What became of one run: ``state`` is ``done``, ``skipped`` (already finished) or
    ``failed`` (``error`` then holds the one-line reason; the status file has the traceback)."""

    number: int
    name: str
    state: str
    seconds: float
    error: str | None = None


def run_path(out: Path, run: SweepRun) -> Path:
    return Path(out) / RUNS / run.name


def status_path(out: Path, run: SweepRun) -> Path:
    return Path(out) / STATUS / f"{run.name}.json"


def is_finished(run: SweepRun, folder: Path) -> bool:
    """Whether ``folder``'s last checkpoint is at ``run.steps`` and, when the run is
    evaluated, its ``metrics.json`` scores that step with the requested metrics, seeds and preset."""
    if run_folder.last_checkpoint_step(folder) != run.steps:
        return False
    if run.evaluation is None:
        return True
    try:
        scored = json.loads((Path(folder) / METRICS_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return (
        scored.get("checkpoint_step") == run.steps
        and scored.get("preset") == run.evaluation.preset
        and scored.get("seeds") == list(run.evaluation.seeds)
        and set(run.evaluation.metrics) <= set(scored.get("results", {}))
    )


def _check_same_configuration(run: SweepRun, folder: Path) -> None:
    """Refuse a run folder whose config.json differs from the sweep's run (but for
    ``_MAY_DIFFER``, and for hyperparameters the sweep leaves to the data, which the
    folder holds filled in)."""
    written = read_run_config(folder)[1]
    derived = [name for name in run.config.model.DATA_DERIVED if getattr(run.config.model, name) is None]
    old_model = {k: v for k, v in written.to_dict()["model"].items() if k not in derived}
    new_model = {k: v for k, v in run.config.to_dict()["model"].items() if k not in derived}
    pairs = [("model", old_model, new_model), ("data.name", written.data.name, run.config.data.name)]
    old_train, new_train = written.train.to_dict(), run.config.train.to_dict()
    for key in old_train:
        if key not in _MAY_DIFFER:
            pairs.append((f"train.{key}", old_train[key], new_train[key]))
    for key, old, new in pairs:
        if old != new:
            raise InputError(
                f"{folder}: made with other settings than the sweep's ({key}: {old} in config.json, "
                f"{new} in the sweep); move the folder away or use another --out"
            )


def one_line(error: BaseException) -> str:
    """The error as one line: its message for our errors, else prefixed with its type."""
    lines = str(error).strip().splitlines()
    message = lines[0] if lines else ""
    if isinstance(error, (InputError, TrainingDiverged)):
        return message
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def record_status(
    out: Path, run: SweepRun, state: str, started: float, error: BaseException | None = None
) -> None:
    """Write ``DIR/status/<name>.json`` atomically."""
    status = {
        "number": run.number,
        "name": run.name,
        "state": state,
        "started_at": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": round(time.time() - started, 3),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    if error is not None:
        status["error"] = one_line(error)
        status["traceback"] = "".join(traceback.format_exception(error))
    path = status_path(out, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    run_folder.atomic_write_json(path, status)


def failed(run: SweepRun, out: Path, started: float, error: BaseException) -> RunResult:
    """Record ``run`` as failed with ``error`` and return its result."""
    record_status(out, run, "failed", started, error)
    return RunResult(run.number, run.name, "failed", round(time.time() - started, 3), one_line(error))


def run_one(run: SweepRun, out: str | Path, threads: int | None = None) -> RunResult:
    """Bring ``run`` to its finished state in ``out/runs/<name>``; never raises for the run's own errors.

    ``threads``: CPU threads for training when the run's settings name none.
    """
    out, started = Path(out), time.time()
    folder = run_path(out, run)
    try:
        if (folder / run_folder.CONFIG).is_file():
            _check_same_configuration(run, folder)
            if is_finished(run, folder):
                return RunResult(run.number, run.name, "skipped", 0.0)
        record_status(out, run, "running", started)
        train_or_resume(folder, _with_threads(run, threads), progress=False)
    except Exception as error:  # noqa: BLE001 - a run's failure of any kind must not stop the sweep
        return failed(run, out, started, error)
    return _evaluate(run, out, started)


def _with_threads(run: SweepRun, threads: int | None) -> RunConfig:
    """The run's configuration, with ``threads`` CPU threads when its settings name none."""
    config = run.config
    return config.with_train(threads=threads) if threads is not None and config.train.threads is None else config


def _evaluate(run: SweepRun, out: Path, started: float) -> RunResult:
    """Score the trained ``run`` when its sweep evaluates, and record it as done (or failed)."""
    try:
        if run.evaluation is not None:
            evaluate(
                run_path(out, run),
                metrics=run.evaluation.metrics,
                seeds=run.evaluation.seeds,
                preset=run.evaluation.preset,
                device=run.config.train.device,
            )
    except Exception as error:  # noqa: BLE001 - a run's failure of any kind must not stop the sweep
        return failed(run, out, started, error)
    record_status(out, run, "done", started)
    return RunResult(run.number, run.name, "done", round(time.time() - started, 3))


def run_group(
    runs: Sequence[SweepRun], out: str | Path, threads: int | None = None, batching: str = "vmap"
) -> list[RunResult]:
    """Bring the ``runs`` of one packing group (``sweep.packing``) to their finished state,
    training the unfinished ones packed (``train_packed``'s ``batching``); never raises for
    the runs' own errors.

    Finished runs are skipped; the others train as one group per checkpoint step they
    were left at (a group checkpoints together, so normally one). A run left alone,
    and every run of a group that fails (a model's loss turned NaN, say), goes through
    ``run_one``: from its last checkpoint, alone, it ends as it would have in the group
    (within the packing tolerance) or fails with its own error.
    """
    out, started = Path(out), time.time()
    results, by_step = [], {}
    for run in runs:
        folder = run_path(out, run)
        try:
            if (folder / run_folder.CONFIG).is_file():
                _check_same_configuration(run, folder)
                if is_finished(run, folder):
                    results.append(RunResult(run.number, run.name, "skipped", 0.0))
                    continue
        except Exception as error:  # noqa: BLE001 - a run's failure of any kind must not stop the sweep
            results.append(failed(run, out, started, error))
            continue
        by_step.setdefault(run_folder.last_checkpoint_step(folder), []).append(run)
    for group in by_step.values():
        if len(group) == 1:
            results.append(run_one(group[0], out, threads))
            continue
        for run in group:
            record_status(out, run, "running", started)
        try:
            train_packed([run_path(out, run) for run in group], [_with_threads(run, threads) for run in group],
                         batching=batching)
        except Exception:  # noqa: BLE001 - each run goes on alone and reports its own error
            results.extend(run_one(run, out, threads) for run in group)
            continue
        results.extend(_evaluate(run, out, started) for run in group)
    return sorted(results, key=lambda result: result.number)
