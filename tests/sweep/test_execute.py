import json

import torch
from safetensors.torch import load_file

from disentangle.models.vae import BetaVAE
from disentangle.sweep.execute import is_finished, run_one, run_path, status_path
from disentangle.sweep.spec import expand_sweep
from disentangle.train import train
from disentangle.run_folder import checkpoint_paths, read_log


def _weights(folder):
    return {k: v for k, v in load_file(str(checkpoint_paths(folder)[-1])).items() if k.startswith("model.")}


def _status(out, run):
    return json.loads(status_path(out, run).read_text())


def test_a_run_is_trained_scored_and_then_skipped(tmp_path, tiny):
    run = expand_sweep(tiny())[0]
    result = run_one(run, tmp_path)
    folder = run_path(tmp_path, run)
    assert (result.number, result.name, result.state, result.error) == (0, run.name, "done", None)
    assert is_finished(run, folder)
    assert json.loads((folder / "metrics.json").read_text())["checkpoint_step"] == 4
    assert _status(tmp_path, run)["state"] == "done"
    written = (folder / "metrics.json").stat().st_mtime_ns
    again = run_one(run, tmp_path)
    assert again.state == "skipped" and (folder / "metrics.json").stat().st_mtime_ns == written


def test_a_finished_run_asked_for_another_metric_is_only_scored_again(tmp_path, tiny):
    run_one(expand_sweep(tiny())[0], tmp_path)
    run = expand_sweep(tiny(evaluate={"metrics": ["mig", "unsupervised_scores"], "preset": "fast"}))[0]
    checkpoint = checkpoint_paths(run_path(tmp_path, run))[-1]
    trained = checkpoint.stat().st_mtime_ns
    assert not is_finished(run, run_path(tmp_path, run))
    assert run_one(run, tmp_path).state == "done"
    assert checkpoint.stat().st_mtime_ns == trained
    scored = json.loads((run_path(tmp_path, run) / "metrics.json").read_text())
    assert set(scored["results"]) == {"mig", "unsupervised_scores"}


def test_a_run_killed_after_a_checkpoint_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path, tiny):
    run = expand_sweep(tiny(evaluate=False))[0]
    folder = run_path(tmp_path / "sweep", run)
    train(folder, run.config.with_train(steps=2), progress=False)
    assert not is_finished(run, folder)
    assert run_one(run, tmp_path / "sweep").state == "done"
    straight = train(tmp_path / "straight", run.config, progress=False)
    assert [path.name for path in checkpoint_paths(folder)] == [
        "step-00000002.safetensors",
        "step-00000004.safetensors",
    ]
    mine, reference = _weights(folder), _weights(straight)
    assert mine.keys() == reference.keys() and all(torch.equal(mine[k], reference[k]) for k in mine)


def test_a_run_killed_before_its_first_checkpoint_starts_again(tmp_path, tiny):
    run = expand_sweep(tiny(evaluate=False))[0]
    folder = run_path(tmp_path, run)
    folder.mkdir(parents=True)
    (folder / "log.jsonl").write_text('{"step": 1, "loss"')
    assert run_one(run, tmp_path).state == "done"
    assert is_finished(run, folder) and [line["step"] for line in read_log(folder)] == [2, 4]


def test_a_run_folder_made_with_other_settings_is_refused_and_left_alone(tmp_path, tiny):
    run_one(expand_sweep(tiny(evaluate=False))[0], tmp_path)
    changed = expand_sweep(
        tiny(evaluate=False, model={"name": "beta-vae", "architecture": "mlp", "latent_dim": 5})
    )[0]
    before = _weights(run_path(tmp_path, changed))
    result = run_one(changed, tmp_path)
    assert result.state == "failed"
    assert (
        "made with other settings than the sweep's (model:" in result.error and "latent_dim" in result.error
    )
    after = _weights(run_path(tmp_path, changed))
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_more_steps_resume_a_finished_run(tmp_path, tiny):
    run_one(expand_sweep(tiny(evaluate=False))[0], tmp_path)
    longer = expand_sweep(tiny(evaluate=False, steps=6))[0]
    assert run_one(longer, tmp_path).state == "done"
    assert checkpoint_paths(run_path(tmp_path, longer))[-1].name == "step-00000006.safetensors"


def test_a_run_that_raises_is_recorded_with_its_traceback_and_does_not_raise(tmp_path, tiny, monkeypatch):
    def broken(self, x, step):
        raise RuntimeError("boom")

    monkeypatch.setattr(BetaVAE, "loss", broken)
    run = expand_sweep(tiny())[0]
    result = run_one(run, tmp_path)
    assert result.state == "failed" and result.error == "RuntimeError: boom"
    status = _status(tmp_path, run)
    assert status["state"] == "failed" and status["error"] == "RuntimeError: boom"
    assert "Traceback" in status["traceback"] and "in broken" in status["traceback"]
    assert {"started_at", "wall_time_s", "host", "pid"} <= status.keys()


def test_an_input_error_is_recorded_as_its_own_message(tmp_path, tiny):
    run = expand_sweep(tiny(data={"name": "dsprites", "path": "/nowhere/dsprites.npz"}))[0]
    result = run_one(run, tmp_path)
    assert result.state == "failed" and result.error.startswith("/nowhere/dsprites.npz: no such file")
