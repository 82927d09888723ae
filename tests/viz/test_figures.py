"""The plots of a run trained for a few steps: panels, lines and sizes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from disentangle.train import load_run, train
from disentangle.run_folder import read_log
from disentangle.viz import (
    figure_to_png_bytes,
    kl_per_dimension_curves,
    latent_factor_mutual_information,
    latents_against_factors,
    metric_comparison,
    training_curves,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = train(tmp_path_factory.mktemp("figures") / "run", "beta-vae", "dsprites", steps=6, batch_size=8,
                 log_every=2, progress=False)
    return load_run(path)


def _png_size(figure: Figure) -> tuple[int, int]:
    return Image.open(io.BytesIO(figure_to_png_bytes(figure))).size


def _inches(figure: Figure) -> tuple[int, int]:
    width, height = figure.get_size_inches() * figure.dpi
    return round(width), round(height)


def test_training_curves_have_a_panel_per_logged_term_and_kl_a_line_per_dimension(run):
    log = read_log(run.path)
    curves = training_curves(log)
    titles = [ax.get_title() for ax in curves.axes if ax.get_visible() and ax.get_title()]
    assert {"loss", "recon", "kl", "elbo"} <= set(titles) and "kl_per_dim" not in titles
    assert _png_size(curves) == _inches(curves)
    kl = kl_per_dimension_curves(log)
    assert len(kl.axes[0].lines) == run.model.latent_dim
    np.testing.assert_allclose(kl.axes[0].lines[3].get_ydata(), [record["kl_per_dim"][3] for record in log])
    assert "No training log" in training_curves([]).texts[0].get_text()


def test_mutual_information_heatmap_normalises_by_the_factor_entropy():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 4, size=(4000, 2))
    codes = np.stack([factors[:, 1] + 0.01 * rng.normal(size=4000), rng.normal(size=4000)], axis=1)
    figure = latent_factor_mutual_information(codes, factors, ["a", "b"], num_bins=4)
    table = figure.axes[0].images[0].get_array()
    assert table.shape == (2, 2)
    assert table[0, 1] == pytest.approx(1.0, abs=1e-9)  # z0 is factor b, binned exactly
    assert table[0, 0] < 0.01 and table[1].max() < 0.01
    assert _png_size(figure) == _inches(figure)


def test_latents_against_factors_plots_the_mean_code_at_each_factor_value():
    factors = np.array([[0, 1], [0, 2], [1, 1], [1, 2]])
    codes = np.array([[1.0, 5.0], [3.0, 7.0], [5.0, 9.0], [7.0, 11.0]])
    figure = latents_against_factors(codes, factors, ["a", "b"], dimensions=[1, 0])
    axes = np.array(figure.axes).reshape(2, 2)
    np.testing.assert_allclose(axes[0, 0].lines[0].get_ydata(), [6.0, 10.0])  # z1 by a
    np.testing.assert_allclose(axes[1, 1].lines[0].get_xdata(), [1, 2])
    np.testing.assert_allclose(axes[1, 1].lines[0].get_ydata(), [3.0, 5.0])  # z0 by b


def test_metric_comparison_draws_one_bar_per_run_in_each_headline_panel():
    score = lambda mean: {"mean": mean, "std": 0.01, "values": [mean]}  # noqa: E731
    summaries = {
        "run": {"mig": {"discrete_mig": score(0.3)}, "dci": {"disentanglement": score(0.5),
                                                          "completeness": score(0.4),
                                                          "informativeness_test": score(0.9),
                                                          "informativeness_train": score(0.95)}},
        "baseline: pca": {"mig": {"discrete_mig": score(0.1)}},
    }
    figure = metric_comparison(summaries)
    panels = [ax for ax in figure.axes if ax.get_visible() and ax.patches]
    assert [ax.get_title() for ax in panels] == [
        "mig\ndiscrete_mig", "dci\ndisentanglement", "dci\ncompleteness", "dci\ninformativeness_test"]
    heights = [bar.get_height() for bar in panels[0].patches]
    assert heights == [0.3, 0.1]
    assert np.isnan(panels[1].patches[1].get_height())  # the baseline has no DCI
