"""``RUN/report.html``: one self-contained page about a trained run, and a page comparing runs.

A page needs nothing but itself: images are inlined as base64 ``data:`` URIs, the
style sheet is inline, and there are no scripts and no external addresses, so it
can be mailed, archived or opened offline. A run's sections (``SECTIONS``, each an
``<h2>`` with that id) are always present; one that has nothing to show says why.

Traversals sweep [−3, 3] for models whose prior is N(0, I) and, for the others
(autoencoders, InfoGAN, VQ-VAE), each latent's range over the data's codes
(``aggregate_posterior_values``).
"""

from __future__ import annotations

import base64
import html
import io
import json
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from disentangle.scoring.baselines import BASELINES_FILE
from disentangle.data import FactorDataset
from disentangle.errors import InputError
from disentangle.scoring.evaluate import METRICS_FILE
from disentangle.metrics.estimators.mutual_information import main_factors, normalised_mutual_info
from disentangle.train import load_run
from disentangle.run_folder import atomic_write_bytes, clear_stale_temporaries, read_log
from disentangle.viz.figures import (
    figure_to_png_bytes,
    kl_per_dimension_curves,
    latent_factor_mutual_information,
    latents_against_factors,
    logged_terms,
    metric_comparison,
    training_curves,
)
from disentangle.viz.traversal import (
    aggregate_posterior_values,
    animated_traversal_gif,
    latent_order,
    prior_samples,
    prior_traversal_grid,
    reconstruction_grid,
    sample_observations,
    traversal_grid,
    traversal_observations,
)

REPORT_FILE = "report.html"
COMPARISON_FILE = "comparison.html"

#: section id -> heading, in page order
SECTIONS = {
    "configuration": "Configuration",
    "training-curves": "Training curves",
    "kl-per-dimension": "KL per dimension",
    "traversals": "Latent traversals",
    "reconstructions": "Reconstructions",
    "prior-samples": "Samples from the prior",
    "metrics": "Metrics",
    "factors": "Latents and ground-truth factors",
}

#: the pages' style sheet, inlined into each page from the package data ``static/report.css``
_STYLE = resources.files("disentangle.viz").joinpath("static", "report.css").read_text(encoding="utf-8")


def _data_uri(data: bytes, kind: str) -> str:
    return f"data:image/{kind};base64,{base64.b64encode(data).decode('ascii')}"


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _img(data: bytes, kind: str, alt: str, scale: int = 1) -> str:
    """An inline image; ``scale`` > 1 enlarges a small pixel grid without smoothing."""
    size = ""
    if scale > 1:
        width = Image.open(io.BytesIO(data)).width
        size = f' width="{width * scale}"'
    css = ' class="pixels"' if scale > 1 else ""
    return f'<img{css}{size} alt="{html.escape(alt)}" src="{_data_uri(data, kind)}">'


def _figure(data: bytes, kind: str, caption: str, scale: int = 1) -> str:
    return f"<figure>{_img(data, kind, caption, scale)}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _plot(figure, alt: str) -> str:
    return _img(figure_to_png_bytes(figure), "png", alt)


def _pixel_scale(image_height: int) -> int:
    """Enlarge small images (MNIST, dSprites) to about 128 px per observation."""
    return max(1, 128 // image_height)


def _flatten(config: dict, prefix: str = "") -> list[tuple[str, object]]:
    rows = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        rows.extend(_flatten(value, f"{name}.") if isinstance(value, dict) else [(name, value)])
    return rows


def _configuration(config: dict) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(json.dumps(value))}</td></tr>"
        for name, value in _flatten(config)
    )
    return f"<table>{rows}</table>"


