"""The statistics of a study's figures, computed from its results table.

A study table has one row per run with the columns ``method`` (a study method's key),
``value`` (its hyperparameter's value; ``NO_VALUE`` for a method without a grid), ``dataset``,
``seed`` (the training seed) and one column per score (``mig.discrete_mig``,
``udr.model_score``, ...), NaN where a run has no score. Every function here reads such
a table and returns a ``pandas.DataFrame``; none trains or scores anything.

Population statistics throughout (``ddof=0``), as ``evaluate`` reports spreads.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: the columns that name a run's configuration in a study table
SETTING = ["method", "value", "dataset"]
#: ``value`` of a method without a hyperparameter grid
NO_VALUE = "—"


def _finite(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return table.dropna(subset=list(columns))


def seed_summary(table: pd.DataFrame, scores: Sequence[str]) -> pd.DataFrame:
    """Per (method, value, dataset): ``seeds`` (runs with every score) and each score's
    ``<score> mean`` and ``<score> std`` over them, in the table's order of settings."""
    rows = []
    scored = _finite(table, scores)
    for key, group in scored.groupby(SETTING, sort=False, dropna=False):
        row = dict(zip(SETTING, key))
        row["seeds"] = len(group)
        for score in scores:
            row[f"{score} mean"] = float(group[score].mean())
            row[f"{score} std"] = float(group[score].std(ddof=0))
        rows.append(row)
    return pd.DataFrame(rows, columns=[*SETTING, "seeds", *[f"{s} {k}" for s in scores for k in ("mean", "std")]])


def rank_correlations(table: pd.DataFrame, scores: Sequence[str]) -> pd.DataFrame:
    """Spearman's rank correlation of every pair of ``scores`` over the runs that have
    both (Locatello et al. 2019: do the metrics order models alike?)."""
    return table[list(scores)].corr(method="spearman", min_periods=3)


def variance_shares(table: pd.DataFrame, score: str) -> pd.DataFrame:
    """Per (method, dataset): how much of ``score``'s variance over the runs is due to the
    hyperparameter and how much to the seed (Locatello et al. 2019).

    By the law of total variance over the runs of a method on a dataset,
    ``total = between + within``: ``between`` is the variance of the hyperparameter
    values' means (weighted by their runs), ``within`` the mean variance over seeds
    inside each value. Columns: ``runs``, ``total``, ``hyperparameter share``
    (between / total) and ``seed share`` (within / total); shares are NaN when total is 0.
    """
    rows = []
    for (method, dataset), runs in _finite(table, [score]).groupby(["method", "dataset"], sort=False):
        values = runs[score].to_numpy(dtype=float)
        total = values.var()
        groups = runs.groupby("value", dropna=False)[score]
        weights = groups.size().to_numpy() / len(runs)
        between = float(np.sum(weights * (groups.mean().to_numpy() - values.mean()) ** 2))
        within = float(np.sum(weights * groups.var(ddof=0).to_numpy()))
        shares = (between / total, within / total) if total > 0 else (np.nan, np.nan)
        rows.append({"method": method, "dataset": dataset, "runs": len(runs), "total": float(total),
                     "hyperparameter share": shares[0], "seed share": shares[1]})
    return pd.DataFrame(rows, columns=["method", "dataset", "runs", "total", "hyperparameter share", "seed share"])


def _value_means(runs: pd.DataFrame, column: str) -> pd.Series:
    return runs.groupby("value", dropna=False, sort=False)[column].mean()


