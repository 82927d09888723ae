"""The training loop: sample a batch, forward, backward, step, log, checkpoint.

``train`` starts a run folder, ``resume`` continues one, ``load_run`` rebuilds a
trained model and its dataset from nothing but the folder's path.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from disentangle.data import ImageDataset, get_dataset
from disentangle.errors import InputError, TrainingDiverged
from disentangle.models import Model, build_model, model_class, model_config
from disentangle.train import run_folder
from disentangle.train.checkpoint import TrainingState, load_checkpoint, load_model_weights, save_checkpoint
from disentangle.train.config import TrainConfig
from disentangle.train.distributed import Processes
from disentangle.train.run_log import RunLogger, TermMeter
from disentangle.train.runtime import configure_threads, tune_allocator, uses_convolutions


@dataclass
class Run:
    """A run folder loaded back: its settings, model (in eval mode) and dataset."""

    path: Path
    config: dict
    model: Model
    dataset: ImageDataset
    step: int


def _build(config: dict) -> tuple[Model, ImageDataset]:
    data_options = {k: v for k, v in config["data"].items() if k != "name"}
    dataset = get_dataset(config["data"]["name"], **data_options)
    hyperparameters = {k: v for k, v in config["model"].items() if k != "name"}
    model = build_model(config["model"]["name"], dataset.observation_shape, **hyperparameters)
    return model, dataset


def _optimizers(model: Model, settings: TrainConfig) -> dict[str, torch.optim.Optimizer]:
    """One optimizer per player, keyed ``optimizer`` (the model) or ``optimizer_<player>``."""
    optimizers = {}
    for player in model.players():
        lr = player.learning_rate or settings.learning_rate
        betas = player.betas or (settings.adam_beta1, settings.adam_beta2)
        if settings.optimizer == "adagrad":
            optimizer = torch.optim.Adagrad(player.parameters, lr=lr)
        else:
            optimizer = torch.optim.Adam(player.parameters, lr=lr, betas=betas, eps=settings.adam_eps)
        optimizers["optimizer" if player.name == "model" else f"optimizer_{player.name}"] = optimizer
    return optimizers


def _check_finite(terms: dict[str, torch.Tensor], players, step: int, run: Path) -> None:
    """Raise ``TrainingDiverged`` naming the step, the player and the term if a loss is not finite."""
    for player in players:
        if torch.isfinite(terms[player.loss_key]).all():
            continue
        bad = next((k for k, v in terms.items() if not torch.isfinite(v).all()), player.loss_key)
        value = terms[bad].detach().flatten()[0].item()
        last = run_folder.checkpoint_paths(run)
        kept = f"the last good checkpoint is {last[-1]}" if last else "no checkpoint was written yet"
        who = "" if player.name == "model" else f"{player.name} "
        raise TrainingDiverged(f"step {step + 1}: {who}loss term '{bad}' is {value} (expected finite); {kept}")


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
        optimizer.step()
        return
    gradients = [
        torch.autograd.grad(terms[p.loss_key], p.parameters, retain_graph=True, allow_unused=True) for p in players
    ]
    for player, grads, optimizer in zip(players, gradients, optimizers.values()):
        processes.average_gradients(grads)
        for parameter, grad in zip(player.parameters, grads):
            parameter.grad = grad
        optimizer.step()


def _prune_checkpoints(run: Path, keep: int) -> None:
    for old in run_folder.checkpoint_paths(run)[:-keep]:
        old.unlink(missing_ok=True)


def _memory_format(model: Model) -> torch.memory_format:
    return torch.channels_last if uses_convolutions(model) else torch.contiguous_format


def _place(model: Model, device: str) -> Model:
    """Move the model to its device and layout before optimizers see its parameters, so
    that restored optimizer state lands on the same device."""
    return model.to(device=torch.device(device), memory_format=_memory_format(model)).train()


def _loop(
    run: Path, model: Model, dataset: ImageDataset, settings: TrainConfig, optimizers, state, progress,
    processes: Processes,
):
    """Train up to ``settings.steps``. ``batch_size`` is the global batch: each of the
    ``processes`` learns from its shard, and only rank 0 logs and writes checkpoints."""
    device, memory_format = torch.device(processes.device), _memory_format(model)
    players = model.players()
    batch_size = settings.batch_size * model.batch_multiplier
    meter = TermMeter()
    logger = RunLogger(run, state.step, settings.steps, progress) if processes.is_main else None
    processes.broadcast_parameters(model)
    try:
        while state.step < settings.steps:
            x, context = model.sample_batch(dataset, batch_size, state.data_generator)
            x = processes.shard(x, model.batch_multiplier)

            terms = model.loss(x.to(device, memory_format=memory_format), state.step, **context)
            _check_finite(terms, players, state.step, run)
            _apply_gradients(terms, players, optimizers, processes)

            state.step += 1
            meter.add(terms)
            final = state.step == settings.steps
            if state.step % settings.log_every == 0 or final:
                means = processes.average_terms(meter.means())
                if logger:
                    logger.write(state.step, batch_size, means)
            if processes.is_main and (state.step % settings.checkpoint_every == 0 or final):
                save_checkpoint(run_folder.checkpoint_path(run, state.step), model, optimizers, state)
                _prune_checkpoints(run, settings.keep_checkpoints)
    finally:
        if logger:
            logger.close()
    return state


def _prepare_process(settings: TrainConfig, processes: Processes) -> None:
    tune_allocator()
    configure_threads(settings.threads or processes.threads_per_process)
    if settings.device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {settings.device}: CUDA is not available on this machine (use --device cpu)")


def train(
    out: str | Path,
    model: str = "beta-vae",
    data: str = "dsprites",
    *,
    data_options: dict | None = None,
    progress: bool = True,
    **settings,
) -> Path:
    """Train ``model`` on ``data`` and write the run folder ``out``; returns its path.

    ``settings`` holds the model's hyperparameters (``beta=4``, ``latent_dim=10``, ...)
    and the fields of ``TrainConfig`` (``steps``, ``batch_size``, ``seed``, ...).
    Under torchrun every process calls it and trains its shard of each batch; only
    rank 0 writes ``out`` (see ``disentangle.train.distributed``).
    """
    out = Path(out)
    train_fields = set(TrainConfig.__dataclass_fields__)
    train_settings = TrainConfig(**{k: v for k, v in settings.items() if k in train_fields})
    hyperparameters = {k: v for k, v in settings.items() if k not in train_fields}
    model_settings = model_config(model, **hyperparameters)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"--out {out}: exists and is not an empty folder (use --resume {out} to continue a run)")
    processes = Processes.launched(train_settings.device)
    _prepare_process(train_settings, processes)

    dataset = get_dataset(data, **(data_options or {}))
    torch.manual_seed(train_settings.seed)
    network = _place(model_class(model)(model_settings, dataset.observation_shape), processes.device)
    network.check_dataset(dataset)
    processes.check(network, train_settings.batch_size)
    with processes.joined():
        if processes.is_main:
            out.mkdir(parents=True, exist_ok=True)
            config = {
                "format_version": run_folder.FORMAT_VERSION,
                "model": {"name": model, **network.config.to_dict()},
                "data": dataset.describe(),
                "train": train_settings.to_dict(),
                "environment": {**run_folder.environment(), "world_size": processes.world_size},
            }
            run_folder.atomic_write_json(out / run_folder.CONFIG, config)
        generator = torch.Generator().manual_seed(train_settings.seed)
        state = TrainingState(step=0, data_generator=generator)
        processes.seed_noise(train_settings.seed, state.step)
        optimizers = _optimizers(network, train_settings)
        _loop(out, network, dataset, train_settings, optimizers, state, progress, processes)
    return out


def resume(run: str | Path, steps: int | None = None, progress: bool = True) -> Path:
    """Continue the run in folder ``run`` from its last checkpoint up to ``steps`` in total.

    The result is the same as a run trained for ``steps`` without interruption.
    """
    run = Path(run)
    config = run_folder.read_config(run)
    settings = TrainConfig.from_dict(config["train"], source=str(run / run_folder.CONFIG))
    if steps is not None:
        settings = TrainConfig(**{**settings.to_dict(), "steps": steps})
    processes = Processes.launched(settings.device)
    _prepare_process(settings, processes)
    checkpoint = run_folder.latest_checkpoint(run)
    model, dataset = _build(config)
    processes.check(model, settings.batch_size)
    _place(model, processes.device)
    optimizers = _optimizers(model, settings)
    state = load_checkpoint(checkpoint, model, optimizers)
    if settings.steps < state.step:
        raise InputError(f"--steps: the run is already at step {state.step}; expected a total ≥ {state.step}")
    with processes.joined():
        if processes.is_main:
            run_folder.truncate_log(run, state.step)
            run_folder.atomic_write_json(run / run_folder.CONFIG, {**config, "train": settings.to_dict()})
        processes.seed_noise(settings.seed, state.step)
        _loop(run, model, dataset, settings, optimizers, state, progress, processes)
    return run


def train_or_resume(
    out: str | Path, model: str, data: str, *, data_options: dict | None = None, progress: bool = True, **settings
) -> int:
    """Bring the run folder ``out`` to ``settings["steps"]`` whatever state it was left in.

    A finished run is left alone, one with a checkpoint is resumed (the result is the
    uninterrupted run's), and a run folder killed before its first checkpoint is
    cleared and trained anew (only when it holds nothing but what training writes),
    as is a missing or empty ``out``; arguments as ``train``.
    Returns the step it started from (0: trained from the start).
    """
    out = Path(out)
    steps = settings.get("steps", TrainConfig.steps)
    done = run_folder.last_checkpoint_step(out)
    if done == steps:
        return done
    if done:
        resume(out, steps=steps, progress=progress)
        return done
    if out.is_dir() and any(out.iterdir()) and run_folder.holds_only_run_files(out):  # never other files
        shutil.rmtree(out)
    train(out, model, data, data_options=data_options, progress=progress, **settings)
    return 0


def load_run(run: str | Path, checkpoint: str | Path | None = None, device: str = "cpu") -> Run:
    """The trained model (eval mode, on ``device``) and dataset of a run folder."""
    run = Path(run)
    config = run_folder.read_config(run)
    model, dataset = _build(config)
    path = Path(checkpoint) if checkpoint else run_folder.latest_checkpoint(run)
    step = load_model_weights(path, model)
    model.to(device).eval()
    return Run(path=run, config=config, model=model, dataset=dataset, step=step)