def _read_summary(path: Path) -> dict | None:
    """The ``summary`` of a ``metrics.json``, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())["summary"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        return None


def read_baselines(folder: str | Path) -> dict[str, dict]:
    """``{baseline: summary}`` from ``FOLDER/baselines.json`` as written by ``disentangle baselines``."""
    path = Path(folder) / BASELINES_FILE
    try:
        baselines = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"--baselines {folder}: expected {BASELINES_FILE} written by 'disentangle baselines' ({error})")
    if not isinstance(baselines, dict) or not all(isinstance(v, dict) for v in baselines.values()):
        raise InputError(f"--baselines {path}: expected {{baseline: {{metric: scores}}}}")
    return baselines


def _score_table(named_summaries: dict[str, dict]) -> str:
    """Rows (representation, metric, score) with mean, std and the number of seeds."""
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(metric)}</td><td>{html.escape(key)}</td>"
        f"<td class=\"number\">{score['mean']:.4f}</td><td class=\"number\">{score['std']:.4f}</td>"
        f"<td class=\"number\">{len(score['values'])}</td></tr>"
        for name, summary in named_summaries.items()
        for metric, scores in summary.items()
        for key, score in scores.items()
    )
    header = "<tr><th>representation</th><th>metric</th><th>score</th><th>mean</th><th>std</th><th>seeds</th></tr>"
    return f"<table>{header}{rows}</table>"


def _metrics(run: Path, baselines: dict[str, dict]) -> str:
    command = f"<code>disentangle evaluate {html.escape(str(run))}</code>"
    path = run / METRICS_FILE
    summary = _read_summary(path) if path.is_file() else None
    if summary is None:
        state = "has no" if not path.is_file() else "has an unreadable"
        return f"<p>No metrics yet: this run {state} {METRICS_FILE}. Compute them with {command}.</p>"
    named = {run.name: summary, **{f"baseline: {name}": scores for name, scores in baselines.items()}}
    note = "" if baselines else (
        "<p>No baselines shown: score them with <code>disentangle baselines --out BASELINES</code> and pass "
        "<code>--baselines BASELINES</code>.</p>"
    )
    return note + _plot(metric_comparison(named), "scores of this run and the baselines") + _score_table(named)


#: the scores of ``elbo_decomposition`` shown beside the training log's minibatch terms
_FULL_DATA_TERMS = ("index_code_mi", "total_correlation", "dimwise_kl", "average_kl")
#: what each estimator of ``elbo_decomposition`` gives
_FULL_DATA_ESTIMATORS = {
    "exact": "every posterior of the dataset as q(z) (Chen's reference): the values",
    "mss": "minibatch stratified sampling over sampled batches: biased as the training terms",
    "mws": "minibatch weighted sampling over sampled batches: offset as the training terms",
}


def _full_data_decomposition(run: Path) -> str:
    """The ``elbo_decomposition`` scores of ``RUN/metrics.json`` as a table, or a note."""
    exact = ("<code>elbo_decomposition(..., estimator=\"exact\")</code> "
             "(<code>disentangle.metrics.elbo_decomposition</code>) computes it with every posterior of the dataset")
    path = run / METRICS_FILE
    try:
        content = json.loads(path.read_text())
        scores, step = content["summary"]["elbo_decomposition"], content["checkpoint_step"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        return f"<p>No estimate of the decomposition over the dataset yet: {exact}.</p>"
    estimators = [name for name in _FULL_DATA_ESTIMATORS if any(key.endswith(f"_{name}") for key in scores)]
    header = "".join(f"<th>{html.escape(name)}</th>" for name in _FULL_DATA_TERMS)
    rows = "".join(
        f"<tr><td>{html.escape(estimator)}</td>"
        + "".join(
            f'<td class="number">{scores[f"{name}_{estimator}"]["mean"]:.3f}</td>'
            if f"{name}_{estimator}" in scores else "<td>—</td>"
            for name in _FULL_DATA_TERMS
        )
        + f"<td>{html.escape(_FULL_DATA_ESTIMATORS[estimator])}</td></tr>"
        for estimator in estimators
    )
    note = "" if "exact" in estimators else f"<p>Without the exact estimator here: {exact}.</p>"
    return (
        f"<p>Over the dataset at step {step:,} (<code>elbo_decomposition</code> in {METRICS_FILE}, "
        "nats, mean over its seeds):</p>"
        f"<table><tr><th>estimator</th>{header}<th>what it is</th></tr>{rows}</table>" + note
    )


def _training_curves(model, log: list[dict], run: Path) -> str:
    """The training log's panels, what each term is, and the full-data decomposition
    beside a model that logs Chen's terms."""
    figure = _plot(training_curves(log), "training curves")
    terms = logged_terms(log)
    if not terms:
        return figure
    described = model.term_descriptions()
    rows = "".join(
        f"<tr><th>{html.escape(term)}</th><td>{html.escape(described.get(term, 'a term the model logs'))}</td></tr>"
        for term in terms
    )
    parts = [
        figure,
        "<p>Each panel is a term of the training log (<code>log.jsonl</code>); each point is its mean over the "
        "training batches since the point before: minibatch estimates, not values over the dataset.</p>",
        f"<table><tr><th>term</th><th>what it is</th></tr>{rows}</table>",
    ]
    if model.capabilities.gaussian_posterior and any(term.startswith(("tc", "index_code_mi")) for term in terms):
        parts.append(_full_data_decomposition(run))
    return "".join(parts)


