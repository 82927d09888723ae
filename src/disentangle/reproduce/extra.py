"""Scores a study needs beside the sweep's evaluation, by name (``EXTRA_SCORES``).

The sweep scores every run with ``evaluate`` (``RUN/metrics.json``, one entry per
metric name). Some studies need more: Chen et al. compare MIG under two estimators,
which ``metrics.json`` cannot hold under one name, and Kim & Mnih plot the
reconstruction error. Each entry is ``function(run_folder, preset) -> {column: value}``;
``scores_of`` keeps the results in ``DIR/extra/<run name>.json`` with the checkpoint
step they were computed at, so a finished run is not scored twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from disentangle.errors import InputError
from disentangle.scoring.evaluate import memoised_run_encoder, score_representation
from disentangle.scoring.representation import IndexedFactorData
from disentangle.train import load_run
from disentangle.run_folder import atomic_write_json, last_checkpoint_step, read_log

EXTRA = "extra"
#: MIG's settings for Chen et al.'s estimator (the others: the preset's, ``disentangle.metrics.MIG``)
CHEN_MIG_SETTINGS = {"estimator": "chen"}


def chen_mig(run: Path, preset: str) -> dict:
    """MIG under Chen et al.'s estimator (posterior densities, H(v_k) = log |V_k|, shape
    excluded), metric seed 0: ``{"mig_chen.mig": value}``."""
    loaded = load_run(run)
    if not loaded.model.capabilities.gaussian_posterior:
        raise InputError(f"{run}: Chen et al.'s MIG needs a Gaussian posterior q(z|x); "
                         f"model '{loaded.settings.model_name}' has none")
    memo = memoised_run_encoder(loaded.model, loaded.dataset)
    scores = score_representation(IndexedFactorData(loaded.dataset), memo, ["mig"], [0], preset,
                                  posterior_function=memo.posterior, settings={"mig": CHEN_MIG_SETTINGS})
    return {"mig_chen.mig": scores["results"]["mig"][0]["mig"]}


def final_reconstruction(run: Path, preset: str) -> dict:
    """The reconstruction error (``recon``: −log p(x|z) in nats, summed over pixels and
    averaged over the batch) of the last interval ``log.jsonl`` records:
    ``{"reconstruction.recon": value}``."""
    lines = [line for line in read_log(run) if "recon" in line]
    if not lines:
        raise InputError(f"{run}: log.jsonl records no reconstruction term 'recon'")
    return {"reconstruction.recon": float(lines[-1]["recon"])}


#: name -> function(run folder, preset) -> {column: value}
EXTRA_SCORES: dict[str, Callable[[Path, str], dict]] = {
    "mig_chen": chen_mig,
    "reconstruction": final_reconstruction,
}


def scores_of(out: Path, run_name: str, names: Sequence[str], preset: str) -> dict:
    """The extra scores ``names`` of ``out/runs/<run_name>`` at its last checkpoint, computed
    now for those not kept in ``out/extra/<run_name>.json`` at that step (then kept there)."""
    folder = Path(out) / "runs" / run_name
    path = Path(out) / EXTRA / f"{run_name}.json"
    step = last_checkpoint_step(folder)
    try:
        kept = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:  # a damaged cache is computed again
        kept = {}
    if kept.get("checkpoint_step") != step or kept.get("preset") != preset:
        kept = {"checkpoint_step": step, "preset": preset, "scores": {}}
    missing = [name for name in names if name not in kept["scores"]]
    for name in missing:
        kept["scores"][name] = {key: float(np.float64(value)) for key, value in EXTRA_SCORES[name](folder, preset).items()}
    if missing:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, kept)
    return {key: value for name in names for key, value in kept["scores"][name].items()}
