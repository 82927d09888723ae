"""A run in a few lines: what was trained, where its files are, its headline scores and
the factor each latent carries. ``disentangle summary RUN`` prints it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from disentangle.data import FactorDataset
from disentangle.scoring.evaluate import METRICS_FILE, headline_keys
from disentangle.metrics.estimators.mutual_information import main_factors, normalised_mutual_info
from disentangle.train import load_run
from disentangle.viz.traversal import latent_order

#: files a run folder may hold that a reader looks at, in the order they are listed
SHOWN_FILES = ("traversal.png", "traversal.gif", "reconstructions.png", "report.html", METRICS_FILE)


@torch.no_grad()
def latent_factors(model, dataset: FactorDataset, num_images: int = 10_000, seed: int = 0) -> np.ndarray:
    """I(z_j; v_k) / H(v_k) ``(latent_dim, num_factors)`` over ``num_images`` random images."""
    indices = np.random.RandomState(seed).randint(len(dataset), size=num_images)
    codes = torch.cat([model.encode(dataset.observations(batch)) for batch in np.array_split(indices, 20)])
    return normalised_mutual_info(codes.numpy(), dataset.factors_of(indices))


def summarise(run: str | Path, seconds: float | None = None) -> str:
    """The summary block of ``run`` (its latest checkpoint); ``seconds``: how long it took to make."""
    loaded = load_run(run)
    path, model, dataset = loaded.path, loaded.model, loaded.dataset
    took = f" in {seconds / 60:.1f} min" if seconds is not None else ""
    lines = [f"{loaded.config['model']['name']} on {dataset.name}, step {loaded.step:,}{took}: {path}"]
    files = [name for name in SHOWN_FILES if (path / name).is_file()]
    if files:
        lines.append("  files: " + ", ".join(files))
    content = json.loads((path / METRICS_FILE).read_text()) if (path / METRICS_FILE).is_file() else {}
    if "summary" in content:  # a metrics.json may hold only a sampled evaluation or a UDR
        scores = [f"{metric} {key} {values[key]['mean']:.3f}" for metric, values in content["summary"].items()
                  for key in headline_keys(metric, values)]
        heading = f"  scores (preset {content['preset']}, step {content['checkpoint_step']:,}): "
        lines.append(heading + ", ".join(scores))
    order, score = latent_order(model, dataset)
    if isinstance(dataset, FactorDataset):
        normalised = latent_factors(model, dataset)
        carried = main_factors(normalised)
        rows = [f"z{j} {dataset.factor_names[carried[j]]}" if carried[j] is not None else f"z{j} -" for j in order]
        lines.append("  traversal rows, top to bottom (the factor each latent carries most of): " + ", ".join(rows))
    else:
        lines.append("  traversal rows, top to bottom: " + ", ".join(f"z{j}" for j in order))
    return "\n".join(lines)
