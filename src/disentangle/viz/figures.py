"""Plots of a run: training curves, KL per dimension, latents against factors, scores.

Every plotting function returns a ``matplotlib.figure.Figure`` built directly (never
through ``pyplot``), so nothing needs a display and no global figure state is kept;
``figure_to_png_bytes`` renders one with the Agg backend.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from disentangle.scoring.evaluate import headline_keys
from disentangle.metrics.estimators.mutual_information import normalised_mutual_info

#: log.jsonl fields that are not loss terms
_NOT_TERMS = {"step", "time", "images_per_second"}

def figure_to_png_bytes(figure: Figure) -> bytes:
    """The figure rendered as PNG at its own size and dpi."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=figure.dpi)
    return buffer.getvalue()


def _panels(count: int, columns: int, panel_size: tuple[float, float]) -> tuple[Figure, list]:
    """A figure with ``count`` axes on a grid of at most ``columns`` columns; spare cells are hidden."""
    columns = max(1, min(columns, count))
    rows = max(1, math.ceil(count / columns))
    figure = Figure(figsize=(panel_size[0] * columns, panel_size[1] * rows), dpi=100, layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for spare in axes[count:]:
        spare.set_axis_off()
    return figure, list(axes[:count])


def _note(text: str, size: tuple[float, float] = (6.0, 1.5)) -> Figure:
    """A figure holding one sentence: what a plot shows when it has no data."""
    figure = Figure(figsize=size, dpi=100)
    figure.text(0.5, 0.5, text, ha="center", va="center")
    return figure


def _marker(count: int) -> str:
    """Points marked when a curve has too few to read as a line."""
    return "o" if count < 20 else ""


def kl_per_dimension_curves(log: Sequence[dict]) -> Figure:
    """KL(q(z_j|x) ‖ p(z_j)) of each latent dimension (nats) against the training step.

    ``log``: the records of ``log.jsonl`` (``read_log``); those without ``kl_per_dim``
    are skipped. Dimensions that carry information rise above zero as training opens
    capacity to them.
    """
    records = [record for record in log if "kl_per_dim" in record]
    if not records:
        return _note("No KL per dimension in the log (this model does not log kl_per_dim).")
    steps = np.array([record["step"] for record in records])
    kl = np.array([record["kl_per_dim"] for record in records], dtype=np.float64)
    figure = Figure(figsize=(7.0, 4.0), dpi=100, layout="constrained")
    axes = figure.subplots()
    for dimension in range(kl.shape[1]):
        axes.plot(steps, kl[:, dimension], marker=_marker(len(steps)), markersize=3, label=f"z{dimension}")
    axes.set_xlabel("step")
    axes.set_ylabel("KL (nats)")
    axes.set_title("KL per latent dimension")
    axes.legend(loc="upper left", fontsize="small", ncol=2, frameon=False)
    return figure


def logged_terms(log: Sequence[dict]) -> list[str]:
    """The scalar terms of a training log (``loss``, ``recon``, ``kl``, ...), in the order
    they first appear: the panels of ``training_curves``."""
    terms: list[str] = []
    for record in log:
        for key, value in record.items():
            if key not in _NOT_TERMS and isinstance(value, (int, float)) and key not in terms:
                terms.append(key)
    return terms


def training_curves(log: Sequence[dict]) -> Figure:
    """One panel per scalar logged term (``loss``, ``recon``, ``kl``, ...) against the step."""
    terms = logged_terms(log)
    if not terms:
        return _note("No training log yet (log.jsonl is empty or missing).")
    figure, axes = _panels(len(terms), columns=3, panel_size=(3.2, 2.4))
    for term, ax in zip(terms, axes):
        points = [(record["step"], record[term]) for record in log if isinstance(record.get(term), (int, float))]
        steps, values = zip(*points)
        ax.plot(steps, values, marker=_marker(len(steps)), markersize=3)
        ax.set_title(term, fontsize="medium")
        ax.set_xlabel("step", fontsize="small")
        ax.tick_params(labelsize="small")
    return figure


def _dimensions(codes: np.ndarray, dimensions: Sequence[int] | None) -> np.ndarray:
    return np.arange(codes.shape[1]) if dimensions is None else np.asarray(dimensions, dtype=np.int64)


def latent_factor_mutual_information(
    codes: np.ndarray,
    factors: np.ndarray,
    factor_names: Sequence[str],
    dimensions: Sequence[int] | None = None,
    num_bins: int = 20,
) -> Figure:
    """Heatmap of I(z_j; v_k) / H(v_k): codes cut into ``num_bins`` equal-width bins.

    ``codes`` ``(N, latent_dim)``, ``factors`` ``(N, num_factors)`` integer values;
    rows are ``dimensions`` (default: all, in order). A factor that takes a single
    value in the sample has zero entropy and shows zero.
    """
    codes, factors = np.asarray(codes), np.asarray(factors)
    dimensions = _dimensions(codes, dimensions)
    normalised = normalised_mutual_info(codes[:, dimensions], factors, num_bins)
    figure = Figure(figsize=(1.1 * len(factor_names) + 2.5, 0.4 * len(dimensions) + 1.6), dpi=100, layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(normalised, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    for (row, column), value in np.ndenumerate(normalised):
        axes.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize="x-small",
                  color="black" if value > 0.6 else "white")
    axes.set_xticks(range(len(factor_names)), list(factor_names), rotation=30, ha="right")
    axes.set_yticks(range(len(dimensions)), [f"z{j}" for j in dimensions])
    axes.set_title("I(z; v) / H(v)")
    figure.colorbar(image, ax=axes)
    return figure


def latents_against_factors(
    codes: np.ndarray,
    factors: np.ndarray,
    factor_names: Sequence[str],
    dimensions: Sequence[int] | None = None,
) -> Figure:
    """Chen et al.'s plot: for each (latent, factor), the latent's mean at each factor value.

    Rows are ``dimensions`` (default: all, in order), columns the factors; a panel
    plots the mean code over the samples sharing each value of the factor (values
    absent from the sample are left out).
    """
    codes, factors = np.asarray(codes, dtype=np.float64), np.asarray(factors)
    dimensions = _dimensions(codes, dimensions)
    rows, columns = len(dimensions), len(factor_names)
    width, height = 1.6 * columns + 0.6, 1.0 * rows + 0.6
    figure = Figure(figsize=(width, height), dpi=100)  # fixed margins: constrained layout is slow for many panels
    margins = dict(left=0.6 / width, right=1 - 0.1 / width, bottom=0.3 / height, top=1 - 0.35 / height)
    axes = figure.subplots(rows, columns, squeeze=False, sharey="row", gridspec_kw={**margins, "hspace": 0.35, "wspace": 0.15})
    for column in range(columns):
        values, inverse, counts = np.unique(factors[:, column], return_inverse=True, return_counts=True)
        sums = np.zeros((len(values), rows))
        np.add.at(sums, inverse, codes[:, dimensions])
        means = sums / counts[:, None]
        for row in range(rows):
            ax = axes[row, column]
            ax.plot(values, means[:, row], marker=_marker(len(values)), markersize=2, linewidth=1)
            ax.tick_params(labelsize="xx-small")
            if row == 0:
                ax.set_title(factor_names[column], fontsize="small")
            if column == 0:
                ax.set_ylabel(f"z{dimensions[row]}", fontsize="small")
    return figure


def metric_comparison(named_summaries: dict[str, dict]) -> Figure:
    """One panel per headline score; in each, one bar per run (mean ± std over seeds).

    ``named_summaries``: ``{name: summary}``, each ``summary`` the ``"summary"`` of a
    ``metrics.json`` (``{metric: {score: {"mean", "std", "values"}}}``). A metric
    without a listed headline shows its first score.
    """
    panels: list[tuple[str, str]] = []
    for summary in named_summaries.values():
        for metric, scores in summary.items():
            keys = headline_keys(metric, scores)
            panels.extend((metric, key) for key in keys if (metric, key) not in panels)
    if not panels:
        return _note("No scores to compare.")
    names = list(named_summaries)
    figure, axes = _panels(len(panels), columns=4, panel_size=(0.5 * len(names) + 1.8, 2.6))
    colors = [f"C{index % 10}" for index in range(len(names))]
    for (metric, key), ax in zip(panels, axes):
        means, stds = [], []
        for name in names:
            score = named_summaries[name].get(metric, {}).get(key)
            means.append(score["mean"] if score else np.nan)
            stds.append(score["std"] if score else 0.0)
        ax.bar(range(len(names)), means, yerr=stds, color=colors, capsize=3)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize="small")
        ax.set_title(f"{metric}\n{key}", fontsize="small")
        ax.tick_params(axis="y", labelsize="small")
    return figure
