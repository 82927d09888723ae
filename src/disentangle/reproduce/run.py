"""Plan, run and report a declared study through the sweep engine.

``plan(study, budget)`` expands the study into sweep runs (validated: nothing is built
or trained before every run's settings, metric, dataset, figure and extra score is
known) and the rows of its fitted methods, with each one's estimated cost.
``reproduce_study`` then hands the runs to ``disentangle.sweep.run_sweep`` (local workers
or Ray, finished runs skipped, interrupted ones resumed, a failed one reported while the
others go on), fits the fitted methods in this process, adds the study's extra scores
and UDR, and writes

.. code-block:: text

    DIR/sweep.json, DIR/runs/<name>/, DIR/status/   the sweep's (``aggregate DIR`` works on it)
    DIR/extra/<name>.json                            extra scores per run or fitted row (Chen's MIG, ...)
    DIR/study.json                                   the study, the budget, accumulated wall time
    DIR/results.csv                                  the study table: method, value, dataset, seed, scores
    DIR/report.md, DIR/figures/*.png, DIR/report.html

Running the same command again skips what is finished and redraws the report.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from disentangle.data import get_dataset
from disentangle.errors import InputError
from disentangle.reproduce import analysis, cost
from disentangle.reproduce.extra import EXTRA_SCORES, Subject, scores_of
from disentangle.reproduce.figures import FIGURES
from disentangle.reproduce.report import write_report
from disentangle.reproduce.study import Study, StudyBudget, StudyMethod
from disentangle.run_folder import atomic_write_json, clear_stale_temporaries, environment
from disentangle.scoring.baselines import fitted_representation
from disentangle.scoring.evaluate import METRICS_FILE, UDR_SECTION
from disentangle.sweep import SweepRun, collect, expand_sweep, run_sweep
from disentangle.sweep.execute import is_finished, one_line, run_path
from disentangle.train import RunConfig

STUDY_FILE = "study.json"
RESULTS_CSV = "results.csv"


@dataclass(frozen=True)
class PlannedRun:
    """A row of a study: a sweep run or a fitted method's seed on a dataset, the method and
    hyperparameter value it stands for, and its estimated cost (``seconds`` of CPU time
    here, ``images`` trained on).

    Attributes:
        name: the run's folder name under ``DIR/runs``, or the fitted row's
            (``pca-data=dsprites-seed=0``), that of its file under ``DIR/extra``.
        dataset, seed: its dataset's name and its training (or fitting) seed.
        run: the sweep run; ``None`` for a fitted method.
        config: what it trains (the sweep run's), or for a fitted ``untrained`` method what it
            builds; ``None`` for the other fitted methods.
    """

    name: str
    method: StudyMethod
    value: object
    dataset: str
    seed: int
    seconds: float
    images: int
    run: SweepRun | None = None
    config: RunConfig | None = None


def chosen_budget(study: Study, budget: str, datasets: Sequence[str] | None = None) -> StudyBudget:
    """``study``'s budget called ``budget``, its datasets replaced by ``datasets`` when given."""
    chosen = study.budget(budget)
    return chosen if not datasets else dataclasses.replace(chosen, datasets=tuple(datasets))


def plan(study: Study, budget: str, device: str = "cpu", datasets: Sequence[str] | None = None) -> list[PlannedRun]:
    """The runs of ``study`` under ``budget`` (on ``datasets`` instead of the budget's, when
    given), in sweep order; ``InputError`` naming the first unknown model, metric, dataset,
    figure, extra score or bad setting."""
    chosen = chosen_budget(study, budget, datasets)
    study.check(chosen, FIGURES, EXTRA_SCORES)
    spec = study.sweep_spec(chosen, device)
    trained = study.trained_methods(chosen)
    runs = expand_sweep(spec, source=f"study {study.name} (budget {budget})") if trained else []
    per_value = len(chosen.datasets) * len(chosen.seeds)
    methods = [method for method in trained
               for _ in range(per_value * max(1, len(chosen.values.get(method.key, method.values))))]
    extras = [*study.extra_scores, *(["udr"] if study.udr else [])]
    rows: dict[str, list[PlannedRun]] = {}
    for run, method in zip(runs, methods, strict=True):
        value = run.choices.get(f"model.{method.hyperparameter}", analysis.NO_VALUE)
        seconds = cost.run_seconds(run, method.images_per_row, extras, chosen.preset, chosen.metric_settings)
        rows.setdefault(method.key, []).append(PlannedRun(
            run.name, method, value, run.config.data.name, run.config.train.seed, seconds,
            cost.images_of(run, method.images_per_row), run, run.config))
    for method in study.methods_of(chosen):
        if method.fitted is not None:
            rows[method.key] = [_fitted_row(method, spec, dataset, seed, chosen, extras)
                                for dataset in chosen.datasets for seed in chosen.seeds]
    return [row for method in study.methods_of(chosen) for row in rows[method.key]]


def _fitted_row(method: StudyMethod, spec: dict, dataset: str, seed: int, budget: StudyBudget,
                extras: list[str]) -> PlannedRun:
    """The planned row of a fitted method's ``seed`` on ``dataset``; for ``untrained``, its
    ``config`` holds the study's model settings with the method's (what it builds)."""
    config = None
    if method.fitted == "untrained":
        sections = {"model": {**spec["model"], **method.fixed, "name": method.model}, "data": {"name": dataset},
                    "train": {"seed": seed}}
        config = RunConfig.from_dict(sections, source=f"study method {method.key}")
    seconds = cost.fitted_seconds(extras, budget.preset, budget.metric_settings)
    return PlannedRun(f"{method.key}-data={dataset}-seed={seed}", method, analysis.NO_VALUE, dataset, seed, seconds,
                      0, config=config)


def estimate(planned: list[PlannedRun]) -> dict:
    """``runs``, ``cpu_seconds`` (one after another here) and ``gpu_hours`` (Locatello et al.'s rate)."""
    images = sum(p.images for p in planned)
    return {"runs": len(planned), "cpu_seconds": sum(p.seconds for p in planned), "gpu_hours": cost.gpu_hours(images)}


def dry_run_lines(study: Study, budget: str, device: str = "cpu", datasets: Sequence[str] | None = None) -> list[str]:
    """What ``reproduce`` would run: one line per run with its estimated time, then the totals."""
    planned = plan(study, budget, device, datasets)
    totals = estimate(planned)
    lines = [f"{p.name}  ~{cost.duration(p.seconds)}" + ("" if p.run else f", {p.method.fitted}, fitted here")
             for p in planned]
    lines.append(f"{study.name}, budget {budget}: {totals['runs']} runs, about {cost.duration(totals['cpu_seconds'])} "
                 f"of CPU time on this project's 2-core machine, one run after another; about "
                 f"{totals['gpu_hours']:,.1f} GPU-hours at Locatello et al.'s P100 rate (see disentangle.reproduce.cost)")
    return lines


def _check_study_file(out: Path, study: Study, budget: StudyBudget) -> dict:
    """The earlier ``study.json`` if it is this study under this budget, else ``InputError``."""
    path = out / STUDY_FILE
    if not path.is_file():
        return {}
    try:
        previous = json.loads(path.read_text())
    except json.JSONDecodeError:
        raise InputError(f"{path}: not valid JSON; remove it to run this study again") from None
    if previous.get("study") != study.name or previous.get("budget") != _jsonable(budget):
        raise InputError(f"--out {out}: holds study '{previous.get('study')}' under other settings (budget "
                         f"'{previous.get('budget', {}).get('name')}' as it was then); use a new --out")
    return previous


def _jsonable(budget: StudyBudget) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(budget), default=list))


