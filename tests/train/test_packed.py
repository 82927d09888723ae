"""A packed group against each of its runs trained alone: the same weights within the
stated tolerance, the same random streams exactly, ordinary run folders, and a resumed
group bit for bit the uninterrupted one, also after SIGKILLs at any moment.

The tolerance (docs/packing.md, the ``assert_packed_as_alone`` fixture): every weight
and optimizer-moment tensor of a packed model within rms(Δ) ≤ 1e-4·rms(w) + 0.01·lr·steps
of its run alone. Batched matmuls and grouped convolutions sum in another order, and Adam
or Adagrad turn a gradient that cancels to near zero into a step of up to the learning
rate whichever its sign, so a few weights may differ by a fraction of the learning
rate while the tensor as a whole agrees far closer."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from disentangle.errors import InputError, TrainingDiverged
from disentangle.models import MODELS
from disentangle.train import RunConfig, load_run, resume, train
from disentangle.train import packed as packed_module
from disentangle.train.packed import packing_key, train_packed
from disentangle.run_folder import checkpoint_paths, last_checkpoint_step, read_log

#: for each packable model, two runs differing in the seed and in every packable setting
GROUPS = {
    "vae": [{}, {}],
    "ae": [{}, {}],
    "beta-vae": [{"beta": 1.0}, {"beta": 6.0}],
    "annealed-vae": [{"gamma": 100.0, "c_max": 5.0, "iteration_threshold": 3},
                     {"gamma": 1000.0, "c_max": 25.0, "iteration_threshold": 3}],
    "beta-tcvae": [{"beta": 2.0}, {"beta": 8.0}],
    "dip-vae-i": [{"lambda_od": 1.0, "lambda_d_factor": 10.0}, {"lambda_od": 10.0, "lambda_d_factor": 1.0}],
    "dip-vae-ii": [{"lambda_od": 2.0, "lambda_d_factor": 1.0}, {"lambda_od": 20.0, "lambda_d_factor": 5.0}],
}
QUICK = {"batch_size": 8, "learning_rate": 1e-3, "log_every": 2, "checkpoint_every": 2, "keep_checkpoints": 5}


@pytest.fixture(autouse=True)
def _small_mlp(small_mlp):
    """Every test here may use 'small-mlp' (one hidden layer of 48 units)."""


def _config(model: str, seed: int, steps: int, data: str = "digits", architecture: str = "small-mlp", **settings):
    return RunConfig.from_keywords(model, data, seed=seed, steps=steps, architecture=architecture,
                                   **{**QUICK, **settings})


def _final(run) -> dict[str, torch.Tensor]:
    return load_file(str(checkpoint_paths(run)[-1]))


def test_every_packable_model_has_a_group_here_that_varies_all_its_packable_settings():
    packable = {name for name, cls in MODELS.items() if cls.packable_settings is not None}
    assert set(GROUPS) == packable
    for name, runs in GROUPS.items():
        varied = {key for key in runs[0] if runs[0][key] != runs[1][key]}
        assert varied == set(MODELS[name].packable_settings), name


@pytest.mark.parametrize("model", sorted(GROUPS))
def test_each_model_of_a_group_ends_as_its_run_trained_alone(tmp_path, model, assert_packed_as_alone):
    configs = [_config(model, seed, 4, **values) for seed, values in zip((3, 8), GROUPS[model])]
    train_packed([tmp_path / "packed-0", tmp_path / "packed-1"], configs)
    for k, config in enumerate(configs):
        alone = train(tmp_path / f"alone-{k}", config, progress=False)
        packed = tmp_path / f"packed-{k}"
        assert_packed_as_alone(_final(packed), _final(alone), 1e-3, 4)
        assert json.loads((packed / "config.json").read_text()) == json.loads((alone / "config.json").read_text())
        log, log_alone = read_log(packed), read_log(alone)
        assert [line["step"] for line in log] == [line["step"] for line in log_alone] == [2, 4]
        assert log[-1]["loss"] == pytest.approx(log_alone[-1]["loss"], rel=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("batching", ["vmap", "loop"])
def test_a_conv_group_ends_as_its_runs_alone(tmp_path, assert_packed_as_alone, batching):
    images = (np.random.default_rng(0).random((32, 16, 16)) < 0.3).astype(np.uint8) * 255
    np.save(tmp_path / "images.npy", images)
    configs = [
        RunConfig.from_keywords("beta-vae", "array", {"path": str(tmp_path / "images.npy")}, seed=seed, steps=4,
                                beta=beta, architecture="conv", **QUICK)
        for seed, beta in ((0, 1.0), (1, 4.0), (2, 16.0))
    ]
    outs = [tmp_path / f"packed-{k}" for k in range(3)]
    train_packed(outs, configs, batching=batching)
    for k, config in enumerate(configs):
        alone = _final(train(tmp_path / f"alone-{k}", config, progress=False))
        assert_packed_as_alone(_final(outs[k]), alone, 1e-3, 4)


def test_a_group_evaluated_one_model_after_the_other_ends_bit_for_bit_as_its_mlp_runs_alone(tmp_path):
    configs = [_config("beta-tcvae", seed, 4, beta=beta) for seed, beta in ((0, 2.0), (1, 6.0))]
    train_packed([tmp_path / "loop-0", tmp_path / "loop-1"], configs, batching="loop")
    for k, config in enumerate(configs):
        alone, packed = _final(train(tmp_path / f"alone-{k}", config, progress=False)), _final(tmp_path / f"loop-{k}")
        assert all(torch.equal(packed[key], alone[key]) for key in alone)
    with pytest.raises(InputError, match=r"^--batching: expected one of vmap, loop, got 'grouped'$"):
        train_packed([tmp_path / "a", tmp_path / "b"], configs, batching="grouped")


def test_batches_gathered_from_observations_held_on_the_device_change_nothing(tmp_path):
    configs = [_config("beta-vae", seed, 2, beta=4.0) for seed in (0, 1)]
    train_packed([tmp_path / "host-0", tmp_path / "host-1"], configs)
    train_packed([tmp_path / "held-0", tmp_path / "held-1"], configs, device_data=True)
    for k in range(2):
        host, held = _final(tmp_path / f"host-{k}"), _final(tmp_path / f"held-{k}")
        assert all(torch.equal(host[key], held[key]) for key in host)


def test_a_group_resumed_after_a_kill_ends_bit_for_bit_as_the_uninterrupted_group(tmp_path, monkeypatch):
    configs = [_config("beta-tcvae", seed, 6, beta=beta) for seed, beta in ((0, 2.0), (5, 6.0))]
    straight = [tmp_path / f"straight-{k}" for k in range(2)]
    killed = [tmp_path / f"killed-{k}" for k in range(2)]
    train_packed(straight, configs)
    draw, calls = packed_module._batches, []

    def dies_in_step_5(*args):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return draw(*args)

    monkeypatch.setattr(packed_module, "_batches", dies_in_step_5)
    with pytest.raises(KeyboardInterrupt):
        train_packed(killed, configs)
    monkeypatch.setattr(packed_module, "_batches", draw)
    assert [path.name for path in checkpoint_paths(killed[0])][-1] == "step-00000004.safetensors"
    train_packed(killed, configs)
    for a, b in zip(straight, killed):
        final_a, final_b = _final(a), _final(b)
        assert all(torch.equal(final_a[key], final_b[key]) for key in final_a)
        assert [line["step"] for line in read_log(b)] == [2, 4, 6]


def test_a_packed_run_resumes_alone_and_loads_as_any_run(tmp_path, assert_packed_as_alone):
    configs = [_config("beta-vae", seed, 3, beta=4.0) for seed in (0, 1)]
    outs = [tmp_path / "packed-0", tmp_path / "packed-1"]
    train_packed(outs, configs)
    resume(outs[1], steps=6, progress=False)
    alone = train(tmp_path / "alone", configs[1].with_train(steps=6), progress=False)
    assert_packed_as_alone(_final(outs[1]), _final(alone), 1e-3, 6)
    loaded = load_run(outs[1])
    assert loaded.step == 6 and loaded.model.encode(loaded.dataset.observations([0, 1])).shape == (2, 10)


def test_runs_pack_together_only_when_they_differ_in_seeds_and_packable_settings():
    base = _config("beta-vae", 0, 4, beta=1.0)
    assert packing_key(base) == packing_key(_config("beta-vae", 9, 4, beta=8.0))
    for other in (_config("beta-vae", 0, 5), _config("beta-vae", 0, 4, learning_rate=1e-4),
                  _config("beta-vae", 0, 4, architecture="conv", data="dsprites"), _config("vae", 0, 4),
                  _config("beta-vae", 0, 4, latent_dim=5)):
        assert packing_key(other) != packing_key(base)
    assert packing_key(_config("factor-vae", 0, 4)) is None
    assert packing_key(_config("s2-beta-vae", 0, 4, data="dsprites")) is None


def test_a_group_refuses_incompatible_runs_and_runs_left_at_different_steps(tmp_path):
    with pytest.raises(InputError, match=r"b: cannot be packed with .*a \(they differ in more than the seed"):
        train_packed([tmp_path / "a", tmp_path / "b"], [_config("beta-vae", 0, 2), _config("beta-vae", 1, 2,
                                                                                            learning_rate=0.1)])
    with pytest.raises(InputError, match=r"a: model factor-vae trains alone"):
        train_packed([tmp_path / "a", tmp_path / "b"], [_config("factor-vae", 0, 2), _config("factor-vae", 1, 2)])
    train(tmp_path / "ahead", _config("vae", 0, 2), progress=False)
    with pytest.raises(InputError, match=r"its runs' last checkpoints are at steps \[2, 0\]"):
        train_packed([tmp_path / "ahead", tmp_path / "new"], [_config("vae", 0, 4), _config("vae", 1, 4)])
    assert not (tmp_path / "new").exists()


def test_a_model_whose_loss_turns_non_finite_is_named(tmp_path):
    diverging = {"gamma": 3e38, "c_max": 1e6, "iteration_threshold": 1}  # γ·|KL − 10⁶| overflows
    configs = [_config("annealed-vae", 0, 3, **{**diverging, "gamma": 1.0}), _config("annealed-vae", 1, 3, **diverging)]
    with pytest.raises(TrainingDiverged, match=r"diverge-1: step [12]: loss term 'loss' is (inf|nan) \(expected finite\)"):
        train_packed([tmp_path / "diverge-0", tmp_path / "diverge-1"], configs)


#: what the killed process runs: a three-run packed group of a sweep (``run_group``, as ``sweep
#: --pack 3`` runs it) on this suite's 'small-mlp' nets, a checkpoint every step, one thread; one
#: model after the other, so that a run regrouped or resumed alone ends bit for bit as in the group.
#: Given a step and n, it kills itself inside the n-th checkpoint write of that step, after the
#: bytes reach the temporary file and before its rename (a kill no timing could place reliably)
KILLED_GROUP = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("suite_conftest", sys.argv[1])
conftest = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conftest)
from disentangle import nets
nets.register_architecture("small-mlp", conftest._small_encoder, conftest._small_decoder)
if len(sys.argv) > 4:  # killed inside the n-th checkpoint write of a step, its bytes on disk, unrenamed
    import os, signal
    from disentangle import run_folder
    from disentangle.train import checkpoint
    cut_step, cut_write = int(sys.argv[4]), int(sys.argv[5])
    write, writes = checkpoint.atomic_write_bytes, []
    def cut(path, data):
        writes.extend([path] if path.name == f"step-{cut_step:08d}.safetensors" else [])
        if len(writes) == cut_write:
            run_folder.os.replace = lambda *_: os.kill(os.getpid(), signal.SIGKILL)
        write(path, data)
    checkpoint.atomic_write_bytes = cut
from disentangle.sweep import expand_sweep
from disentangle.sweep.execute import run_group
results = run_group(expand_sweep(json.loads(sys.argv[3])), sys.argv[2], batching="loop")
sys.exit(0 if all(result.state == "done" for result in results) else 1)
"""
KILLED_STEPS = 100
KILLED_SPEC = {
    "model": {"name": "beta-tcvae", "architecture": "small-mlp", "latent_dim": 4}, "data": {"name": "digits"},
    "train": {"batch_size": 8, "checkpoint_every": 1, "keep_checkpoints": 2, "log_every": 2, "threads": 1},
    "steps": KILLED_STEPS, "grid": {"model.beta": [2.0, 6.0, 9.0]}, "seeds": [0], "evaluate": False,
}


