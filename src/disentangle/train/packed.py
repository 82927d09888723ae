"""Several runs trained in one process as one stacked model: a packed group.

A group is K runs of one packable model (``Model.packable_settings`` is not ``None``)
that share their architecture, data and training settings, but for the seed and the
hyperparameters their model declares packable. Their parameters, buffers and Adam
moments are stacked along a leading model dimension; each step draws every run's
batch from its own generator (a ``(K, B, C, H, W)`` tensor), evaluates the K losses
with ``torch.func.functional_call`` — under ``torch.func.vmap`` (``batching="vmap"``,
one batched pass) or one model after the other (``"loop"``) — and takes one optimizer
step on the sum of the losses, whose gradient with respect to model k's parameters is
model k's own. Adam and Adagrad act elementwise, so one of them over stacked tensors is
K of them. Each model draws its sampling noise from a generator holding the state its
run's global stream would hold (``disentangle.models.noise``).

Each run keeps its folder exactly as ``train`` writes it: ``config.json``, its own
``log.jsonl`` and TensorBoard events, and checkpoints holding its own weights, optimizer
state, noise stream (``rng.torch``) and data stream (``rng.data``). So each folder is an
ordinary run: ``evaluate``, ``report``, ``aggregate`` read it, and ``resume`` continues it
alone, or packed again. A group ends with the weights each run ends with alone, up to
floating-point reassociation (``docs/packing.md`` states the tolerance the tests hold);
a group resumed from its checkpoints ends bit for bit as the uninterrupted group.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from disentangle import run_folder
from disentangle.data import ImageDataset
from disentangle.errors import InputError
from disentangle.models import MODELS, Model
from disentangle.models.noise import model_streams
from disentangle.train.checkpoint import TrainingState, load_checkpoint
from disentangle.train.config import RunConfig, TrainConfig
from disentangle.train.device_data import DeviceObservations
from disentangle.train.distributed import Processes
from disentangle.train.divergence import DivergenceWatch
from disentangle.train.loop import new_run_config, read_run_config, refuse_other_data
from disentangle.train.precision import autocast, configure_matmuls, resolve_precision, resumed_precision
from disentangle.train.run_log import RunLogger, TermMeter
from disentangle.train.runtime import check_memory
from disentangle.train.steps import (
    Cadence,
    build_model,
    holds_data_on_device,
    place,
    player_optimizer,
    prepare_process,
    write_checkpoint,
)

#: training settings runs of one group may differ in
PER_RUN_SETTINGS = ("seed",)
#: how a step evaluates the K models: one batched pass, or one model after the other
BATCHINGS = ("vmap", "loop")


def packing_key(config: RunConfig) -> str | None:
    """What runs must share to train in one group (canonical JSON), or ``None`` for a run
    that trains alone: its model declares no ``packable_settings``."""
    packable = MODELS[config.model_name].packable_settings
    if packable is None:
        return None
    sections = config.to_dict()
    model = {k: v for k, v in sections["model"].items() if k not in packable}
    train = {k: v for k, v in sections["train"].items() if k not in PER_RUN_SETTINGS}
    return json.dumps({"model": model, "data": sections["data"], "train": train}, sort_keys=True, default=str)


@dataclass
class _Member:
    """One run of a group: its folder, its configuration as the run records it, its own
    model and optimizer (which hold its state at checkpoints), its random streams, the
    precision it trains in (resolved, as ``train`` or ``resume`` would), and what it
    writes to its folder before the group's first step (``write_first``: a new run's
    config.json) or once that step has succeeded (a resumed or restarted run)."""

    out: Path
    config: RunConfig
    model: Model
    optimizer: torch.optim.Optimizer
    state: TrainingState
    precision: str
    start_writing: Callable[[], None] | None
    write_first: bool = False


class _LossOf(nn.Module):
    """``model.loss`` as a module's ``forward``, which ``functional_call`` calls."""

    def __init__(self, model: Model):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, step: int, settings) -> dict[str, Tensor]:
        kept, self.model.config = self.model.config, settings
        try:
            return self.model.loss(x, step)
        finally:
            self.model.config = kept


