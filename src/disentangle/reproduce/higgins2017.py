"""Higgins et al. 2017, Table 1: ``reproduce("higgins", out, budget="cpu-small")``.

Higgins et al. 2017, Table 1: the BetaVAE score on dSprites of the ground-truth
factors, raw pixels, PCA, ICA, DC-IGN, InfoGAN, an untrained VAE, a VAE and β-VAE
(β = 4). For every method and seed the representation is trained (or fitted) and
scored under the paper's protocol (linear softmax classifier, Adagrad, shape
excluded) and under dlib's (``LogisticRegression``, every factor); the metric's
random state is seeded with the method's seed.

A budget says how much is trained and sampled (see ``BUDGETS``): ``full`` trains as
the papers' settings do, the others cut steps, seeds and metric points, and every cut
is printed under the table.

The trained models are the runs of a sweep (``training_runs``), trained by the sweep
engine like a study's: local workers or Ray (``executor``, ``workers``, ``address``),
finished runs skipped, interrupted ones resumed from their last checkpoint, a failed
one recorded while the others go on, packed where the model packs (``pack``), and
numbered over the paper's trained method-seeds, so an array job trains one with
``only``. The baselines are fitted and every method-seed is scored in this process.
``OUT`` holds

.. code-block:: text

    OUT/sweep.json, OUT/runs/<method>-seed-<seed>/, OUT/status/   the sweep's (a run folder per trained model)
    OUT/results.json            every per-seed score with its settings, steps and wall times
    OUT/table.md                the table: mean ± std over seeds beside the published numbers
    OUT/report.md, report.html  the same with the command and the machine (``disentangle.reproduce.report``)

``results.json`` is rewritten after each method-seed, so running the same command
again skips what is finished, resumes partly trained runs and retries what failed. A
method that fails is reported in the table; the others go on.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from disentangle.scoring import baselines
from disentangle.data import FactorDataset, get_dataset
from disentangle.errors import InputError
from disentangle.scoring.evaluate import memoised_run_encoder, score_representation
from disentangle.metrics.presets import DLIB, resolve_settings
from disentangle.scoring.representation import IndexedFactorData, MemoisedEncoder
from disentangle.reproduce import cost
from disentangle.reproduce.report import write_report
from disentangle.sweep import RunResult, SweepRun, run_sweep
from disentangle.sweep.execute import one_line, run_path, status_path
from disentangle.train import RunConfig, TrainConfig, load_run
from disentangle.run_folder import (
    atomic_write_json,
    clear_stale_temporaries,
    environment,
    last_checkpoint_step,
)
from disentangle.train.runtime import check_device

#: the BetaVAE score's protocols, in the table's column order
PROTOCOLS = ("higgins", "dlib")
#: where a method's representation comes from (see ``Method``)
SOURCES = ("ground-truth", "raw-pixels", "pca", "ica", "untrained", "trained")
RESULTS_FILE = "results.json"
TABLE_FILE = "table.md"
#: the BetaVAE settings a budget may cut, with the words the table uses for them
CUTTABLE_SETTINGS = {
    "num_train": "training points",
    "num_eval": "evaluation points",
    "batch_size": "pairs per point (L)",
    "classifier_steps": "Adagrad steps of the Higgins classifier",
}


@dataclass(frozen=True)
class Budget:
    """How much a reproduction trains and samples.

    Attributes:
        name: the budget's name, recorded in ``results.json`` and the table.
        seeds: one model, one baseline fit and one metric draw per seed (≥ 2, so that
            the table has a standard deviation).
        steps: training steps of every trained model (batch 64).
        steps_by_method: steps of the methods that train for another number, by method key.
        beta_vae: overrides of the BetaVAE score's dlib settings, used under both
            protocols (keys of ``CUTTABLE_SETTINGS``); empty means dlib's sample counts.
        checkpoint_every: steps between checkpoints, i.e. the most a killed run loses.
        training: ``train``-section settings that replace the paper's, by method key
            (``{"vae": {"optimizer": "adam", "learning_rate": 1e-3}}``); each replaced
            setting is listed under the table as a deviation from the paper.
        training_reason: why ``training`` deviates, printed with that list (required
            when ``training`` is not empty).
    """

    name: str
    seeds: tuple[int, ...]
    steps: int
    steps_by_method: Mapping[str, int] = field(default_factory=dict)
    beta_vae: Mapping[str, int] = field(default_factory=dict)
    checkpoint_every: int = 10_000
    training: Mapping[str, Mapping] = field(default_factory=dict)
    training_reason: str = ""

    def __post_init__(self):
        if len(self.seeds) < 2 or len(set(self.seeds)) != len(self.seeds) or min(self.seeds) < 0:
            raise InputError(f"budget {self.name}: seeds must be ≥ 2 distinct integers ≥ 0, got {self.seeds}")
        for key, steps in {"steps": self.steps, **self.steps_by_method}.items():
            if not isinstance(steps, int) or steps < 1:
                raise InputError(f"budget {self.name}: {key} must be an integer ≥ 1, got {steps!r}")
        unknown = sorted(set(self.beta_vae) - set(CUTTABLE_SETTINGS))
        if unknown:
            expected = ", ".join(CUTTABLE_SETTINGS)
            raise InputError(f"budget {self.name}: cannot set {unknown} (expected some of {expected})")
        resolve_settings("beta_vae", "dlib", dict(self.beta_vae))
        for key, settings in self.training.items():
            TrainConfig.from_dict(settings, source=f"budget {self.name}: training of {key}")
        if self.training and not self.training_reason:
            raise InputError(
                f"budget {self.name}: training deviates from the papers' settings; say why in training_reason"
            )

    def steps_of(self, method_key: str) -> int:
        return self.steps_by_method.get(method_key, self.steps)

    def to_dict(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))


@dataclass(frozen=True)
class Method:
    """One row of a published table and how its representation is obtained.

    Attributes:
        key: the method's name in folders and ``results.json`` (``beta-vae``).
        label: its name in the table (``β-VAE (β = 4)``).
        published: the paper's score in %, ``(mean, std)``; std ``None`` when not given.
        source: ``ground-truth`` (the factor values themselves), ``raw-pixels``,
            ``pca`` or ``ica`` (fitted per seed, see :mod:`disentangle.scoring.baselines`),
            ``untrained`` (``model`` at its seeded initialisation) or ``trained``.
        model, hyperparameters, train_settings: the model, its ``model`` section and
            its ``train`` section, but for steps, seed, device and checkpoints, which come
            from the budget and the caller (see ``run_config``).
    """

    key: str
    label: str
    published: tuple[float, float | None]
    source: str
    model: str | None = None
    hyperparameters: Mapping = field(default_factory=dict)
    train_settings: Mapping = field(default_factory=dict)

    def __post_init__(self):
        if self.source not in SOURCES:
            expected = ", ".join(SOURCES)
            raise InputError(f"method {self.key}: unknown source '{self.source}' (expected {expected})")
        if self.source in ("untrained", "trained") and self.model is None:
            raise InputError(f"method {self.key}: source '{self.source}' needs a model")

    def run_config(self, budget: Budget, seed: int, device: str) -> RunConfig:
        """What this method trains for ``seed`` under ``budget`` on dSprites."""
        train = {**self.train_settings, **budget.training.get(self.key, {}), "steps": budget.steps_of(self.key),
                 "seed": seed, "device": device, "checkpoint_every": budget.checkpoint_every}
        sections = {"model": {"name": self.model, **self.hyperparameters}, "data": {"name": "dsprites"}, "train": train}
        return RunConfig.from_dict(sections, source=f"method {self.key}")


#: Higgins et al. 2017's dSprites setting (configs/higgins-beta-vae-dsprites.yaml;
#: docs/references.md#higgins-et-al-2017, H10–H11):
#: MLP nets 4096-1200-1200-10 and 10-1200-1200-1200-4096 (H10), Adagrad at 1e-2 (H11: source
#: not pinned down), batch 64
HIGGINS_NETS = {"latent_dim": 10, "likelihood": "bernoulli", "architecture": "mlp"}
HIGGINS_TRAINING = {"batch_size": 64, "optimizer": "adagrad", "learning_rate": 1e-2}

#: Higgins et al. 2017, Table 1, in the paper's order (each published value's row and what it
#: measures: docs/references.md#higgins-et-al-2017, H1–H9). The VAE, β-VAE and untrained
#: VAE share Higgins' MLP; DC-IGN and InfoGAN use our conv nets, InfoGAN with Chen et
#: al.'s Adam rates (1e-3 / 2e-4), DC-IGN with dlib's Adam 1e-4.
HIGGINS_2017 = (
    Method("ground-truth", "ground truth", (100.0, None), "ground-truth"),
    Method("raw-pixels", "raw pixels", (45.75, 0.8), "raw-pixels"),
    Method("pca", "PCA", (84.9, 0.4), "pca"),
    Method("ica", "ICA", (42.03, 10.6), "ica"),
    Method("dc-ign", "DC-IGN", (99.3, 0.1), "trained", "dc-ign", {"latent_dim": 10}, {"batch_size": 64}),
    Method("infogan", "InfoGAN", (73.5, 0.9), "trained", "infogan", {"latent_dim": 10}, {"batch_size": 64}),
    Method("untrained-vae", "untrained VAE", (44.14, 2.5), "untrained", "vae", HIGGINS_NETS),
    Method("vae", "VAE", (61.58, 0.5), "trained", "vae", HIGGINS_NETS, HIGGINS_TRAINING),
    Method("beta-vae", "β-VAE (β = 4)", (99.23, 0.1), "trained", "beta-vae", {**HIGGINS_NETS, "beta": 4.0},
           HIGGINS_TRAINING),
)
#: paper name at the command line -> (citation, its methods)
PAPERS = {"higgins": ("Higgins et al. 2017, Table 1", HIGGINS_2017)}

#: the optimiser of the CPU quick-start recipe (configs/quickstart-dsprites.yaml), whose MLP
#: nets are Higgins' (VAE and β-VAE here)
QUICKSTART_OPTIMIZER = {"optimizer": "adam", "learning_rate": 1e-3}

#: budget name -> budget. ``full``: dlib's 300,000 steps (the step count of the
#: configs; Higgins' Table 1 does not state its own), 5 seeds, dlib's sample counts.
BUDGETS = {
    "cpu-small": Budget(
        "cpu-small", seeds=(0, 1), steps=1_000, steps_by_method={"infogan": 400},
        beta_vae={"num_train": 800, "num_eval": 400}, checkpoint_every=400,
        training={"vae": QUICKSTART_OPTIMIZER, "beta-vae": QUICKSTART_OPTIMIZER},
        training_reason="Higgins' Adagrad at 1e-2 is made for many more steps; on these MLP nets, Adam at 1e-3 "
        "is the optimiser of the CPU quick-start recipe, the fastest to disentangle dSprites of those measured "
        "in docs/results.md",
    ),
    "cpu": Budget(
        "cpu", seeds=(0, 1, 2), steps=15_000, steps_by_method={"infogan": 5_000},
        beta_vae={"num_train": 5_000, "num_eval": 2_500}, checkpoint_every=1_000,
    ),
    "full": Budget("full", seeds=(0, 1, 2, 3, 4), steps=300_000),
}


def budget_cuts(budget: Budget) -> list[str]:
    """What ``budget`` trains and samples less than ``full``, one phrase per cut."""
    full = BUDGETS["full"]
    cuts = []
    if budget.steps < full.steps:
        cuts.append(f"{budget.steps:,} training steps per model (full: {full.steps:,})")
    cuts += [f"{key}: {steps:,} training steps" for key, steps in budget.steps_by_method.items()]
    if len(budget.seeds) < len(full.seeds):
        cuts.append(f"{len(budget.seeds)} seeds (full: {len(full.seeds)})")
    for name, value in budget.beta_vae.items():
        dlib = DLIB["beta_vae"][name]
        if value < dlib:
            cuts.append(f"BetaVAE score: {value:,} {CUTTABLE_SETTINGS[name]} (dlib: {dlib:,})")
    return cuts


def training_deviations(budget: Budget, methods: tuple[Method, ...]) -> list[str]:
    """Each method's training settings that ``budget`` changes, as ``label: key value (paper: value)``."""
    defaults = TrainConfig().to_dict()
    deviations = []
    for method in methods:
        changed = budget.training.get(method.key, {})
        if changed:
            paper = {**defaults, **method.train_settings}
            parts = [f"{key} {value:g} (paper: {paper[key]:g})" if isinstance(value, float)
                     else f"{key} {value} (paper: {paper[key]})" for key, value in changed.items()]
            deviations.append(f"{method.label}: " + ", ".join(parts))
    return deviations


