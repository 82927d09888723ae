import json
import sys

import pytest

from disentangle.errors import InputError
from disentangle.resources import available_cpus
from disentangle.sweep.execute import is_finished, run_path
from disentangle.sweep.executors import run_sweep
from disentangle.sweep.spec import expand_sweep

MISSING_FILE = "/nowhere/dsprites.npz"


def _with_a_failing_run(tiny) -> dict:
    """Three runs; the last one reads a dSprites file that does not exist."""
    return tiny(
        grid={}, list=[{"model.beta": 1}, {"model.beta": 4}, {"data.path": MISSING_FILE, "model.beta": 2}]
    )


def _check_one_failed_and_the_others_finished(results, runs, out):
    assert [(r.number, r.state) for r in results] == [(0, "done"), (1, "done"), (2, "failed")]
    assert results[2].error.startswith(f"{MISSING_FILE}: no such file")
    for run in runs:
        assert is_finished(run, run_path(out, run)) == (run.number != 2)
    status = json.loads((out / "status" / f"{runs[2].name}.json").read_text())
    assert status["state"] == "failed" and "Traceback" in status["traceback"]


def test_the_local_executor_runs_one_after_another_isolates_a_failure_and_skips_on_relaunch(tmp_path, tiny):
    spec = _with_a_failing_run(tiny)
    runs = expand_sweep(spec)
    assert [run.name for run in runs] == [
        "0000-beta-vae-beta=1",
        "0001-beta-vae-beta=4",
        "0002-beta-vae-path=_nowhere_dsprites.npz-beta=2",
    ]
    reported = []
    results = run_sweep(spec, tmp_path, report=reported.append)
    assert sorted(reported, key=lambda r: r.number) == results
    _check_one_failed_and_the_others_finished(results, runs, tmp_path)
    swept = json.loads((tmp_path / "sweep.json").read_text())
    assert [run["name"] for run in swept["runs"]] == [run.name for run in runs]
    assert swept["runs"][1]["model"] == runs[1].config.to_dict()["model"]
    again = run_sweep(spec, tmp_path)
    assert [r.state for r in again] == ["skipped", "skipped", "failed"]


@pytest.mark.slow
def test_two_local_worker_processes_share_the_cores(tmp_path, tiny):
    spec = tiny(seeds=[0, 1], grid={"model.beta": [4]})
    results = run_sweep(spec, tmp_path, workers=2)
    assert [r.state for r in results] == ["done", "done"]
    for run in expand_sweep(spec):
        config = json.loads((run_path(tmp_path, run) / "config.json").read_text())
        assert config["train"]["threads"] == max(1, available_cpus() // 2)
        assert json.loads((run_path(tmp_path, run) / "metrics.json").read_text())["checkpoint_step"] == 4


@pytest.mark.slow
def test_the_ray_executor_on_a_local_instance_with_two_cpus(tmp_path, tiny):
    spec = _with_a_failing_run(tiny)
    runs = expand_sweep(spec)
    results = run_sweep(spec, tmp_path, executor="ray", workers=2)
    _check_one_failed_and_the_others_finished(results, runs, tmp_path)
    config = json.loads((run_path(tmp_path, runs[0]) / "config.json").read_text())
    assert config["train"]["threads"] == 1


@pytest.mark.slow
def test_a_run_needing_more_cpus_than_the_local_ray_instance_is_refused_rather_than_left_waiting(
    tmp_path, tiny
):
    spec = tiny(train={"batch_size": 8, "threads": 3})
    with pytest.raises(
        InputError, match="train.threads 3 of run 0: more than the 2 CPUs of the local Ray instance"
    ):
        run_sweep(spec, tmp_path, executor="ray", workers=2)


def test_only_the_runs_named_by_number_are_run_as_in_an_array_job(tmp_path, tiny):
    spec = tiny(evaluate=False)
    assert [r.name for r in run_sweep(spec, tmp_path, only=[1])] == ["0001-beta-vae-beta=4"]
    assert not run_path(tmp_path, expand_sweep(spec)[0]).exists()
    assert len(json.loads((tmp_path / "sweep.json").read_text())["runs"]) == 2
    with pytest.raises(InputError, match="--run 2: the sweep has runs 0 to 1"):
        run_sweep(spec, tmp_path, only=[2])


def test_a_folder_holding_another_sweep_is_refused(tmp_path, tiny):
    run_sweep(tiny(evaluate=False), tmp_path, only=[])
    with pytest.raises(
        InputError, match=r"sweep.json: lists other runs than this sweep \(e.g. 0000-beta-vae-beta=2"
    ):
        run_sweep(tiny(evaluate=False, grid={"model.beta": [2, 4]}), tmp_path)
    run_sweep(tiny(evaluate={"metrics": ["mig"]}, steps=8), tmp_path, only=[])


@pytest.mark.parametrize(
    "options, message",
    [
        ({"executor": "slurm"}, "--executor: unknown 'slurm'"),
        ({"workers": 0}, "--workers: must be an integer ≥ 1"),
        ({"address": "10.0.0.1:6379"}, "--address: only with --executor ray"),
    ],
)
def test_bad_executor_options_are_named(tmp_path, tiny, options, message):
    with pytest.raises(InputError, match=message):
        run_sweep(tiny(), tmp_path, **options)


def test_without_ray_installed_the_ray_executor_says_how_to_install_it(tmp_path, tiny, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(
        InputError, match=r"^--executor ray: Ray is not installed \(pip install 'disentangle\[ray\]'\)$"
    ):
        run_sweep(tiny(), tmp_path, executor="ray")
