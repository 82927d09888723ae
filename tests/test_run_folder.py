"""The run folder: atomic writes, config.json checks, checkpoint paths, the log, and which
folders training may clear."""

from __future__ import annotations

import json
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disentangle import run_folder
from disentangle.errors import InputError


def test_atomic_writes_replace_the_file_whole_and_leave_no_temporary(tmp_path):
    path = tmp_path / "config.json"
    run_folder.atomic_write_json(path, {"a": 1})
    run_folder.atomic_write_json(path, {"b": [1, 2]})
    assert json.loads(path.read_text()) == {"b": [1, 2]} and path.read_text().endswith("\n")
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~run_folder._UMASK


def _config(tmp_path, **changes):
    config = {"format_version": run_folder.FORMAT_VERSION, "model": {"name": "vae"}, "data": {"name": "digits"}, "train": {},
              "environment": {"disentangle": "0.1.0"}, **changes}
    (tmp_path / run_folder.CONFIG).write_text(json.dumps(config))
    return tmp_path


@pytest.mark.parametrize(
    "write, message",
    [
        (None, "no such run folder"),
        ("", "missing (expected a run folder written by 'disentangle train')"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected the keys model, data and train"),
        ('{"model": {}, "data": {}}', "expected the keys model, data and train"),
    ],
)
def test_an_unreadable_config_is_one_line_naming_the_file(tmp_path, write, message):
    run = tmp_path / "run"
    if write is not None:
        run.mkdir()
        if write:
            (run / run_folder.CONFIG).write_text(write)
    with pytest.raises(InputError) as error:
        run_folder.read_config(run)
    assert message in str(error.value)
    assert "\n" not in str(error.value) and str(run) in str(error.value)


def test_a_folder_written_by_a_newer_version_is_refused(tmp_path):
    assert run_folder.read_config(_config(tmp_path))["model"] == {"name": "vae"}
    for changes in ({"format_version": run_folder.FORMAT_VERSION + 1}, {"environment": {"disentangle": "99.0"}}):
        with pytest.raises(InputError, match="newer than this disentangle"):
            run_folder.read_config(_config(tmp_path, **changes))


def test_checkpoints_are_listed_oldest_first_and_the_latest_names_its_step(tmp_path):
    assert run_folder.checkpoint_paths(tmp_path) == [] and run_folder.last_checkpoint_step(tmp_path) == 0
    with pytest.raises(InputError, match="no checkpoint"):
        run_folder.latest_checkpoint(tmp_path)
    for step in (20, 3, 100_000):
        path = run_folder.checkpoint_path(tmp_path, step)
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"")
    assert [p.name for p in run_folder.checkpoint_paths(tmp_path)] == [
        "step-00000003.safetensors", "step-00000020.safetensors", "step-00100000.safetensors",
    ]
    assert run_folder.last_checkpoint_step(tmp_path) == 100_000


def test_truncating_the_log_keeps_the_lines_up_to_the_checkpoint_and_stops_at_a_cut_line(tmp_path):
    lines = [json.dumps({"step": step, "loss": 1.0 / step}) for step in (1, 2, 3, 4)]
    (tmp_path / run_folder.LOG).write_text("\n".join(lines[:3]) + '\n{"step": 4, "lo')  # cut by a crash
    run_folder.truncate_log(tmp_path, last_step=2)
    assert [record["step"] for record in run_folder.read_log(tmp_path)] == [1, 2]
    (tmp_path / run_folder.LOG).write_text("\n".join(lines) + "\n")
    run_folder.truncate_log(tmp_path, last_step=3)
    assert [record["step"] for record in run_folder.read_log(tmp_path)] == [1, 2, 3]
    run_folder.truncate_log(tmp_path / "elsewhere", last_step=1)  # no log: nothing to do
    assert run_folder.read_log(tmp_path / "elsewhere") == []


def test_only_a_folder_of_what_training_writes_may_be_cleared(tmp_path):
    (tmp_path / run_folder.CONFIG).write_text("{}")
    (tmp_path / run_folder.CHECKPOINTS).mkdir()
    (tmp_path / run_folder.LOG).write_text("")
    (tmp_path / "events.out.tfevents.123.host").write_text("")
    (tmp_path / ".step-00000002.safetensors.tmp").write_text("")
    assert run_folder.holds_only_run_files(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    assert not run_folder.holds_only_run_files(tmp_path)


def test_the_environment_names_the_library_versions():
    environment = run_folder.environment()
    assert {"disentangle", "python", "torch", "numpy", "scipy", "scikit-learn", "platform"} <= set(environment)


# --------------------------------------------------------------------------- any config.json


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
#: config.json as training writes it, before a key is replaced
WRITTEN = {
    "format_version": 1,
    "model": {"name": "beta-vae", "beta": 4.0, "latent_dim": 10, "architecture": "auto"},
    "data": {"name": "dsprites", "path": None},
    "train": {"steps": 10, "batch_size": 64, "learning_rate": 1e-4, "seed": 0, "device": "cpu"},
    "environment": {"disentangle": "0.1.0"},
}
KEYS = [(section, None) for section in WRITTEN] + [
    (section, key) for section, values in WRITTEN.items() if isinstance(values, dict) for key in values
]


def _write_config_with(folder, where, value) -> None:
    """Write ``WRITTEN`` into ``folder`` with ``value`` at ``where`` (a section, or a section's key)."""
    section, key = where
    config = json.loads(json.dumps(WRITTEN))
    if key is None:
        config[section] = value
    else:
        config[section][key] = value
    (folder / run_folder.CONFIG).write_text(json.dumps(config))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(KEYS), value=json_values)
def test_any_value_at_any_key_of_config_json_is_read_or_refused_in_one_line(tmp_path, where, value):
    from disentangle.train import read_run_config

    _write_config_with(tmp_path, where, value)
    try:
        read_run_config(tmp_path)
    except InputError as error:
        assert "\n" not in str(error) and str(tmp_path / run_folder.CONFIG) in str(error)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from([k for k in KEYS if k[0] in ("model", "data")]), value=json_values)
def test_a_run_folder_with_any_value_there_is_loaded_or_refused_in_one_line(tmp_path, where, value):
    from disentangle.train import load_run

    _write_config_with(tmp_path, where, value)
    with pytest.raises(InputError) as error:  # at the latest: the folder has no checkpoint
        load_run(tmp_path)
    assert "\n" not in str(error.value)
