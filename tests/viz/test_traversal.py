"""Traversals, reconstructions and prior samples of a run trained for a few steps: the
grids' layout, and what each row must show."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from disentangle.train import load_run, train
from disentangle.viz import (
    aggregate_posterior_values,
    animated_traversal_gif,
    central_index,
    latent_order,
    prior_samples,
    prior_traversal_grid,
    reconstruction_grid,
    traversal_grid,
    traversal_observations,
    traverse_codes,
)
from disentangle.viz.traversal import tile_images

SIDE, PAD, GAP = 64, 2, 6  # dSprites images, the gutter between cells, the gap between grids


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = train(tmp_path_factory.mktemp("traversal") / "run", "beta-vae", "dsprites", steps=6, batch_size=8,
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


def test_tiles_are_laid_out_row_major_with_white_gutters():
    images = torch.zeros(6, 1, 2, 3)
    for index in range(6):
        images[index] = index / 10
    grid = np.asarray(tile_images(images, rows=2, columns=3, pad=1))
    assert grid.shape == (2 * 3 + 1, 3 * 4 + 1)
    assert (grid[0] == 255).all() and (grid[:, 0] == 255).all()  # gutters
    for index in range(6):
        r, c = divmod(index, 3)
        cell = grid[1 + r * 3 : 3 + r * 3, 1 + c * 4 : 4 + c * 4]
        assert (cell == round(index / 10 * 255)).all()


def test_aggregate_posterior_values_sweep_each_dimension_between_its_percentiles():
    codes = np.stack([np.arange(101.0), -2 * np.arange(101.0)], axis=1)
    values = aggregate_posterior_values(codes, dimensions=np.array([1, 0]), num=5, percentiles=(10, 90))
    np.testing.assert_allclose(values[0], np.linspace(-180, -20, 5))
    np.testing.assert_allclose(values[1], np.linspace(10, 90, 5))


def test_a_model_without_a_posterior_is_ranked_by_the_variance_of_its_codes(run):
    from disentangle.models import build_model

    torch.manual_seed(0)
    model = build_model("ae", run.dataset.observation_shape, latent_dim=4).eval()
    order, score = latent_order(model, run.dataset, num=64, seed=3)
    with torch.no_grad():
        codes = model.encode(run.dataset.observations(run.dataset.sample_indices(64, torch.Generator().manual_seed(3))))
    np.testing.assert_allclose(score, codes.var(0).double().numpy(), rtol=1e-5)
    assert list(order) == list(np.argsort(-score, kind="stable"))


def test_traversals_start_from_the_central_image_whose_factors_sit_mid_range(run):
    """For dSprites: an ellipse at scale 0.8, orientation level 20, in the middle of the frame."""
    dataset = run.dataset
    index = central_index(dataset)
    np.testing.assert_array_equal(dataset.factors_of(np.array([index]))[0], [1, 3, 20, 16, 16])
    x = traversal_observations(dataset, 4, seed=1)
    torch.testing.assert_close(x[0], dataset.observations([index])[0])
    rows, cols = np.nonzero(x[0, 0].numpy())
    assert abs(rows.mean() - 32.5) < 2 and abs(cols.mean() - 32.5) < 2  # centred sprite
    assert not torch.equal(x[1], x[0])  # the others are random images


def test_data_without_factors_is_traversed_around_random_images(tmp_path):
    from disentangle.data import get_dataset
    from disentangle.viz.traversal import sample_observations

    digits = get_dataset("digits")
    torch.testing.assert_close(traversal_observations(digits, 3, seed=4), sample_observations(digits, 3, seed=4))