def _with_values(config, values: dict[str, Tensor]):
    """A copy of the frozen ``config`` whose fields ``values`` are 0-d tensors (each model's
    value under ``vmap``), set past its validation, which every model's value passed."""
    clone = copy.copy(config)
    for name, value in values.items():
        object.__setattr__(clone, name, value)
    return clone


def _check_group(configs: Sequence[RunConfig], outs: Sequence[Path]) -> None:
    if len(configs) != len(outs) or not configs:
        raise TypeError("give one run folder per configuration, at least one")
    keys = [packing_key(config) for config in configs]
    if keys[0] is None:
        raise InputError(f"{outs[0]}: model {configs[0].model_name} trains alone (it declares no packable settings)")
    for out, key in zip(outs, keys):
        if key != keys[0]:
            raise InputError(
                f"{out}: cannot be packed with {outs[0]} (they differ in more than the seed and the model's "
                f"packable settings {', '.join(MODELS[configs[0].model_name].packable_settings) or '(none)'})"
            )
    if len(set(map(str, outs))) != len(outs):
        raise InputError(f"{outs[0]}: a run folder appears twice in the group")


def _new_member(out: Path, config: RunConfig, dataset: ImageDataset, device: str) -> _Member:
    """A run trained from step 0, initialised exactly as ``train`` initialises it; a new
    folder gets its ``config.json`` once every run of the group is ready, one restarted
    (killed before its first checkpoint) once the group's first step has succeeded."""
    restart = out.exists() and any(out.iterdir())
    if restart and not run_folder.holds_only_run_files(out):
        raise InputError(f"--out {out}: exists and holds files that training does not write")
    config = config.for_dataset(dataset)
    torch.manual_seed(config.train.seed)
    model = place(config.build_model(dataset.observation_shape), device)
    model.check_dataset(dataset)
    noise = torch.Generator()
    noise.set_state(torch.get_rng_state())
    state = TrainingState(0, torch.Generator().manual_seed(config.train.seed), noise)
    precision = resolve_precision(config.train.precision, device)
    written = new_run_config(config, dataset, 1, precision)

    def start_writing() -> None:
        if restart:
            run_folder.clear_training_outputs(out)
        out.mkdir(parents=True, exist_ok=True)
        run_folder.atomic_write_json(out / run_folder.CONFIG, written)

    optimizer = player_optimizer(model.players()[0], model.parameters(), config.train)
    return _Member(out, config, model, optimizer, state, precision, start_writing, write_first=not restart)


def _resumed_member(out: Path, steps: int, dataset: ImageDataset, device: str) -> _Member:
    """A run continued from its last checkpoint up to ``steps``, as ``resume`` continues it
    (refused if its data files changed)."""
    written, config = read_run_config(out)
    config = config.with_train(steps=steps)
    model, _ = build_model(config, out, device, training=True, dataset=dataset)
    refuse_other_data(str(out), written, dataset)
    place(model, device)
    optimizer = player_optimizer(model.players()[0], model.parameters(), config.train)
    state = load_checkpoint(run_folder.latest_checkpoint(out), model, {"optimizer": optimizer}, torch.Generator())
    if steps < state.step:
        raise InputError(f"{out}: the run is already at step {state.step}; expected a total ≥ {state.step}")
    resumed_from = state.step

    def start_writing() -> None:
        run_folder.clear_stale_temporaries(out)
        run_folder.truncate_log(out, resumed_from)
        run_folder.atomic_write_json(out / run_folder.CONFIG, {**written, "train": config.train.to_dict()})

    precision = resumed_precision(config.train.precision, written, device)
    return _Member(out, config, model, optimizer, state, precision, start_writing)


