"""Sweeps with ``--pack K``: which runs are grouped, that a packed sweep gives the runs
an unpacked one gives (within the packing tolerance), that a failing model of a
group fails alone, and that runs left at different checkpoint steps resume in groups
by step."""

from __future__ import annotations

import json
import re

import pytest
import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file

from disentangle.cli import main
from disentangle.errors import InputError
from disentangle.sweep import aggregate, expand_sweep, run_sweep
from disentangle.sweep.execute import run_path
from disentangle.sweep.packing import group_runs
from disentangle.train.packed import packing_key
from disentangle.run_folder import checkpoint_paths

#: runs of three packable kinds (two β-VAE settings × learning rates, a VAE) and a model that trains alone
MIXED = {
    "model": {"name": "beta-vae", "architecture": "mlp"},
    "data": {"name": "dsprites"},
    "steps": 4,
    "list": [
        {"model.name": "beta-vae", "model.beta": [1, 4, 8], "train.learning_rate": [1e-4, 1e-3]},
        {"model.name": "factor-vae"},
        {"model.name": "vae"},
    ],
    "seeds": [0, 1, 2],
    "evaluate": False,
}


@pytest.fixture(scope="module")
def mixed_runs():
    return expand_sweep(MIXED)


@settings(max_examples=40, deadline=None)
@given(pack=st.integers(1, 8), picked=st.lists(st.booleans(), min_size=24, max_size=24))
def test_groups_partition_the_runs_into_full_groups_of_compatible_runs(mixed_runs, pack, picked):
    runs = [run for run, keep in zip(mixed_runs, picked) if keep]
    groups = group_runs(runs, pack)
    assert sorted(run.number for group in groups for run in group) == [run.number for run in runs]
    assert [group[0].number for group in groups] == sorted(group[0].number for group in groups)
    per_key: dict = {}
    for group in groups:
        keys = {packing_key(run.config) for run in group}
        assert len(keys) == 1 and 1 <= len(group) <= pack
        assert [run.number for run in group] == sorted(run.number for run in group)
        if None in keys or pack == 1:
            assert len(group) == 1
        per_key.setdefault(keys.pop(), []).append(len(group))
    for key, sizes in per_key.items():
        if key is not None and pack > 1:
            assert all(size == pack for size in sizes[:-1])  # only a key's last group may be short


def test_pack_must_be_a_positive_integer_and_batching_known(mixed_runs):
    with pytest.raises(InputError, match=r"^--pack: must be an integer ≥ 1, got 0$"):
        group_runs(mixed_runs, 0)
    with pytest.raises(InputError, match=r"^--batching: expected one of vmap, loop, got 'grouped'$"):
        run_sweep(mixed_runs, "unused", pack=2, batching="grouped")


