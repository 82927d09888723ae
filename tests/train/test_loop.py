import json

import pytest
import torch
from safetensors.torch import load_file

from disentangle.errors import InputError, TrainingDiverged
from disentangle.models.vae import BetaVAE
from disentangle.train import load_run, resume, train, train_or_resume
from disentangle.run_folder import checkpoint_paths, read_log

QUIET = {"progress": False}


def _weights(path):
    return {k: v for k, v in load_file(str(path)).items() if k.startswith("model.")}


def test_short_training_run_lowers_the_loss(tmp_path):
    run = train(tmp_path / "run", "beta-vae", "dsprites", steps=150, batch_size=32, beta=4.0,
                learning_rate=5e-4, log_every=25, **QUIET)
    log = read_log(run)
    assert [line["step"] for line in log] == [25, 50, 75, 100, 125, 150]
    assert log[-1]["loss"] < 0.5 * log[0]["loss"]
    assert {"loss", "recon", "kl", "kl_per_dim", "time", "images_per_second"} <= log[0].keys()


def test_run_folder_holds_config_checkpoints_log_and_tensorboard_events(tmp_path):
    run = train(tmp_path / "run", "beta-vae", "dsprites", steps=4, batch_size=8, beta=4.0, log_every=2,
                checkpoint_every=2, keep_checkpoints=5, seed=3, **QUIET)
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == {"name": "beta-vae", "latent_dim": 10, "likelihood": "bernoulli",
                               "gaussian_std": pytest.approx(0.7071067811865476), "architecture": "auto",
                               "beta": 4.0}
    assert config["data"]["name"] == "dsprites" and config["train"]["seed"] == 3
    assert config["environment"]["disentangle"]
    assert [p.name for p in checkpoint_paths(run)] == ["step-00000002.safetensors", "step-00000004.safetensors"]
    assert list(run.glob("events.out.tfevents.*"))
    loaded = load_run(run)
    assert loaded.step == 4 and not loaded.model.training


