"""The semi-supervised models: the supervised losses against their formulas, the γ
schedules, the labelled block of every batch, and training (resume included)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from disentangle.data import get_dataset
from disentangle.errors import InputError
from disentangle.models.semi_supervised import SupervisedLoss, supervision_weight
from disentangle.train import load_run, resume, train
from disentangle.train.config import RunConfig
from disentangle.train.distributed import Processes
from disentangle.train.run_folder import latest_checkpoint

SEMI_SUPERVISED = ["s2-beta-vae", "s2-factor-vae", "s2-dip-vae-i", "s2-dip-vae-ii", "s2-beta-tcvae", "supervised-vae"]


def _codes_and_labels():
    generator = np.random.default_rng(0)
    codes = generator.normal(size=(7, 5))
    labels = np.stack([generator.integers(0, 3, 7), generator.integers(0, 4, 7)], axis=1).astype(np.float64)
    return codes, labels, (3, 4)


def _loss(kind, codes, labels, sizes, sigma=1.0):
    loss = SupervisedLoss(kind, sizes, sigma).double()
    return loss, loss(torch.from_numpy(codes), torch.from_numpy(labels)).item()


def test_the_l2_loss_is_the_summed_squared_error_of_the_scaled_tied_latents():
    codes, labels, sizes = _codes_and_labels()
    loss, value = _loss("l2", codes, labels, sizes)
    assert value == pytest.approx(((codes[:, :2] - labels) ** 2).sum())
    loss.scale.data.fill_(2.5)
    assert loss(torch.from_numpy(codes), torch.from_numpy(labels)).item() == pytest.approx(
        ((2.5 * codes[:, :2] - labels) ** 2).sum())


def test_the_xent_loss_is_the_summed_sigmoid_cross_entropy_against_normalised_labels():
    codes, labels, sizes = _codes_and_labels()
    target = labels / np.asarray(sizes)
    probability = 1 / (1 + np.exp(-codes[:, :2]))
    expected = -(target * np.log(probability) + (1 - target) * np.log(1 - probability)).sum()
    assert _loss("xent", codes, labels, sizes)[1] == pytest.approx(expected)


def test_the_cov_loss_sums_the_squared_cross_covariances_but_the_tied_pairs():
    codes, labels, sizes = _codes_and_labels()
    cross = (codes - codes.mean(0)).T @ (labels - labels.mean(0)) / len(codes)  # (5, 2)
    cross[0, 0] = cross[1, 1] = 0.0
    assert _loss("cov", codes, labels, sizes)[1] == pytest.approx((cross**2).sum())


def test_the_embed_loss_is_the_softmax_cross_entropy_over_each_labels_embedded_values():
    codes, labels, sizes = _codes_and_labels()
    loss, value = _loss("embed", codes, labels, sizes, sigma=1.7)
    expected = 0.0
    for column, embedding in enumerate(loss.embeddings):
        logits = -((codes[:, column, None] - embedding.detach().numpy()) * 1.7) ** 2
        log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        expected += -log_softmax[np.arange(len(codes)), labels[:, column].astype(int)].mean()
    assert value == pytest.approx(expected)


def test_the_gamma_schedules():
    assert [supervision_weight(4.0, "fixed", s, 100) for s in (0, 50, 500)] == [4.0, 4.0, 4.0]
    assert [supervision_weight(4.0, "annealed", s, 100) for s in (0, 50, 100, 500)] == [0.0, 2.0, 4.0, 4.0]
    assert [supervision_weight(4.0, "fine-tune", s, 100) for s in (0, 99, 100, 500)] == [0.0, 0.0, 4.0, 4.0]


def _model(name, **hyperparameters):
    data = get_dataset("dsprites")
    config = RunConfig.from_keywords(name, "dsprites", architecture="mlp", num_labelled=40, **hyperparameters)
    return data, config.for_dataset(data).build_model(data.observation_shape)


@pytest.mark.parametrize("name", SEMI_SUPERVISED)
def test_every_batch_ends_with_a_block_of_labelled_images_and_their_labels(name):
    data, model = _model(name, labeller="partial", num_observed_factors=3)
    batch = model.sample_batch(data, 5, torch.Generator().manual_seed(1))
    rows = torch.randint(40, (5,), generator=_after_unsupervised_draws(model, data))
    labelled = model.labelled
    assert torch.equal(batch.observations[-5:], data.observations(data.index_of(labelled.factors[rows.numpy()])))
    assert torch.equal(batch.rows["labels"], torch.from_numpy(labelled.labels[rows.numpy()]))
    assert batch.rows["labels"].shape == (5, 3)
    terms = model.loss(batch.observations, 0, **batch.context, **batch.rows)
    assert torch.isfinite(terms["loss"]) and terms["supervised"] > 0 and terms["gamma_sup"] == 1.0


def _after_unsupervised_draws(model, data):
    """A generator at the state the unsupervised part of ``sample_batch`` leaves it in."""
    generator = torch.Generator().manual_seed(1)
    super(type(model).__mro__[1], model).sample_batch(data, 5, generator)
    return generator


def test_the_supervised_loss_adds_gamma_times_the_supervised_term():
    data, model = _model("s2-beta-vae", gamma_sup=3.0, supervised_loss="l2")
    batch = model.sample_batch(data, 4, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    terms = model.loss(batch.observations, 0, **batch.rows)
    torch.manual_seed(0)
    unsupervised = super(type(model).__mro__[1], model).loss(batch.observations[:4], 0)["loss"]
    supervised = ((model.posterior(batch.observations[4:])[0][:, :5] - batch.rows["labels"]) ** 2).sum()
    assert torch.allclose(terms["loss"], unsupervised + 3.0 * supervised, rtol=1e-5)


def test_factor_vae_trains_the_supervised_parameters_with_its_model_player():
    _, model = _model("s2-factor-vae", supervised_loss="embed")
    model_player, discriminator = model.players()
    ids = {id(p) for p in model_player.parameters}
    assert all(id(p) in ids for p in model.supervision.parameters())
    assert not ids & {id(p) for p in discriminator.parameters}


@pytest.mark.parametrize("settings, option", [
    ({"gamma_sup": -1.0}, "--gamma-sup"), ({"num_labelled": 0}, "--num-labelled"),
    ({"supervised_loss": "hinge"}, "--supervised-loss"), ({"labeller": "oracle"}, "--labeller"),
    ({"gamma_schedule": "cosine"}, "--gamma-schedule"), ({"prob_random": 1.5}, "--prob-random"),
])
def test_bad_settings_are_refused_naming_the_option(settings, option):
    with pytest.raises(InputError, match=option):
        RunConfig.from_keywords("s2-beta-vae", "dsprites", **settings)


def test_data_without_factors_and_too_few_latents_are_refused_before_any_folder(tmp_path):
    with pytest.raises(InputError, match="ground-truth factors"):
        train(tmp_path / "a", "s2-beta-vae", "digits", steps=2, progress=False)
    with pytest.raises(InputError, match="--latent-dim"):
        train(tmp_path / "b", "s2-beta-vae", "dsprites", steps=2, latent_dim=3, progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_labelled_set_is_constant_so_data_parallel_training_is_allowed():
    _, model = _model("s2-beta-vae")
    Processes(device="cpu", rank=0, world_size=2).check(model, 8)


@pytest.mark.slow
def test_the_run_folder_keeps_the_labelled_set_and_resume_is_bit_identical(tmp_path):
    settings = dict(steps=6, batch_size=4, architecture="mlp", checkpoint_every=3, keep_checkpoints=5, log_every=3,
                    num_labelled=30, labeller="noisy", supervised_loss="l2", label_seed=5, progress=False)
    whole = train(tmp_path / "whole", "s2-beta-vae", "dsprites", **settings)
    parts = train(tmp_path / "parts", "s2-beta-vae", "dsprites", **{**settings, "steps": 3})
    resume(parts, steps=6, progress=False)
    a, b = load_file(str(latest_checkpoint(whole))), load_file(str(latest_checkpoint(parts)))
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    loaded = load_run(parts)
    assert np.array_equal(a["model.labelled_factors"].numpy(), loaded.model.labelled.factors)
    assert np.array_equal(a["model.labels"].numpy(), loaded.model.labels.numpy())
    assert loaded.config["model"]["factors_num_values"] == [3, 6, 40, 32, 32]


def test_the_labelled_images_of_a_dataset_with_a_nuisance_factor_are_fixed(grid_factors):
    data = grid_factors([3, 5, 4, 6], nuisance=(1,))
    config = RunConfig.from_keywords("s2-beta-vae", "dsprites", architecture="mlp", latent_dim=3, num_labelled=300)
    model = config.for_dataset(data).build_model(data.observation_shape)
    indices = model.labelled_indices(data)
    assert np.array_equal(data.factors_of(indices.numpy()), model.labelled.factors)
    assert len(np.unique(data.grid_of(indices.numpy())[:, 1])) == 5  # the instances vary over the set
    batch = model.sample_batch(data, 50, torch.Generator().manual_seed(0))
    assert set(batch.observations[50:].reshape(-1).long().tolist()) <= set(indices.tolist())
    assert torch.equal(model.labelled_indices(data), indices)


def test_a_model_built_without_the_datas_factor_sizes_says_how_to_build_it():
    from disentangle.models import build_model

    data = get_dataset("dsprites")
    model = build_model("s2-beta-vae", data.observation_shape, architecture="mlp")
    with pytest.raises(InputError, match="factors_num_values is not set"):
        model.sample_batch(data, 4, torch.Generator().manual_seed(0))
