"""Score a trained run (or any representation) with the disentanglement metrics.

``evaluate(run)`` encodes with the mean of q(z|x) (the code itself for deterministic
models), each distinct image at most once for all metrics and seeds together, runs
every metric under each seed with a fresh ``numpy.random.RandomState(seed)`` (as dlib
seeds each evaluation), and writes ``RUN/metrics.json``:

.. code-block:: text

    {"run": ..., "checkpoint_step": ..., "preset": "dlib", "seeds": [0, ...],
     "results": {metric: [{"seed": s, <dlib's score names>: ..., "settings": {...},
                           "wall_time_s": ...}, ...]},
     "summary": {metric: {score: {"mean": ..., "std": ..., "values": [...]}}},
     "encoding": {"distinct_images": ..., "wall_time_s": ...},
     "environment": {library versions}}
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from disentangle.data import FactorDataset
from disentangle.errors import InputError
from disentangle.metrics import METRICS
from disentangle.metrics.active_units import active_units
from disentangle.metrics.elbo_decomposition import elbo_decomposition
from disentangle.metrics.likelihood_bound import importance_weighted_bound
from disentangle.metrics.presets import PRESETS
from disentangle.representation import IndexedFactorData, MemoisedEncoder, torch_encoder
from disentangle.train import load_run
from disentangle.train.run_folder import atomic_write_json, environment
from disentangle.train.runtime import tune_allocator, uses_convolutions

#: the metrics run when none are named, in dlib's order
DEFAULT_METRICS = ("beta_vae", "factor_vae", "mig", "dci", "sap", "modularity_explicitness", "gaussian_total_correlation")
#: diagnostics of a trained model's posterior and decoder, run when named
DIAGNOSTICS = ("elbo_decomposition", "active_units", "iwae_bound")
METRICS_FILE = "metrics.json"
#: metric -> its headline score(s), the ones tables and plots show
HEADLINE_SCORES = {
    "beta_vae": ("eval_accuracy",),
    "factor_vae": ("eval_accuracy",),
    "mig": ("discrete_mig",),
    "dci": ("disentanglement", "completeness", "informativeness_test"),
    "sap": ("SAP_score",),
    "modularity_explicitness": ("modularity_score", "explicitness_score_test"),
    "gaussian_total_correlation": ("gaussian_total_correlation",),
}


def headline_keys(metric: str, scores: Sequence[str], fallback: int = 1) -> list[str]:
    """The headline scores of ``metric`` among ``scores``; else the first ``fallback`` of them."""
    return [key for key in HEADLINE_SCORES.get(metric, ()) if key in scores] or list(scores)[:fallback]


#: settings of the diagnostics as ``evaluate`` runs them (CPU-sized; see docs/metrics.md)
DIAGNOSTIC_SETTINGS = {
    "elbo_decomposition": {"estimators": ("mws", "mss"), "num_samples": 10_000, "batch_size": 64},
    "active_units": {"threshold": 0.01, "num_samples": 10_000},
    "iwae_bound": {"num_observations": 500, "num_importance_samples": 100},
}


def check_metric_names(names: Sequence[str], diagnostics: bool = False) -> list[str]:
    known = list(METRICS) + (list(DIAGNOSTICS) if diagnostics else [])
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InputError(f"--metrics: unknown metric(s) {', '.join(unknown)} (expected some of {', '.join(known)})")
    return list(names)


def _summary(results: dict[str, list[dict]]) -> dict:
    summary = {}
    for metric, runs in results.items():
        scores = {}
        for key in runs[0]:
            values = [r[key] for r in runs]
            if key not in ("seed", "wall_time_s") and all(isinstance(v, (int, float)) for v in values):
                array = np.asarray(values, dtype=np.float64)
                scores[key] = {"mean": float(array.mean()), "std": float(array.std()), "values": values}
        summary[metric] = scores
    return summary


def score_representation(
    data,
    representation_function: Callable[[np.ndarray], np.ndarray],
    metrics: Sequence[str] = DEFAULT_METRICS,
    seeds: Sequence[int] = (0,),
    preset: str = "dlib",
    posterior_function: Callable | None = None,
    progress: Callable[[str], None] | None = None,
    settings: Mapping[str, dict] | None = None,
) -> dict:
    """Run ``metrics`` under each seed; returns ``{"results": ..., "summary": ...}``.

    ``data`` is any GroundTruthData object; ``posterior_function`` (observations →
    (mean, logvar)) enables the estimators that need q(z|x), such as Chen's MIG.
    ``settings`` maps a metric to settings that override the preset's, e.g.
    ``{"beta_vae": {"protocol": "higgins"}}``.
    """
    metrics = check_metric_names(metrics)
    if preset not in PRESETS:
        raise InputError(f"--preset: unknown '{preset}' (expected one of {', '.join(PRESETS)})")
    results: dict[str, list[dict]] = {name: [] for name in metrics}
    for seed in seeds:
        for name in metrics:
            if progress:
                progress(f"{name} (seed {seed})")
            extra = dict((settings or {}).get(name, {}))
            if posterior_function is not None and name == "mig":
                extra["posterior_function"] = posterior_function
            start = time.perf_counter()
            values = METRICS[name](data, representation_function, np.random.RandomState(seed), preset=preset, **extra)
            results[name].append({"seed": int(seed), **values, "wall_time_s": round(time.perf_counter() - start, 3)})
    return {"results": results, "summary": _summary(results)}


def memoised_run_encoder(model, dataset: FactorDataset, device: str = "cpu", batch_size: int = 512) -> MemoisedEncoder:
    """Codes (posterior means) of a model by dataset index, each image encoded once.

    Convolutional models run channels-last, which is faster on the CPU.
    """
    tune_allocator()
    memory_format = torch.channels_last if uses_convolutions(model) else torch.contiguous_format
    model.to(device=device, memory_format=memory_format).eval()
    function = model.posterior if hasattr(model, "posterior") else model.encode
    encode = torch_encoder(lambda x: function(x.contiguous(memory_format=memory_format)), device)
    return MemoisedEncoder(dataset, encode, batch_size=batch_size)


def run_diagnostic(name: str, model, dataset: FactorDataset, memo: MemoisedEncoder, seed: int) -> dict:
    """One diagnostic of ``DIAGNOSTICS`` for a model with a Gaussian posterior, over ``dataset``."""
    settings = DIAGNOSTIC_SETTINGS[name]
    random_state = np.random.RandomState(seed)
    if name == "active_units":
        return active_units(memo.posterior, len(dataset), random_state, **settings)
    if name == "elbo_decomposition":
        options = {k: v for k, v in settings.items() if k != "estimators"}
        result = {}
        for estimator in settings["estimators"]:
            values = elbo_decomposition(memo.posterior, len(dataset), np.random.RandomState(seed),
                                        estimator=estimator, **options)
            result.update({f"{key}_{estimator}": value for key, value in values.items() if key != "settings"})
        return {**result, "settings": {**options, "estimators": list(settings["estimators"])}}
    count = min(settings["num_observations"], len(dataset))
    indices = random_state.choice(len(dataset), count, replace=False)
    device = next(model.parameters()).device

    def log_likelihood(batch, z):
        x = dataset.observations(batch).to(device)
        n, s, d = z.shape
        params = model.decode(z.reshape(n * s, d).to(x.dtype))
        return model.likelihood.log_prob(x.repeat_interleave(s, dim=0), params).reshape(n, s).to(torch.float64)

    values = importance_weighted_bound(memo.posterior, log_likelihood, indices, random_state,
                                       num_importance_samples=settings["num_importance_samples"],
                                       num_dimensions=int(np.prod(dataset.observation_shape)))
    values["settings"]["num_observations"] = count
    return values


def _merge(previous: dict, current: dict) -> dict:
    """Keep earlier metrics of the same checkpoint, seeds and preset; replace the rest."""
    same = all(previous.get(k) == current[k] for k in ("checkpoint_step", "seeds", "preset"))
    if not same:
        return current
    results = {**previous.get("results", {}), **current["results"]}
    return {**current, "results": results, "summary": _summary(results)}


def evaluate(
    run: str | Path,
    metrics: Sequence[str] = DEFAULT_METRICS,
    seeds: Sequence[int] = (0,),
    preset: str = "dlib",
    device: str = "cpu",
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Score the run's latest checkpoint and write ``RUN/metrics.json``; returns its content."""
    metrics = check_metric_names(metrics, diagnostics=True)
    loaded = load_run(run, device=device)
    if not isinstance(loaded.dataset, FactorDataset):
        raise InputError(
            f"{run}: dataset '{loaded.dataset.name}' has no ground-truth factors; the metrics need a factor "
            "dataset such as dsprites"
        )
    memo = memoised_run_encoder(loaded.model, loaded.dataset, device)
    gaussian = hasattr(loaded.model, "posterior")
    diagnostics = [name for name in metrics if name in DIAGNOSTICS]
    if diagnostics and not gaussian:
        raise InputError(
            f"--metrics: {', '.join(diagnostics)} need a Gaussian posterior q(z|x); "
            f"model '{loaded.config['model']['name']}' has none"
        )
    started = time.perf_counter()
    scores = score_representation(
        IndexedFactorData(loaded.dataset), memo, [m for m in metrics if m not in DIAGNOSTICS], seeds, preset,
        posterior_function=memo.posterior if gaussian else None, progress=progress,
    )
    for name in diagnostics:
        for seed in seeds:
            if progress:
                progress(f"{name} (seed {seed})")
            start = time.perf_counter()
            values = run_diagnostic(name, loaded.model, loaded.dataset, memo, seed)
            scores["results"].setdefault(name, []).append(
                {"seed": int(seed), **values, "wall_time_s": round(time.perf_counter() - start, 3)}
            )
    scores["summary"] = _summary(scores["results"])
    content = {
        "run": str(Path(run).resolve()),
        "checkpoint_step": loaded.step,
        "preset": preset,
        "seeds": [int(s) for s in seeds],
        **scores,
        "encoding": {"distinct_images": memo.encoded, "wall_time_s": round(memo.seconds, 3)},
        "wall_time_s": round(time.perf_counter() - started, 3),
        "environment": environment(),
    }
    path = Path(run) / METRICS_FILE
    if path.is_file():
        try:
            content = _merge(json.loads(path.read_text()), content)
        except json.JSONDecodeError:
            pass  # an unreadable metrics.json is replaced by this evaluation
    atomic_write_json(path, content)
    return content
