"""What every training loop shares, whatever its step computes (``loop``: one run,
``packed``: a stacked group): preparing the process, building a run's model and placing
it on its device, each player's optimizer, the cadence of the host's work after a step
(reading the divergence watch, logging, checkpointing) and writing and pruning
checkpoints. A loop keeps only its own forward and backward.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch

from disentangle import run_folder
from disentangle.data import ImageDataset
from disentangle.errors import SettingError
from disentangle.models import Model, Player
from disentangle.train.checkpoint import TrainingState, save_checkpoint
from disentangle.train.config import RunConfig, TrainConfig
from disentangle.train.distributed import Processes
from disentangle.train.runtime import (
    check_device,
    check_memory,
    configure_threads,
    tune_allocator,
    uses_convolutions,
)


def prepare_process(settings: TrainConfig, processes: Processes) -> None:
    """This process's allocator and threads, and a check that its device exists."""
    tune_allocator()
    configure_threads(settings.threads or processes.threads_per_process)
    check_device(settings.device)


def build_model(
    config: RunConfig, run: Path, device: str, training: bool, dataset: ImageDataset | None = None
) -> tuple[Model, ImageDataset]:
    """The dataset (``dataset`` when given) and the model of a run folder's configuration
    (checked to fit in memory)."""
    dataset = config.data.build() if dataset is None else dataset
    check_memory(config, dataset.observation_shape, device, training, source=str(run / run_folder.CONFIG))
    return config.build_model(dataset.observation_shape), dataset


def memory_format(model: Model) -> torch.memory_format:
    """Channels-last for models with convolutions (oneDNN's and cuDNN's faster layout)."""
    return torch.channels_last if uses_convolutions(model) else torch.contiguous_format


def place(model: Model, device: str) -> Model:
    """Move the model to its device and layout before optimizers see its parameters, so
    that restored optimizer state lands on the same device."""
    return model.to(device=torch.device(device), memory_format=memory_format(model)).train()


def holds_data_on_device(device: str) -> bool:
    """Whether a run on ``device`` gathers its batches there (``device_data.held_on_device``):
    on a GPU, where building each batch on the host and copying it over would keep the host
    busy between steps."""
    return torch.device(device).type == "cuda"


def player_optimizer(player: Player, parameters, settings: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer of ``player`` over ``parameters`` (its own, or a packed group's stacked ones):
    Adagrad, Adam, or AdamW with two groups (decayed, then ``undecayed``) for a player with
    weight decay, which takes its own parameters only."""
    lr = player.learning_rate or settings.learning_rate
    if player.weight_decay and settings.optimizer != "adam":
        raise SettingError("optimizer", f"adam for a model whose player '{player.name}' has weight decay",
                           settings.optimizer)
    if settings.optimizer == "adagrad":
        return torch.optim.Adagrad(parameters, lr=lr)
    betas = player.betas or (settings.adam_beta1, settings.adam_beta2)
    if not player.weight_decay:
        return torch.optim.Adam(parameters, lr=lr, betas=betas, eps=settings.adam_eps)
    parameters = list(parameters)
    if [id(p) for p in parameters] != [id(p) for p in player.parameters]:
        raise ValueError(f"player '{player.name}': weight decay needs the player's own parameters, not stacked ones")
    skipped = {id(parameter) for parameter in player.undecayed}
    groups = [{"params": player.decayed(), "weight_decay": player.weight_decay},
              {"params": [p for p in player.parameters if id(p) in skipped], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=settings.adam_eps)


def clip_gradients(player: Player) -> None:
    """Clip each gradient entry of ``player``'s decayed parameters to ±``gradient_clip``, where it has one."""
    if player.gradient_clip is not None:
        torch.nn.utils.clip_grad_value_([p for p in player.decayed() if p.grad is not None], player.gradient_clip)


class StepWork(NamedTuple):
    """What the host does after a step: read the divergence watch (``check``: it waits for
    the device), write a log line (``log``), write a checkpoint (``checkpoint``)."""

    check: bool
    log: bool
    checkpoint: bool


@dataclass
class Cadence:
    """The host's work after each step of an attempt up to ``settings.steps``: a log line
    every ``log_every`` steps and a checkpoint every ``checkpoint_every`` (both at the last
    step; checkpoints only where ``writes``, rank 0), and a divergence check before either
    and after the attempt's first step, so that an attempt that fails at once writes nothing."""

    settings: TrainConfig
    writes: bool = True
    first: bool = True

    def after(self, step: int) -> StepWork:
        """The work due once the step numbered ``step`` (1-based: the steps done) is done."""
        final = step == self.settings.steps
        log = step % self.settings.log_every == 0 or final
        checkpoint = self.writes and (step % self.settings.checkpoint_every == 0 or final)
        check, self.first = self.first or log or checkpoint, False
        return StepWork(check, log, checkpoint)


def write_checkpoint(
    run: Path, model: Model, optimizers: dict[str, torch.optim.Optimizer], state: TrainingState, keep: int
) -> None:
    """The checkpoint of ``state.step`` in ``run``, then all but its ``keep`` newest removed."""
    save_checkpoint(run_folder.checkpoint_path(run, state.step), model, optimizers, state)
    for old in run_folder.checkpoint_paths(run)[:-keep]:
        old.unlink(missing_ok=True)