@torch.no_grad()
def _encode(model, observations: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    return torch.cat([model.encode(batch) for batch in observations.split(batch_size)]).numpy()


def _factors(dataset, codes: np.ndarray, factors: np.ndarray, order: np.ndarray) -> str:
    if not isinstance(dataset, FactorDataset):
        return f"<p>The dataset {html.escape(dataset.name)} has no ground-truth factors.</p>"
    names = list(dataset.factor_names)
    return (
        f"<p>{len(codes)} random images, encoded; latents in order of decreasing KL (or variance). The heatmap "
        "is each latent's mutual information with each factor over the factor's entropy (20-bin histograms); "
        "the panels below plot each latent's mean code at each value of each factor (Chen et al. 2018).</p>"
        + _plot(latent_factor_mutual_information(codes, factors, names, dimensions=order), "mutual information")
        + _plot(latents_against_factors(codes, factors, names, dimensions=order), "latents against factors")
    )


def _kl_bars(score: np.ndarray, order: np.ndarray, gaussian: bool) -> str:
    name = "KL (nats)" if gaussian else "variance of the code"
    cells = "".join(f"<th>z{j}</th>" for j in order)
    values = "".join(f'<td class="number">{score[j]:.3f}</td>' for j in order)
    return f"<p>{html.escape(name)} per latent over 1,024 images at the last checkpoint:</p><table><tr>{cells}</tr><tr>{values}</tr></table>"


def _traversal_values(model, codes: np.ndarray, order: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The traversal values (None: [−3, 3]) for ``model`` and how to say what they are."""
    if model.capabilities.standard_normal_prior:
        return None, "from −3 to 3 (the prior's ±3σ)"
    return aggregate_posterior_values(codes, order), "across its codes' 1st–99th percentile over the data"


def _row_factors(dataset, codes: np.ndarray, factors: np.ndarray | None, order: np.ndarray) -> str:
    """What each traversal row mainly carries: the factor it shares most information with."""
    if factors is None:
        return ""
    normalised = normalised_mutual_info(codes, factors)
    carried = main_factors(normalised)
    names = [
        f"z{j}: {html.escape(dataset.factor_names[carried[j]])} ({normalised[j, carried[j]]:.2f})"
        if carried[j] is not None else f"z{j}: none"
        for j in order
    ]
    return (
        "<p>Rows from top to bottom, each with the factor it carries most of, as I(z; v) / H(v) over "
        f"{len(codes):,} random images (\u201cnone\u201d: under 0.2 of every factor): {'; '.join(names)}.</p>"
    )


def _traversals(model, dataset, x: torch.Tensor, order: np.ndarray, codes: np.ndarray, factors, seed: int) -> str:
    scale = _pixel_scale(x.shape[-1])
    values, sweep = _traversal_values(model, codes, order)
    with torch.no_grad():
        around_one = _png(traversal_grid(model, x[:1], values, order))
        around_three = _png(traversal_grid(model, x[1:4], values, order))
    first = "around the central image" if factors is not None else "around one image"
    parts = [
        f"<p>One row per latent, by decreasing KL (or variance); columns sweep it {sweep}.</p>",
        _row_factors(dataset, codes, factors, order),
        _figure(around_one, "png", first, scale),
        _figure(animated_traversal_gif(model, x[:4], values, order), "gif", "animated: rows are latents, columns images", scale),
        _figure(around_three, "png", "around three more images", scale),
    ]
    if model.capabilities.standard_normal_prior:
        with torch.no_grad():
            around_prior = _png(prior_traversal_grid(model, 3, seed, values, order))
        parts.append(_figure(around_prior, "png", "around three samples of the prior", scale))
    return "".join(parts)


def _prior_samples(model, seed: int, scale: int) -> str:
    if not model.capabilities.standard_normal_prior:
        return (
            f"<p>Skipped: {html.escape(model.name)} has no N(0, I) prior over its code, "
            "so decoding standard normal codes would not show what it generates.</p>"
        )
    with torch.no_grad():
        grid = _png(prior_samples(model, 32, seed))
    return _figure(grid, "png", "32 decodings of z ~ N(0, I)", scale)


def _page(title: str, subtitle: str, sections: dict[str, tuple[str, str]]) -> bytes:
    """An HTML page: ``sections`` maps an id to (heading, body HTML)."""
    nav = "".join(f'<a href="#{key}">{html.escape(heading)}</a>' for key, (heading, _) in sections.items())
    body = "".join(f'<h2 id="{key}">{html.escape(heading)}</h2>\n{text}\n' for key, (heading, text) in sections.items())
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>\n<h1>{html.escape(title)}</h1>\n"
        f"<p>{html.escape(subtitle)}</p>\n<nav>{nav}</nav>\n{body}</body></html>\n"
    )
    return page.encode("utf-8")


def _title(config: dict) -> str:
    return f"{config['model']['name']} on {config['data']['name']}"


def write_report(
    run: str | Path, seed: int = 0, baselines: str | Path | None = None, num_factor_images: int = 2000
) -> Path:
    """Write ``RUN/report.html`` (see the module docstring) and return its path.

    ``seed`` picks the images shown and the prior samples; ``baselines`` is a folder
    written by ``disentangle baselines`` whose scores are shown beside the run's;
    ``num_factor_images`` random images are encoded for the latent-factor plots and
    the aggregate posterior's range.
    """
    baseline_scores = read_baselines(baselines) if baselines is not None else {}
    loaded = load_run(run)
    path, model, dataset = loaded.path, loaded.model.eval(), loaded.dataset
    log = read_log(path)
    order, score = latent_order(model, dataset, seed=seed)
    x = traversal_observations(dataset, 8, seed + 1)
    generator = torch.Generator().manual_seed(seed + 2)
    indices = dataset.sample_indices(num_factor_images, generator)
    codes = _encode(model, dataset.observations(indices))
    factors = dataset.factors_of(np.asarray(indices)) if isinstance(dataset, FactorDataset) else None
    with torch.no_grad():
        reconstructions = _png(reconstruction_grid(model, x))
    bodies = {
        "configuration": _configuration(loaded.config),
        "training-curves": _training_curves(model, log, path),
        "kl-per-dimension": _plot(kl_per_dimension_curves(log), "KL per dimension over training")
        + _kl_bars(score, order, model.capabilities.gaussian_posterior),
        "traversals": _traversals(model, dataset, x, order, codes, factors, seed),
        "reconstructions": _figure(reconstructions, "png", "inputs (top) and reconstructions (bottom)",
                                   _pixel_scale(x.shape[-1])),
        "prior-samples": _prior_samples(model, seed, _pixel_scale(x.shape[-1])),
        "metrics": _metrics(path, baseline_scores),
        "factors": _factors(dataset, codes, factors, order),
    }
    sections = {key: (heading, bodies[key]) for key, heading in SECTIONS.items()}
    subtitle = f"{path}, step {loaded.step}; its codes are {model.capabilities.representation}"
    page = _page(_title(loaded.config), subtitle, sections)
    out = path / REPORT_FILE
    clear_stale_temporaries(path)
    atomic_write_bytes(out, page)
    return out


def _differing_settings(configs: dict[str, dict]) -> list[str]:
    """Flattened setting names whose values differ between the runs (environment excluded)."""
    flat = {name: dict(_flatten({k: v for k, v in config.items() if k != "environment"})) for name, config in configs.items()}
    keys = sorted({key for settings in flat.values() for key in settings})
    return [key for key in keys if len({json.dumps(settings.get(key)) for settings in flat.values()}) > 1]


def check_comparison_path(out: str | Path) -> Path:
    """``out`` as a path a comparison page can be written to (its folder exists), else ``InputError``."""
    out = Path(out)
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: the folder {out.parent} does not exist")
    return out


def write_comparison(
    runs: list[str | Path], out: str | Path, seed: int = 0, baselines: str | Path | None = None, num_codes: int = 2000
) -> Path:
    """Write a page comparing ``runs`` to ``out`` and return its path.

    It shows the settings that differ between the runs, their scores side by side
    (with the baselines' when given), their training curves and KL per dimension,
    and a traversal of each around the same image index.
    """
    out = check_comparison_path(out)
    baseline_scores = read_baselines(baselines) if baselines is not None else {}
    loaded = [load_run(run) for run in runs]
    names = [str(run.path) for run in loaded]
    if len(set(names)) != len(names):
        raise InputError("report: the same run is named twice")
    configs = dict(zip(names, (run.config for run in loaded)))
    differing = _differing_settings(configs)
    flat = {name: dict(_flatten(config)) for name, config in configs.items()}
    header = "".join(f"<th>{html.escape(key)}</th>" for key in differing)
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td class=\"number\">{run.step}</td>"
        + "".join(f"<td>{html.escape(json.dumps(flat[name].get(key)))}</td>" for key in differing)
        + "</tr>"
        for name, run in zip(names, loaded)
    )
    settings = f"<table><tr><th>run</th><th>step</th>{header}</tr>{rows}</table>"

    summaries, missing = {}, []
    for name, run in zip(names, loaded):
        summary = _read_summary(run.path / METRICS_FILE)
        if summary is None:
            missing.append(name)
        else:
            summaries[name] = summary
    summaries.update({f"baseline: {name}": scores for name, scores in baseline_scores.items()})
    metrics = ""
    if missing:
        commands = "".join(f"<li><code>disentangle evaluate {html.escape(name)}</code></li>" for name in missing)
        metrics += f"<p>No {METRICS_FILE} yet for these runs; compute it with:</p><ul>{commands}</ul>"
    if summaries:
        metrics += _plot(metric_comparison(summaries), "scores of the runs") + _score_table(summaries)

    curves, traversals = [], []
    for name, run in zip(names, loaded):
        model = run.model.eval()
        log = read_log(run.path)
        order, _ = latent_order(model, run.dataset, seed=seed)
        x = traversal_observations(run.dataset, 1, seed + 1)
        codes = _encode(model, sample_observations(run.dataset, num_codes, seed + 2))
        values, _ = _traversal_values(model, codes, order)
        with torch.no_grad():
            grid = _png(traversal_grid(model, x, values, order))
        caption = f"{name}: {_title(run.config)}"
        curves.append(f"<h3>{html.escape(caption)}</h3>" + _training_curves(model, log, run.path)
                      + _plot(kl_per_dimension_curves(log), "KL per dimension"))
        traversals.append(_figure(grid, "png", caption, _pixel_scale(x.shape[-1])))
    sections = {
        "settings": ("Settings that differ", settings if differing else "<p>The runs share every setting.</p>"),
        "metrics": ("Metrics", metrics),
        "training": ("Training curves and KL per dimension", "".join(curves)),
        "traversals": ("Latent traversals", "<p>Around the same image; rows by decreasing KL (or variance), "
                       "columns from −3 to 3 for a N(0, I) prior, else across the codes' 1st–99th percentile.</p>"
                       + "".join(traversals)),
    }
    atomic_write_bytes(out, _page(f"Comparison of {len(loaded)} runs", ", ".join(names), sections))
    return out