#: seconds to score one method-seed under both protocols here: 20–35 s to encode the images
#: its two scorings ask for (docs/results.md, Higgins' cpu-small)
SCORING_SECONDS = 30.0


def planned_cost(budget: Budget, methods: tuple[Method, ...] = HIGGINS_2017) -> dict:
    """``runs`` (method-seeds), ``cpu_seconds`` here one after another and ``gpu_hours`` at
    Locatello et al.'s P100 rate, from the measured rates of ``disentangle.reproduce.cost``."""
    images, seconds = 0, SCORING_SECONDS * len(methods) * len(budget.seeds)
    for method in methods:
        if method.source == "trained":
            batch = {**TrainConfig().to_dict(), **method.train_settings}["batch_size"]
            trained = budget.steps_of(method.key) * batch * len(budget.seeds)
            images += trained
            seconds += trained / cost.TRAINING_IMAGES_PER_SECOND[method.hyperparameters.get("architecture", "auto")]
    return {"runs": len(methods) * len(budget.seeds), "cpu_seconds": seconds, "gpu_hours": cost.gpu_hours(images)}


def dry_run_lines(budget: Budget, methods: tuple[Method, ...] = HIGGINS_2017) -> list[str]:
    """One line per method-seed (what it trains, with its run number, or fits), then the
    totals of ``planned_cost``."""
    numbers = {(method.key, seed): number for number, (method, seed) in enumerate(_trained_seeds(methods, budget))}
    lines = [f"{method.key}-seed-{seed}  " + (f"run {numbers[method.key, seed]}, {budget.steps_of(method.key):,} steps"
                                              if method.source == "trained" else method.source)
             for method in methods for seed in budget.seeds]
    totals = planned_cost(budget, methods)
    lines.append(f"higgins2017, budget {budget.name}: {totals['runs']} method-seeds, about "
                 f"{cost.duration(totals['cpu_seconds'])} of CPU time on this project's 2-core machine, about "
                 f"{totals['gpu_hours']:,.1f} GPU-hours at Locatello et al.'s P100 rate (see disentangle.reproduce.cost)")
    return lines


