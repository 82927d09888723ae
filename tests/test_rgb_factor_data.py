"""Every model takes RGB factor batches; a conv model trains, is evaluated, traversed,
reported and explored on color-dsprites (Bernoulli likelihood) and shapes3d-procedural
(Gaussian likelihood)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from disentangle import run_folder
from disentangle.data import get_dataset
from disentangle.scoring.evaluate import evaluate
from disentangle.models import MODELS
from disentangle.train import RunConfig, load_run, resume, train
from disentangle.viz import write_report, write_traversals
from disentangle.viz.explorer import Explorer

SETTINGS = {"color-dsprites": "bernoulli", "shapes3d-procedural": "gaussian"}


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_on_auto_nets_takes_its_own_batches_of_shapes3d_procedural(name, likelihood):
    """Structured batches (DC-IGN, FactorVAE's second batch, pairs, labelled blocks) included:
    every loss term is finite and the loss has gradients for the nets. The model is built as
    training builds it, with the settings taken from the data (``RunConfig.for_dataset``)."""
    torch.manual_seed(0)
    data = get_dataset("shapes3d-procedural")
    config = RunConfig.from_keywords(name, "shapes3d-procedural", likelihood=likelihood).for_dataset(data)
    model = config.build_model(data.observation_shape)
    batch = model.sample_batch(data, 8, torch.Generator().manual_seed(0))
    assert batch.observations.shape[1:] == (3, 64, 64)
    terms = model.loss(batch.observations, 0, **batch.context, **batch.rows)
    assert all(torch.isfinite(value).all() for value in terms.values())
    terms["loss"].backward()
    assert any(parameter.grad is not None and parameter.grad.abs().sum() > 0 for parameter in model.parameters())


@pytest.fixture(scope="module", params=[pytest.param(name, marks=pytest.mark.slow) for name in SETTINGS])
def run(request, tmp_path_factory):
    """A β-VAE on the ``auto`` (conv) nets, trained two steps on the dataset."""
    folder = tmp_path_factory.mktemp(request.param) / "run"
    return train(folder, "beta-vae", request.param, steps=2, batch_size=8, latent_dim=4,
                 likelihood=SETTINGS[request.param], progress=False)


def test_the_run_records_the_data_and_likelihood_and_its_conv_nets_take_three_channels(run):
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["likelihood"] == SETTINGS[config["data"]["name"]]
    model = load_run(run).model
    assert model.observation_shape == (3, 64, 64)
    convolutions = [module for module in model.modules() if isinstance(module, torch.nn.Conv2d)]
    assert convolutions and convolutions[0].in_channels == 3


def test_evaluate_scores_it_with_the_fast_preset(run):
    scores = evaluate(run, metrics=["mig", "dci"], preset="fast")["summary"]
    assert 0 <= scores["mig"]["discrete_mig"]["mean"] <= 1
    assert 0 <= scores["dci"]["disentanglement"]["mean"] <= 1


def test_traversals_are_colour_images(run):
    loaded = load_run(run)
    pictures = [path for path in write_traversals(loaded.model, loaded.dataset, run) if path.suffix == ".png"]
    assert pictures
    for path in pictures:
        image = Image.open(path)
        pixels = np.asarray(image).reshape(-1, 3)
        assert image.mode == "RGB" and np.any(pixels[:, 0] != pixels[:, 1])  # colour, not grey


def test_the_report_is_written(run):
    page = write_report(run, num_factor_images=200).read_text()
    assert "Latent traversals" in page and "Latents and ground-truth factors" in page


def test_the_explorer_shows_the_dataset_image_and_decodings_in_colour(run):
    loaded = load_run(run)
    explorer = Explorer(loaded)
    shown = Image.open(io.BytesIO(explorer.observation(7)))
    assert shown.mode == "RGB" and shown.size == (64, 64)
    assert np.array_equal(np.asarray(shown), loaded.dataset.images([7])[0].permute(1, 2, 0).numpy())
    decoded = Image.open(io.BytesIO(explorer.decode(torch.zeros(1, loaded.model.latent_dim))))
    assert decoded.mode == "RGB" and decoded.size == (64, 64)


@pytest.mark.slow
def test_a_resumed_run_on_noisy_dsprites_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    """The noise of every image is a function of its index and seed, so the batches after
    a resume are the ones the uninterrupted run drew."""
    settings = {"latent_dim": 3, "batch_size": 4, "checkpoint_every": 1, "seed": 2, "progress": False}
    straight = train(tmp_path / "straight", "beta-vae", "noisy-dsprites", steps=3, **settings)
    interrupted = train(tmp_path / "interrupted", "beta-vae", "noisy-dsprites", steps=1, **settings)
    resume(interrupted, steps=3, progress=False)
    mine = load_file(str(run_folder.latest_checkpoint(interrupted)))
    reference = load_file(str(run_folder.latest_checkpoint(straight)))
    assert mine.keys() == reference.keys() and all(torch.equal(mine[key], reference[key]) for key in mine)