class _Stack:
    """The group's stacked parameters, buffers and optimizer, and the per-model values
    of the hyperparameters that differ between its models."""

    def __init__(self, members: Sequence[_Member], settings: TrainConfig, batching: str):
        self.members, self.batching = members, batching
        self.loss_of = _LossOf(members[0].model)
        parameters = [dict(_LossOf(member.model).named_parameters()) for member in members]
        buffers = [dict(_LossOf(member.model).named_buffers()) for member in members]
        with torch.no_grad():
            self.parameters = {
                name: torch.stack([own[name] for own in parameters]).requires_grad_() for name in parameters[0]
            }
            self.buffers = {name: torch.stack([own[name] for own in buffers]) for name in buffers[0]}
        self.optimizer = player_optimizer(members[0].model.players()[0], list(self.parameters.values()), settings)
        self._stack_optimizer_state()
        self.template_config = members[0].config.model
        differing = [
            name for name in members[0].model.packable_settings
            if len({getattr(m.config.model, name) for m in members}) > 1
        ]
        device = next(iter(self.parameters.values())).device
        self.values = {
            name: torch.tensor([float(getattr(m.config.model, name)) for m in members], device=device)
            for name in differing
        }

    def _stack_optimizer_state(self) -> None:
        """Load the members' optimizer states (all empty, or all at one step) into the stacked optimizer."""
        states = [member.optimizer.state_dict()["state"] for member in self.members]
        if not states[0]:
            return
        stacked = {}
        for index, slots in states[0].items():
            stacked[index] = {
                key: torch.stack([state[index][key] for state in states]) if value.ndim else value.clone()
                for key, value in slots.items()
            }
        self.optimizer.load_state_dict({"state": stacked, "param_groups": self.optimizer.state_dict()["param_groups"]})

    def terms(self, x: Tensor, step: int) -> dict[str, Tensor]:
        """The loss terms of every model, each with a leading model dimension, for batches ``x`` ``(K, B, C, H, W)``."""
        if self.batching == "loop":
            return self._terms_one_by_one(x, step)

        def one_model(parameters, buffers, values, batch):
            settings = _with_values(self.template_config, values)
            return functional_call(self.loss_of, (parameters, buffers), (batch, step, settings))

        with model_streams([member.state.noise_generator for member in self.members]):
            return vmap(one_model)(self.parameters, self.buffers, self.values, x)

    def _terms_one_by_one(self, x: Tensor, step: int) -> dict[str, Tensor]:
        """``terms``, evaluating model k on its slice of the stacked tensors, with its own settings and noise."""
        per_model = []
        for k, member in enumerate(self.members):
            parameters = {name: stacked[k] for name, stacked in self.parameters.items()}
            buffers = {name: stacked[k] for name, stacked in self.buffers.items()}
            with model_streams([member.state.noise_generator]):
                per_model.append(
                    functional_call(self.loss_of, (parameters, buffers), (x[k], step, member.config.model))
                )
        return {key: torch.stack([terms[key] for terms in per_model]) for key in per_model[0]}

    def write_back(self, k: int) -> None:
        """Copy model k's slice of the stacked weights and optimizer state into its own model and optimizer."""
        member = self.members[k]
        module = _LossOf(member.model)
        with torch.no_grad():
            for name, parameter in module.named_parameters():
                parameter.copy_(self.parameters[name][k])
            for name, buffer in module.named_buffers():
                buffer.copy_(self.buffers[name][k])
        stacked = self.optimizer.state_dict()["state"]
        own = {
            index: {key: (value[k] if value.ndim else value).clone() for key, value in slots.items()}
            for index, slots in stacked.items()
        }
        member.optimizer.load_state_dict({"state": own, "param_groups": member.optimizer.state_dict()["param_groups"]})


def _raise_if_diverged(watch: DivergenceWatch, members: Sequence[_Member]) -> None:
    """Raise ``TrainingDiverged`` naming the run, the step and the term if a model's loss was not finite."""
    divergence = watch.first()
    if divergence is not None:
        out = members[divergence.model].out
        raise divergence.error(out, prefix=f"{out}: ")


def _batches(members: Sequence[_Member], dataset: ImageDataset, held: DeviceObservations | None,
             batch_size: int, device: str) -> Tensor:
    """Each model's batch, drawn from its own data stream: ``(K, B, C, H, W)`` on ``device``."""
    if held is None:
        batches = [m.model.sample_batch(dataset, batch_size, m.state.data_generator).observations for m in members]
        return torch.stack(batches).to(device)
    indices = torch.cat([dataset.sample_indices(batch_size, m.state.data_generator) for m in members])
    return held.observations(indices).unflatten(0, (len(members), batch_size))