def test_list_with_pack_prints_the_groups(tmp_path, tiny, capsys):
    path = tmp_path / "s.yaml"
    entries = [{"model.name": "beta-vae", "model.beta": [1, 4]}, {"model.name": "factor-vae"}]
    path.write_text(yaml.safe_dump(tiny(seeds=[0, 1], grid={}, list=entries)))
    assert main(["sweep", str(path), "--list", "--pack", "3"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "group 0 (3 runs packed): 0000-beta-vae-beta=1-seed=0 0001-beta-vae-beta=1-seed=1 0002-beta-vae-beta=4-seed=0",
        "group 1 (alone, beta-vae no other run to pack it with): 0003-beta-vae-beta=4-seed=1",
        "group 2 (alone, factor-vae trains alone): 0004-factor-vae-seed=0",
        "group 3 (alone, factor-vae trains alone): 0005-factor-vae-seed=1",
    ]
    assert not (tmp_path / "runs").exists()


@pytest.fixture
def small_model(small_mlp):
    """A β-VAE section on 'small-mlp' nets."""
    return {"name": "beta-vae", "architecture": small_mlp, "latent_dim": 4}


@pytest.mark.slow
def test_a_packed_sweep_gives_the_runs_of_an_unpacked_one_scored_and_aggregated(tmp_path, tiny, small_model, assert_packed_as_alone):
    spec = tiny(model=small_model)
    packed = run_sweep(spec, tmp_path / "packed", pack=4)
    alone = run_sweep(tiny(model=small_model, evaluate=False), tmp_path / "alone")
    assert [r.state for r in packed] == [r.state for r in alone] == ["done"] * 2
    for run in expand_sweep(spec):
        a = load_file(str(checkpoint_paths(run_path(tmp_path / "packed", run))[-1]))
        b = load_file(str(checkpoint_paths(run_path(tmp_path / "alone", run))[-1]))
        assert_packed_as_alone(a, b, run.config.train.learning_rate, run.steps)
        scores = json.loads((run_path(tmp_path / "packed", run) / "metrics.json").read_text())
        assert scores["checkpoint_step"] == 4 and "mig" in scores["results"]
    assert [r.state for r in run_sweep(spec, tmp_path / "packed", pack=4)] == ["skipped"] * 2
    assert len(aggregate(tmp_path / "packed")) == 2


@pytest.mark.slow
def test_a_model_of_a_group_that_diverges_fails_alone_and_the_others_finish(tmp_path, tiny, small_model):
    model = {**small_model, "name": "annealed-vae", "c_max": 1e6, "iteration_threshold": 1}
    spec = tiny(model=model, grid={"model.gamma": [1.0, 3e38, 2.0]}, evaluate=False, steps=2)  # γ·|KL − 10⁶| overflows
    results = run_sweep(spec, tmp_path, pack=3, batching="loop")
    assert [r.state for r in results] == ["done", "failed", "done"]
    assert re.match(r"step [12]: loss term 'loss' is (inf|nan) \(expected finite\)", results[1].error)
    status = json.loads((tmp_path / "status" / f"{results[1].name}.json").read_text())
    assert status["state"] == "failed"


def _regrouping_spec(small_mlp, betas, seeds):
    """β-TCVAE runs of ``betas`` × ``seeds`` on 'small-mlp' nets and the digits, six steps, a
    checkpoint every two (all kept), trained only."""
    return {"model": {"name": "beta-tcvae", "architecture": small_mlp, "latent_dim": 4},
            "data": {"name": "digits"},
            "train": {"batch_size": 8, "checkpoint_every": 2, "keep_checkpoints": 5, "log_every": 2},
            "steps": 6, "grid": {"model.beta": betas}, "seeds": seeds, "evaluate": False}


@pytest.mark.parametrize("betas, seeds, dies_at, packed, alone", [
    # four runs, killed in the step-4 checkpoints after runs 0 and 1 wrote theirs: two groups of two
    ([2.0, 6.0], [0, 1], 7, [[0, 1], [2, 3]], []),
    # three runs, killed after run 0 wrote its step-4 checkpoint: run 0 alone, runs 1 and 2 packed
    ([2.0, 6.0, 9.0], [0], 5, [[1, 2]], [0]),
], ids=["two-groups-of-two", "one-alone-two-packed"])
def test_runs_left_at_different_checkpoint_steps_resume_in_groups_by_step_bit_for_bit(
        tmp_path, monkeypatch, small_mlp, betas, seeds, dies_at, packed, alone):
    # One model after the other ("loop"): a packed MLP run is then bit for bit its run alone,
    # so that a run regrouped with fewer others, or resumed alone, must end exactly as in the group.
    import disentangle.sweep.execute as execute
    import disentangle.train.packed as packed_module
    from disentangle.sweep.execute import run_group
    from disentangle.run_folder import last_checkpoint_step, read_log

    runs = expand_sweep(_regrouping_spec(small_mlp, betas, seeds))
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert [r.state for r in run_group(runs, straight, batching="loop")] == ["done"] * len(runs)

    save, saves = packed_module.write_checkpoint, []

    def dies_in_a_checkpoint(*args, **kwargs):
        saves.append(1)
        if len(saves) == dies_at:
            raise KeyboardInterrupt  # not an Exception: run_group does not catch it
        return save(*args, **kwargs)

    monkeypatch.setattr(packed_module, "write_checkpoint", dies_in_a_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        run_group(runs, killed, batching="loop")
    monkeypatch.setattr(packed_module, "write_checkpoint", save)
    steps = [last_checkpoint_step(run_path(killed, run)) for run in runs]
    assert sorted(set(steps)) == [2, 4] and len(steps) == len(runs)

    number = {run_path(killed, run): run.number for run in runs}
    packed_calls, alone_calls = [], []
    train_packed, train_or_resume = execute.train_packed, execute.train_or_resume

    def packed_group(outs, configs, **options):
        packed_calls.append([number[out] for out in outs])
        return train_packed(outs, configs, **options)

    def one_run(out, config, **options):
        alone_calls.append(number[out])
        return train_or_resume(out, config, **options)

    monkeypatch.setattr(execute, "train_packed", packed_group)
    monkeypatch.setattr(execute, "train_or_resume", one_run)
    assert [r.state for r in run_group(runs, killed, batching="loop")] == ["done"] * len(runs)
    assert packed_calls == packed and alone_calls == alone
    assert all(steps[k] == steps[group[0]] for group in packed for k in group)
    for run in runs:
        a, b = (load_file(str(checkpoint_paths(run_path(out, run))[-1])) for out in (straight, killed))
        assert checkpoint_paths(run_path(killed, run))[-1].name == "step-00000006.safetensors"
        assert a.keys() == b.keys()
        assert [key for key in a if not torch.equal(a[key], b[key])] == [], run.name
        assert [line["step"] for line in read_log(run_path(killed, run))] == [2, 4, 6]
