"""Checkpoints: model weights, optimizer state and random-number state in one
safetensors file, so that loading never unpickles anything and a resumed run
continues exactly where it stopped.

Tensor names: ``model.<state_dict key>``, ``<optimizer>.<param index>.<state key>``
(``optimizer`` for the model and ``optimizer_<player>`` for each further player), ``rng.torch`` and
``rng.data``. The header's metadata holds the step and each optimizer's
hyperparameters as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from disentangle.errors import InputError
from disentangle.train.run_folder import atomic_write_bytes

FORMAT = "disentangle-checkpoint-1"


@dataclass
class TrainingState:
    """Everything a run needs to continue: the step count and the random streams."""

    step: int
    data_generator: torch.Generator


def _optimizer_tensors(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict, str]:
    state = optimizer.state_dict()
    tensors = {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            value = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{prefix}.{index}.{key}"] = value.detach().contiguous().cpu()
    return tensors, json.dumps(state["param_groups"])


def save_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizers: dict[str, torch.optim.Optimizer],
    state: TrainingState,
) -> None:
    """Write the checkpoint atomically, with the permissions of every run-folder file
    (``run_folder.atomic_write_bytes``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    metadata = {"format": FORMAT, "step": str(state.step)}
    for name, optimizer in optimizers.items():
        optimizer_tensors, groups = _optimizer_tensors(name, optimizer)
        tensors.update(optimizer_tensors)
        metadata[f"{name}.param_groups"] = groups
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.data"] = state.data_generator.get_state()
    atomic_write_bytes(path, save(tensors, metadata=metadata))


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and metadata of a checkpoint file, validated as ours."""
    path = Path(path)
    try:
        tensors = load_file(str(path))
        with open(path, "rb") as handle:
            header_size = int.from_bytes(handle.read(8), "little")
            metadata = json.loads(handle.read(header_size)).get("__metadata__", {})
    except (OSError, SafetensorError, ValueError) as error:
        raise InputError(f"{path}: not a readable safetensors checkpoint ({error})") from None
    if metadata.get("format") != FORMAT:
        raise InputError(f"{path}: not a disentangle checkpoint (format {metadata.get('format')!r}, expected {FORMAT})")
    return tensors, metadata


def load_model_weights(path: Path, model: torch.nn.Module) -> int:
    """Load the model weights of a checkpoint into ``model``; returns the step."""
    tensors, metadata = read_checkpoint(path)
    weights = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        first_line = str(error).strip().splitlines()[0]
        raise InputError(f"{path}: weights do not fit the model in config.json ({first_line})") from None
    return int(metadata["step"])


def _load_optimizer(path: Path, prefix: str, optimizer, tensors: dict, metadata: dict) -> None:
    if f"{prefix}.param_groups" not in metadata:
        raise InputError(f"{path}: no state for '{prefix}'")
    slots: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            index, name = key[len(prefix) + 1 :].split(".", 1)
            slots.setdefault(int(index), {})[name] = value
    state = {index: slots[index] for index in sorted(slots)}
    optimizer.load_state_dict({"state": state, "param_groups": json.loads(metadata[f"{prefix}.param_groups"])})


def load_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizers: dict[str, torch.optim.Optimizer],
) -> TrainingState:
    """Restore model, optimizers and random streams; returns the training state."""
    tensors, metadata = read_checkpoint(path)
    step = load_model_weights(path, model)
    for name, optimizer in optimizers.items():
        _load_optimizer(path, name, optimizer, tensors, metadata)
    torch.set_rng_state(tensors["rng.torch"])
    generator = torch.Generator()
    generator.set_state(tensors["rng.data"])
    return TrainingState(step=step, data_generator=generator)