def _subject(out: Path, planned: PlannedRun, budget: StudyBudget, device: str) -> Subject:
    """What the extra scores score for ``planned``: its run folder, or its fitted representation."""
    settings = {"seed": planned.seed, "preset": budget.preset, "metric_settings": budget.metric_settings,
                "device": device}
    if planned.run is not None:
        return Subject(planned.name, folder=run_path(out, planned.run), **settings)

    def fit():
        dataset = get_dataset(planned.dataset)
        config = planned.config.for_dataset(dataset) if planned.config is not None else None
        model = config and (lambda: config.build_model(dataset.observation_shape))
        return dataset, fitted_representation(planned.method.fitted, dataset, planned.seed, model, device)

    return Subject(planned.name, fit=fit, **settings)


def _udr_groups(planned: list[PlannedRun], finished: set[str]) -> list[list[PlannedRun]]:
    """The finished runs of each configuration (all seeds of one method, value and dataset)."""
    groups: dict[tuple, list[PlannedRun]] = {}
    for p in planned:
        if p.name in finished:
            groups.setdefault((p.method.key, str(p.value), p.dataset), []).append(p)
    return [group for group in groups.values() if len(group) >= 2]


def _has_udr(out: Path, group: list[PlannedRun]) -> bool:
    """Whether every run of ``group`` holds a UDR over exactly this group at its last step."""
    paths = [str(run_path(out, p.run).resolve()) for p in group]
    for p in group:
        try:
            section = json.loads((run_path(out, p.run) / METRICS_FILE).read_text()).get(UDR_SECTION, {})
        except (OSError, json.JSONDecodeError):
            return False
        if section.get("runs") != paths or section.get("checkpoint_step") != p.run.steps:
            return False
    return True


