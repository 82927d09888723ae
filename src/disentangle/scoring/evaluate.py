"""Score a trained run (or any representation) with the disentanglement metrics.

``evaluate(run)`` encodes with the mean of q(z|x) (the code itself for deterministic
models), each distinct image at most once for all metrics and seeds together, runs
every metric under each seed with a fresh ``numpy.random.RandomState(seed)`` (as dlib
seeds each evaluation), and writes ``RUN/metrics.json``:

.. code-block:: text

    {"run": ..., "checkpoint_step": ..., "preset": "dlib", "seeds": [0, ...],
     "representation": "mean",
     "results": {metric: [{"seed": s, <dlib's score names>: ..., "settings": {...},
                           "wall_time_s": ...}, ...]},
     "summary": {metric: {score: {"mean": ..., "std": ..., "values": [...]}}},
     "encoding": {"distinct_images": ..., "wall_time_s": ...},
     "environment": {library versions},
     "sampled": {the same keys, "representation": "sampled"},   # evaluate(..., representation="sampled")
     "udr": {...}}                                              # disentangle.scoring.udr.score_runs

``representation="sampled"`` scores z = mean + exp(logvar / 2) * eps instead of the mean
(dlib's ``sampled_representation``; models with a Gaussian posterior only): as in dlib,
every call of the representation draws fresh noise, so an image drawn twice gets two
samples, while the memo still encodes each image once (it keeps mean and log-variance).
The noise comes from ``numpy.random.default_rng(seed)``, restarted for every metric under
every seed, so a result depends only on its metric, seed and settings (not on the
metrics run before it). Each representation has its own section; evaluating one never
changes the other's, nor the ``udr`` section.
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
from disentangle.metrics import CODES, METRICS, POSTERIOR, PRESET_NAMES, Inputs
from disentangle.models import Model
from disentangle.scoring.representation import IndexedFactorData, MemoisedEncoder, SampledRepresentation, torch_encoder
from disentangle.train import load_run
from disentangle.run_folder import atomic_write_json, clear_stale_temporaries, environment
from disentangle.train.runtime import check_device, tune_allocator, uses_convolutions

#: the metrics run when none are named: dlib's seven, in dlib's order
DEFAULT_METRICS = tuple(name for name, metric in METRICS.items() if metric.default)
METRICS_FILE = "metrics.json"
#: what ``evaluate`` can score: the posterior mean (the top level of metrics.json) or a sample
REPRESENTATIONS = ("mean", "sampled")
#: the sections of metrics.json beside the evaluation of the mean
SAMPLED_SECTION, UDR_SECTION = "sampled", "udr"
#: metric -> its headline score(s), the ones tables and plots show
HEADLINE_SCORES = {name: metric.headline for name, metric in METRICS.items()}


def headline_keys(metric: str, scores: Sequence[str], fallback: int = 1) -> list[str]:
    """The headline scores of ``metric`` among ``scores``; else the first ``fallback`` of them."""
    return [key for key in HEADLINE_SCORES.get(metric, ()) if key in scores] or list(scores)[:fallback]


def check_metric_names(names: Sequence[str], codes_only: bool = False) -> list[str]:
    """``names`` if each is a metric of ``METRICS`` (with ``codes_only``, one that needs
    nothing but codes, as a baseline offers), else ``InputError`` naming the unknown ones."""
    known = [name for name, metric in METRICS.items() if not codes_only or metric.needs == (CODES,)]
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


def check_seeds(seeds: Sequence[int]) -> list[int]:
    """``seeds`` if they are integers in [0, 2^32) (``numpy.random.RandomState``'s range), else ``InputError``."""
    if not seeds or any(isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32
                        for seed in seeds):
        raise InputError(f"--seed: expected integers in [0, 2^32), got {list(seeds)}")
    return [int(seed) for seed in seeds]


def score_representation(
    data,
    representation_function: Callable[[np.ndarray], np.ndarray],
    metrics: Sequence[str] = DEFAULT_METRICS,
    seeds: Sequence[int] = (0,),
    preset: str = "dlib",
    posterior_function: Callable | None = None,
    progress: Callable[[str], None] | None = None,
    settings: Mapping[str, dict] | None = None,
    log_likelihood: Callable | None = None,
    reseed: Callable[[int], None] | None = None,
) -> dict:
    """Run ``metrics`` under each seed; returns ``{"results": ..., "summary": ...}``.

    ``data`` is any GroundTruthData object and ``representation_function`` maps its
    observations to codes. ``posterior_function`` (observations → (mean, logvar)) and
    ``log_likelihood`` (observations, z ``(n, s, D)`` → log p(x|z) ``(n, s)``) offer what
    the metrics that need more than codes need (``Metric.needs``, ``Metric.uses``);
    a metric that needs what is not offered is refused with ``InputError`` before any
    runs. ``settings`` maps a metric to settings that override the preset's, e.g.
    ``{"beta_vae": {"protocol": "higgins"}}``. Metrics run seed by seed, each with a
    fresh ``numpy.random.RandomState(seed)``; ``reseed(seed)``, when given, is called before
    each, for a random representation to restart its own noise (``SampledRepresentation``).
    """
    metrics = check_metric_names(metrics)
    if preset not in PRESET_NAMES:
        raise InputError(f"--preset: unknown '{preset}' (expected one of {', '.join(PRESET_NAMES)})")
    check_seeds(seeds)
    inputs = Inputs(data, representation_function, posterior_function, log_likelihood)
    for name in metrics:
        METRICS[name].check(inputs)
    results: dict[str, list[dict]] = {name: [] for name in metrics}
    for seed in seeds:
        for name in metrics:
            if progress:
                progress(f"{name} (seed {seed})")
            overrides = dict((settings or {}).get(name, {}))
            if reseed:
                reseed(seed)
            start = time.perf_counter()
            values = METRICS[name].evaluate(inputs, np.random.RandomState(seed), preset, overrides)
            results[name].append({"seed": int(seed), **values, "wall_time_s": round(time.perf_counter() - start, 3)})
    return {"results": results, "summary": _summary(results)}


def memoised_run_encoder(model: Model, dataset: FactorDataset, device: str = "cpu", batch_size: int = 512) -> MemoisedEncoder:
    """Codes of a model by dataset index, each image encoded once: the memo's codes are
    ``encode``'s, and for a model with a Gaussian posterior ``posterior`` also gives the
    log-variances.

    Convolutional models run channels-last, which is faster on the CPU.
    """
    tune_allocator()
    memory_format = torch.channels_last if uses_convolutions(model) else torch.contiguous_format
    model.to(device=device, memory_format=memory_format).eval()
    function = model.posterior if model.capabilities.gaussian_posterior else model.encode
    encode = torch_encoder(lambda x: function(x.contiguous(memory_format=memory_format)), device)
    return MemoisedEncoder(dataset, encode, batch_size=batch_size)


def decoder_log_likelihood(model: Model, dataset: FactorDataset) -> Callable:
    """log p(x|z) of the model's decoder, for dataset indices ``(n,)`` and z ``(n, s, D)``:
    ``(n, s)`` float64 (the ``likelihood`` that ``iwae_bound`` needs)."""
    device = next(model.parameters()).device

    def log_likelihood(indices, z):
        x = dataset.observations(indices).to(device)
        n, s, d = z.shape
        params = model.decode(z.reshape(n * s, d).to(x.dtype))
        return model.likelihood.log_prob(x.repeat_interleave(s, dim=0), params).reshape(n, s).to(torch.float64)

    return log_likelihood


def read_metrics_file(run: str | Path) -> dict:
    """``RUN/metrics.json`` as a dict; ``{}`` when it is missing or unreadable (it is then replaced)."""
    try:
        content = json.loads((Path(run) / METRICS_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return content if isinstance(content, dict) else {}


def _merge_evaluation(previous: dict, current: dict) -> dict:
    """Keep earlier metrics of the same checkpoint, seeds and preset; replace the rest."""
    same = all(previous.get(k) == current[k] for k in ("checkpoint_step", "seeds", "preset"))
    if not same:
        return current
    results = {**previous.get("results", {}), **current["results"]}
    return {**current, "results": results, "summary": _summary(results)}


def _merge(previous: dict, current: dict, representation: str) -> dict:
    """metrics.json with ``current`` (an evaluation of ``representation``) merged into its
    section; every other section is kept as it was."""
    sections = (SAMPLED_SECTION, UDR_SECTION)
    mean = {key: value for key, value in previous.items() if key not in sections}
    others = {key: previous[key] for key in sections if key in previous}
    if representation == "mean":
        return {**_merge_evaluation(mean, current), **others}
    return {**mean, **others, SAMPLED_SECTION: _merge_evaluation(previous.get(SAMPLED_SECTION, {}), current)}


def evaluate(
    run: str | Path,
    metrics: Sequence[str] = DEFAULT_METRICS,
    seeds: Sequence[int] = (0,),
    preset: str = "dlib",
    device: str = "cpu",
    progress: Callable[[str], None] | None = None,
    representation: str = "mean",
) -> dict:
    """Score the run's latest checkpoint and write ``RUN/metrics.json``; returns the evaluation
    of ``representation`` (``"mean"`` or ``"sampled"``) as written there."""
    metrics = check_metric_names(metrics)
    if representation not in REPRESENTATIONS:
        raise InputError(
            f"--representation: expected one of {', '.join(REPRESENTATIONS)}, got '{representation}'"
        )
    check_seeds(seeds)
    if preset not in PRESET_NAMES:
        raise InputError(f"--preset: unknown '{preset}' (expected one of {', '.join(PRESET_NAMES)})")
    check_device(device)
    loaded = load_run(run, device=device)
    if not isinstance(loaded.dataset, FactorDataset):
        raise InputError(
            f"{run}: dataset '{loaded.dataset.name}' has no ground-truth factors; the metrics need a factor "
            "dataset such as dsprites"
        )
    model = loaded.model
    if not model.capabilities.gaussian_posterior:
        needing = [name for name in metrics if POSTERIOR in METRICS[name].needs]
        if needing:
            raise InputError(
                f"--metrics: {', '.join(needing)} need a Gaussian posterior q(z|x); "
                f"model '{loaded.settings.model_name}' has none"
            )
    if not model.capabilities.standard_normal_prior:
        assuming = [name for name in metrics if METRICS[name].standard_normal_prior]
        if assuming:
            raise InputError(
                f"--metrics: {', '.join(assuming)} take the prior to be N(0, I); model "
                f"'{loaded.settings.model_name}' has another"
            )
    gaussian = model.capabilities.gaussian_posterior
    if representation == "sampled":
        if not gaussian:
            raise InputError(
                f"--representation: sampled needs a Gaussian posterior q(z|x); "
                f"model '{loaded.settings.model_name}' has none"
            )
        of_posterior = [name for name in metrics if CODES not in METRICS[name].needs]
        if of_posterior:
            raise InputError(
                f"--representation: {', '.join(of_posterior)} score the posterior, not a representation; "
                "run them with the mean"
            )
    memo = memoised_run_encoder(model, loaded.dataset, device)
    sampled = SampledRepresentation(memo.posterior) if representation == "sampled" else None
    started = time.perf_counter()
    # The metrics of codes first, then the diagnostics of the posterior: the order of metrics.json.
    ordered = sorted(metrics, key=lambda name: CODES not in METRICS[name].needs)
    scores = score_representation(
        IndexedFactorData(loaded.dataset), sampled or memo, ordered, seeds, preset,
        posterior_function=memo.posterior if gaussian else None, progress=progress,
        log_likelihood=decoder_log_likelihood(model, loaded.dataset) if gaussian else None,
        reseed=sampled.reseed if sampled else None,
    )
    content = {
        "run": str(Path(run).resolve()),
        "checkpoint_step": loaded.step,
        "preset": preset,
        "seeds": [int(s) for s in seeds],
        "representation": representation,
        **scores,
        "encoding": {"distinct_images": memo.encoded, "wall_time_s": round(memo.seconds, 3)},
        "wall_time_s": round(time.perf_counter() - started, 3),
        "environment": environment(),
    }
    clear_stale_temporaries(run)
    written = _merge(read_metrics_file(run), content, representation)
    atomic_write_json(Path(run) / METRICS_FILE, written)
    if representation == "mean":
        return {key: value for key, value in written.items() if key not in (SAMPLED_SECTION, UDR_SECTION)}
    return written[SAMPLED_SECTION]