def _group_command(out, cut_at: tuple[int, int] = ()) -> list[str]:
    """The group's command line; ``cut_at=(step, n)`` kills it inside the n-th checkpoint write
    of ``step``."""
    conftest = Path(__file__).resolve().parents[1] / "conftest.py"
    return [sys.executable, "-c", KILLED_GROUP, str(conftest), str(out), json.dumps(KILLED_SPEC), *map(str, cut_at)]


def _cut(out, step: int, write: int) -> None:
    """Run the group until it kills itself inside the ``write``-th checkpoint write of ``step``."""
    ended = subprocess.run(_group_command(out, (step, write)), capture_output=True, text=True)
    assert ended.returncode == -signal.SIGKILL, f"the group was not cut at step {step}: {ended.stderr}"


def _kill(command: list[str], ready, delay: float = 0.0) -> None:
    """Start ``command``, wait until ``ready()`` holds, then SIGKILL it ``delay`` seconds later."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    while not ready() and process.poll() is None and time.monotonic() - started < 120:
        time.sleep(0.002)
    time.sleep(delay)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, f"the group ended before the kill: {process.stderr.read()}"


def _temporaries(run) -> list[str]:
    return [path.name for folder in (run, run / "checkpoints") if folder.is_dir()
            for path in folder.iterdir() if path.name.endswith(".tmp")]


def _check_consistent(folders) -> None:
    """Every checkpoint of every run folder reads as one (format, step, checksums, random
    states), and a folder with checkpoints holds a config.json and loads as a run."""
    from disentangle.train.checkpoint import read_checkpoint

    for folder in folders:
        for path in checkpoint_paths(folder):
            assert read_checkpoint(path).step == int(path.stem.removeprefix("step-")), path
        if checkpoint_paths(folder):
            assert load_run(folder).step == last_checkpoint_step(folder)


@pytest.mark.slow
def test_a_group_killed_with_sigkill_at_any_moment_ends_each_run_as_the_uninterrupted_group(tmp_path):
    from disentangle.sweep import expand_sweep
    from disentangle.sweep.execute import run_path

    runs = expand_sweep(KILLED_SPEC)
    reference, out = tmp_path / "reference", tmp_path / "killed"
    finished = subprocess.run(_group_command(reference), capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    folders = [run_path(out, run) for run in runs]

    def steps():
        return [last_checkpoint_step(folder) for folder in folders]

    def cut_checkpoint_writes():
        return [path for folder in folders if (folder / "checkpoints").is_dir()
                for path in (folder / "checkpoints").iterdir() if path.name.endswith(".tmp")]

    # killed inside the first checkpoint write: every run wrote its config.json, none a checkpoint
    _cut(out, 1, 1)
    assert all((f / "config.json").exists() for f in folders)
    assert steps() == [0, 0, 0] and cut_checkpoint_writes()
    _check_consistent(folders)
    # killed inside the second run's checkpoint write of step 6: the first run is one step ahead,
    # the temporary of the cut write is left, and the next attempt regroups the runs by step
    _cut(out, 6, 2)
    assert steps() == [6, 5, 5], steps()
    assert [path.parent.parent for path in cut_checkpoint_writes()] == [folders[1]]
    _check_consistent(folders)
    # killed in the regrouped attempt, a few steps on, at a random moment of a step
    rng = random.Random(0)
    target = max(steps()) + rng.randint(1, 12)
    _kill(_group_command(out), lambda: max(steps()) >= target, rng.uniform(0, 0.03))
    assert len(set(steps())) > 1
    assert max(steps()) < KILLED_STEPS
    _check_consistent(folders)
    finished = subprocess.run(_group_command(out), capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr

    _check_consistent(folders)
    for run, folder in zip(runs, folders):
        mine, theirs = load_file(str(checkpoint_paths(folder)[-1])), _final(run_path(reference, run))
        assert checkpoint_paths(folder)[-1].name == f"step-{KILLED_STEPS:08d}.safetensors"
        assert mine.keys() == theirs.keys()
        different = [key for key in mine if not torch.equal(mine[key], theirs[key])]
        assert not different, f"{run.name}: tensors that differ from the uninterrupted group: {different}"
        assert [line["step"] for line in read_log(folder)] == list(range(2, KILLED_STEPS + 1, 2))
        assert not _temporaries(folder)