def _trained_seeds(methods: tuple[Method, ...], budget: Budget) -> list[tuple[Method, int]]:
    """The trained method-seeds of ``methods``, in table order: the numbering of their runs."""
    return [(method, seed) for method in methods if method.source == "trained" for seed in budget.seeds]


def run_name(method: Method, seed: int) -> str:
    """The sweep run name (and folder name under ``OUT/runs``) of a trained method's seed."""
    return f"{method.key}-seed-{seed}"


def run_folder_of(out: Path, method: Method, seed: int) -> Path:
    """The run folder of a trained method's seed inside the reproduction folder ``out``."""
    return Path(out) / "runs" / run_name(method, seed)


def training_runs(
    paper_methods: tuple[Method, ...], methods: tuple[Method, ...], budget: Budget, device: str
) -> tuple[dict[str, SweepRun], dict[str, str]]:
    """The sweep of the trained method-seeds of ``paper_methods`` and then of those of
    ``methods`` that are not the paper's, numbered in that order (so a run's number does not
    depend on the rows a call chooses): run name -> run, and run name -> one-line error for
    each method-seed whose settings are invalid (left out of the sweep, its number kept)."""
    keys = {method.key for method in paper_methods}
    runs, invalid = {}, {}
    everything = (*paper_methods, *(method for method in methods if method.key not in keys))
    for number, (method, seed) in enumerate(_trained_seeds(everything, budget)):
        name = run_name(method, seed)
        try:
            config = method.run_config(budget, seed, device)
        except InputError as error:
            invalid[name] = one_line(error)
            continue
        runs[name] = SweepRun(number, name, config, None, {"model.name": method.model, "train.seed": seed})
    return runs, invalid


