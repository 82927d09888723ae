"""Figures of a sweep's results table: each score's spread per method, and how the
scores rank runs alike (Locatello et al. 2019, figures 1 and 2).

Both return a ``matplotlib.figure.Figure`` built without ``pyplot``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def score_distribution(scores: pd.Series, methods: pd.Series, title: str, order: list[str] | None = None) -> Figure:
    """One column per method: a violin (where the runs differ), a box and every run as a point.

    ``scores`` and ``methods`` are aligned by row (one row per run, seeds included);
    runs without a score are left out. Columns follow ``order`` (default: sorted names).
    """
    groups = {
        method: scores[methods == method].dropna().to_numpy(dtype=float)
        for method in (order if order is not None else sorted(methods.unique()))
    }
    groups = {method: values for method, values in groups.items() if len(values)}
    figure = Figure(figsize=(max(4.0, 1.1 * len(groups) + 1.5), 3.8), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    positions = np.arange(1, len(groups) + 1)
    spread = [(p, v) for p, v in zip(positions, groups.values()) if len(np.unique(v)) > 1]
    if spread:
        violins = axes.violinplot(
            [v for _, v in spread], [p for p, _ in spread], showextrema=False, widths=0.8
        )
        for body in violins["bodies"]:
            body.set_alpha(0.3)
    axes.boxplot(list(groups.values()), positions=positions, widths=0.25, showfliers=False)
    jitter = np.random.default_rng(0)
    for position, values in zip(positions, groups.values()):
        axes.plot(
            position + jitter.uniform(-0.08, 0.08, len(values)),
            values,
            "o",
            color="black",
            alpha=0.5,
            markersize=3,
        )
    axes.set_xticks(
        positions,
        list(groups),
        rotation=30 if len(groups) > 4 else 0,
        ha="right" if len(groups) > 4 else "center",
    )
    axes.set_title(title)
    axes.set_ylabel("score (mean over metric seeds)")
    return figure


def rank_correlation(scores: pd.DataFrame) -> Figure:
    """Spearman rank correlation between every pair of score columns over the runs, as a heatmap."""
    matrix = scores.corr(method="spearman")
    size = max(4.0, 0.45 * len(matrix) + 2.5)
    figure = Figure(figsize=(size + 1.0, size), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(matrix.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ticks = np.arange(len(matrix))
    axes.set_xticks(ticks, matrix.columns, rotation=90)
    axes.set_yticks(ticks, matrix.index)
    for (row, column), value in np.ndenumerate(matrix.to_numpy()):
        if np.isfinite(value):
            axes.text(
                column,
                row,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if abs(value) > 0.6 else "black",
            )
    figure.colorbar(image, ax=axes, label="Spearman rank correlation")
    axes.set_title(f"rank correlation of the scores over {len(scores.dropna(how='all'))} runs")
    return figure
