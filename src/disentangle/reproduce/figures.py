"""The figures and tables a study's report draws, by name (``FIGURES``).

Each entry is ``function(table, scores, published) -> list[Exhibit]``: ``table`` is the
study table (:mod:`disentangle.reproduce.analysis`), ``scores`` its headline score columns
in the study's metric order, ``published`` the study's published values
(``disentangle.reproduce.study.Published``) for the figures that draw them. The statistics come from ``analysis``; this module only draws
(matplotlib ``Figure`` objects built without ``pyplot``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from disentangle.reproduce import analysis
from disentangle.sweep.figures import rank_correlation, score_distribution

UDR = "udr.model_score"
MIG_DLIB = "mig.discrete_mig"
MIG_CHEN = "mig_chen.mig"
RECONSTRUCTION = "reconstruction.recon"
FACTOR_VAE = "factor_vae.eval_accuracy"
#: scores where lower is better, left out of the figures that pick the highest
LOWER_IS_BETTER = (RECONSTRUCTION,)


@dataclass(frozen=True)
class Exhibit:
    """One item of a report: ``figures/<name>.png`` (when ``figure`` is given), its caption
    and the table behind it (when given)."""

    name: str
    caption: str
    figure: Figure | None = None
    table: pd.DataFrame | None = None


def _labels(table: pd.DataFrame) -> pd.Series:
    """``method value`` per run (``beta-vae 4``), the method alone for a method without a grid."""
    values = table["value"].map(lambda v: "" if v == analysis.NO_VALUE else f" {v:g}" if isinstance(v, float)
                                else f" {v}")
    return table["method"].astype(str) + values


def score_distributions(table: pd.DataFrame, scores: list[str], published: Sequence = ()) -> list[Exhibit]:
    """Each score's runs per method and hyperparameter value (Locatello et al. 2019), in the
    study's order (methods as declared, values as in the grid)."""
    labels = _labels(table)
    order = list(dict.fromkeys(labels))
    return [Exhibit(f"distribution-{score}", f"{score} of every run, per method and hyperparameter value",
                    score_distribution(table[score], labels, score, order))
            for score in scores if table[score].notna().any()]


def metric_rank_correlation(table: pd.DataFrame, scores: list[str], published: Sequence = ()) -> list[Exhibit]:
    """Spearman's rank correlation between the metrics over the runs (Locatello et al. 2019)."""
    varying = [score for score in scores if table[score].nunique() > 1]
    if len(varying) < 2:
        return [Exhibit("rank-correlation", "rank correlation between metrics: fewer than two metrics vary")]
    matrix = analysis.rank_correlations(table, varying)
    return [Exhibit("rank-correlation", "Spearman rank correlation between the metrics over the runs",
                    rank_correlation(table[varying]), matrix.reset_index(names="score"))]