def train_models(
    paper: str,
    out: str | Path,
    budget: str | Budget = "cpu-small",
    device: str = "cpu",
    methods: tuple[Method, ...] | None = None,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    only: list[int] | None = None,
    pack: int = 1,
    report: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Train the runs numbered ``only`` (default: every trained method-seed of ``methods``) of
    ``paper``'s sweep (``training_runs``) into ``out`` through the sweep engine; nothing is
    scored. Finished runs are skipped, interrupted ones resumed."""
    budget, paper_methods = _resolve(paper, budget, device)
    methods = paper_methods if methods is None else methods
    runs, _ = training_runs(paper_methods, methods, budget, device)
    chosen = {run_name(method, seed) for method, seed in _trained_seeds(methods, budget)}
    numbers = [run.number for name, run in runs.items() if name in chosen]
    if only is not None:
        unknown = sorted(set(only) - {run.number for run in runs.values()})
        if unknown:
            raise InputError(f"--run: no trained run {unknown[0]} in {paper} (--dry-run shows the numbers)")
        numbers = [number for number in numbers if number in only]
    if not numbers:
        return []
    return run_sweep(list(runs.values()), out, executor=executor, workers=workers, only=numbers, address=address,
                     report=report, pack=pack)


def _representation(method: Method, dataset: FactorDataset, seed: int, budget: Budget, device: str) -> Callable:
    """The codes of dataset indices for every source but ``trained``."""
    if method.source == "ground-truth":
        return lambda indices: dataset.factors_of(indices).astype(np.float32)
    if method.source == "raw-pixels":
        # not memoised: a table of 4,096 floats per image would grow to 12 GB
        return lambda indices: dataset.observations(indices).flatten(1).numpy()
    if method.source in ("pca", "ica"):
        return baselines.baseline_representation(method.source, dataset, seed)
    config = method.run_config(budget, seed, device).for_dataset(dataset)
    torch.manual_seed(seed)
    return memoised_run_encoder(config.build_model(dataset.observation_shape), dataset, device)


def _reproduce_one(
    out: Path, method: Method, seed: int, budget: Budget, dataset: FactorDataset, device: str, trained: dict
) -> dict:
    """Score ``method`` for ``seed`` under both protocols: the run ``trained`` by the sweep
    (its ``run``, ``steps``, ``resumed_from_step``, ``train_wall_time_s``), or a baseline fitted here."""
    start = time.perf_counter()
    record: dict = {"status": "done", "seed": seed}
    if method.source == "trained":
        record.update(trained)
        loaded = load_run(run_folder_of(out, method, seed), device=device)
        dataset = loaded.dataset
        representation = memoised_run_encoder(loaded.model, dataset, device)
    else:
        representation = _representation(method, dataset, seed, budget, device)
    scoring_start = time.perf_counter()
    data = IndexedFactorData(dataset)
    for protocol in PROTOCOLS:
        settings = {"beta_vae": {**budget.beta_vae, "protocol": protocol}}
        scores = score_representation(data, representation, ["beta_vae"], [seed], settings=settings)
        record[f"beta_vae_{protocol}"] = scores["results"]["beta_vae"][0]
    if isinstance(representation, MemoisedEncoder):
        record["encoding"] = {"distinct_images": representation.encoded,
                              "wall_time_s": round(representation.seconds, 3)}
    record["score_wall_time_s"] = round(time.perf_counter() - scoring_start, 3)
    record["wall_time_s"] = round(time.perf_counter() - start, 3)
    return record


def _training_seconds(out: Path, run: SweepRun) -> float:
    """Wall seconds of the call that last trained ``run``, this one or an earlier (its sweep status file)."""
    path = status_path(out, run)
    return json.loads(path.read_text())["wall_time_s"] if path.is_file() else 0.0


def _read_results(path: Path, paper: str, budget: Budget) -> dict:
    """The earlier results in ``path`` if they were made by this paper and budget, else nothing."""
    if not path.is_file():
        return {}
    try:
        previous = json.loads(path.read_text())
    except json.JSONDecodeError:
        raise InputError(f"{path}: not valid JSON; remove it to start this reproduction again") from None
    if previous.get("paper") != paper or previous.get("budget") != budget.to_dict():
        raise InputError(
            f"--out {path.parent}: holds a reproduction of '{previous.get('paper')}' with other settings "
            f"(budget '{previous.get('budget', {}).get('name')}' as it was then); use a new --out"
        )
    return previous


def _resolve(paper: str, budget: str | Budget, device: str) -> tuple[Budget, tuple[Method, ...]]:
    """The ``Budget`` named ``budget`` (or given) and ``paper``'s methods; ``InputError`` for an
    unknown paper, budget or device."""
    if paper not in PAPERS:
        raise InputError(f"paper: unknown '{paper}' (expected one of {', '.join(PAPERS)})")
    if isinstance(budget, str):
        if budget not in BUDGETS:
            raise InputError(f"--budget: unknown '{budget}' (expected one of {', '.join(BUDGETS)})")
        budget = BUDGETS[budget]
    check_device(device)
    return budget, PAPERS[paper][1]


def reproduce(
    paper: str,
    out: str | Path,
    budget: str | Budget = "cpu-small",
    device: str = "cpu",
    methods: tuple[Method, ...] | None = None,
    progress: Callable[[str], None] | None = None,
    pack: int = 1,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
) -> dict:
    """Reproduce ``paper``'s table (see ``PAPERS``) into ``out``; returns ``results.json``'s content.

    ``budget`` is a name of ``BUDGETS`` or a ``Budget``; ``methods`` replaces the
    paper's rows (e.g. a subset). Finished method-seeds of an earlier call into the
    same ``out`` are kept, and so are the rows of methods this call does not run.
    The unfinished trained method-seeds train first, through the sweep engine
    (``train_models``: ``executor``, ``workers``, ``address``, ``pack``), then every
    unfinished method-seed is fitted and scored here.
    """
    budget, paper_methods = _resolve(paper, budget, device)
    citation = PAPERS[paper][0]
    methods = paper_methods if methods is None else methods
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clear_stale_temporaries(out)
    previous = _read_results(out / RESULTS_FILE, paper, budget)
    started = time.perf_counter()
    results = {
        "paper": paper, "citation": citation, "budget": budget.to_dict(), "cuts": budget_cuts(budget),
        "training_deviations": training_deviations(budget, methods),
        "device": device, "date": date.today().isoformat(),
        "pca_ica_fit": {"components": baselines.COMPONENTS, "images": baselines.FIT_IMAGES},
        "methods": dict(previous.get("methods", {})),  # methods not run by this call keep their rows
        "environment": environment(),
    }

    def done(method: Method, seed: int) -> bool:
        seeds = previous.get("methods", {}).get(method.key, {}).get("seeds", {})
        return seeds.get(str(seed), {}).get("status") == "done"

    runs, invalid = training_runs(paper_methods, methods, budget, device)
    unfinished = [runs[run_name(method, seed)] for method, seed in _trained_seeds(methods, budget)
                  if run_name(method, seed) in runs and not done(method, seed)]
    # the step each unfinished run resumes from: None for a run not started or already trained
    resumed = {run.name: step if 0 < (step := last_checkpoint_step(run_path(out, run))) < run.steps else None
               for run in unfinished}

    def report(result: RunResult) -> None:
        if progress:
            progress(f"trained {result.name}: {result.state}" + (f": {result.error}" if result.error else ""))

    trained = {result.name: result for result in train_models(
        paper, out, budget, device, methods, executor, workers, address, [run.number for run in unfinished], pack,
        report)} if unfinished else {}
    dataset = get_dataset("dsprites")

    def save() -> None:
        results["wall_time_s"] = round(previous.get("wall_time_s", 0.0) + time.perf_counter() - started, 3)
        atomic_write_json(out / RESULTS_FILE, results)

    for method in methods:
        earlier = previous.get("methods", {}).get(method.key, {}).get("seeds", {})
        entry = {"label": method.label, "source": method.source, "model": method.model,
                 "published": list(method.published), "seeds": {}}
        results["methods"][method.key] = entry
        for seed in budget.seeds:
            if done(method, seed):
                entry["seeds"][str(seed)] = earlier[str(seed)]
                continue
            if progress:
                progress(f"{method.key}, seed {seed}")
            name = run_name(method, seed)
            error = invalid.get(name) if method.source == "trained" else None
            if error is None and name in trained and trained[name].state == "failed":
                error = trained[name].error
            if error is None:
                training = {} if method.source != "trained" else {
                    "run": name, "steps": budget.steps_of(method.key), "resumed_from_step": resumed[name],
                    "train_wall_time_s": _training_seconds(out, runs[name])}
                try:
                    entry["seeds"][str(seed)] = _reproduce_one(out, method, seed, budget, dataset, device, training)
                except Exception as failure:  # noqa: BLE001 - one failed method must not stop the others
                    error = one_line(failure)
            if error is not None:
                entry["seeds"][str(seed)] = {"status": "failed", "seed": seed, "error": error}
                if progress:
                    progress(f"{method.key}, seed {seed} failed: {error}")
            save()
    save()
    (out / TABLE_FILE).write_text(render_table(results))
    write_study_report(out, results, f"disentangle reproduce {paper} --budget {budget.name} --out {out}")
    return results


def _percent(values: list[float]) -> str:
    array = 100 * np.asarray(values)
    return f"{array.mean():.1f} ± {array.std():.1f}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


#: the table's columns
COLUMNS = ("method", "BetaVAE score, Higgins protocol (%)", "BetaVAE score, dlib protocol (%)", "published (%)",
           "seeds", "steps", "wall time")


def _cells(entry: dict) -> tuple[list[str], list[str]]:
    """A method's table cells and the lines naming its failed seeds."""
    records = list(entry["seeds"].values())
    done = [r for r in records if r["status"] == "done"]
    failures = [f"{entry['label']}, seed {r['seed']}: {r['error']}" for r in records if r["status"] != "done"]
    scores = [
        _percent([r[f"beta_vae_{protocol}"]["eval_accuracy"] for r in done]) if done else "failed"
        for protocol in PROTOCOLS
    ]
    mean, std = entry["published"]
    published = f"{mean:g}" if std is None else f"{mean:g} ± {std:g}"
    seeds = f"{len(done)}" if len(done) == len(records) else f"{len(done)} of {len(records)}"
    steps = ", ".join(f"{s:,}" for s in sorted({r["steps"] for r in done if "steps" in r}))
    steps = steps or ("fit" if entry["source"] in ("pca", "ica") else "—")
    wall = _minutes(sum(r["wall_time_s"] + r.get("train_wall_time_s", 0.0) for r in done))
    return [entry["label"], *scores, published, seeds, steps, wall], failures


def _notes(results: dict) -> list[str]:
    """The lines under the table: protocols, sample counts, cuts, deviations, wall time."""
    budget = results["budget"]
    metric = resolve_settings("beta_vae", "dlib", budget["beta_vae"])
    fit = results["pca_ica_fit"]
    return [
        f"Mean ± std (population) over seeds {budget['seeds']}; each seed trains or fits one model and "
        "seeds the metric. Wall time: training or fitting plus scoring, summed over seeds.",
        f"BetaVAE score: {metric['num_train']:,} training and {metric['num_eval']:,} evaluation points of "
        f"L = {metric['batch_size']} pairs. Higgins protocol: linear softmax, Adagrad "
        f"{metric['learning_rate']:g}, {metric['classifier_steps']:,} steps of "
        f"{metric['classifier_batch_size']}, shape excluded. "
        "dlib protocol: scikit-learn LogisticRegression(), every factor.",
        f"PCA and ICA: {fit['components']} components fitted on {fit['images']:,} random images per seed.",
        "Cuts from the full budget: " + ("; ".join(results["cuts"]) or "none") + ".",
        *([f"Training settings that deviate from the paper's: {'; '.join(results['training_deviations'])}. "
           f"Why: {budget['training_reason']}"] if results.get("training_deviations") else []),
        f"Total wall time: {_minutes(results['wall_time_s'])} on device {results['device']} "
        f"({results['date']}, torch {results['environment']['torch']}).",
    ]


def render_table(results: dict) -> str:
    """The Markdown table of a reproduction's ``results.json`` content, with its notes."""
    lines = [
        f"# {results['citation']}: BetaVAE score on dSprites, budget {results['budget']['name']}",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|---|---|---|---|---|---|---|",
    ]
    failures = []
    for entry in results["methods"].values():
        cells, failed = _cells(entry)
        lines.append("| " + " | ".join(cells) + " |")
        failures += failed
    lines += ["", *_notes(results)]
    if failures:
        lines += ["", "Failed:", *[f"- {failure}" for failure in failures]]
    return "\n".join(lines) + "\n"


def write_study_report(out: Path, results: dict, command: str) -> None:
    """``out/report.md`` and ``out/report.html``: the table and its notes, with the command and machine."""
    rows = [_cells(entry) for entry in results["methods"].values()]
    failures = [line for _, failed in rows for line in failed]
    blocks = [
        ("paragraph", f"{results['citation']}: the BetaVAE score on dSprites of every method, under the paper's "
         "protocol and dlib's, beside the published numbers."),
        ("paragraph", f"Command: `{command}`. Machine: {os.cpu_count()} CPU cores, "
         f"{results['environment']['platform']}, torch {results['environment']['torch']}."),
        ("table", pd.DataFrame([cells for cells, _ in rows], columns=list(COLUMNS))),
        *[("paragraph", note) for note in _notes(results)],
    ]
    if failures:
        blocks += [("heading", "Failed"), *[("paragraph", failure) for failure in failures]]
    write_report(out, f"higgins2017: {results['citation']}, budget {results['budget']['name']}", blocks)
