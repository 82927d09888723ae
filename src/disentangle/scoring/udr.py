"""UDR of a set of trained runs, written into each run's ``metrics.json``.

``score_runs(runs)`` loads every run's latest checkpoint (the data is built once: the
runs must share their ``data`` settings and latent size), encodes the same
observations with each (posterior means, and the KL of q(z|x) from N(0, I) per latent,
nats, averaged over the points: what dlib's UDR evaluation hands the metric), runs
:func:`disentangle.metrics.udr` under one seed and writes, into each run's
``metrics.json`` (atomically, keeping everything else there), the section

.. code-block:: text

    "udr": {"model_score": ..., "checkpoint_step": ..., "index": i, "runs": [paths],
            "checkpoint_steps": [...], "pairwise_disentanglement_scores": (M, M),
            "kl_per_dim": (D,), "raw_correlations": (M, D, D) (pairs (j, i), with
            include_raw_correlations), "seed": ..., "settings": {...},
            "wall_time_s": ..., "environment": {...}}

``disentangle aggregate`` reads ``udr.model_score`` as a column. A new UDR of a run
replaces its previous one; ``evaluate`` keeps it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from disentangle.data import FactorDataset
from disentangle.errors import InputError
from disentangle.scoring.evaluate import METRICS_FILE, UDR_SECTION, check_seeds, read_metrics_file
from disentangle.metrics import udr
from disentangle.metrics.udr import resolve_settings
from disentangle.models import Model
from disentangle.scoring.representation import IndexedFactorData
from disentangle.train import load_run
from disentangle.run_folder import CONFIG, atomic_write_json, clear_stale_temporaries, environment, read_config
from disentangle.train.runtime import check_device

#: images encoded at a time
ENCODE_BATCH = 512


def find_runs(paths: Sequence[str | Path]) -> list[Path]:
    """Run folders: each path that holds a ``config.json``, else every folder under it that
    does (a sweep's output), in path order; ``InputError`` for a path with none."""
    runs = []
    for path in map(Path, paths):
        if (path / CONFIG).is_file():
            runs.append(path)
        elif path.is_dir():
            found = sorted(config.parent for config in path.rglob(CONFIG))
            if not found:
                raise InputError(f"{path}: no run folders under it (folders holding {CONFIG})")
            runs.extend(found)
        else:
            raise InputError(f"{path}: no such run folder")
    return runs


def check_comparable(runs: Sequence[Path]) -> None:
    """``InputError`` unless there are at least 2 distinct runs sharing data settings and latent size."""
    if len({run.resolve() for run in runs}) != len(runs):
        raise InputError("runs: each run may be given once")
    if len(runs) < 2:
        raise InputError(f"runs: UDR compares at least 2 runs, got {len(runs)}")
    first = read_config(runs[0])
    for run in runs[1:]:
        config = read_config(run)
        if config["data"] != first["data"]:
            raise InputError(f"{run}: trained on other data than {runs[0]} (UDR compares runs on the same dataset)")
        if config["model"].get("latent_dim") != first["model"].get("latent_dim"):
            raise InputError(
                f"{run}: latent_dim {config['model'].get('latent_dim')} differs from {runs[0]}'s "
                f"{first['model'].get('latent_dim')} (UDR compares runs of the same latent size)"
            )


def mean_and_kl_function(model: Model, dataset: FactorDataset, device: str = "cpu") -> Callable:
    """Dataset indices ``(N,)`` -> ``(posterior means (N, D), KL per latent (D,))``, the KL of
    q(z|x) from N(0, I) in nats averaged over the N images (dlib's UDR representation)."""

    @torch.inference_mode()
    def representation(indices):
        means, kl_sums = [], 0.0
        for start in range(0, len(indices), ENCODE_BATCH):
            x = dataset.observations(indices[start : start + ENCODE_BATCH]).to(device)
            mean, logvar = (t.to("cpu", torch.float64) for t in model.posterior(x))
            kl_sums = kl_sums + 0.5 * (mean**2 + logvar.exp() - logvar - 1.0).sum(dim=0)
            means.append(mean.numpy())
        return np.concatenate(means), (kl_sums / len(indices)).numpy()

    return representation


def score_runs(
    runs: Sequence[str | Path],
    seed: int = 0,
    preset: str = "dlib",
    device: str = "cpu",
    settings: Mapping | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """UDR of ``runs`` (paths of run folders or folders of runs, see ``find_runs``): writes the
    ``udr`` section of each run's ``metrics.json`` and returns those sections in run order.

    ``settings`` override the preset's (``disentangle.metrics.UDR.settings``).
    """
    runs = find_runs(runs)
    check_comparable(runs)
    (seed,) = check_seeds([seed])
    check_device(device)
    resolve_settings(preset, dict(settings or {}))  # bad settings are refused before anything is loaded
    started = time.perf_counter()
    loaded, dataset = [], None
    for run in runs:
        if progress:
            progress(f"loading {run}")
        loaded.append(load_run(run, device=device, dataset=dataset))
        dataset = loaded[-1].dataset
        if not loaded[-1].model.capabilities.gaussian_posterior:
            raise InputError(
                f"{run}: model '{loaded[-1].settings.model_name}' has no Gaussian posterior q(z|x) "
                "(UDR needs each latent's KL)"
            )
    if not isinstance(dataset, FactorDataset):
        raise InputError(f"{runs[0]}: dataset '{dataset.name}' has no ground-truth factors to sample from")
    functions = [mean_and_kl_function(run.model, dataset, device) for run in loaded]
    if progress:
        progress(f"udr of {len(runs)} runs")
    result = udr(IndexedFactorData(dataset), functions, np.random.RandomState(seed), preset, **(settings or {}))
    paths = [str(run.resolve()) for run in runs]
    steps = [run.step for run in loaded]
    sections = []
    for i, run in enumerate(runs):
        section = {
            "model_score": result["model_scores"][i],
            "checkpoint_step": steps[i],
            "index": i,
            "runs": paths,
            "checkpoint_steps": steps,
            "pairwise_disentanglement_scores": result["pairwise_disentanglement_scores"],
            "kl_per_dim": result["kl_per_dim"][i],
        }
        if "raw_correlations" in result:
            section["raw_correlations"] = [pair[i] for pair in result["raw_correlations"]]
        sections.append(
            {**section, "seed": seed, "settings": result["settings"],
             "wall_time_s": round(time.perf_counter() - started, 3), "environment": environment()}
        )
    for run, section in zip(runs, sections):
        clear_stale_temporaries(run)
        atomic_write_json(run / METRICS_FILE, {**read_metrics_file(run), UDR_SECTION: section})
    return sections