def _bars(frame: pd.DataFrame, categories: str, columns: list[str], title: str, ylabel: str) -> Figure:
    figure = Figure(figsize=(max(4.5, 0.9 * len(frame) + 2), 3.6), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    positions = np.arange(len(frame))
    width = 0.8 / len(columns)
    for index, column in enumerate(columns):
        axes.bar(positions + (index - (len(columns) - 1) / 2) * width, frame[column], width, label=column)
    axes.set_xticks(positions, frame[categories], rotation=30 if len(frame) > 4 else 0,
                    ha="right" if len(frame) > 4 else "center")
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    axes.legend(fontsize=8)
    return figure


def seed_variance_share(table: pd.DataFrame, scores: list[str], published: Sequence = ()) -> list[Exhibit]:
    """The share of each score's variance due to the hyperparameter and to the seed,
    per method (Locatello et al. 2019: the seed matters as much as the hyperparameters)."""
    exhibits = []
    for score in scores:
        shares = analysis.variance_shares(table, score)
        if shares.empty or shares["total"].eq(0).all():
            continue
        shares = shares.assign(case=shares["method"] + " " + shares["dataset"])
        exhibits.append(Exhibit(
            f"variance-share-{score}", f"share of the variance of {score} due to the hyperparameter and to the seed",
            _bars(shares, "case", ["hyperparameter share", "seed share"], score, "share of the variance"),
            shares.drop(columns="case")))
    return exhibits


def udr_model_selection(table: pd.DataFrame, scores: list[str], published: Sequence = ()) -> list[Exhibit]:
    """What UDR's unsupervised choice of hyperparameter scores, beside the best and the
    average choice (Duan et al. 2020; Locatello et al. 2019)."""
    if UDR not in table.columns or table[UDR].isna().all():
        return [Exhibit("udr-selection", "model selection by UDR: no run has a UDR")]
    exhibits = []
    for score in [score for score in scores if score not in LOWER_IS_BETTER]:
        chosen = analysis.udr_selection(table, score)
        if chosen.empty:
            continue
        chosen = chosen.assign(case=chosen["method"] + " " + chosen["dataset"])
        exhibits.append(Exhibit(f"udr-selection-{score}", f"{score} of the hyperparameter value UDR picks",
                                _bars(chosen, "case", ["chosen", "best", "average"], f"picked by UDR: {score}", score),
                                chosen.drop(columns="case")))
    return exhibits


def hyperparameter_transfer(table: pd.DataFrame, scores: list[str], published: Sequence = ()) -> list[Exhibit]:
    """Model selection by transferring the best hyperparameter value across datasets."""
    if table["dataset"].nunique() < 2:
        return [Exhibit("transfer", "transfer of hyperparameters across datasets: the budget has one dataset")]
    frames = [analysis.hyperparameter_transfer(table, score).assign(score=score)
              for score in scores if score not in LOWER_IS_BETTER]
    transfer = pd.concat(frames, ignore_index=True)
    mean = transfer.groupby(["score", "method"], sort=False)["beats random"].mean().reset_index()
    mean = mean.assign(case=mean["method"] + " " + mean["score"].str.split(".").str[0])
    return [Exhibit("transfer", "probability that the value transferred from another dataset beats a random run",
                    _bars(mean, "case", ["beats random"], "hyperparameters transferred across datasets",
                          "P(beats a random run)"), transfer)]


def _against_value(table: pd.DataFrame, score: str, axes, xlabel: str) -> None:
    summary = analysis.seed_summary(table, [score])
    for method, rows in summary.groupby("method", sort=False):
        axes.errorbar(rows["value"].astype(float), rows[f"{score} mean"], yerr=rows[f"{score} std"],
                      marker="o", capsize=3, label=method)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(score)
    axes.legend(fontsize=8)


def mig_against_beta(table: pd.DataFrame, scores: list[str], published: Sequence = ()) -> list[Exhibit]:
    """MIG against β per method, dlib's estimator and Chen et al.'s (Chen et al. 2018 plot MIG
    against β; the figure is not pinned down: docs/references.md, C1–C2)."""
    columns = [column for column in (MIG_DLIB, MIG_CHEN) if column in table.columns and table[column].notna().any()]
    if not columns:
        return [Exhibit("mig-against-beta", "MIG against β: no run has a MIG")]
    figure = Figure(figsize=(4.5 * len(columns), 3.6), dpi=100, layout="constrained")
    for index, column in enumerate(columns):
        _against_value(table, column, figure.add_subplot(1, len(columns), index + 1), "β")
    return [Exhibit("mig-against-beta", "MIG (mean ± std over seeds) against β, with each MIG estimator",
                    figure, analysis.seed_summary(table, columns))]


def reconstruction_against_factor_vae(table: pd.DataFrame, scores: list[str], published: Sequence = ()) -> list[Exhibit]:
    """The reconstruction error against the FactorVAE score, every run, and the score per
    hyperparameter value (a plot of Kim & Mnih 2018's; the figure is not pinned down:
    docs/references.md, K1–K2)."""
    columns = [FACTOR_VAE, RECONSTRUCTION]
    if any(column not in table.columns for column in columns) or table[columns].dropna().empty:
        return [Exhibit("reconstruction-against-score", "reconstruction against the FactorVAE score: no run has both")]
    figure = Figure(figsize=(9.0, 3.6), dpi=100, layout="constrained")
    scatter = figure.add_subplot(1, 2, 1)
    for method, runs in table.dropna(subset=columns).groupby("method", sort=False):
        scatter.scatter(runs[FACTOR_VAE], runs[RECONSTRUCTION], label=method, s=18)
    scatter.set_xlabel(FACTOR_VAE)
    scatter.set_ylabel("reconstruction error (nats)")
    scatter.legend(fontsize=8)
    _against_value(table, FACTOR_VAE, figure.add_subplot(1, 2, 2), "γ (FactorVAE) or β (β-VAE)")
    return [Exhibit("reconstruction-against-score", "reconstruction error (nats, the last logged training "
                    "interval) against the FactorVAE score, and the score per hyperparameter value", figure, analysis.seed_summary(table, columns))]


def published_beside_ours(table: pd.DataFrame, scores: list[str], published: Sequence = ()) -> list[Exhibit]:
    """A published table redrawn: each method's scores (mean ± std over seeds) beside the
    published value of each ``Published`` entry with a ``value`` (Higgins et al.'s Table 1)."""
    numbers = {(entry.method, entry.score): entry for entry in published if entry.value is not None}
    shown = [score for score in scores if score in table.columns and table[score].notna().any()]
    if not numbers or not shown:
        return [Exhibit("published", "published values beside ours: no published number or no score")]
    summary = analysis.seed_summary(table, shown)
    labels = _labels(summary)
    if summary["dataset"].nunique() > 1:
        labels = labels + " " + summary["dataset"]
    rows = []
    for label, (_, row) in zip(labels, summary.iterrows()):
        cells = {"setting": label, "seeds": row["seeds"]}
        for score in shown:
            cells[score] = f"{row[f'{score} mean']:.3f} ± {row[f'{score} std']:.3f}"
            entry = numbers.get((row["method"], score))
            cells[f"{score} published"] = "—" if entry is None else f"{entry.value:g}"
        rows.append(cells)
    figure = Figure(figsize=(max(4.5, 0.9 * len(summary) + 2), 3.6), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    positions = np.arange(len(summary))
    width = 0.8 / len(shown)
    for index, score in enumerate(shown):
        offsets = positions + (index - (len(shown) - 1) / 2) * width
        axes.bar(offsets, summary[f"{score} mean"], width, yerr=summary[f"{score} std"], label=score, capsize=2)
        marks = [(x, numbers[method, score].value) for x, method in zip(offsets, summary["method"])
                 if (method, score) in numbers]
        if marks:
            axes.scatter(*zip(*marks), marker="_", s=300, color="black", zorder=3,
                         label=f"published ({score})")
    axes.set_xticks(positions, labels, rotation=30, ha="right")
    axes.set_ylabel("score")
    axes.legend(fontsize=7)
    return [Exhibit("published", "each method's scores (bars: mean ± std over seeds) beside the published value "
                    "(black marks)", figure, pd.DataFrame(rows))]


#: figure name -> function(table, scores, published) -> exhibits
FIGURES: dict[str, Callable[[pd.DataFrame, list[str], Sequence], list[Exhibit]]] = {
    "score_distributions": score_distributions,
    "metric_rank_correlation": metric_rank_correlation,
    "seed_variance_share": seed_variance_share,
    "udr_model_selection": udr_model_selection,
    "hyperparameter_transfer": hyperparameter_transfer,
    "mig_against_beta": mig_against_beta,
    "reconstruction_against_factor_vae": reconstruction_against_factor_vae,
    "published_beside_ours": published_beside_ours,
}
