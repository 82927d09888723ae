"""A run folder knows what data it was trained on: the render and the files' digests are
recorded, an old folder (no render recorded) resumes bit for bit on render version 2, and
a data file that changed is refused by ``resume`` and named by ``evaluate``.

The changed files are the data files that small tests can train on: ``scream-dsprites``'
background image and an ``array`` file; every file a dataset reads is recorded alike
(``tests/data/test_identity.py``)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from disentangle.cli import main
from disentangle.errors import DataChanged, InputError
from disentangle.scoring.evaluate import evaluate
from disentangle.train import RunConfig, load_run, resume, train
from disentangle.train.packed import train_packed
from disentangle.run_folder import checkpoint_paths

QUICK = {"steps": 2, "batch_size": 4, "checkpoint_every": 2, "log_every": 1, "progress": False}


def _config_json(run: Path) -> dict:
    return json.loads((run / "config.json").read_text())


def _as_written_before_render_versions(run: Path) -> None:
    """Rewrite ``run``'s config.json as releases before render version 3 wrote it."""
    config = _config_json(run)
    del config["data"]["render_version"], config["data_files"]
    (run / "config.json").write_text(json.dumps(config, indent=2))


def _final_tensors(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(checkpoint_paths(run)[-1]))


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


@pytest.fixture
def background(tmp_path) -> Path:
    path = tmp_path / "scream.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (100, 120, 3), dtype=np.uint8)).save(path)
    return path


def _change(path: Path) -> None:
    """Another image (a larger one) or array (of the same size) in place of ``path``'s."""
    if path.suffix == ".png":
        Image.fromarray(np.random.default_rng(1).integers(0, 256, (110, 120, 3), dtype=np.uint8)).save(path)
    else:
        np.save(path, np.load(path) ^ np.uint8(1))  # the same size, other bytes


# --------------------------------------------------------------------------- recorded


def test_a_new_run_records_its_render_version_and_no_file(tmp_path):
    run = train(tmp_path / "run", "beta-vae", "dsprites", **QUICK)
    config = _config_json(run)
    assert config["data"] == {"name": "dsprites", "path": None, "render_version": 3}
    assert config["data_files"] == {}


def test_a_new_run_records_the_size_and_sha256_of_each_data_file(tmp_path, background):
    run = train(tmp_path / "run", "beta-vae", "scream-dsprites", data_options={"path": str(background)}, **QUICK)
    config = _config_json(run)
    assert config["data"]["render_version"] == 3
    assert config["data_files"] == {str(background.resolve()): {
        "size": background.stat().st_size, "sha256": hashlib.sha256(background.read_bytes()).hexdigest(),
    }}


# --------------------------------------------------------------------------- an old run folder


def test_a_run_folder_that_records_no_render_resumes_bit_for_bit_on_render_version_2(tmp_path):
    v2 = {"data_options": {"render_version": 2}, "seed": 4, "checkpoint_every": 2, "log_every": 2,
          "batch_size": 4, "progress": False}
    whole = train(tmp_path / "whole", "beta-vae", "dsprites", steps=4, **v2)
    old = train(tmp_path / "old", "beta-vae", "dsprites", steps=2, **v2)
    _as_written_before_render_versions(old)
    assert _config_json(old)["data"] == {"name": "dsprites", "path": None}
    shutil.copytree(old, tmp_path / "as-version-3")

    resume(old, steps=4, progress=False)
    assert _equal(_final_tensors(old), _final_tensors(whole))
    assert _config_json(old)["data"]["render_version"] == 2 and load_run(old).dataset.render_version == 2

    # The same folder told that it was rendered with version 3 ends elsewhere: the render matters.
    other = tmp_path / "as-version-3"
    config = _config_json(other)
    config["data"]["render_version"] = 3
    (other / "config.json").write_text(json.dumps(config))
    resume(other, steps=4, progress=False)
    assert not _equal(_final_tensors(other), _final_tensors(whole))


