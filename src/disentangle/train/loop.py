"""The training loop: sample a batch, forward, backward, step, log, checkpoint.

``train`` starts a run folder, ``resume`` continues one, ``load_run`` rebuilds a
trained model and its dataset from nothing but the folder's path.

A run folder is read with the data it was trained on: its ``config.json``'s data options
(an option it lacks, being older, takes the value the run had:
``ImageDataset.unrecorded_options``) and, where recorded, the size and digest of each
data file (``data_files``, ``disentangle.data.identity``). Where a file changed,
``resume`` refuses and leaves the folder as it was; ``load_run`` (``evaluate``,
``report``, ...) warns (``DataChanged``) and goes on.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from disentangle import run_folder
from disentangle.data import DATASETS, ImageDataset, identity
from disentangle.errors import DataChanged, InputError
from disentangle.models import MODELS, Model
from disentangle.train.checkpoint import TrainingState, load_checkpoint, load_model_weights
from disentangle.train.config import DEFAULT_DATA, DEFAULT_MODEL, RunConfig, TrainConfig
from disentangle.train.device_data import held_on_device
from disentangle.train.distributed import Processes
from disentangle.train.divergence import DivergenceWatch
from disentangle.train.precision import autocast, configure_matmuls, resolve_precision, resumed_precision
from disentangle.train.run_log import RunLogger, TermMeter
from disentangle.train.runtime import check_memory
from disentangle.train.steps import (
    Cadence,
    build_model,
    clip_gradients,
    holds_data_on_device,
    memory_format,
    place,
    player_optimizer,
    prepare_process,
    write_checkpoint,
)


@dataclass
class Run:
    """A run folder loaded back: its ``config.json`` (``config``) and the ``RunConfig`` it
    holds (``settings``), the model (in eval mode) and the dataset."""

    path: Path
    config: dict
    settings: RunConfig
    model: Model
    dataset: ImageDataset
    step: int


def read_run_config(run: Path) -> tuple[dict, RunConfig]:
    """A run folder's ``config.json`` and the ``RunConfig`` it holds, checked; a model field
    or data option the file lacks takes the value the run trained with
    (``ModelConfig.BEFORE_THE_FIELD``, ``ImageDataset.unrecorded_options``)."""
    config = run_folder.read_config(run)
    model_class = MODELS.get(config["model"]["name"])
    if model_class is not None:
        before = model_class.config_class.BEFORE_THE_FIELD
        config = {**config, "model": {**before, **config["model"]}}
    data_class = DATASETS.get(config["data"]["name"])
    if data_class is not None:
        config = {**config, "data": {**config["data"], **data_class.unrecorded_options(config["data"])}}
    return config, RunConfig.from_dict(config, source=str(Path(run) / run_folder.CONFIG))


def new_run_config(config: RunConfig, dataset: ImageDataset, world_size: int, precision: str) -> dict:
    """The ``config.json`` of a new run of ``config`` (as ``RunConfig.for_dataset`` records
    it) on ``dataset``: the layout's version, the settings, the data files' sizes and
    digests (``data_files``) and the environment."""
    return {
        "format_version": run_folder.FORMAT_VERSION,
        **config.to_dict(),
        "data_files": identity.file_records(dataset),
        "environment": {**run_folder.environment(), "world_size": world_size, "precision": precision},
    }


def data_changes(written: Mapping, dataset: ImageDataset) -> list[str]:
    """How the files ``dataset`` reads differ from those that a run folder's ``config.json``
    ``written`` records (``identity.changes``); none for a folder that records no
    ``data_files`` (written before they were recorded)."""
    if "data_files" not in written:
        return []
    return identity.changes(written["data_files"], identity.file_records(dataset))


def refuse_other_data(where: str, written: Mapping, dataset: ImageDataset) -> None:
    """``InputError`` starting with ``where`` when ``data_changes`` finds any: resuming
    would continue the run on other data than it was trained on."""
    changed = data_changes(written, dataset)
    if changed:
        raise InputError(f"{where}: {'; '.join(changed)}; resuming would train it on other data")


def as_run_config(
    model: str | RunConfig, data: str | None, data_options: Mapping | None, settings: Mapping
) -> RunConfig:
    """``model`` if it is a ``RunConfig`` (then nothing else may be given), else the
    configuration of ``RunConfig.from_keywords``."""
    if isinstance(model, RunConfig):
        if data is not None or data_options or settings:
            raise TypeError("give either a RunConfig or a model's name with data and settings, not both")
        return model
    return RunConfig.from_keywords(model, data or DEFAULT_DATA, data_options, **settings)


def _optimizers(model: Model, settings: TrainConfig) -> dict[str, torch.optim.Optimizer]:
    """One optimizer per player, keyed ``optimizer`` (the model) or ``optimizer_<player>``."""
    return {
        "optimizer" if player.name == "model" else f"optimizer_{player.name}": player_optimizer(
            player, player.parameters, settings
        )
        for player in model.players()
    }


def _raise_if_diverged(watch: DivergenceWatch, players, run: Path) -> None:
    """Raise ``TrainingDiverged`` naming the step, the player and the term if a loss was not finite."""
    divergence = watch.first()
    if divergence is not None:
        player = next(player for player in players if player.loss_key == divergence.loss_key)
        raise divergence.error(run, who="" if player.name == "model" else f"{player.name} ")


def _apply_gradients(
    terms: dict[str, torch.Tensor], players, optimizers, processes: Processes = Processes(device="cpu")
) -> None:
    """Each player's optimizer steps on the gradient of its own loss term, averaged over
    the ``processes`` of a multi-process run (default: a single process).

    With one player this is ``loss.backward(); optimizer.step()``. With several, all
    gradients are taken first (on the same forward pass), then every optimizer steps.
    """
    if len(players) == 1:
        optimizer = next(iter(optimizers.values()))
        optimizer.zero_grad(set_to_none=True)
        terms[players[0].loss_key].backward()
        processes.average_gradients(parameter.grad for parameter in players[0].parameters)
        clip_gradients(players[0])
        optimizer.step()
        return
    gradients = [
        torch.autograd.grad(terms[p.loss_key], p.parameters, retain_graph=True, allow_unused=True) for p in players
    ]
    for player, grads, optimizer in zip(players, gradients, optimizers.values()):
        processes.average_gradients(grads)
        for parameter, grad in zip(player.parameters, grads):
            parameter.grad = grad
        clip_gradients(player)
        optimizer.step()



def _loop(
    run: Path, model: Model, dataset: ImageDataset, settings: TrainConfig, precision: str, optimizers, state,
    progress, processes: Processes, on_first_step: Callable[[], None] | None = None,
):
    """Train up to ``settings.steps`` in ``precision`` (resolved: not ``auto``). ``batch_size``
    is the global batch: each of the ``processes`` learns from its shard, and only rank 0
    logs and writes checkpoints.

    ``on_first_step`` runs (on rank 0) once the first step has succeeded, before anything
    is logged: a resumed run writes its new settings then, so that a resume that fails
    at once leaves the run folder as it was."""
    device, layout = torch.device(processes.device), memory_format(model)
    if holds_data_on_device(processes.device):
        dataset = held_on_device(dataset, processes.device)
    players = model.players()
    meter = TermMeter()
    logger = RunLogger(run, state.step, settings.steps, progress) if processes.is_main else None
    processes.broadcast_parameters(model)
    configure_matmuls(precision, processes.device)
    watch = DivergenceWatch([player.loss_key for player in players])
    cadence = Cadence(settings, writes=processes.is_main)
    try:
        while state.step < settings.steps:
            batch = model.sample_batch(dataset, settings.batch_size, state.data_generator)
            x = processes.shard(batch.observations, batch.blocks)
            rows = {name: processes.shard(value).to(device) for name, value in batch.rows.items()}

            try:
                with autocast(precision, processes.device):
                    terms = model.loss(x.to(device, memory_format=layout), state.step, **batch.context, **rows)
                watch.observe(terms, state.step)
                _apply_gradients(terms, players, optimizers, processes)
            except RuntimeError:  # an operation refused the non-finite values of an earlier step
                _raise_if_diverged(watch, players, run)
                raise

            state.step += 1
            work = cadence.after(state.step)
            if work.check:  # the host waits for the device here only
                _raise_if_diverged(watch, players, run)
            if on_first_step is not None and processes.is_main:
                on_first_step()
                on_first_step = None
            meter.add(terms)
            if work.log:
                means = processes.average_terms(meter.means())
                if logger:
                    logger.write(state.step, len(batch.observations), means)
            if work.checkpoint:
                write_checkpoint(run, model, optimizers, state, settings.keep_checkpoints)
    finally:
        if logger:
            logger.close()
    return state


def _ready(config: RunConfig, source: str | None) -> tuple[RunConfig, Processes, ImageDataset, Model]:
    """Everything a run needs before a file is written, all checked: this process's place
    among the processes, the dataset, the configuration as the run records it
    (``RunConfig.for_dataset``) and the freshly initialised model on its device. ``source``
    names where the configuration came from, for errors (None: the command line)."""
    processes = Processes.launched(config.train.device)
    prepare_process(config.train, processes)
    dataset = config.data.build()
    config = config.for_dataset(dataset)
    check_memory(config, dataset.observation_shape, processes.device, training=True, source=source)
    torch.manual_seed(config.train.seed)
    network = place(config.build_model(dataset.observation_shape), processes.device)
    network.check_dataset(dataset)
    processes.check(network, config.train.batch_size)
    return config, processes, dataset, network


def _train_from_step_0(out: Path, config: RunConfig, progress: bool, restarted: Mapping | None = None) -> Path:
    """Train ``config`` into ``out`` from step 0. A new run writes ``config.json`` first; a
    restarted one (a folder without a checkpoint, whose ``config.json`` is ``restarted``)
    is refused if its data files changed (``refuse_other_data``), else clears what its
    earlier attempt wrote and writes ``config.json`` only once its first step has succeeded."""
    restart = restarted is not None
    config, processes, dataset, network = _ready(config, str(out / run_folder.CONFIG) if restart else None)
    if restart:
        refuse_other_data(f"--resume {out}", restarted, dataset)
    settings = config.train
    precision = resolve_precision(settings.precision, processes.device)
    written = new_run_config(config, dataset, processes.world_size, precision)

    def start_writing() -> None:
        if restart:
            run_folder.clear_training_outputs(out)
        run_folder.atomic_write_json(out / run_folder.CONFIG, written)

    with processes.joined():
        optimizers = _optimizers(network, settings)  # an optimizer the model refuses fails before any write
        if processes.is_main and not restart:
            out.mkdir(parents=True, exist_ok=True)
            start_writing()
        generator = torch.Generator().manual_seed(settings.seed)
        state = TrainingState(step=0, data_generator=generator)
        processes.seed_noise(settings.seed, state.step)
        _loop(out, network, dataset, settings, precision, optimizers, state, progress, processes,
              on_first_step=start_writing if restart else None)
    return out


def train(
    out: str | Path,
    model: str | RunConfig = DEFAULT_MODEL,
    data: str | None = None,
    *,
    data_options: dict | None = None,
    progress: bool = True,
    **settings,
) -> Path:
    """Train a model and write the run folder ``out``; returns its path.

    ``model`` is a ``RunConfig``, or a model's name: then ``data`` (default dsprites),
    ``data_options`` and ``settings`` — the model's hyperparameters (``beta=4``,
    ``latent_dim=10``, ...) and the fields of ``TrainConfig`` (``steps``, ``batch_size``,
    ``seed``, ...) — make one (``RunConfig.from_keywords``). Under torchrun every process
    calls it and trains its shard of each batch; only rank 0 writes ``out`` (see
    ``disentangle.train.distributed``).
    """
    out = Path(out)
    config = as_run_config(model, data, data_options, settings)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"--out {out}: exists and is not an empty folder (use --resume {out} to continue a run)")
    return _train_from_step_0(out, config, progress)


def resume(run: str | Path, steps: int | None = None, progress: bool = True) -> Path:
    """Continue the run in folder ``run`` from its last checkpoint up to ``steps`` in total.

    The result is the same as a run trained for ``steps`` without interruption, on the
    data it was trained on: a data file that changed since (``data_changes``) is refused.
    A run folder without a checkpoint (stopped before its first one) is trained from
    step 0 with the settings of its ``config.json`` — only if it holds nothing but what
    training writes. Everything is checked before the folder is changed, and the new
    settings are written once the first step has succeeded, so a resume that fails
    leaves the folder as it was.
    """
    run = Path(run)
    written, config = read_run_config(run)
    if steps is not None:
        config = config.with_train(steps=steps)
    if run_folder.last_checkpoint_step(run) == 0:
        if not run_folder.holds_only_run_files(run):
            raise InputError(f"--resume {run}: has no checkpoint and holds files that training does not write")
        return _train_from_step_0(run, config, progress, restarted=written)
    settings = config.train
    processes = Processes.launched(settings.device)
    prepare_process(settings, processes)
    checkpoint = run_folder.latest_checkpoint(run)
    model, dataset = build_model(config, run, processes.device, training=True)
    refuse_other_data(f"--resume {run}", written, dataset)
    processes.check(model, settings.batch_size)
    place(model, processes.device)
    optimizers = _optimizers(model, settings)
    state = load_checkpoint(checkpoint, model, optimizers)
    if settings.steps < state.step:
        raise InputError(f"--steps: the run is already at step {state.step}; expected a total ≥ {state.step}")

    resumed_from = state.step

    def start_writing() -> None:
        run_folder.clear_stale_temporaries(run)
        run_folder.truncate_log(run, resumed_from)
        run_folder.atomic_write_json(run / run_folder.CONFIG, {**written, "train": settings.to_dict()})

    with processes.joined():
        processes.seed_noise(settings.seed, state.step)
        precision = resumed_precision(settings.precision, written, processes.device)
        _loop(run, model, dataset, settings, precision, optimizers, state, progress, processes,
              on_first_step=start_writing)
    return run


def train_or_resume(
    out: str | Path,
    model: str | RunConfig = DEFAULT_MODEL,
    data: str | None = None,
    *,
    data_options: dict | None = None,
    progress: bool = True,
    **settings,
) -> int:
    """Bring the run folder ``out`` to the configuration's steps whatever state it was left in.

    A finished run is left alone, one with a checkpoint is resumed (the result is the
    uninterrupted run's), and a run folder killed before its first checkpoint is
    cleared and trained anew (only when it holds nothing but what training writes),
    as is a missing or empty ``out``; arguments as ``train``.
    Returns the step it started from (0: trained from the start).
    """
    out = Path(out)
    config = as_run_config(model, data, data_options, settings)
    steps = config.train.steps
    done = run_folder.last_checkpoint_step(out)
    if done == steps:
        return done
    if done:
        resume(out, steps=steps, progress=progress)
        return done
    if out.is_dir() and any(out.iterdir()) and run_folder.holds_only_run_files(out):  # never other files
        shutil.rmtree(out)
    train(out, config, progress=progress)
    return 0


def load_run(
    run: str | Path, checkpoint: str | Path | None = None, device: str = "cpu", dataset: ImageDataset | None = None
) -> Run:
    """The trained model (eval mode, on ``device``) and dataset of a run folder.

    ``dataset``: the run's data, already built (by the caller, who checked that the run's
    ``data`` settings are those it was built from), instead of building it again. A data
    file that changed since the run was trained is named in a ``DataChanged`` warning.
    """
    run = Path(run)
    written, config = read_run_config(run)
    model, dataset = build_model(config, run, device, training=False, dataset=dataset)
    changed = data_changes(written, dataset)
    if changed:
        warnings.warn(f"{run}: {'; '.join(changed)}; going on with the data as it is now", DataChanged, stacklevel=2)
    path = Path(checkpoint) if checkpoint else run_folder.latest_checkpoint(run)
    step = load_model_weights(path, model)
    model.to(device).eval()
    return Run(path=run, config=written, settings=config, model=model, dataset=dataset, step=step)
