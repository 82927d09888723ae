"""Data-parallel training with torchrun, checked on the CPU with Gloo and 2 processes.

The slow tests share one launch: ``torchrun --nproc-per-node 2`` runs this file as a
script (``_worker`` below), which trains and resumes through the command line, takes one
step of toy models, and trains FactorVAE with every rank writing its own run folder.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from disentangle.cli import main
from disentangle.errors import InputError
from disentangle.models.base import Player
from disentangle.train import train
from disentangle.train.distributed import Processes
from disentangle.train.loop import _apply_gradients
from disentangle.run_folder import checkpoint_paths, read_log

AE_SETTINGS = dict(batch_size=8, learning_rate=1e-3, log_every=1, seed=3)


def _write_images(folder: Path) -> Path:
    """A 28×28 binary image set (convolutional nets, channels-last) as an ``array`` dataset."""
    pixels = np.random.default_rng(0).random((64, 28, 28)) > 0.5
    np.savez(folder / "images.npz", images=pixels.astype(np.uint8) * 255)
    return folder / "images.npz"


def _last_checkpoint(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(checkpoint_paths(run)[-1]))


def _toy_step(processes: Processes) -> dict[str, torch.Tensor]:
    """One SGD step of a one-player and a two-player toy model on this process's shard of
    a fixed global batch of 8; returns the new parameters. Every loss is a mean over examples."""
    torch.manual_seed(0)
    x = processes.shard(torch.randn(8, 3))
    solo, generator_net, critic = torch.nn.Linear(3, 1), torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)
    solo_player = Player("model", tuple(solo.parameters()))
    solo_optimizer = {"optimizer": torch.optim.SGD(solo_player.parameters, lr=0.1)}
    _apply_gradients({"loss": solo(x).square().mean()}, [solo_player], solo_optimizer, processes)

    fake = generator_net(x)
    terms = {"loss": -critic(fake).mean(), "loss_critic": critic(fake.detach()).square().mean()}
    players = [Player("model", tuple(generator_net.parameters())),
               Player("critic", tuple(critic.parameters()), loss_key="loss_critic")]
    optimizers = {"optimizer": torch.optim.SGD(players[0].parameters, lr=0.1),
                  "optimizer_critic": torch.optim.SGD(players[1].parameters, lr=0.1)}
    _apply_gradients(terms, players, optimizers, processes)
    modules = {"solo": solo, "generator": generator_net, "critic": critic}
    return {f"{name}.{key}": value.detach().clone() for name, module in modules.items()
            for key, value in module.state_dict().items()}


def _worker(folder: Path) -> None:
    """What each of the 2 processes runs, in ``folder`` (holding ``images.npz``)."""
    os.chdir(folder)
    rank = int(os.environ["RANK"])
    common = ["--model", "ae", "--data", "array", "--data-path", "images.npz", "--no-progress"]
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in AE_SETTINGS.items()]
    assert main(["train", *common, *flags, "--steps", "2", "--out", "ae"]) == 0
    assert main(["train", "--resume", "ae", "--steps", "4", "--no-progress"]) == 0

    processes = Processes.launched("cpu")
    with processes.joined():
        save_file(_toy_step(processes), f"toy-rank{rank}.safetensors")

    Processes.is_main = property(lambda self: True)  # every rank writes its own run folder, to compare them
    train(f"factor-vae-rank{rank}", "factor-vae", "array", data_options={"path": "images.npz"},
          tc_batch="second", steps=3, batch_size=4, progress=False)


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> Path:
    """The folder where ``_worker`` ran as 2 processes under torchrun."""
    folder = tmp_path_factory.mktemp("two-processes")
    _write_images(folder)
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
              __file__, str(folder)]
    with subprocess.Popen(launch, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as launched:
        try:
            output, _ = launched.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            launched.terminate()  # torchrun stops its workers on SIGTERM
            output, _ = launched.communicate()
    assert launched.returncode == 0, output
    return folder


@pytest.mark.slow
def test_two_processes_train_and_resume_like_one_process_on_the_same_batch(two_processes, tmp_path):
    images = {"path": str(two_processes / "images.npz")}
    single = train(tmp_path / "single", "ae", "array", data_options=images, steps=4, threads=1,
                   progress=False, **AE_SETTINGS)
    assert not torch.distributed.is_initialized()  # one process never joins a group
    expected, got = _last_checkpoint(single), _last_checkpoint(two_processes / "ae")
    weights = [key for key in expected if key.startswith("model.")]
    torch.testing.assert_close([got[key] for key in weights], [expected[key] for key in weights],
                               rtol=1e-4, atol=1e-4)
    assert torch.equal(got["rng.data"], expected["rng.data"])  # the same data stream
    logs = read_log(single), read_log(two_processes / "ae")
    assert [line["step"] for line in logs[1]] == [1, 2, 3, 4]
    for key in ("loss", "recon"):
        expected_terms, got_terms = ([line[key] for line in log] for log in logs)
        torch.testing.assert_close(got_terms, expected_terms, rtol=1e-5, atol=0)


@pytest.mark.slow
def test_only_rank_0_writes_the_run_folder(two_processes):
    run = two_processes / "ae"
    files = sorted(str(path.relative_to(run)) for path in run.rglob("*") if path.is_file())
    assert [name for name in files if not name.startswith("events.")] == [
        "checkpoints/step-00000002.safetensors", "checkpoints/step-00000004.safetensors",
        "config.json", "log.jsonl",
    ]
    assert len([name for name in files if name.startswith("events.")]) == 2  # one per session: train, resume
    assert sorted(path.name for path in two_processes.iterdir()) == [
        "ae", "factor-vae-rank0", "factor-vae-rank1", "images.npz",
        "toy-rank0.safetensors", "toy-rank1.safetensors",
    ]


@pytest.mark.slow
def test_averaged_gradients_are_those_of_the_mean_loss_over_the_global_batch(two_processes):
    expected = _toy_step(Processes(device="cpu"))
    for rank in (0, 1):
        torch.testing.assert_close(load_file(str(two_processes / f"toy-rank{rank}.safetensors")), expected)


@pytest.mark.slow
def test_adversarial_players_stay_equal_across_ranks_while_sampling_noise_differs(two_processes):
    rank0, rank1 = (_last_checkpoint(two_processes / f"factor-vae-rank{rank}") for rank in (0, 1))
    assert rank0.keys() == rank1.keys() and any(key.startswith("model.discriminator.") for key in rank0)
    assert all(torch.equal(rank0[key], rank1[key]) for key in rank0 if key != "rng.torch")
    assert not torch.equal(rank0["rng.torch"], rank1["rng.torch"])


def test_shard_takes_each_ranks_slice_of_every_block():
    batch = torch.arange(16)
    assert Processes(device="cpu", rank=1, world_size=2).shard(batch).tolist() == list(range(8, 16))
    assert Processes(device="cpu", rank=1, world_size=4).shard(batch, blocks=2).tolist() == [2, 3, 10, 11]
    assert Processes(device="cpu").shard(batch) is batch


@pytest.fixture
def torchrun_environment(monkeypatch):
    """The variables torchrun sets for rank 0 of 2 processes (no process group is joined)."""
    for name, value in {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"model": "ae", "batch_size": 7}, r"--batch-size 7: must be divisible by the 2 processes"),
        ({"model": "vq-vae", "batch_size": 8}, r"--model vq-vae: its buffers \(codebook, .*\) change"),
        ({"model": "ae", "batch_size": 8, "device": "cuda:1"}, r"--device cuda:1: with 2 processes use cpu"),
    ],
)
def test_what_cannot_train_data_parallel_is_refused_before_anything_is_written(
    torchrun_environment, tmp_path, settings, message
):
    images = _write_images(tmp_path)
    with pytest.raises(InputError, match=message):
        train(tmp_path / "run", data="array", data_options={"path": str(images)}, steps=1, progress=False,
              **settings)
    assert not (tmp_path / "run").exists()


if __name__ == "__main__":
    _worker(Path(sys.argv[1]))
