"""Crash consistency: a run killed with SIGKILL at random moments (before its first
checkpoint, inside checkpoint writes, anywhere) and resumed each time ends with every
tensor of the uninterrupted run, and leaves no temporary file behind."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from disentangle.run_folder import checkpoint_paths, last_checkpoint_step, read_log

STEPS = 150


def _command(data: Path, *argv) -> list[str]:
    """``disentangle train`` of a small conv VAE on 16×16 images, a checkpoint every step
    (so that kills often land inside a checkpoint write), one thread (exact on the CPU)."""
    return [sys.executable, "-m", "disentangle", "train", *map(str, argv), "--no-progress"]


#: ``disentangle train`` that kills itself inside its first checkpoint write of the step given
#: first, after the bytes reach the temporary file and before its rename (where a timed kill
#: lands only by chance)
CUT_TRAIN = """
import os, signal, sys
from disentangle import run_folder
from disentangle.train import checkpoint
from disentangle.cli import main
step, write = int(sys.argv[1]), checkpoint.atomic_write_bytes
def cut(path, data):
    if path.name == f"step-{step:08d}.safetensors":
        run_folder.os.replace = lambda *_: os.kill(os.getpid(), signal.SIGKILL)
    write(path, data)
checkpoint.atomic_write_bytes = cut
sys.exit(main(["train", *sys.argv[2:]]))
"""


def _cut(step: int, *argv) -> None:
    """Run ``disentangle train *argv`` until it kills itself inside the checkpoint write of ``step``."""
    ended = subprocess.run([sys.executable, "-c", CUT_TRAIN, str(step), *map(str, argv), "--no-progress"],
                           capture_output=True, text=True)
    assert ended.returncode == -signal.SIGKILL, f"not cut at step {step}: {ended.stderr}"


def _settings(data: Path) -> list[str]:
    return ["--model", "vae", "--data", "array", "--data-path", str(data), "--latent-dim", "4", "--batch-size", "8",
            "--steps", str(STEPS), "--checkpoint-every", "1", "--keep-checkpoints", "2", "--log-every", "2",
            "--threads", "1", "--seed", "7"]


def _kill(command: list[str], ready, delay: float) -> None:
    """Start ``command``, wait until ``ready()`` holds, then SIGKILL it ``delay`` seconds later."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    while not ready() and process.poll() is None and time.monotonic() - started < 120:
        time.sleep(0.002)
    time.sleep(delay)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()


def _step(run: Path) -> int:
    return last_checkpoint_step(run)


def _temporaries(run: Path) -> list[str]:
    folders = [run, run / "checkpoints"]
    return [path.name for folder in folders if folder.is_dir() for path in folder.iterdir() if path.name.endswith(".tmp")]


@pytest.mark.slow
def test_a_run_killed_at_random_moments_and_resumed_ends_as_the_uninterrupted_run(tmp_path):
    data = tmp_path / "images.npy"
    np.save(data, (np.random.default_rng(0).random((200, 16, 16)) < 0.3).astype(np.uint8) * 255)
    reference, run = tmp_path / "reference", tmp_path / "run"
    subprocess.run(_command(data, *_settings(data), "--out", reference), check=True, capture_output=True)

    rng = random.Random(0)
    # killed inside its first checkpoint write: config.json is written, no checkpoint is
    _cut(1, *_settings(data), "--out", run)
    assert (run / "config.json").exists() and checkpoint_paths(run) == [] and _temporaries(run)
    _kill(_command(data, "--resume", run), lambda: True, 1.0)  # killed while starting: nothing written yet
    for _ in range(4):  # killed a few steps after resuming, at a random moment of a step
        target = _step(run) + rng.randint(1, 12)
        _kill(_command(data, "--resume", run), lambda target=target: _step(run) >= target, rng.uniform(0, 0.03))
    cut_at = _step(run) + 3  # and inside a checkpoint write, which a random moment hits only sometimes
    _cut(cut_at, "--resume", run)
    assert _step(run) == cut_at - 1 and _temporaries(run)
    finished = subprocess.run(_command(data, "--resume", run), capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr

    mine, theirs = load_file(str(checkpoint_paths(run)[-1])), load_file(str(checkpoint_paths(reference)[-1]))
    assert checkpoint_paths(run)[-1].name == f"step-{STEPS:08d}.safetensors"
    assert mine.keys() == theirs.keys()
    different = [key for key in mine if not (mine[key] == theirs[key]).all()]
    assert not different, f"tensors that differ from the uninterrupted run: {different}"
    assert [record["step"] for record in read_log(run)] == list(range(2, STEPS + 1, 2))
    assert not _temporaries(run)