def train_packed(
    outs: Sequence[str | Path],
    configs: Sequence[RunConfig],
    *,
    progress: bool = False,
    device_data: bool | None = None,
    batching: str = "vmap",
) -> list[Path]:
    """Bring each run folder ``outs[k]`` to ``configs[k]``'s steps, all trained as one group.

    Every run is either new (a missing or empty folder, or one killed before its first
    checkpoint) or has checkpoints — then it continues from its last one with its
    folder's settings, as ``resume`` does, and the last checkpoints must be at one step
    (a group checkpoints together). ``configs`` must be packable
    together (``packing_key``). ``device_data``: hold the dataset on the training device
    and gather batches there (default: on a GPU; ``DeviceObservations`` may decline).
    ``batching``: one of ``BATCHINGS``. Returns the run folders.
    """
    outs = [Path(out) for out in outs]
    if batching not in BATCHINGS:
        raise InputError(f"--batching: expected one of {', '.join(BATCHINGS)}, got {batching!r}")
    _check_group(configs, outs)
    settings = configs[0].train
    processes = Processes.launched(settings.device)
    if processes.world_size > 1:
        raise InputError("--pack: a packed group trains in one process (not under torchrun)")
    prepare_process(settings, processes)
    device = processes.device
    steps = [run_folder.last_checkpoint_step(out) for out in outs]
    if len(set(steps)) > 1:
        raise InputError(f"{outs[0]}: a group resumes from one step; its runs' last checkpoints are at steps {steps}")
    # A resumed group trains on its folders' data (as recorded, ``read_run_config``).
    dataset = (read_run_config(outs[0])[1] if steps[0] else configs[0]).data.build()
    check_memory(configs[0].for_dataset(dataset), dataset.observation_shape, device, training=True)
    if steps[0]:
        members = [_resumed_member(out, config.train.steps, dataset, device) for out, config in zip(outs, configs)]
    else:
        members = [_new_member(out, config, dataset, device) for out, config in zip(outs, configs)]
    _check_group([member.config for member in members], outs)  # a resumed run trains with its folder's settings
    precisions = {member.precision for member in members}
    if len(precisions) > 1:
        raise InputError(
            f"{outs[0]}: a group trains in one precision; its runs started in {', '.join(sorted(precisions))}"
        )
    for member in members:
        if member.write_first:
            member.start_writing()
            member.start_writing = None
    settings = members[0].config.train
    use_device_data = holds_data_on_device(device) if device_data is None else device_data
    held = DeviceObservations.hold(dataset, device) if use_device_data else None
    stack = _Stack(members, settings, batching)
    _loop(members, stack, dataset, held, settings, members[0].precision, device, progress)
    return outs


def _loop(members: Sequence[_Member], stack: _Stack, dataset: ImageDataset, held: DeviceObservations | None,
          settings: TrainConfig, precision: str, device: str, progress: bool) -> None:
    """The group's steps, from its members' step up to ``settings.steps``, in ``precision``
    (resolved); each run logs and checkpoints as it would alone."""
    state = members[0].state
    loggers = [RunLogger(m.out, state.step, settings.steps, progress and k == 0) for k, m in enumerate(members)]
    meter = TermMeter()
    configure_matmuls(precision, device)
    watch, cadence = DivergenceWatch(["loss"], models=len(members)), Cadence(settings)
    try:
        while state.step < settings.steps:
            x = _batches(members, dataset, held, settings.batch_size, device)
            try:
                with autocast(precision, device):
                    terms = stack.terms(x, state.step)
                watch.observe(terms, state.step)
                stack.optimizer.zero_grad(set_to_none=True)
                terms["loss"].sum().backward()
                stack.optimizer.step()
            except RuntimeError:  # an operation refused the non-finite values of an earlier step
                _raise_if_diverged(watch, members)
                raise

            for member in members:
                member.state.step += 1
            work = cadence.after(state.step)
            if work.check:  # the host waits for the device here only
                _raise_if_diverged(watch, members)
            for member in members:
                if member.start_writing is not None:
                    member.start_writing()
                    member.start_writing = None
            meter.add(terms)
            if work.log:
                for logger, means in zip(loggers, meter.means_per_model(len(members))):
                    logger.write(state.step, settings.batch_size, means)
            if work.checkpoint:
                for k, member in enumerate(members):
                    stack.write_back(k)
                    write_checkpoint(member.out, member.model, {"optimizer": member.optimizer}, member.state,
                                     settings.keep_checkpoints)
    finally:
        for logger in loggers:
            logger.close()
