"""A study as data: methods with their grids, seeds, datasets, metrics, budgets, the
published values it is compared with and the figures it draws.

A ``Study`` turns into a sweep (``sweep_spec``: the dict that
``disentangle.sweep.expand_sweep`` reads), so every run of a study is an ordinary sweep
run: numbered, validated before anything trains, skipped when finished, resumed when
interrupted, isolated when it fails, and distributable (local workers, Ray, array jobs).

Run order (the sweep's): methods in declaration order, within each its hyperparameter
values, then the datasets, then the seeds.

A method may also be *fitted*: a representation that is not trained by the sweep but
fitted in the study's own process (the ground-truth factors, raw pixels, PCA, ICA, a
model at its random initialisation; ``disentangle.scoring.baselines.FITTED``). Fitted
methods are scored by the study's extra scores only, one row per dataset and seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from disentangle.data import DATASETS
from disentangle.errors import InputError
from disentangle.metrics import METRICS, PRESET_NAMES
from disentangle.models import MODELS
from disentangle.scoring.baselines import FITTED
from disentangle.scoring.evaluate import check_metric_names


@dataclass(frozen=True)
class StudyMethod:
    """One objective of a study and its hyperparameter grid.

    Attributes:
        key: the method's name in tables (``factor-vae``).
        label: its name in figures and reports (``FactorVAE``).
        model: the model's registry name (``disentangle.models.MODELS``); ``None`` for a
            fitted representation without one (``fitted``: ground truth, pixels, PCA, ICA).
        hyperparameter: the model hyperparameter the grid sweeps (``gamma``); ``None``
            for a method without a grid.
        values: the paper's grid of ``hyperparameter``, in order.
        fixed: other hyperparameters, fixed for every run (``{"gamma": 1000.0}``).
        per_step: hyperparameters given as a fraction of the run's steps, rounded to an
            integer ≥ 1 (AnnealedVAE's ``iteration_threshold``: 1/3, dlib's 100,000 of 300,000).
        train: ``train``-section settings of this method only (the pairs' ``batch_size``).
        images_per_row: images encoded and decoded per row of a batch (2 for models
            trained on pairs); the cost estimate counts ``steps × batch_size × images_per_row``.
        fitted: ``None`` for a method the sweep trains, else the representation fitted in
            the study's process (``disentangle.scoring.baselines.FITTED``); ``untrained``
            builds ``model`` with the study's model settings and ``fixed`` at its seeded
            initialisation.
    """

    key: str
    label: str
    model: str | None = None
    hyperparameter: str | None = None
    values: tuple = ()
    fixed: Mapping = field(default_factory=dict)
    per_step: Mapping[str, float] = field(default_factory=dict)
    train: Mapping = field(default_factory=dict)
    images_per_row: int = 1
    fitted: str | None = None


@dataclass(frozen=True)
class StudyBudget:
    """What a study trains and scores under one budget.

    Attributes:
        name: ``cpu-small``, ``cpu`` or ``full``.
        seeds: training seeds, one run per seed of every configuration.
        steps: training steps of every run, but for those of ``steps_by_method``.
        datasets: dataset names (``disentangle.data.DATASETS``).
        steps_by_method: training steps of the methods that train for another number, by
            method key (Higgins et al.'s InfoGAN).
        values: the grid values used, by method key, when fewer than the paper's
            (a method absent here uses its whole grid).
        methods: the method keys run (default: all).
        preset: the metrics' preset (``dlib`` or ``fast``).
        sections: ``model`` and ``train`` settings that replace the study's base
            (``{"model": {"architecture": "mlp"}, "train": {"learning_rate": 1e-3}}``).
        training: ``train`` settings that replace one method's, by method key
            (``{"vae": {"optimizer": "adam", "learning_rate": 1e-3}}``).
        deviation: why ``sections`` or ``training`` departs from the paper's settings
            (required then).
        metric_settings: settings replacing the preset's for the metrics that the study's
            extra scores compute in its process, by metric (``{"beta_vae": {"num_train":
            800}}``: fewer points); the sweep's evaluation keeps the preset's.
        supports: which of the study's conclusions this budget can and cannot support,
            printed in the report.
        checkpoint_every: steps between checkpoints (the most a killed run loses).
    """

    name: str
    seeds: tuple[int, ...]
    steps: int
    datasets: tuple[str, ...]
    steps_by_method: Mapping[str, int] = field(default_factory=dict)
    values: Mapping[str, tuple] = field(default_factory=dict)
    methods: tuple[str, ...] | None = None
    preset: str = "dlib"
    sections: Mapping[str, Mapping] = field(default_factory=dict)
    training: Mapping[str, Mapping] = field(default_factory=dict)
    deviation: str = ""
    metric_settings: Mapping[str, Mapping] = field(default_factory=dict)
    supports: str = ""
    checkpoint_every: int = 10_000


@dataclass(frozen=True)
class Published:
    """A published value or claim the report sets our result beside.

    Attributes:
        claim: what the paper reports, in words with its number (``best FactorVAE score ≈ 0.8``).
        source: where: the paper and its table, figure or section, then the row of
            docs/references.md (``Locatello et al. 2019, Section 5.3;
            docs/references.md#locatello-et-al-2019 (L1)``).
        score: the results column it concerns (``factor_vae.eval_accuracy``), or ``None``
            for a claim no single column measures.
        method: the method key it concerns, or ``None`` for all methods.
        statistic: how our value is read off the seed means of the method's settings:
            ``best`` (the highest) or ``mean`` (their mean).
        value: the published number in the score's units (0.4575 for 45.75 %), where
            there is one; figures draw it beside ours.
    """

    claim: str
    source: str
    score: str | None = None
    method: str | None = None
    statistic: str = "best"
    value: float | None = None


@dataclass(frozen=True)
class Study:
    """A published study, declared.

    Attributes:
        name: the name at the command line (``locatello2019``).
        citation: the paper (``Locatello et al. 2019, "Challenging Common Assumptions…"``).
        question: what the study asks, one sentence, printed atop the report.
        methods: its objectives and grids.
        metrics: the metrics every run is scored with (``disentangle.metrics.METRICS``).
        scores: the score columns its tables and figures use (``mig.discrete_mig``): a
            metric of ``metrics`` or an extra score, then the score's name.
            ``metrics`` may be empty when every score is an extra score (Higgins et al.).
        base: the ``model`` and ``train`` settings shared by every run (dlib's, for ``full``).
        budgets: by name.
        published: the values and claims the report compares with.
        figures: names of ``disentangle.reproduce.figures.FIGURES`` drawn into the report.
        extra_scores: names of ``disentangle.reproduce.extra.EXTRA_SCORES`` computed per run
            beside the sweep's evaluation (Chen et al.'s MIG, the final reconstruction), and
            for every seed of a fitted method.
        udr: whether every run also gets its UDR, among the seeds of its configuration.
        matched_images: whether every step sees as many images whatever the method: a
            method with ``images_per_row`` 2 (pairs) trains on half the base batch of rows.
    """

    name: str
    citation: str
    question: str
    methods: tuple[StudyMethod, ...]
    metrics: tuple[str, ...]
    scores: tuple[str, ...]
    base: Mapping[str, Mapping]
    budgets: Mapping[str, StudyBudget]
    published: tuple[Published, ...] = ()
    figures: tuple[str, ...] = ()
    extra_scores: tuple[str, ...] = ()
    udr: bool = False
    matched_images: bool = False

    def budget(self, name: str) -> StudyBudget:
        if name not in self.budgets:
            raise InputError(f"--budget: unknown '{name}' for {self.name} (expected one of {', '.join(self.budgets)})")
        return self.budgets[name]

    def methods_of(self, budget: StudyBudget) -> list[StudyMethod]:
        """The methods ``budget`` runs, in declaration order."""
        keys = budget.methods if budget.methods is not None else [method.key for method in self.methods]
        return [method for method in self.methods if method.key in keys]

    def trained_methods(self, budget: StudyBudget) -> list[StudyMethod]:
        """The methods ``budget`` runs that the sweep trains (not fitted), in declaration order."""
        return [method for method in self.methods_of(budget) if method.fitted is None]

    def check(self, budget: StudyBudget, known_figures, known_extra_scores) -> None:
        """``InputError`` naming the first unknown model, metric, dataset, method, figure or
        extra score of this study under ``budget``, before anything is built or runs."""
        where = f"study {self.name}"
        for method in self.methods:
            if method.fitted is not None and method.fitted not in FITTED:
                raise InputError(f"{where}: method {method.key}: unknown fitted representation '{method.fitted}' "
                                 f"(expected one of {', '.join(FITTED)})")
            if method.fitted is not None and self.metrics:
                raise InputError(f"{where}: method {method.key} is fitted, and fitted methods are scored by extra "
                                 "scores only; declare the study's metrics as extra scores")
            if (method.model is not None or method.fitted in (None, "untrained")) and method.model not in MODELS:
                raise InputError(
                    f"{where}: method {method.key}: unknown model '{method.model}' "
                    f"(expected one of {', '.join(sorted(MODELS))})"
                )
            unknown = [value for value in budget.values.get(method.key, ()) if value not in method.values]
            if unknown:
                raise InputError(
                    f"{where}: budget {budget.name}: {method.key}: {method.hyperparameter} = {unknown[0]} is not in "
                    f"the paper's grid {list(method.values)}"
                )
        keys = [method.key for method in self.methods]
        for key in [*(budget.methods or ()), *budget.values, *budget.steps_by_method, *budget.training]:
            if key not in keys:
                raise InputError(f"{where}: budget {budget.name}: unknown method '{key}' (expected one of {', '.join(keys)})")
        for key, steps in {"steps": budget.steps, **budget.steps_by_method}.items():
            if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
                raise InputError(f"{where}: budget {budget.name}: {key} must be an integer ≥ 1 steps, got {steps!r}")
        try:
            check_metric_names(self.metrics)
        except InputError as error:
            raise InputError(f"{where}: {str(error).removeprefix('--metrics: ')}") from None
        try:
            for metric, settings in budget.metric_settings.items():
                check_metric_names([metric])
                METRICS[metric].resolve(budget.preset, dict(settings))
        except InputError as error:
            raise InputError(f"{where}: budget {budget.name}: {str(error).removeprefix('--metrics: ')}") from None
        for score in self.scores:
            if score.partition(".")[0] not in (*self.metrics, *self.extra_scores):
                raise InputError(f"{where}: score '{score}' is of no metric or extra score of the study")
        for dataset in budget.datasets:
            if dataset not in DATASETS:
                raise InputError(
                    f"{where}: budget {budget.name}: unknown dataset '{dataset}' (expected one of {', '.join(sorted(DATASETS))})"
                )
        if budget.preset not in PRESET_NAMES:
            raise InputError(f"{where}: budget {budget.name}: unknown preset '{budget.preset}'")
        for kind, names, known in (("figure", self.figures, known_figures), ("extra score", self.extra_scores,
                                                                            known_extra_scores)):
            for name in names:
                if name not in known:
                    raise InputError(f"{where}: unknown {kind} '{name}' (expected one of {', '.join(known)})")
        if (budget.sections or budget.training) and not budget.deviation:
            raise InputError(f"{where}: budget {budget.name}: replaces the paper's settings; say why in deviation")

    def sweep_spec(self, budget: StudyBudget, device: str = "cpu") -> dict:
        """The sweep (``expand_sweep``'s dict) of this study under ``budget``."""
        sections = {section: {**self.base.get(section, {}), **budget.sections.get(section, {})}
                    for section in ("model", "train")}
        entries = []
        for method in self.trained_methods(budget):
            entry = {"model.name": method.model}
            entry.update({f"model.{key}": value for key, value in method.fixed.items()})
            steps = budget.steps_by_method.get(method.key, budget.steps)
            if steps != budget.steps:
                entry["train.steps"] = steps
                if steps < budget.checkpoint_every:
                    entry["train.checkpoint_every"] = steps
            entry.update({f"model.{key}": max(1, round(fraction * steps)) for key, fraction in method.per_step.items()})
            if self.matched_images and method.images_per_row > 1:
                entry["train.batch_size"] = max(1, sections["train"].get("batch_size", 64) // method.images_per_row)
            entry.update({f"train.{key}": value for key, value in {**method.train,
                                                                   **budget.training.get(method.key, {})}.items()})
            if method.hyperparameter is not None:
                entry[f"model.{method.hyperparameter}"] = list(budget.values.get(method.key, method.values))
            entries.append(entry)
        return {
            "model": sections["model"],
            "train": {**sections["train"], "checkpoint_every": min(budget.checkpoint_every, budget.steps),
                      "device": device},
            "steps": budget.steps,
            "list": entries,
            "grid": {"data.name": list(budget.datasets)},
            "seeds": list(budget.seeds),
            "evaluate": {"metrics": list(self.metrics), "seeds": [0], "preset": budget.preset} if self.metrics else False,
        }
