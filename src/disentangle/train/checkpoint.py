"""Checkpoints: model weights, optimizer state and random-number state in one
safetensors file, so that loading never unpickles anything and a resumed run
continues exactly where it stopped.

Tensor names: ``model.<state_dict key>``, ``<optimizer>.<param index>.<state key>``
(``optimizer`` for the model and ``optimizer_<player>`` for each further player), ``rng.torch`` and
``rng.data``. The header's metadata holds the step, each optimizer's hyperparameters as
JSON and, since checksums were added, the CRC-32 of every tensor's bytes (``checksums``).

Reading checks everything before anything is changed: the format, the step, every
checksum (so a flipped bit names its tensor), the random states, each weight's shape
and dtype against the model's, and each optimizer's state against its parameters. A
checkpoint without the state of an optimizer it should have is refused: resuming with
a fresh Adam state would silently break the promise of an exact resume.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from disentangle.errors import InputError
from disentangle.run_folder import atomic_write_bytes

FORMAT = "disentangle-checkpoint-1"
RNG_KEYS = ("rng.torch", "rng.data")


@dataclass
class TrainingState:
    """Everything a run needs to continue: the step count and the random streams (the
    sampling noise's is torch's global one unless ``noise_generator`` is given: a model
    of a packed group, ``disentangle.train.packed``)."""

    step: int
    data_generator: torch.Generator
    noise_generator: torch.Generator | None = None


def checksum(tensor: torch.Tensor) -> str:
    """CRC-32 of a tensor's bytes (row-major), as 8 hex digits."""
    data = tensor.detach().contiguous().cpu().reshape(-1).view(torch.uint8).numpy()
    return f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"


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
    noise = state.noise_generator
    tensors["rng.torch"] = torch.get_rng_state() if noise is None else noise.get_state()
    tensors["rng.data"] = state.data_generator.get_state()
    metadata["checksums"] = json.dumps({name: checksum(tensor) for name, tensor in tensors.items()})
    atomic_write_bytes(path, save(tensors, metadata=metadata))


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint file read and checked: its tensors, metadata and step."""

    path: Path
    tensors: dict[str, torch.Tensor]
    metadata: dict[str, str]
    step: int


def read_checkpoint(path: Path) -> Checkpoint:
    """The tensors and metadata of a checkpoint file, validated as ours (format, step,
    checksums, random states)."""
    path = Path(path)
    try:
        tensors = load_file(str(path))
        with open(path, "rb") as handle:
            header_size = int.from_bytes(handle.read(8), "little")
            metadata = json.loads(handle.read(header_size)).get("__metadata__", {})
    except (OSError, SafetensorError, ValueError, AttributeError) as error:
        raise InputError(f"{path}: not a readable safetensors checkpoint ({error})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        found = metadata.get("format") if isinstance(metadata, dict) else None
        raise InputError(f"{path}: not a disentangle checkpoint (format {found!r}, expected {FORMAT})")
    step = metadata.get("step", "")
    if not (isinstance(step, str) and step.isdigit()):
        raise InputError(f"{path}: its step {step!r} is not an integer ≥ 0")
    _check_checksums(path, tensors, metadata)
    for key in RNG_KEYS:
        if key not in tensors:
            raise InputError(f"{path}: no random state '{key}' (a checkpoint of 'disentangle train' holds it)")
        try:
            torch.Generator().set_state(tensors[key])
        except (RuntimeError, TypeError) as error:
            raise InputError(f"{path}: random state '{key}' is not one ({error})") from None
    return Checkpoint(path, tensors, metadata, int(step))


def _check_checksums(path: Path, tensors: dict[str, torch.Tensor], metadata: dict) -> None:
    """Each tensor's CRC-32 against the stored one (checkpoints written before checksums
    were stored have none, and are read as they are)."""
    if "checksums" not in metadata:
        return
    try:
        stored = json.loads(metadata["checksums"])
    except (TypeError, json.JSONDecodeError):
        stored = None
    if not isinstance(stored, dict):
        raise InputError(f"{path}: its checksums are not a JSON mapping of tensor names to CRC-32s")
    missing = sorted(set(stored) - set(tensors))
    if missing:
        raise InputError(f"{path}: tensor '{missing[0]}' is missing (the checksums list it)")
    for name, tensor in tensors.items():
        if name not in stored:
            raise InputError(f"{path}: tensor '{name}' has no checksum (it was not written by this checkpoint)")
        if checksum(tensor) != stored[name]:
            raise InputError(f"{path}: tensor '{name}' is damaged (CRC-32 {checksum(tensor)}, stored {stored[name]})")


def _load_weights(checkpoint: Checkpoint, model: torch.nn.Module) -> None:
    path, expected = checkpoint.path, model.state_dict()
    weights = {k[len("model."):]: v for k, v in checkpoint.tensors.items() if k.startswith("model.")}
    unexpected = sorted(set(weights) - set(expected))
    missing = sorted(set(expected) - set(weights))
    if unexpected or missing:
        which = f"has no weight '{missing[0]}'" if missing else f"has a weight '{unexpected[0]}' the model lacks"
        raise InputError(f"{path}: weights do not fit the model in config.json (it {which})")
    for key, weight in weights.items():
        target = expected[key]
        if weight.shape != target.shape or weight.dtype != target.dtype:
            raise InputError(
                f"{path}: weight '{key}' is {weight.dtype} {tuple(weight.shape)}, expected {target.dtype} "
                f"{tuple(target.shape)} (the model in config.json)"
            )
    model.load_state_dict(weights)


def load_model_weights(path: Path, model: torch.nn.Module) -> int:
    """Load the model weights of a checkpoint into ``model``; returns the step."""
    checkpoint = read_checkpoint(path)
    _load_weights(checkpoint, model)
    return checkpoint.step


def _optimizer_state(checkpoint: Checkpoint, prefix: str, optimizer: torch.optim.Optimizer) -> dict:
    """The state dict of ``optimizer`` held in the checkpoint, checked against its parameters."""
    path = checkpoint.path
    if f"{prefix}.param_groups" not in checkpoint.metadata:
        raise InputError(f"{path}: no state for '{prefix}'")
    try:
        groups = json.loads(checkpoint.metadata[f"{prefix}.param_groups"])
    except (TypeError, json.JSONDecodeError):
        groups = None
    current = optimizer.state_dict()["param_groups"]
    shape_of = [group.get("params") for group in groups] if isinstance(groups, list) and all(
        isinstance(group, dict) for group in groups
    ) else None
    if shape_of != [group["params"] for group in current]:
        raise InputError(f"{path}: the parameter groups of '{prefix}' do not fit the model in config.json")
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    indices = [index for group in current for index in group["params"]]
    by_index = dict(zip(indices, parameters))
    slots: dict[int, dict] = {}
    for key, value in checkpoint.tensors.items():
        if not key.startswith(prefix + "."):
            continue
        index, _, name = key[len(prefix) + 1 :].partition(".")
        if not index.isdigit() or int(index) not in by_index or not name:
            raise InputError(f"{path}: '{key}' names no parameter of '{prefix}'")
        parameter = by_index[int(index)]
        if value.ndim and (value.shape != parameter.shape or value.dtype != parameter.dtype):
            raise InputError(
                f"{path}: optimizer state '{key}' is {value.dtype} {tuple(value.shape)}, expected its parameter's "
                f"{parameter.dtype} {tuple(parameter.shape)}"
            )
        slots.setdefault(int(index), {})[name] = value
    if not slots and checkpoint.step > 0:
        raise InputError(
            f"{path}: no optimizer state for '{prefix}' at step {checkpoint.step}; resuming would restart "
            "the optimizer and not continue the run exactly"
        )
    return {"state": {index: slots[index] for index in sorted(slots)}, "param_groups": groups}


def load_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizers: dict[str, torch.optim.Optimizer],
    noise_generator: torch.Generator | None = None,
) -> TrainingState:
    """Restore model, optimizers and random streams; returns the training state. The
    sampling noise's stream is restored into ``noise_generator`` when given (a model of a
    packed group), else into torch's global one.

    Everything is checked before the model, an optimizer or a random stream is changed.
    """
    checkpoint = read_checkpoint(path)
    states = {name: _optimizer_state(checkpoint, name, optimizer) for name, optimizer in optimizers.items()}
    _load_weights(checkpoint, model)
    for name, optimizer in optimizers.items():
        optimizer.load_state_dict(states[name])
    if noise_generator is None:
        torch.set_rng_state(checkpoint.tensors["rng.torch"])
    else:
        noise_generator.set_state(checkpoint.tensors["rng.torch"])
    generator = torch.Generator()
    generator.set_state(checkpoint.tensors["rng.data"])
    return TrainingState(step=checkpoint.step, data_generator=generator, noise_generator=noise_generator)
