"""The command line: each bad input gives one line on stderr naming what was wrong,
exit code 2, and leaves run folders as they were."""

import json

import numpy as np
import pytest

from disentangle.cli import main


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--beta", "4", "--steps", "4", "--batch-size", "8", "--out", str(run), "--no-progress"]) == 0
    return run


def test_train_then_traverse_then_resume(trained_run, capsys, tmp_path):
    code, out, _ = _run(capsys, "traverse", trained_run, "--out", tmp_path)
    assert code == 0 and all((tmp_path / name).is_file() for name in ("traversal.png", "traversal.gif", "reconstructions.png"))
    code, out, _ = _run(capsys, "train", "--resume", trained_run, "--steps", 6, "--no-progress")
    assert code == 0 and json.loads((trained_run / "config.json").read_text())["train"]["steps"] == 6


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["--model", "nope"], ["--model: unknown model 'nope'", "beta-vae"]),
        (["--data", "nope"], ["--data: unknown dataset 'nope'", "dsprites"]),
        (["--beta", "0"], ["--beta: must be > 0"]),
        (["--beta", "-2"], ["--beta: must be > 0"]),
        (["--latent-dim", "0"], ["--latent-dim: must be an integer ≥ 1"]),
        (["--steps", "0"], ["--steps: must be an integer ≥ 1"]),
        (["--gamma", "5"], ["--gamma: not a hyperparameter of beta-vae"]),
        (["--data-path", "/nonexistent/dsprites.npz"], ["/nonexistent/dsprites.npz: no such file"]),
    ],
)
def test_bad_training_input_is_one_line_exit_2_and_creates_no_run(argv, fragments, capsys, tmp_path):
    out = tmp_path / "run"
    code, _, err = _run(capsys, "train", *argv, "--steps" if "--steps" not in argv else "--seed", 1, "--out", out)
    _assert_one_line_error(code, err, *fragments)
    assert not out.exists()


def test_malformed_dsprites_file_is_named(capsys, tmp_path):
    bad = tmp_path / "dsprites.npz"
    np.savez(bad, imgs=np.zeros((3, 64, 64), np.uint8))
    code, _, err = _run(capsys, "train", "--data-path", bad, "--steps", 1, "--out", tmp_path / "run")
    _assert_one_line_error(code, err, str(bad))


def test_run_folder_from_a_newer_version_is_refused_untouched(trained_run, capsys, tmp_path):
    newer = tmp_path / "newer"
    newer.mkdir()
    config = json.loads((trained_run / "config.json").read_text())
    config["format_version"] = 99
    config["environment"]["disentangle"] = "99.0.0"
    (newer / "config.json").write_text(json.dumps(config))
    before = (newer / "config.json").read_bytes()
    for argv in (["traverse", newer], ["train", "--resume", newer, "--steps", 10]):
        code, _, err = _run(capsys, *argv)
        _assert_one_line_error(code, err, "newer than this disentangle")
    assert (newer / "config.json").read_bytes() == before


def test_run_folder_without_checkpoint_is_named(capsys, tmp_path, trained_run):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text((trained_run / "config.json").read_text())
    code, _, err = _run(capsys, "traverse", empty)
    _assert_one_line_error(code, err, "no checkpoint")


def test_resume_rejects_settings_the_run_folder_already_holds(trained_run, capsys):
    code, _, err = _run(capsys, "train", "--resume", trained_run, "--beta", 8)
    _assert_one_line_error(code, err, "--resume: takes only --steps", "got --beta")


def test_config_file_errors_name_the_file(capsys, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("model: [1, 2]\n")
    code, _, err = _run(capsys, "train", "--config", config, "--out", tmp_path / "run")
    _assert_one_line_error(code, err, str(config), "must be a mapping")
    config.write_text("model:\n  name: beta-vae\n  beta: 4\ntrain:\n  stepz: 3\n")
    code, _, err = _run(capsys, "train", "--config", config, "--out", tmp_path / "run")
    _assert_one_line_error(code, err, "stepz")


def test_config_file_sets_model_and_training(capsys, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("model:\n  name: annealed-vae\n  c_max: 5\ntrain:\n  steps: 2\n  batch_size: 4\n")
    code, _, _ = _run(capsys, "train", "--config", config, "--gamma", 10, "--out", tmp_path / "run", "--no-progress")
    assert code == 0
    written = json.loads((tmp_path / "run" / "config.json").read_text())
    assert written["model"]["name"] == "annealed-vae"
    assert written["model"]["c_max"] == 5 and written["model"]["gamma"] == 10
    assert written["train"]["steps"] == 2


def test_diverged_training_exits_2_naming_step_and_term(capsys, tmp_path):
    code, _, err = _run(capsys, "train", "--model", "vae", "--learning-rate", "1e30", "--steps", 50,
                        "--batch-size", 4, "--out", tmp_path / "run", "--no-progress")
    _assert_one_line_error(code, err, "step ", "loss term", "expected finite")