def _score_udr(out: Path, planned, finished, preset: str, device: str, failures: dict) -> None:
    from disentangle.scoring.udr import score_runs

    for group in _udr_groups(planned, finished):
        if _has_udr(out, group):
            continue
        try:
            score_runs([run_path(out, p.run) for p in group], seed=0, preset=preset, device=device)
        except Exception as error:  # noqa: BLE001 - a failed UDR must not lose the study's other results
            for p in group:
                failures[p.name] = f"udr: {one_line(error)}"


def study_table(out: Path, planned: list[PlannedRun], extras: dict[str, dict]) -> pd.DataFrame:
    """One row per planned run with a folder and per fitted row with scores: method, value,
    dataset, seed, run, then every score column of ``aggregate``'s table and the extra scores."""
    folders = Path(out) / "runs"
    collected = collect(folders) if folders.is_dir() and any(folders.iterdir()) else pd.DataFrame(columns=["run"])
    by_name = {row["run"]: row for row in collected.to_dict("records")}
    rows = []
    for p in planned:
        if p.name not in by_name and (p.run is not None or p.name not in extras):
            continue
        row = by_name.get(p.name, {})
        scores = {key: value for key, value in row.items() if key not in ("run", "model") and "." in key
                  and key.partition(".")[0] not in ("model", "data", "train") and "[seed=" not in key}
        rows.append({"method": p.method.key, "value": p.value, "dataset": p.dataset, "seed": p.seed, "run": p.name,
                     **scores, **extras.get(p.name, {})})
    return pd.DataFrame(rows)


def _summary_table(table: pd.DataFrame, scores: list[str]) -> pd.DataFrame:
    summary = analysis.seed_summary(table, scores)
    shown = summary[[*analysis.SETTING, "seeds"]].copy()
    shown["value"] = shown["value"].map(lambda value: format(value, "g") if isinstance(value, float) else str(value))
    for score in scores:
        shown[score] = [f"{m:.3f} ± {s:.3f}" for m, s in zip(summary[f"{score} mean"], summary[f"{score} std"])]
    return shown


def _machine() -> str:
    versions = environment()
    return (f"{os.cpu_count()} CPU cores, {versions['platform']}, Python {versions['python']}, "
            f"torch {versions['torch']}, NumPy {versions['numpy']}, scikit-learn {versions['scikit-learn']}")


def _blocks(study: Study, budget: StudyBudget, table: pd.DataFrame, scores: list[str], context: dict) -> list:
    steps = f"{budget.steps:,} training steps per run" + "".join(
        f", {key} {value:,}" for key, value in budget.steps_by_method.items())
    scored = ", ".join([*study.metrics, *study.extra_scores])
    settings = (f"{steps}, seeds {list(budget.seeds)}, datasets {', '.join(budget.datasets)}, scored by {scored} "
                f"under the {budget.preset} preset" + (" (metric seed 0)" if study.metrics else "")
                + "".join(f"; {metric}'s settings replaced by {json.dumps(dict(settings))}"
                          for metric, settings in budget.metric_settings.items()))
    departures = {key: value for key, value in (("sections", budget.sections), ("training", budget.training)) if value}
    fitted = [f"{method.label} ({method.fitted})" for method in study.methods_of(budget) if method.fitted]
    blocks: list = [
        ("paragraph", f"{study.citation}. {study.question}"),
        ("heading", "How this was run"),
        ("paragraph", f"Command: `{context['command']}`"),
        ("paragraph", f"Budget {budget.name}: {settings}."
         + (f" Settings that depart from the paper's: {json.dumps(departures)}. Why: {budget.deviation}"
            if departures else "")),
        *([("paragraph", f"Fitted in the study's process, one per seed (disentangle.scoring.baselines): "
            f"{', '.join(fitted)}.")] if fitted else []),
        ("paragraph", (f"Runs: {context['finished']} of {context['planned']} finished (this call: "
                       f"{context['counts']}). Wall time: {cost.duration(context['wall_time_s'])} "
                       f"(all calls into this folder; this one {cost.duration(context['call_s'])}), estimated "
                       f"beforehand at {cost.duration(context['estimated_s'])} for one run at a time. "
                       f"Machine: {_machine()}. Date: {context['date']}.")),
        ("heading", "What this budget can and cannot support"),
        ("paragraph", budget.supports or "Not stated."),
        ("heading", "Published values beside ours"),
        ("table", analysis.published_comparison(table, study.published) if not table.empty
         else pd.DataFrame({"claim": [p.claim for p in study.published], "source": [p.source for p in study.published],
                            "ours": "—"})),
    ]
    scores = [score for score in scores if score in table.columns]
    if not table.empty:
        blocks += [("heading", "Mean ± std over seeds"), ("table", _summary_table(table, scores)),
                   ("heading", "Figures")]
        for name in study.figures:
            blocks += [("figure", exhibit) for exhibit in FIGURES[name](table, scores, study.published)]
    if context["failures"]:
        blocks += [("heading", "Failed"),
                   ("table", pd.DataFrame(sorted(context["failures"].items()), columns=["run", "error"]))]
    return blocks


