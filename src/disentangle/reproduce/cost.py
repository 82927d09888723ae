"""What a study costs before it runs: CPU time on this project's machine and GPU-hours.

Estimates, not measurements; each figure below is a measured one, with where it was
measured. A run costs its training (images seen ÷ the measured training rate of its
nets) plus its scoring (per metric: its encoding time on the MLP nets scaled to the
run's nets by their encoding rates, plus the metric's own work) plus what the study adds
per run (UDR, Chen et al.'s MIG).

GPU-hours for ``full`` use the only GPU throughput the project has: Locatello et al.
2019 trained and scored 12,600 models of 300,000 steps at batch 64 in about 2.5
P100-years (2.52 in the paper; docs/references.md#locatello-et-al-2019, L3), i.e. about 3,070
images/s per GPU, evaluation included.
No GPU was available to measure ours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from disentangle.metrics import METRICS
from disentangle.sweep import SweepRun

#: training images/s on this project's 2-core machine, by the nets' architecture.
#: docs/results.md, the recipe study (2026-12-02, AVX-512): dlib's conv nets (``conv-2x2``)
#: about 1,180 at batch 64, Burgess' (``conv``) about 1,090, the MLP about 1,500 at batch 256
#: (the quick start measured 1,597); ``auto`` is ``conv`` on 64×64 images.
TRAINING_IMAGES_PER_SECOND = {"conv-2x2": 1_180.0, "conv": 1_090.0, "mlp": 1_500.0, "auto": 1_090.0}
#: images/s encoded when scoring, by the nets' architecture (``auto`` is ``conv`` on 64×64
#: images): ``benchmarks/scoring_cost.py``, 2026-12-03, docs/benchmarks.md
ENCODING_IMAGES_PER_SECOND = {"mlp": 23_451.0, "conv-2x2": 13_152.0, "conv": 11_287.0, "auto": 11_287.0}
#: scoring a run of Higgins' MLP nets with one metric alone, by preset and metric: (seconds
#: encoding the images the metric asks for, seconds of the metric's own work);
#: ``benchmarks/scoring_cost.py``, 2026-12-03, docs/benchmarks.md; InfoMEC's on 2026-12-08 on another
#: machine, its encoding at this table's MLP rate (docs/benchmarks.md)
SCORING = {
    "fast": {"beta_vae": (12.56, 0.61), "factor_vae": (7.40, 0.42), "mig": (0.49, 0.26), "dci": (0.11, 0.24),
             "sap": (0.32, 0.59), "modularity_explicitness": (0.34, 0.99), "infomec": (0.42, 3.32)},
    "dlib": {"beta_vae": (31.45, 1.92), "factor_vae": (22.65, 1.11), "mig": (0.43, 0.26), "dci": (0.69, 6.41),
             "sap": (0.62, 0.86), "modularity_explicitness": (0.61, 1.67), "infomec": (0.42, 3.31)},
}
#: extra seconds per run: UDR (10 runs in 9 s, docs/benchmarks.md); Chen et al.'s MIG
#: (10,000 × 10,000 posterior densities per factor value: 12 runs of chen2018's cpu-small in
#: 14–15 s each, docs/results.md)
EXTRA_SECONDS = {"udr": 1.0, "mig_chen": 15.0, "reconstruction": 0.0}
#: extra scores that are the BetaVAE score under one protocol (``disentangle.reproduce.extra``),
#: costed by the distinct images its budget's settings draw (``extra_seconds``)
PROTOCOL_SCORES = ("beta_vae_higgins", "beta_vae_dlib")
#: images of dSprites, whose draws the memoised encoder encodes once each
DSPRITES_IMAGES = 737_280
#: the GPU rate of Locatello et al. 2019, training and scoring included:
#: 12,600 models × 300,000 steps × 64 images in 2.5 P100-years
GPU_IMAGES_PER_SECOND = 12_600 * 300_000 * 64 / (2.5 * 365.25 * 24 * 3600)


def images_of(run: SweepRun, images_per_row: int = 1) -> int:
    """Images a run encodes and decodes in training: steps × batch × images per row."""
    return run.steps * run.config.train.batch_size * images_per_row


def run_seconds(run: SweepRun, images_per_row: int = 1, extra: Sequence[str] = (), preset: str = "dlib",
                metric_settings: Mapping[str, Mapping] | None = None) -> float:
    """Estimated CPU seconds of one run here: training, scoring and the study's extras
    (``extra_seconds`` under ``preset`` and ``metric_settings``)."""
    # an architecture of the user's own is counted at the slowest measured rate
    architecture = run.config.model.architecture
    rate = TRAINING_IMAGES_PER_SECOND.get(architecture, min(TRAINING_IMAGES_PER_SECOND.values()))
    scoring = 0.0 if run.evaluation is None else scoring_seconds(
        run.evaluation.metrics, run.evaluation.preset, architecture, len(run.evaluation.seeds))
    extras = sum(extra_seconds(name, preset, architecture, metric_settings or {}) for name in extra)
    return images_of(run, images_per_row) / rate + scoring + extras


def fitted_seconds(extra: Sequence[str], preset: str, metric_settings: Mapping[str, Mapping]) -> float:
    """Estimated CPU seconds of one fitted row here: its extra scores, encoding at the MLP
    nets' rate (fitting PCA or ICA on 10,000 images takes seconds and is not counted)."""
    return sum(extra_seconds(name, preset, "mlp", metric_settings) for name in extra)


