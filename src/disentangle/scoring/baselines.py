"""The representations Higgins et al. 2017 (Table 1) compare learned codes against.

- ``raw-pixels``: the flattened image itself (4,096 dimensions for dSprites);
- ``pca``: the first 10 principal components, fitted on 10,000 random images;
- ``ica``: 10 FastICA components, fitted on the same images after projecting them on
  their first 10 principal components (the subspace FastICA's own whitening keeps; it
  finds it by a full SVD of the 10,000 × 4,096 sample, 136 s against 6 s here);
- ``untrained-vae``: the posterior mean of a conv β-VAE at its random initialisation.

A study's fitted methods (``FITTED``, :mod:`disentangle.reproduce.study`) add the
ground-truth factors themselves and any model at its seeded initialisation
(``fitted_representation``).

Raw pixels are scored by the BetaVAE, FactorVAE and MIG scores only: the other
metrics train a classifier per code dimension (DCI, SAP, modularity and explicitness)
or compare every pair of dimensions (the Gaussian total correlation's mutual
information matrix), which for 4,096 dimensions takes hours; Higgins' table reports
the BetaVAE score only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from disentangle.data import FactorDataset, get_dataset
from disentangle.errors import InputError
from disentangle.scoring.evaluate import (
    DEFAULT_METRICS,
    METRICS_FILE,
    check_metric_names,
    memoised_run_encoder,
    score_representation,
)
from disentangle.models import build_model
from disentangle.scoring.representation import IndexedFactorData, MemoisedEncoder
from disentangle.run_folder import atomic_write_json, environment

BASELINES = ("raw-pixels", "pca", "ica", "untrained-vae")
#: the representations a study fits in its own process (``fitted_representation``)
FITTED = ("ground-truth", "raw-pixels", "pca", "ica", "untrained")
#: metrics that stay affordable on a 4,096-dimensional code
RAW_PIXEL_METRICS = ("beta_vae", "factor_vae", "mig")
FIT_IMAGES = 10_000
COMPONENTS = 10
#: every baseline's summary, in the folder ``evaluate_baselines`` writes
BASELINES_FILE = "baselines.json"


def _flat(x: torch.Tensor) -> tuple[np.ndarray]:
    return (x.flatten(1).numpy(),)


def _fitted_transform(kind: str, dataset: FactorDataset, seed: int) -> Callable[[torch.Tensor], tuple[np.ndarray]]:
    from sklearn.decomposition import PCA, FastICA
    from sklearn.pipeline import make_pipeline

    generator = torch.Generator().manual_seed(seed)
    sample = dataset.observations(dataset.sample_indices(FIT_IMAGES, generator)).flatten(1).numpy()
    model = PCA(n_components=COMPONENTS, random_state=seed)
    if kind == "ica":
        ica = FastICA(n_components=COMPONENTS, random_state=seed, max_iter=1000, whiten="unit-variance")
        model = make_pipeline(model, ica)
    model.fit(sample)
    return lambda x: (model.transform(x.flatten(1).numpy()).astype(np.float32),)


def baseline_representation(kind: str, dataset: FactorDataset, seed: int = 0) -> MemoisedEncoder:
    """The baseline ``kind`` (see ``BASELINES``) as a memoised index → code function."""
    if kind == "raw-pixels":
        return MemoisedEncoder(dataset, _flat, batch_size=4096)
    if kind in ("pca", "ica"):
        return MemoisedEncoder(dataset, _fitted_transform(kind, dataset, seed), batch_size=4096)
    if kind == "untrained-vae":
        torch.manual_seed(seed)
        model = build_model("beta-vae", dataset.observation_shape).eval()
        return memoised_run_encoder(model, dataset)
    raise InputError(f"--baselines: unknown baseline '{kind}' (expected some of {', '.join(BASELINES)})")


def fitted_representation(kind: str, dataset: FactorDataset, seed: int, model=None, device: str = "cpu") -> Callable:
    """The representation ``kind`` of ``FITTED`` as a function of dataset indices -> codes ``(N, D)``:

    - ``ground-truth``: the factor values (float32), ``(N, num_factors)``;
    - ``raw-pixels``: the flattened images, not memoised (a table of 4,096 floats per image
      would grow to 12 GB for dSprites);
    - ``pca``, ``ica``: fitted as ``baseline_representation`` does, with ``seed``;
    - ``untrained``: ``model()`` (a callable building the model, called after
      ``torch.manual_seed(seed)``) at that initialisation, its codes memoised.
    """
    if kind == "ground-truth":
        return lambda indices: dataset.factors_of(indices).astype(np.float32)
    if kind == "raw-pixels":
        return lambda indices: dataset.observations(indices).flatten(1).numpy()
    if kind in ("pca", "ica"):
        return baseline_representation(kind, dataset, seed)
    if kind == "untrained":
        if model is None:
            raise InputError("fitted representation 'untrained': needs the model to build")
        torch.manual_seed(seed)
        return memoised_run_encoder(model(), dataset, device)
    raise InputError(f"fitted representation: unknown '{kind}' (expected one of {', '.join(FITTED)})")


def evaluate_baselines(
    out: str | Path,
    data: str = "dsprites",
    data_options: dict | None = None,
    baselines: Sequence[str] = BASELINES,
    metrics: Sequence[str] = DEFAULT_METRICS,
    seeds: Sequence[int] = (0,),
    preset: str = "dlib",
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Score every baseline; writes ``OUT/<baseline>/metrics.json`` and ``OUT/baselines.json``
    (``BASELINES_FILE``)."""
    metrics = check_metric_names(metrics, codes_only=True)
    for kind in baselines:
        if kind not in BASELINES:
            raise InputError(f"--baselines: unknown baseline '{kind}' (expected some of {', '.join(BASELINES)})")
    dataset = get_dataset(data, **(data_options or {}))
    if not isinstance(dataset, FactorDataset):
        raise InputError(f"--data {data}: has no ground-truth factors; baselines are scored on a factor dataset")
    out = Path(out)
    summary = {}
    for kind in baselines:
        chosen = [m for m in metrics if kind != "raw-pixels" or m in RAW_PIXEL_METRICS]
        memo = baseline_representation(kind, dataset, seed=seeds[0])
        report = (lambda text, kind=kind: progress(f"{kind}: {text}")) if progress else None
        scores = score_representation(IndexedFactorData(dataset), memo, chosen, seeds, preset, progress=report)
        content = {
            "baseline": kind,
            "data": dataset.describe(),
            "preset": preset,
            "seeds": [int(s) for s in seeds],
            **scores,
            "encoding": {"distinct_images": memo.encoded, "wall_time_s": round(memo.seconds, 3)},
            "environment": environment(),
        }
        (out / kind).mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / kind / METRICS_FILE, content)
        summary[kind] = scores["summary"]
    atomic_write_json(out / BASELINES_FILE, summary)
    return summary