def test_equal_seeds_give_equal_runs_and_other_seeds_differ(tmp_path):
    common = dict(steps=3, batch_size=8, **QUIET)
    a = train(tmp_path / "a", "vae", "dsprites", seed=1, **common)
    b = train(tmp_path / "b", "vae", "dsprites", seed=1, **common)
    c = train(tmp_path / "c", "vae", "dsprites", seed=2, **common)
    wa, wb, wc = (_weights(checkpoint_paths(r)[-1]) for r in (a, b, c))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(tmp_path):
    common = dict(batch_size=16, beta=4.0, log_every=2, checkpoint_every=5, seed=7, **QUIET)
    straight = train(tmp_path / "straight", "beta-vae", "dsprites", steps=12, **common)
    interrupted = train(tmp_path / "interrupted", "beta-vae", "dsprites", steps=5, **common)
    resume(interrupted, steps=12, progress=False)
    final_a, final_b = checkpoint_paths(straight)[-1], checkpoint_paths(interrupted)[-1]
    assert final_a.name == final_b.name == "step-00000012.safetensors"
    wa, wb = _weights(final_a), _weights(final_b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert [line["step"] for line in read_log(interrupted)] == [2, 4, 5, 6, 8, 10, 12]
    assert json.loads((interrupted / "config.json").read_text())["train"]["steps"] == 12


def test_adagrad_is_available_for_the_higgins_setting(tmp_path):
    run = train(tmp_path / "run", "beta-vae", "dsprites", steps=2, batch_size=4, optimizer="adagrad",
                learning_rate=1e-2, architecture="mlp", **QUIET)
    assert json.loads((run / "config.json").read_text())["train"]["optimizer"] == "adagrad"


def test_a_loss_that_turns_nan_stops_naming_step_and_term_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    original = BetaVAE.regularizer

    def poisoned(self, kl, kl_per_dim, mean, logvar, z, step):
        terms = original(self, kl, kl_per_dim, mean, logvar, z, step)
        if step >= 6:
            terms["regularizer"] = terms["regularizer"] * float("nan")
        return terms

    monkeypatch.setattr(BetaVAE, "regularizer", poisoned)
    with pytest.raises(TrainingDiverged, match=r"step 7: loss term 'loss' is nan .*step-00000005"):
        train(tmp_path / "run", "beta-vae", "dsprites", steps=10, batch_size=4, checkpoint_every=5, **QUIET)
    monkeypatch.setattr(BetaVAE, "regularizer", original)
    loaded = load_run(tmp_path / "run")
    assert loaded.step == 5
    assert all(torch.isfinite(p).all() for p in loaded.model.parameters())


def test_training_into_a_non_empty_folder_is_refused_and_leaves_it_untouched(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="exists and is not an empty folder"):
        train(tmp_path, "vae", "dsprites", steps=1, **QUIET)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_resume_to_fewer_steps_than_done_is_refused(tmp_path):
    run = train(tmp_path / "run", "vae", "dsprites", steps=4, batch_size=4, **QUIET)
    with pytest.raises(InputError, match="--steps: the run is already at step 4"):
        resume(run, steps=2, progress=False)


def test_each_player_steps_on_the_gradient_of_its_own_loss_only():
    from disentangle.models.base import Player
    from disentangle.train.loop import _apply_gradients

    torch.manual_seed(0)
    generator_net, critic = torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)
    x = torch.randn(8, 3)
    fake = generator_net(x)
    terms = {"loss": -critic(fake).mean(), "loss_critic": critic(fake.detach()).square().mean()}
    players = [Player("model", tuple(generator_net.parameters())),
               Player("critic", tuple(critic.parameters()), loss_key="loss_critic")]
    expected = [torch.autograd.grad(terms[p.loss_key], p.parameters, retain_graph=True) for p in players]
    before = [[q.detach().clone() for q in p.parameters] for p in players]
    optimizers = {"optimizer": torch.optim.SGD(players[0].parameters, lr=0.1),
                  "optimizer_critic": torch.optim.SGD(players[1].parameters, lr=0.1)}
    _apply_gradients(terms, players, optimizers)
    for player, grads, old in zip(players, expected, before):
        for parameter, grad, value in zip(player.parameters, grads, old):
            assert torch.allclose(parameter, value - 0.1 * grad)


def _last_tensors(run) -> dict:
    """Every tensor of the run's last checkpoint: weights, optimizer and RNG state."""
    return load_file(str(checkpoint_paths(run)[-1]))


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def test_train_or_resume_trains_resumes_restarts_or_leaves_a_run(tmp_path):
    settings = dict(steps=4, batch_size=8, checkpoint_every=2, keep_checkpoints=5, progress=False)
    whole = _last_tensors(train(tmp_path / "whole", "vae", "dsprites", **settings))
    run = tmp_path / "new"
    assert train_or_resume(run, "vae", "dsprites", **settings) == 0
    (run / "checkpoints" / "step-00000004.safetensors").unlink()  # killed after step 2
    assert train_or_resume(run, "vae", "dsprites", **settings) == 2
    assert _same(_last_tensors(run), whole)
    mtimes = [path.stat().st_mtime_ns for path in checkpoint_paths(run)]
    assert train_or_resume(run, "vae", "dsprites", **settings) == 4  # finished: left alone
    assert [path.stat().st_mtime_ns for path in checkpoint_paths(run)] == mtimes
    for path in checkpoint_paths(run):  # killed before its first checkpoint
        path.unlink()
    assert train_or_resume(run, "vae", "dsprites", **settings) == 0
    assert _same(_last_tensors(run), whole)
    other = tmp_path / "not-a-run"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="exists and is not an empty folder"):
        train_or_resume(other, "vae", "dsprites", **settings)
    assert (other / "notes.txt").read_text() == "keep me"


