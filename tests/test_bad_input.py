"""Every bad input is one line on stderr, exit code 2, no traceback, and leaves every run
folder byte for byte as it was: damaged config.json files and checkpoints, impossible
settings, hostile files."""

from __future__ import annotations

import gzip
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from disentangle.cli import main
from disentangle.train.checkpoint import checksum
from disentangle.run_folder import checkpoint_paths


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run trained 4 steps (a checkpoint at 2 and 4), copied afresh for each test."""
    run = tmp_path_factory.mktemp("bad-input") / "run"
    argv = ["train", "--model", "vae", "--latent-dim", "3", "--steps", "4", "--batch-size", "4",
            "--checkpoint-every", "2", "--out", str(run), "--no-progress"]
    assert main(argv) == 0
    return run


@pytest.fixture
def run(trained, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def one_line_exit_2(capsys, argv) -> str:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


# --------------------------------------------------------------------------- config.json


def edit_config(change):
    def edit(run: Path) -> None:
        config = json.loads((run / "config.json").read_text())
        change(config)
        (run / "config.json").write_text(json.dumps(config))

    return edit


def replace_config(content):
    return lambda run: (run / "config.json").write_text(json.dumps(content))


CONFIGS = {
    "format_version a string": (edit_config(lambda c: c.update(format_version="1")), "format_version"),
    "train.steps a string": (edit_config(lambda c: c["train"].update(steps="many")), "train.steps"),
    "model.beta a string": (edit_config(lambda c: c["model"].update(name="beta-vae", beta="big")), "model.beta"),
    "model a list": (edit_config(lambda c: c.update(model=[1, 2])), "'model' must be a mapping"),
    "environment a string": (edit_config(lambda c: c.update(environment="linux")), "'environment' must be"),
    "data.path a list": (edit_config(lambda c: c["data"].update(path=["a", "b"])), "option 'path' must be"),
    "batch_size 6.5": (edit_config(lambda c: c["train"].update(batch_size=6.5)), "train.batch_size"),
    "adam_eps inf": (edit_config(lambda c: c["train"].update(adam_eps="inf")), "train.adam_eps"),
    "device junk": (edit_config(lambda c: c["train"].update(device="junk")), "train.device"),
    "another program's JSON": (replace_config({"name": "x", "version": 3}), "expected the keys model, data"),
    "no model name": (edit_config(lambda c: c["model"].pop("name")), "model.name"),
    "latent_dim too large to allocate": (
        edit_config(lambda c: c["model"].update(latent_dim=10**9)), "parameters need at least"
    ),
}


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("command", ["resume", "evaluate", "traverse"])
def test_a_damaged_config_json_is_one_line_and_changes_nothing(name, command, run, capsys, tmp_path, folder_hash):
    damage, fragment = CONFIGS[name]
    damage(run)
    before = folder_hash(run)
    argv = {"resume": ["train", "--resume", run, "--steps", 6, "--no-progress"],
            "evaluate": ["evaluate", run, "--metrics", "mig", "--quiet"],
            "traverse": ["traverse", run, "--out", tmp_path / "images"]}[command]
    message = one_line_exit_2(capsys, argv)
    assert fragment in message and "config.json" in message
    assert folder_hash(run) == before


# --------------------------------------------------------------------------- checkpoints


def edit_checkpoint(change, keep_checksums: bool = True):
    """Rewrite the latest checkpoint with ``change(tensors, metadata)`` applied; its
    checksums are recomputed, so the damage itself is what the reader must find."""

    def edit(run: Path) -> None:
        path = checkpoint_paths(run)[-1]
        tensors = load_file(str(path))
        with open(path, "rb") as handle:
            metadata = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))["__metadata__"]
        change(tensors, metadata)
        if keep_checksums:
            metadata["checksums"] = json.dumps({name: checksum(tensor) for name, tensor in tensors.items()})
        save_file(tensors, str(path), metadata=metadata)

    return edit


def flip_a_bit(run: Path) -> None:
    path = checkpoint_paths(run)[-1]
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x10
    path.write_bytes(bytes(data))


def without(prefix):
    def change(tensors, metadata):
        for key in [key for key in tensors if key.startswith(prefix)]:
            del tensors[key]
    return change


CHECKPOINTS = {
    "a flipped bit": (flip_a_bit, "is damaged (CRC-32"),
    "no random state": (edit_checkpoint(without("rng.torch")), "no random state 'rng.torch'"),
    "a random state of floats": (
        edit_checkpoint(lambda t, m: t.update({"rng.data": t["rng.data"].float()})), "random state 'rng.data'"
    ),
    "metadata that is not JSON": (
        edit_checkpoint(lambda t, m: m.update({"optimizer.param_groups": "{not json"})), "parameter groups"
    ),
    "a step that is no integer": (edit_checkpoint(lambda t, m: m.update(step="four")), "its step 'four'"),
    "optimizer state of the wrong shape": (
        edit_checkpoint(lambda t, m: t.update({"optimizer.0.exp_avg": torch.zeros(3)})),
        "optimizer state 'optimizer.0.exp_avg'",
    ),
    "no optimizer state": (edit_checkpoint(without("optimizer.")), "no optimizer state for 'optimizer'"),
    "weights of another dtype": (
        edit_checkpoint(lambda t, m: t.update({k: v.double() for k, v in t.items() if k.startswith("model.")})),
        "torch.float64",
    ),
    "checksums that are not a mapping": (
        edit_checkpoint(lambda t, m: m.update(checksums="[]"), keep_checksums=False), "checksums are not"
    ),
    "not a checkpoint": (lambda run: checkpoint_paths(run)[-1].write_bytes(b"\x00" * 64), "not a readable"),
}


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_a_damaged_checkpoint_is_one_line_and_changes_nothing(name, run, capsys, folder_hash):
    damage, fragment = CHECKPOINTS[name]
    damage(run)
    before = folder_hash(run)
    message = one_line_exit_2(capsys, ["train", "--resume", run, "--steps", 6, "--no-progress"])
    assert fragment in message and "step-00000004.safetensors" in message
    assert folder_hash(run) == before


def test_damaged_weights_are_refused_by_every_reader(run, capsys, tmp_path):
    flip_a_bit(run)
    for argv in (["evaluate", run, "--metrics", "mig"], ["traverse", run, "--out", tmp_path], ["report", run]):
        assert "is damaged" in one_line_exit_2(capsys, argv)


# --------------------------------------------------------------------------- settings and hostile files


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def npy_declaring(path: Path, shape) -> Path:
    header = {"descr": "|u1", "fortran_order": False, "shape": shape}
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(b"\x00" * 100)
    return path


def lying_idx(path: Path) -> Path:
    with gzip.open(path, "wb") as handle:
        handle.write(struct.pack(">IIII", 0x803, 10, 28, 28) + bytes(28 * 28 * 10_000))
    return path


LAUGHS = "a: &a [" + ",".join(['"lol"'] * 10) + "]\n" + "".join(
    f"{chr(98 + k)}: &{chr(98 + k)} [" + ",".join([f"*{chr(97 + k)}"] * 10) + "]\n" for k in range(8)
)


def train_argv(*flags):
    return lambda tmp: ["train", *flags, "--steps", 1, "--out", tmp / "out", "--no-progress"]


SETTINGS = {
    "--seed beyond 2^64": (train_argv("--seed", 2**64), "--seed: must be an integer in [0, 2^64)"),
    "--device junk": (train_argv("--device", "junk"), "--device: must be a torch device"),
    "--batch-size too large to allocate": (train_argv("--batch-size", 10**8), "--batch-size 100000000: a batch"),
    "--latent-dim too large to allocate": (train_argv("--latent-dim", 10**8), "parameters need at least"),
    "--lr -1e-4": (train_argv("--lr", "-1e-4"), "--learning-rate: must be > 0 and finite, got -1e-4"),
    "--adam-eps inf": (train_argv("--adam-eps", "inf"), "--adam-eps: expected a finite number"),
    "--beta nan": (train_argv("--beta", "nan"), "--beta: expected a finite number"),
    "an .npy declaring a terabyte": (
        lambda tmp: train_argv("--data", "array", "--data-path", npy_declaring(tmp / "x.npy", (10**6, 1000, 1000)))(tmp),
        "declares an array (1000000, 1000, 1000)",
    ),
    "an IDX file whose header lies": (
        lambda tmp: train_argv("--data", "mnist", "--data-path", lying_idx(tmp / "x.gz"))(tmp),
        "its gzip trailer records",
    ),
    "a folder's images resized to 100000 pixels": (
        lambda tmp: train_argv("--data", "folder", "--data-path", tmp, "--data-option", "size=100000")(tmp),
        "size: expected an int or a pair",
    ),
    "a config file with aliases that expand to billions": (
        lambda tmp: ["train", "--config", write(tmp / "c.yaml", LAUGHS), "--out", tmp / "out"],
        "aliases expand to more than 100,000 values",
    ),
    "a sweep of 6^11 runs": (
        lambda tmp: ["sweep", write(tmp / "s.yaml", "grid:\n" + "".join(
            f"  train.{key}: [1, 2, 3, 4, 5, 6]\n" for key in
            ("steps", "batch_size", "log_every", "checkpoint_every", "keep_checkpoints", "seed")
        ) + "".join(f"  model.{key}: [1, 2, 3, 4, 5, 6]\n" for key in ("beta", "latent_dim", "gaussian_std"))
            + "  train.learning_rate: [1, 2, 3, 4, 5, 6]\n  train.adam_eps: [1, 2, 3, 4, 5, 6]\n"), "--list"],
        "expands into 362,797,056 runs, more than the 100,000",
    ),
    "a sweep with aliases that expand to billions": (
        lambda tmp: ["sweep", write(tmp / "s.yaml", LAUGHS.replace("a: &a", "seeds: &a")), "--list"],
        "aliases expand",
    ),
    "a sweep that would evaluate data without factors": (
        lambda tmp: ["sweep", write(tmp / "s.yaml", "data: {name: digits}\nsteps: 1\n"), "--out", tmp / "out"],
        "dataset 'digits' has no ground-truth factors",
    ),
    "metric seeds beyond 2^32": (
        lambda tmp: ["evaluate", tmp / "missing", "--seed", 2**32], "expected integers in [0, 2^32)",
    ),
    "evaluate on --device junk": (lambda tmp: ["evaluate", tmp / "missing", "--device", "junk"], "--device junk"),
}


@pytest.mark.parametrize("name", SETTINGS)
def test_an_impossible_setting_or_hostile_file_is_one_line_and_creates_nothing(name, capsys, tmp_path):
    argv, fragment = SETTINGS[name]
    before = sorted(path.name for path in tmp_path.iterdir())
    message = one_line_exit_2(capsys, argv(tmp_path))
    assert fragment in message
    assert not (tmp_path / "out").exists()
    assert sorted(path.name for path in tmp_path.iterdir() if path.name != "out") == sorted(
        set(before) | {path.name for path in tmp_path.iterdir() if path.suffix in (".npy", ".gz", ".yaml")}
    )


def test_a_comparison_into_a_missing_folder_is_refused_before_any_report(trained, tmp_path, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    shutil.copytree(trained, first)
    shutil.copytree(trained, second)
    message = one_line_exit_2(capsys, ["report", first, second, "--out", tmp_path / "missing" / "c.html"])
    assert "does not exist" in message
    assert not (first / "report.html").exists() and not (second / "report.html").exists()
