"""Run a sweep's runs one after another, in worker processes, or as Ray tasks.

``run_sweep`` writes ``DIR/sweep.json`` (every run, for ``aggregate`` and array jobs)
and hands the selected runs, in groups of ``pack`` runs that train packed in one
process (``sweep.packing``; groups of one by default), to an executor; each group goes
through ``run_group`` (a group of one through ``run_one``), so finished runs are
skipped, interrupted ones resumed and failed ones reported while the others go on.

- ``local`` (default): ``workers=1`` runs the groups in this process, one after
  another, with every core; ``workers=N`` runs N spawned processes with ``cores // N``
  threads each.
- ``ray``: one Ray task per group, reserving the run's ``threads`` setting in CPUs (1
  when unset) and one GPU for a ``cuda`` device. Without ``address`` a local Ray
  instance is started with ``workers`` CPUs (default: all); with ``address`` the
  tasks go to that cluster, whose nodes must reach DIR on a shared file system.
  ``workers`` caps the runs in flight.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from disentangle.errors import InputError
from disentangle.sweep.execute import STATUS, RunResult, failed, one_line, run_group
from disentangle.sweep.packing import group_runs
from disentangle.sweep.spec import SweepRun, expand_sweep
from disentangle.train.packed import BATCHINGS
from disentangle.run_folder import atomic_write_json, clear_stale_temporaries
from disentangle.resources import available_cpus

EXECUTORS = ("local", "ray")
SWEEP_FILE = "sweep.json"


def write_sweep_file(out: Path, runs: Sequence[SweepRun]) -> Path:
    """Write ``out/sweep.json``, refusing an ``out`` that holds a sweep with other runs.

    Only the run names are compared: a sweep re-launched with more steps or more
    metrics is the same sweep; one with other runs would mix two studies in one folder.
    """
    path = Path(out) / SWEEP_FILE
    if path.is_file():
        try:
            existing = [run["name"] for run in json.loads(path.read_text())["runs"]]
        except (json.JSONDecodeError, KeyError, TypeError):
            existing = None  # unreadable: replaced below
        names = [run.name for run in runs]
        if existing is not None and existing != names:
            new = next((name for name in names if name not in existing), None)
            example = f" (e.g. {new} is new)" if new else ""
            raise InputError(
                f"{path}: lists other runs than this sweep{example}; use another --out or remove it"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_stale_temporaries(path.parent)
    clear_stale_temporaries(path.parent / STATUS)
    atomic_write_json(path, {"runs": [run.to_dict() for run in runs]})
    return path


def _selected(runs: Sequence[SweepRun], only: Sequence[int] | None) -> list[SweepRun]:
    if only is None:
        return list(runs)
    outside = [number for number in only if not 0 <= number < len(runs)]
    if outside:
        raise InputError(f"--run {outside[0]}: the sweep has runs 0 to {len(runs) - 1}")
    return [runs[number] for number in sorted(set(only))]


def local_executor(
    groups: Sequence[Sequence[SweepRun]], out: Path, workers: int | None, batching: str = "vmap"
) -> Iterator[RunResult]:
    """The results of the runs of ``groups`` in this process (``workers`` 1) or in ``workers``
    spawned processes, a group at a time in each."""
    workers = workers or 1
    if workers == 1:
        for group in groups:
            yield from run_group(group, out, batching=batching)
        return
    threads = max(1, available_cpus() // workers)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(run_group, group, out, threads, batching): group for group in groups}
        for future in as_completed(futures):
            try:
                yield from future.result()
            except Exception as error:  # noqa: BLE001 - the worker process died (BrokenProcessPool)
                yield from (failed(run, out, time.time(), error) for run in futures[future])


def _cpus(run: SweepRun) -> int:
    """The CPUs a Ray task reserves for ``run``: its ``threads`` setting, 1 when unset."""
    return run.config.train.threads or 1


def ray_executor(
    groups: Sequence[Sequence[SweepRun]], out: Path, workers: int | None, address: str | None, batching: str = "vmap"
) -> Iterator[RunResult]:
    """The results of the runs of ``groups``, one Ray task per group, on a local Ray instance
    or the cluster at ``address``."""
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray: Ray is not installed (pip install 'disentangle[ray]')") from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False)
        except ConnectionError as error:
            raise InputError(f"--address {address}: no Ray cluster reached ({one_line(error)})") from None
    try:
        if address is None:  # a task asking for more CPUs than the instance has would wait forever
            available = ray.cluster_resources().get("CPU", 0)
            too_big = next((group[0] for group in groups if _cpus(group[0]) > available), None)
            if too_big is not None:
                raise InputError(
                    f"train.threads {_cpus(too_big)} of run {too_big.number}: more than the "
                    f"{available:g} CPUs of the local Ray instance (raise --workers)"
                )
        remote_group = ray.remote(max_retries=0)(run_group)
        queue, pending = list(groups), {}
        limit = workers or len(queue)
        while queue or pending:
            while queue and len(pending) < limit:
                group = queue.pop(0)
                run = group[0]
                gpus = 1 if run.config.train.device.startswith("cuda") else 0
                task = remote_group.options(num_cpus=_cpus(run), num_gpus=gpus).remote(group, out, _cpus(run), batching)
                pending[task] = (group, time.time())
            (ready,), _ = ray.wait(list(pending), num_returns=1)
            group, submitted = pending.pop(ready)
            try:
                yield from ray.get(ready)
            except ray.exceptions.RayError as error:  # the task's worker died
                yield from (failed(run, out, submitted, error) for run in group)
    finally:
        if started_here:
            ray.shutdown()


def run_sweep(
    spec: dict | str | Path | Sequence[SweepRun],
    out: str | Path,
    executor: str = "local",
    workers: int | None = None,
    only: Sequence[int] | None = None,
    address: str | None = None,
    report: Callable[[RunResult], None] | None = None,
    pack: int = 1,
    batching: str = "vmap",
) -> list[RunResult]:
    """Run the sweep ``spec`` (a sweep file, its parsed content or its expanded runs) into ``out``.

    ``only``: the numbers of the runs to run (an array job's index); ``report`` is
    called with each result as it arrives; ``pack``: train up to this many compatible
    runs packed in one process (``sweep.packing``), evaluated by ``batching``
    (``disentangle.train.packed.BATCHINGS``). Returns the results in run-number order.
    """
    runs = list(spec) if isinstance(spec, (list, tuple)) else expand_sweep(spec)
    if executor not in EXECUTORS:
        raise InputError(f"--executor: unknown '{executor}' (expected one of {', '.join(EXECUTORS)})")
    if workers is not None and workers < 1:
        raise InputError(f"--workers: must be an integer ≥ 1, got {workers}")
    if address is not None and executor != "ray":
        raise InputError("--address: only with --executor ray")
    if batching not in BATCHINGS:
        raise InputError(f"--batching: expected one of {', '.join(BATCHINGS)}, got {batching!r}")
    groups = group_runs(_selected(runs, only), pack)
    out = Path(out).resolve()
    write_sweep_file(out, runs)
    results = (
        local_executor(groups, out, workers, batching)
        if executor == "local"
        else ray_executor(groups, out, workers, address, batching)
    )
    collected = []
    for result in results:
        collected.append(result)
        if report is not None:
            report(result)
    return sorted(collected, key=lambda result: result.number)