def extra_seconds(name: str, preset: str, architecture: str, metric_settings: Mapping[str, Mapping]) -> float:
    """Estimated seconds of the extra score ``name`` of a run of ``architecture``; the ones not in
    ``PROTOCOL_SCORES`` are ``EXTRA_SECONDS``. A BetaVAE protocol encodes the distinct images
    of its draws, D (1 − exp(−draws / D)) of D = 737,280 dSprites images (the expected
    count; ``draws``: 2 images per pair, ``batch_size`` pairs per point), at the nets'
    encoding rate, and the metric's own work scales with its points. This model gives
    29 s of encoding for dlib's settings and 12.7 s for the fast preset's, beside the 31.45
    and 12.56 s measured (``SCORING``)."""
    if name not in PROTOCOL_SCORES:
        return EXTRA_SECONDS[name]
    defaults = METRICS["beta_vae"].preset(preset)
    settings = {**defaults, **metric_settings.get("beta_vae", {})}
    points = settings["num_train"] + settings["num_eval"]
    draws = 2 * settings["batch_size"] * points
    distinct = DSPRITES_IMAGES * -math.expm1(-draws / DSPRITES_IMAGES)
    rate = ENCODING_IMAGES_PER_SECOND.get(architecture, min(ENCODING_IMAGES_PER_SECOND.values()))
    own = SCORING[preset]["beta_vae"][1] * points / (defaults["num_train"] + defaults["num_eval"])
    return distinct / rate + own


def scoring_seconds(metrics: Sequence[str], preset: str, architecture: str, seeds: int = 1) -> float:
    """Estimated seconds to score a run of ``architecture`` with ``metrics`` under ``preset``
    for ``seeds`` metric seeds: each metric as if alone, its encoding scaled from the MLP
    nets' rate to the run's nets' (nets not measured: the slowest rate), a metric not in
    ``SCORING`` at the preset's dearest. Metrics run together share some images, but a
    trained model's fits take longer or shorter than the benchmark's: a guide to about
    ±30 % (docs/benchmarks.md)."""
    slowdown = ENCODING_IMAGES_PER_SECOND["mlp"] / ENCODING_IMAGES_PER_SECOND.get(
        architecture, min(ENCODING_IMAGES_PER_SECOND.values()))
    costs = {metric: encoding * slowdown + other for metric, (encoding, other) in SCORING[preset].items()}
    return seeds * sum(costs.get(metric, max(costs.values())) for metric in metrics)


def gpu_hours(images: int) -> float:
    """GPU-hours to train (and score) ``images`` at Locatello et al.'s P100 rate."""
    return images / GPU_IMAGES_PER_SECOND / 3600


def duration(seconds: float) -> str:
    """``31 s``, ``42 min``, ``7.5 h`` or ``3.1 days``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:,.1f} days"
