"""Every run's configuration and scores in one table, and the figures of a study.

``collect(DIR)`` reads every run folder under DIR (any folder holding a
``config.json``: a sweep's ``DIR/runs/*`` or hand-made runs) into one row per run:

- ``run``: the folder's path relative to DIR; ``model``: the model's name;
- ``model.*``, ``data.*``, ``train.*``: the flattened ``config.json`` (lists as JSON);
- ``scored``: whether the run has a ``metrics.json``; ``checkpoint_step`` and
  ``preset`` of that evaluation;
- ``<metric>.<score>``: the score's mean over the metric seeds (``mig.discrete_mig``),
  and ``<metric>.<score>[seed=<s>]`` its value under each metric seed; the same with a
  ``sampled.`` prefix for the evaluation of the sampled representation;
- ``udr.model_score``: the run's UDR (``disentangle udr``).

Runs without ``metrics.json`` have empty scores. ``aggregate(DIR)`` writes the table
to ``DIR/results.csv`` and ``DIR/results.parquet`` and rewrites ``DIR/figures/``:
``<metric>.<score>.png`` for each headline score (its spread over the runs of each
method; a metric's other scores, dozens for the downstream and fairness tasks, are in the
table only) and ``rank-correlation.png`` (Spearman correlation of the headline scores
over the runs).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from disentangle.errors import InputError
from disentangle.scoring.evaluate import HEADLINE_SCORES, METRICS_FILE, SAMPLED_SECTION, UDR_SECTION
from disentangle.sweep.figures import rank_correlation, score_distribution
from disentangle.run_folder import CONFIG, read_config

SECTIONS = ("model", "data", "train")
LEADING = ["run", "model", "scored", "checkpoint_step", "preset"]
RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
FIGURES = "figures"


def _flatten(prefix: str, values: dict) -> dict:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(f"{prefix}.{key}", value))
        else:
            flat[f"{prefix}.{key}"] = json.dumps(value) if isinstance(value, (list, tuple)) else value
    return flat


def _row(directory: Path, run: Path) -> dict:
    config = read_config(run)
    row = {"run": run.relative_to(directory).as_posix(), "model": config["model"]["name"], "scored": False}
    for section in SECTIONS:
        row.update(_flatten(section, config[section]))
    path = run / METRICS_FILE
    if path.is_file():
        try:
            scored = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise InputError(f"{path}: not valid JSON ({error})") from None
        row.update(scored=True, checkpoint_step=scored.get("checkpoint_step"), preset=scored.get("preset"))
        for prefix, evaluation in (("", scored), (f"{SAMPLED_SECTION}.", scored.get(SAMPLED_SECTION, {}))):
            for metric, scores in evaluation.get("summary", {}).items():
                for score, summary in scores.items():
                    row[f"{prefix}{metric}.{score}"] = summary["mean"]
                    for seed, value in zip(evaluation.get("seeds", []), summary["values"]):
                        row[f"{prefix}{metric}.{score}[seed={seed}]"] = value
        if UDR_SECTION in scored:
            row[f"{UDR_SECTION}.model_score"] = scored[UDR_SECTION]["model_score"]
    return row


def _is_config(column: str) -> bool:
    return column.partition(".")[0] in SECTIONS and "." in column


def score_columns(table: pd.DataFrame) -> list[str]:
    """The columns holding a score's mean over metric seeds."""
    return [
        column
        for column in table.columns
        if column not in LEADING and not _is_config(column) and "[seed=" not in column
    ]


def collect(directory: str | Path) -> pd.DataFrame:
    """One row per run folder under ``directory``, ordered by path (see the module's docstring)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: no such folder")
    rows = [_row(directory, path.parent) for path in sorted(directory.rglob(CONFIG))]
    if not rows:
        raise InputError(f"{directory}: no run folders under it (folders holding {CONFIG})")
    table = pd.DataFrame(rows)
    config = [column for column in table.columns if _is_config(column)]
    scores = score_columns(table)
    per_seed = [column for column in table.columns if "[seed=" in column]
    return table.reindex(columns=LEADING + config + scores + per_seed)


def _method_part(column: str, value) -> str:
    if pd.isna(value):
        return ""
    return f" {column.split('.')[-1]}={format(value, 'g') if isinstance(value, float) else value}"


def methods(table: pd.DataFrame, by: Sequence[str] = ()) -> pd.Series:
    """Each run's method: its model, followed by ``key=value`` for each column in ``by``."""
    missing = [column for column in by if column not in table.columns]
    if missing:
        raise InputError(f"--by {missing[0]}: no such column (expected a config column such as model.beta)")
    labels = table["model"].astype(str)
    for column in by:
        labels = labels + table[column].map(lambda value, column=column: _method_part(column, value))
    return labels


def _parquet_ready(table: pd.DataFrame) -> pd.DataFrame:
    """The table with columns of mixed value types written as text (Parquet columns have one type)."""
    ready = table.copy()
    for column in table.columns:
        if table[column].dtype == object and len({type(v) for v in table[column].dropna()}) > 1:
            ready[column] = [None if pd.isna(v) else str(v) for v in table[column]]
    return ready


def _is_headline(column: str) -> bool:
    """Whether a score column is its metric's headline score (``evaluate.HEADLINE_SCORES``)."""
    metric, _, score = column.removeprefix(f"{SAMPLED_SECTION}.").partition(".")
    return score in HEADLINE_SCORES.get(metric, (score,))


def aggregate(directory: str | Path, by: Sequence[str] = ()) -> pd.DataFrame:
    """Collect the runs under ``directory``, write the table and figures there, and return the table.

    ``by``: config columns (``model.beta``) that split each model into several
    methods in the figures.
    """
    directory = Path(directory)
    table = collect(directory)
    labels = methods(table, by)
    table.to_csv(directory / RESULTS_CSV, index=False)
    _parquet_ready(table).to_parquet(directory / RESULTS_PARQUET, index=False)
    figures = directory / FIGURES
    figures.mkdir(exist_ok=True)
    for old in figures.glob("*.png"):
        old.unlink()
    scores = [column for column in score_columns(table) if table[column].notna().any()]
    headline = [column for column in scores if _is_headline(column)]
    for column in headline:
        score_distribution(table[column], labels, column).savefig(figures / f"{column}.png")
    varying = [column for column in headline if table[column].nunique() > 1]
    if len(varying) > 1:
        rank_correlation(table[varying]).savefig(figures / "rank-correlation.png")
    return table