def udr_selection(table: pd.DataFrame, score: str, udr: str = "udr.model_score") -> pd.DataFrame:
    """Per (method, dataset): the hyperparameter value that UDR picks without labels (the
    highest median UDR over its seeds, Duan et al. 2020) and what it scores on ``score``.

    Columns: ``chosen value``, ``chosen`` (``score``'s mean over the chosen value's
    seeds), ``best`` (the highest such mean over values: what labels would pick),
    ``average`` (the mean over every run: a random pick's expectation) and ``rank
    correlation`` (Spearman's between UDR and ``score`` over the runs; NaN under 3 runs).
    """
    rows = []
    for (method, dataset), runs in _finite(table, [score, udr]).groupby(["method", "dataset"], sort=False):
        medians = runs.groupby("value", dropna=False, sort=False)[udr].median()
        chosen = medians.idxmax()
        means = _value_means(runs, score)
        correlation = runs[[udr, score]].corr(method="spearman").iloc[0, 1] if len(runs) >= 3 else np.nan
        rows.append({"method": method, "dataset": dataset, "chosen value": chosen, "chosen": float(means[chosen]),
                     "best": float(means.max()), "average": float(runs[score].mean()),
                     "rank correlation": float(correlation)})
    return pd.DataFrame(rows, columns=["method", "dataset", "chosen value", "chosen", "best", "average",
                                       "rank correlation"])


def _beats(chosen: np.ndarray, others: np.ndarray) -> float:
    """P(a draw from ``chosen`` > a draw from ``others``), ties counted half."""
    difference = chosen[:, None] - others[None, :]
    return float(np.mean((difference > 0) + 0.5 * (difference == 0)))


def hyperparameter_transfer(table: pd.DataFrame, score: str) -> pd.DataFrame:
    """Per method and ordered pair of datasets: pick the hyperparameter value with the
    best mean ``score`` on the source dataset and use it on the target (Locatello et al.
    2019, model selection by transfer).

    Columns: ``method``, ``source``, ``target``, ``chosen value``, ``chosen`` (its mean
    on the target), ``best`` (the target's best value mean) and ``beats random``: the
    probability that a run of the chosen value on the target scores above a run drawn
    at random among all the method's target runs (ties count half; 0.5 is no better
    than chance). Empty with fewer than two datasets.
    """
    rows = []
    scored = _finite(table, [score])
    for method, runs in scored.groupby("method", sort=False):
        datasets = list(dict.fromkeys(runs["dataset"]))
        for source in datasets:
            chosen = _value_means(runs[runs["dataset"] == source], score).idxmax()
            for target in datasets:
                if target == source:
                    continue
                on_target = runs[runs["dataset"] == target]
                picked = on_target[on_target["value"] == chosen]
                if picked.empty:
                    continue
                means = _value_means(on_target, score)
                rows.append({"method": method, "source": source, "target": target, "chosen value": chosen,
                             "chosen": float(picked[score].mean()), "best": float(means.max()),
                             "beats random": _beats(picked[score].to_numpy(float), on_target[score].to_numpy(float))})
    return pd.DataFrame(rows, columns=["method", "source", "target", "chosen value", "chosen", "best", "beats random"])


def published_comparison(table: pd.DataFrame, published) -> pd.DataFrame:
    """Each published value or claim beside ours: ``claim``, ``source`` and ``ours``: the score's
    name, then the ``statistic`` (best or mean) of the method's seed means over its settings, as
    ``mean ± std`` over the seeds of the chosen setting (best) or of the means (mean)."""
    rows = []
    for entry in published:
        ours = "—"
        if entry.score is not None and entry.score in table.columns:
            runs = _finite(table, [entry.score])
            if entry.method is not None:
                runs = runs[runs["method"] == entry.method]
            if not runs.empty:
                grouped = runs.groupby(SETTING, sort=False, dropna=False)[entry.score]
                means, stds = grouped.mean(), grouped.std(ddof=0)
                if entry.statistic == "best":
                    best = means.idxmax()
                    ours = (f"{entry.score} {means[best]:.3f} ± {stds[best]:.3f} (best setting, "
                            f"{grouped.size()[best]} seeds)")
                else:
                    ours = (f"{entry.score} {means.mean():.3f} ± {means.std(ddof=0):.3f} (mean over "
                            f"{len(means)} settings)")
        rows.append({"claim": entry.claim, "source": entry.source, "ours": ours})
    return pd.DataFrame(rows, columns=["claim", "source", "ours"])