def reproduce_study(
    study: Study,
    out: str | Path,
    budget: str = "cpu-small",
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    device: str = "cpu",
    datasets: Sequence[str] | None = None,
    only: Sequence[int] | None = None,
    progress: Callable[[str], None] | None = None,
    command: str | None = None,
    pack: int = 1,
) -> dict:
    """Run ``study`` under ``budget`` (on ``datasets`` instead of the budget's, when given) into
    ``out`` and write its report; returns ``study.json``'s content (``counts``: runs done,
    skipped, failed; ``failures``: run name -> error). ``only``: the numbers of the runs to
    run (an array job's index); the report then covers every run finished so far. ``pack``:
    train up to this many compatible runs as one stacked model (``sweep --pack``, docs/packing.md)."""
    planned = plan(study, budget, device, datasets)
    chosen = chosen_budget(study, budget, datasets)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    clear_stale_temporaries(out)
    previous = _check_study_file(out, study, chosen)
    if not previous:  # claim the folder before the first run, so a killed study is still recognised
        atomic_write_json(out / STUDY_FILE, {"study": study.name, "budget": _jsonable(chosen), "wall_time_s": 0.0})
    started = time.perf_counter()

    def report(result) -> None:
        if progress:
            progress(f"{result.state} {result.name}" + (f": {result.error}" if result.error else ""))

    trained = [p for p in planned if p.run is not None]
    results = run_sweep([p.run for p in trained], out, executor=executor, workers=workers, only=only,
                        address=address, report=report, pack=pack) if trained else []
    # what the folder holds, so that a call for some runs (``only``) reports the others too
    finished = {p.name for p in trained if is_finished(p.run, run_path(out, p.run))}
    failures = {r.name: r.error for r in results if r.state == "failed"}
    extras: dict[str, dict] = {}
    for p in planned:
        if study.extra_scores and (p.name in finished or p.run is None):
            subject = _subject(out, p, chosen, device)
            try:  # a call for some runs (``only``) fits nothing: it reports the fitted rows kept so far
                scores = scores_of(out, subject, study.extra_scores, compute=p.run is not None or only is None)
            except Exception as error:  # noqa: BLE001 - one run's extra score must not stop the others
                failures[p.name] = f"extra scores: {one_line(error)}"
                continue
            if scores:
                extras[p.name] = scores
                if p.run is None and progress:
                    progress(f"scored {p.name}")
    if study.udr:
        _score_udr(out, planned, finished, chosen.preset, device, failures)
    table = study_table(out, planned, extras)
    table.to_csv(out / RESULTS_CSV, index=False)
    call_s = time.perf_counter() - started
    counts = {state: sum(r.state == state for r in results) for state in ("done", "skipped", "failed")}
    content = {
        "study": study.name, "citation": study.citation, "budget": _jsonable(chosen),
        "command": command or f"disentangle reproduce {study.name} --budget {budget} --out {out}",
        "counts": counts, "failures": failures,
        "wall_time_s": round(previous.get("wall_time_s", 0.0) + call_s, 3), "call_s": round(call_s, 3),
        "estimated_s": round(estimate(planned)["cpu_seconds"], 1), "date": date.today().isoformat(),
        "environment": environment(),
    }
    context = {**content, "counts": ", ".join(f"{n} {state}" for state, n in counts.items()),
               "finished": len(finished) + sum(p.run is None and p.name in extras for p in planned),
               "planned": len(planned)}
    write_report(out, f"{study.name}: {study.citation.split(',')[0]}, budget {budget}",
                 _blocks(study, chosen, table, list(study.scores), context))
    atomic_write_json(out / STUDY_FILE, content)
    return content
