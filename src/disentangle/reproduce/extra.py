"""Scores a study needs beside the sweep's evaluation, by name (``EXTRA_SCORES``).

The sweep scores every run with ``evaluate`` (``RUN/metrics.json``, one entry per
metric name). Some studies need more: Chen et al. compare MIG under two estimators,
which ``metrics.json`` cannot hold under one name, Kim & Mnih plot the reconstruction
error, and Higgins et al. score the BetaVAE score under two protocols, of trained runs
and of representations fitted in the study's process alike. Each entry is
``function(subject) -> {column: value}`` for a ``Subject`` (a trained run or a fitted
representation); ``scores_of`` keeps the results in ``DIR/extra/<name>.json`` with the
checkpoint step they were computed at, so a finished run is not scored twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from disentangle.data import FactorDataset
from disentangle.errors import InputError
from disentangle.run_folder import atomic_write_json, last_checkpoint_step, read_log
from disentangle.scoring.evaluate import memoised_run_encoder, score_representation
from disentangle.scoring.representation import IndexedFactorData
from disentangle.train import load_run

EXTRA = "extra"
#: MIG's settings for Chen et al.'s estimator (the others: the preset's, ``disentangle.metrics.MIG``)
CHEN_MIG_SETTINGS = {"estimator": "chen"}


@dataclass
class Subject:
    """What an extra score scores: a trained run's folder, or a representation fitted in the
    study's process.

    Attributes:
        name: the run's (or fitted row's) name, that of its file under ``DIR/extra``.
        seed: its training (or fitting) seed.
        preset: the metrics' preset.
        metric_settings: settings replacing the preset's, by metric (the budget's).
        folder: the trained run's folder; ``None`` for a fitted representation.
        device: where a trained run's model encodes.
        fit: for a fitted representation, ``fit() -> (dataset, dataset indices -> codes)``.
    """

    name: str
    seed: int
    preset: str = "dlib"
    metric_settings: Mapping[str, Mapping] = field(default_factory=dict)
    folder: Path | None = None
    device: str = "cpu"
    fit: Callable[[], tuple[FactorDataset, Callable]] | None = None

    @cached_property
    def loaded(self):
        """The trained run, loaded; ``InputError`` for a fitted representation."""
        if self.folder is None:
            raise InputError(f"{self.name}: a fitted representation has no run folder")
        return load_run(self.folder, device=self.device)

    @cached_property
    def fitted(self) -> tuple[FactorDataset, Callable]:
        """``(dataset, dataset indices -> codes)``, fitted or loaded once and shared by every score."""
        if self.fit is not None:
            return self.fit()
        return self.loaded.dataset, memoised_run_encoder(self.loaded.model, self.loaded.dataset, self.device)

    def settings(self, metric: str, **fixed) -> dict:
        """``metric``'s settings under this subject's budget, with ``fixed`` on top."""
        return {**self.metric_settings.get(metric, {}), **fixed}


def chen_mig(subject: Subject) -> dict:
    """MIG under Chen et al.'s estimator (posterior densities, H(v_k) = log |V_k|, shape
    excluded), metric seed 0: ``{"mig_chen.mig": value}``."""
    loaded = subject.loaded
    if not loaded.model.capabilities.gaussian_posterior:
        raise InputError(f"{subject.folder}: Chen et al.'s MIG needs a Gaussian posterior q(z|x); "
                         f"model '{loaded.settings.model_name}' has none")
    dataset, memo = subject.fitted
    scores = score_representation(IndexedFactorData(dataset), memo, ["mig"], [0], subject.preset,
                                  posterior_function=memo.posterior,
                                  settings={"mig": subject.settings("mig", **CHEN_MIG_SETTINGS)})
    return {"mig_chen.mig": scores["results"]["mig"][0]["mig"]}


def final_reconstruction(subject: Subject) -> dict:
    """The reconstruction error (``recon``: −log p(x|z) in nats, summed over pixels and
    averaged over the batch) of the last interval ``log.jsonl`` records:
    ``{"reconstruction.recon": value}``."""
    if subject.folder is None:
        raise InputError(f"{subject.name}: a fitted representation has no logged reconstruction")
    lines = [line for line in read_log(subject.folder) if "recon" in line]
    if not lines:
        raise InputError(f"{subject.folder}: log.jsonl records no reconstruction term 'recon'")
    return {"reconstruction.recon": float(lines[-1]["recon"])}


def beta_vae_under(protocol: str) -> Callable[[Subject], dict]:
    """The BetaVAE score under ``protocol`` (``higgins``: linear softmax, Adagrad, shape
    excluded; ``dlib``: ``LogisticRegression``, every factor), its random state seeded with the
    subject's seed (Higgins et al.: one metric draw per seed):
    ``{"beta_vae_<protocol>.eval_accuracy", "beta_vae_<protocol>.train_accuracy"}``."""

    def score(subject: Subject) -> dict:
        dataset, representation = subject.fitted
        settings = {"beta_vae": subject.settings("beta_vae", protocol=protocol)}
        scores = score_representation(IndexedFactorData(dataset), representation, ["beta_vae"], [subject.seed],
                                      subject.preset, settings=settings)
        result = scores["results"]["beta_vae"][0]
        return {f"beta_vae_{protocol}.{key}": result[key] for key in ("eval_accuracy", "train_accuracy")}

    score.__doc__ = f"The BetaVAE score under the {protocol} protocol (see ``beta_vae_under``)."
    return score


#: name -> function(subject) -> {column: value}
EXTRA_SCORES: dict[str, Callable[[Subject], dict]] = {
    "mig_chen": chen_mig,
    "reconstruction": final_reconstruction,
    "beta_vae_higgins": beta_vae_under("higgins"),
    "beta_vae_dlib": beta_vae_under("dlib"),
}


def scores_of(out: Path, subject: Subject, names: Sequence[str], compute: bool = True) -> dict:
    """The extra scores ``names`` of ``subject`` (at its run's last checkpoint), computed now for
    those not kept in ``out/extra/<name>.json`` at that step and preset (then kept there).
    ``compute=False``: nothing is computed, and ``{}`` unless every score is kept."""
    path = Path(out) / EXTRA / f"{subject.name}.json"
    step = None if subject.folder is None else last_checkpoint_step(subject.folder)
    try:
        kept = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:  # a damaged cache is computed again
        kept = {}
    if kept.get("checkpoint_step") != step or kept.get("preset") != subject.preset:
        kept = {"checkpoint_step": step, "preset": subject.preset, "scores": {}}
    missing = [name for name in names if name not in kept["scores"]]
    if missing and not compute:
        return {}
    for name in missing:
        kept["scores"][name] = {key: float(np.float64(value)) for key, value in EXTRA_SCORES[name](subject).items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, kept)  # after each, so an interrupted study keeps what it scored
    return {key: value for name in names for key, value in kept["scores"][name].items()}