def _poison_from(monkeypatch, first_bad_step):
    original = BetaVAE.regularizer

    def poisoned(self, kl, kl_per_dim, mean, logvar, z, step):
        terms = original(self, kl, kl_per_dim, mean, logvar, z, step)
        if step >= first_bad_step:
            terms["regularizer"] = terms["regularizer"] * float("nan")
        return terms

    monkeypatch.setattr(BetaVAE, "regularizer", poisoned)
    return original


def test_a_resume_that_fails_at_once_leaves_the_run_folder_as_it_was(tmp_path, monkeypatch, folder_hash):
    run = train(tmp_path / "run", "beta-vae", "dsprites", steps=4, batch_size=4, checkpoint_every=2, log_every=1,
                **QUIET)
    before = folder_hash(run)
    original = _poison_from(monkeypatch, first_bad_step=4)
    with pytest.raises(TrainingDiverged, match="step 5"):
        resume(run, steps=8, progress=False)
    assert folder_hash(run) == before  # config.json keeps 4 steps, no new TensorBoard file, the log as it was
    monkeypatch.setattr(BetaVAE, "regularizer", original)
    resume(run, steps=8, progress=False)
    assert json.loads((run / "config.json").read_text())["train"]["steps"] == 8
    assert [record["step"] for record in read_log(run)] == list(range(1, 9))


def test_a_run_stopped_before_its_first_checkpoint_resumes_from_step_0(tmp_path, monkeypatch, capsys):
    from disentangle.cli import main

    settings = dict(steps=4, batch_size=4, checkpoint_every=10, log_every=1, seed=3)
    whole = train(tmp_path / "whole", "beta-vae", "dsprites", **settings, **QUIET)
    original = _poison_from(monkeypatch, first_bad_step=2)  # fails before any checkpoint
    with pytest.raises(TrainingDiverged):
        train(tmp_path / "run", "beta-vae", "dsprites", **settings, **QUIET)
    run = tmp_path / "run"
    assert checkpoint_paths(run) == [] and (run / "config.json").is_file() and read_log(run)
    monkeypatch.setattr(BetaVAE, "regularizer", original)
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert "had no checkpoint: trained it from step 0" in capsys.readouterr().out
    assert _weights(checkpoint_paths(run)[-1]).keys() == _weights(checkpoint_paths(whole)[-1]).keys()
    assert all(torch.equal(a, b) for a, b in zip(_weights(checkpoint_paths(run)[-1]).values(),
                                                  _weights(checkpoint_paths(whole)[-1]).values()))
    assert [record["step"] for record in read_log(run)] == [1, 2, 3, 4]
    assert len(list(run.glob("events.out.tfevents.*"))) == 1


def test_a_folder_without_checkpoint_holding_other_files_is_not_restarted(tmp_path):
    run = train(tmp_path / "run", "vae", "dsprites", steps=2, batch_size=4, **QUIET)
    for path in checkpoint_paths(run):
        path.unlink()
    (run / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="has no checkpoint and holds files that training does not write"):
        resume(run, steps=4, progress=False)
    assert (run / "notes.txt").read_text() == "mine"


def test_resuming_clears_the_temporaries_that_killed_writers_left(tmp_path):
    from disentangle.run_folder import _HOST

    run = train(tmp_path / "run", "vae", "dsprites", steps=2, batch_size=4, checkpoint_every=1, **QUIET)
    dead = 2**22 + 12345  # above the default pid_max: never a live process
    stale = [run / "checkpoints" / f".step-00000003.safetensors.{_HOST}-{dead}.ab12_x9z.tmp",
             run / f".config.json.{_HOST}-{dead}.k2j3h4g5.tmp", run / ".step-00000002.safetensors.tmp"]
    live = run / f".metrics.json.{_HOST}-{__import__('os').getpid()}.zz11yy22.tmp"
    elsewhere = run / ".metrics.json.otherhost-77.aa11bb22.tmp"
    for path in (*stale, live, elsewhere):
        path.write_bytes(b"partial")
    resume(run, steps=3, progress=False)
    assert not any(path.exists() for path in stale)
    assert live.exists() and elsewhere.exists()  # a live writer's, and a recent one of another machine