def test_a_packed_group_resumes_on_the_render_its_folders_record(tmp_path, small_mlp):
    """The group's configurations (a sweep's) name no render; its folders were trained on 2."""

    def configs(steps, **data):
        return [RunConfig.from_keywords("vae", "dsprites", data, seed=seed, steps=steps, architecture=small_mlp,
                                        batch_size=4, checkpoint_every=2, log_every=2) for seed in (1, 2)]

    whole = train_packed([tmp_path / "whole-0", tmp_path / "whole-1"], configs(4, render_version=2))
    old = train_packed([tmp_path / "old-0", tmp_path / "old-1"], configs(2, render_version=2))
    for run in old:
        _as_written_before_render_versions(run)
    train_packed(old, configs(4))
    for run, uninterrupted in zip(old, whole):
        assert _equal(_final_tensors(run), _final_tensors(uninterrupted))


# --------------------------------------------------------------------------- a changed data file


@pytest.mark.parametrize("data", ["scream-dsprites", "array"])
@pytest.mark.parametrize("checkpointed", [True, False], ids=["resumed", "restarted from step 0"])
def test_resume_refuses_a_changed_data_file_in_one_line_and_touches_nothing(
    tmp_path, background, folder_hash, capsys, data, checkpointed
):
    if data == "array":
        path = tmp_path / "images.npy"
        np.save(path, np.random.default_rng(0).integers(0, 256, (16, 1, 8, 8), dtype=np.uint8))
        run = train(tmp_path / "run", "vae", "array", data_options={"path": str(path)}, **QUICK)
    else:
        path = background
        run = train(tmp_path / "run", "beta-vae", "scream-dsprites", data_options={"path": str(path)}, **QUICK)
    if not checkpointed:
        shutil.rmtree(run / "checkpoints")
    _change(path)
    before = folder_hash(run)

    assert main(["train", "--resume", str(run), "--steps", "4", "--no-progress"]) == 2
    captured = capsys.readouterr()
    file = re.escape(str(path.resolve()))
    digest = r"sha256 [0-9a-f]{12}… → [0-9a-f]{12}…"
    changed = rf"(size [\d,]+ → [\d,]+ bytes, {digest})" if data == "scream-dsprites" else rf"({digest})"
    assert re.fullmatch(
        rf"disentangle train: error: --resume {re.escape(str(run))}: {file} changed since the run was trained "
        rf"\({changed}\); resuming would train it on other data\n",
        captured.err,
    ), captured.err
    assert captured.out == ""
    assert folder_hash(run) == before


def test_a_packed_group_refuses_a_changed_data_file_and_touches_nothing(tmp_path, background, folder_hash):
    configs = [RunConfig.from_keywords("beta-vae", "scream-dsprites", {"path": str(background)}, seed=seed, steps=2,
                                       batch_size=4, checkpoint_every=2, log_every=2) for seed in (1, 2)]
    runs = train_packed([tmp_path / "a", tmp_path / "b"], configs)
    _change(background)
    before = [folder_hash(run) for run in runs]
    with pytest.raises(InputError, match=rf"^{re.escape(str(runs[0]))}: {re.escape(str(background.resolve()))} "
                                         r"changed since the run was trained \(.*\); resuming would train it on"):
        train_packed(runs, [config.with_train(steps=4) for config in configs])
    assert [folder_hash(run) for run in runs] == before


def test_evaluate_names_a_changed_data_file_in_one_line_and_goes_on(tmp_path, background, capsys):
    run = train(tmp_path / "run", "beta-vae", "scream-dsprites", data_options={"path": str(background)}, **QUICK)
    _change(background)
    assert main(["evaluate", str(run), "--metrics", "mig", "--preset", "fast", "--quiet"]) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(
        f"disentangle evaluate: warning: {run}: {background.resolve()} changed since the run was trained (size "
    )
    assert lines[0].endswith("; going on with the data as it is now")
    assert "discrete_mig" in captured.out and (run / "metrics.json").is_file()

    with pytest.warns(DataChanged, match=re.escape(f"{background.resolve()} changed since the run was trained")):
        evaluate(run, metrics=["mig"], preset="fast")


def test_data_files_that_are_not_mappings_are_one_line_naming_the_file(tmp_path):
    run = train(tmp_path / "run", "beta-vae", "dsprites", **QUICK)
    config = _config_json(run)
    config["data_files"] = {"/data/x.h5": "changed"}
    (run / "config.json").write_text(json.dumps(config))
    message = f"{run / 'config.json'}: each entry of 'data_files' must be a mapping (size, sha256)"
    with pytest.raises(InputError, match=f"^{re.escape(message)}"):
        load_run(run)
