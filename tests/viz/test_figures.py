"""The figures of a run trained for a few steps: sizes, and what traversals must show."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from disentangle.train import load_run, train
from disentangle.train.run_folder import read_log
from disentangle.viz import (
    aggregate_posterior_values,
    animated_traversal_gif,
    figure_to_png_bytes,
    kl_per_dimension_curves,
    latent_factor_mutual_information,
    latent_order,
    latents_against_factors,
    metric_comparison,
    prior_samples,
    prior_traversal_grid,
    reconstruction_grid,
    training_curves,
    traversal_grid,
    traverse_codes,
)

SIDE, PAD, GAP = 64, 2, 6  # dSprites images, the gutter between cells, the gap between grids


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = train(tmp_path_factory.mktemp("figures") / "run", "beta-vae", "dsprites", steps=6, batch_size=8,
                 log_every=2, progress=False)
    return load_run(path)


@pytest.fixture
def x(run):
    return run.dataset.observations([0, 5000, 300_000])


def _grid_size(rows: int, columns: int) -> tuple[int, int]:
    """(width, height) of a tiled grid of dSprites images."""
    return columns * (SIDE + PAD) + PAD, rows * (SIDE + PAD) + PAD


def test_traversal_grid_has_a_row_per_dimension_and_a_column_per_value_for_each_image(run, x):
    latent_dim = run.model.latent_dim
    width, height = _grid_size(latent_dim, 10)
    assert traversal_grid(run.model, x[:1]).size == (width, height)
    assert traversal_grid(run.model, x).size == (3 * width + 2 * GAP, height)
    assert traversal_grid(run.model, x[:1], np.linspace(-1, 1, 5), dimensions=[3, 1]).size == _grid_size(2, 5)
    assert prior_traversal_grid(run.model, 2, seed=0, dimensions=[0]).size == (2 * _grid_size(1, 10)[0] + GAP,
                                                                                _grid_size(1, 10)[1])


def _silence(model, dimension: int) -> None:
    """Make ``dimension`` a latent with KL exactly 0 that the decoder ignores: the
    encoder outputs mean 0 and log-variance 0 for it, the decoder's weights on it are 0."""
    with torch.no_grad():
        last = model.encoder.net[-1]
        for row in (dimension, model.latent_dim + dimension):
            last.weight[row] = 0
            last.bias[row] = 0
        model.decoder.net[0].weight[:, dimension] = 0


def _cells(image: Image.Image, rows: int, columns: int) -> np.ndarray:
    """A tiled grid cut back into its cells ``(rows, columns, SIDE, SIDE)``."""
    array = np.asarray(image)
    return np.array([[array[PAD + r * (SIDE + PAD):][:SIDE, PAD + c * (SIDE + PAD):][:, :SIDE]
                      for c in range(columns)] for r in range(rows)])


def test_a_row_varies_for_an_active_latent_and_is_constant_for_a_latent_with_zero_kl(run, x):
    model = load_run(run.path).model
    _silence(model, 4)
    order, kl = latent_order(model, run.dataset)
    assert kl[4] == 0.0 and order[-1] == 4 and (np.delete(kl, 4) > 0).all()
    cells = _cells(traversal_grid(model, x[:1], dimensions=order), model.latent_dim, 10)
    changes = np.abs(cells.astype(int) - cells[:, :1].astype(int)).max(axis=(1, 2, 3))
    assert changes[-1] == 0, "the row of a latent with zero KL must be constant"
    assert (changes[:-1] > 0).all(), "the row of an active latent must change along the traversal"
    # the same, before quantisation to 8 bits
    images = traverse_codes(model, model.encode(x[:1]), dimensions=order)[0]
    assert torch.equal(images[-1], images[-1, :1].expand_as(images[-1]))


def test_values_can_differ_per_row_across_the_aggregate_posterior(run):
    codes = np.random.default_rng(0).normal([0, 10, -5], [1, 2, 0.1], size=(1000, 3))
    values = aggregate_posterior_values(codes, dimensions=[2, 1], num=4, percentiles=(0, 100))
    assert values.shape == (2, 4)
    np.testing.assert_allclose(values[:, 0], [codes[:, 2].min(), codes[:, 1].min()])
    np.testing.assert_allclose(values[:, -1], [codes[:, 2].max(), codes[:, 1].max()])
    code = torch.zeros(1, run.model.latent_dim)
    table = np.array([[-1.0, 0.0, 1.0], [2.0, 3.0, 4.0]])
    swept = traverse_codes(run.model, code, table, dimensions=[7, 2])
    assert swept.shape == (1, 2, 3, 1, SIDE, SIDE)
    expected = run.model.likelihood.mean(run.model.decode(torch.zeros(1, run.model.latent_dim).index_fill(1, torch.tensor([2]), 3.0)))
    torch.testing.assert_close(swept[0, 1, 1], expected[0])
    with pytest.raises(ValueError, match="one per traversed dimension"):
        traverse_codes(run.model, code, table, dimensions=[1, 2, 3])


def test_the_gif_loops_through_the_sweep_forth_and_back(run, x):
    gif = Image.open(io.BytesIO(animated_traversal_gif(run.model, x[:2], np.linspace(-3, 3, 6), dimensions=[0, 1, 2])))
    assert gif.format == "GIF" and gif.n_frames == 6 + 4
    width, height = _grid_size(3, 2)
    assert gif.size == (width, height + 6)  # + the bar that marks the frame's value


def test_reconstructions_and_prior_samples_are_grids_of_images(run, x):
    assert reconstruction_grid(run.model, x).size == _grid_size(2, 3)
    assert prior_samples(run.model, num=10, columns=4).size == _grid_size(3, 4)
    assert np.array_equal(np.asarray(prior_samples(run.model, 4, seed=1)), np.asarray(prior_samples(run.model, 4, seed=1)))


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
