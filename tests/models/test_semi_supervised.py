"""The semi-supervised models: the supervised losses against their formulas, the γ
schedules and the labelled set's split against dlib's arithmetic, the labelled blocks of
every batch (cycled as dlib's), and training (resume included)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from disentangle.data import get_dataset
from disentangle.errors import InputError
from disentangle.models.labels import num_train_labelled
from disentangle.models.semi_supervised import SupervisedLoss, cycled_rows, supervision_weight
from disentangle.train import load_run, resume, train
from disentangle.train.config import RunConfig
from disentangle.train.distributed import Processes
from disentangle.run_folder import latest_checkpoint, read_log

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


def _dlib_annealer(schedule, gamma, step, threshold):
    """dlib's ``fixed_annealer``, ``annealed_annealer`` and ``fine_tune_annealer``, transcribed."""
    if schedule == "annealed":
        return min(gamma * 1.0, gamma * 1.0 * float(step) / threshold)
    if schedule == "fine-tune":
        return gamma * min(1.0, max(0.0, float(step - threshold)))
    return gamma


@pytest.mark.parametrize("schedule", ["fixed", "annealed", "fine-tune"])
def test_the_gamma_schedules_are_dlibs_annealers(schedule):
    for threshold in (1, 7, 100):
        for step in (0, threshold - 1, threshold, threshold + 1, threshold + 2, 10 * threshold):
            assert supervision_weight(4.0, schedule, step, threshold) == pytest.approx(
                _dlib_annealer(schedule, 4.0, step, threshold))


def test_fine_tune_switches_on_the_step_after_the_threshold_as_dlibs_own_test_has_it():
    # semi_supervised_vae_test: c_max 100, iteration_threshold 100, steps 0, 10, 100, 101
    def weights(schedule, steps):
        return [supervision_weight(100.0, schedule, step, 100) for step in steps]

    assert weights("fixed", (0, 10, 100, 101)) == [100.0] * 4
    assert weights("annealed", (0, 10, 100, 101)) == [0.0, 10.0, 100.0, 100.0]
    assert weights("fine-tune", (0, 10, 99, 100, 101)) == [0.0] * 4 + [100.0]


def test_the_labelled_set_is_split_as_dlibs_train_test_split():
    # int(math.ceil(num_labelled * train_percentage)), float rounding included
    assert [num_train_labelled(n, p) for n, p in [(100, 0.9), (1000, 0.9), (1, 0.9), (10, 1.0), (100, 0.07),
                                                  (12, 0.8)]] == [90, 900, 1, 10, 8, 10]
    _, model = _model("s2-beta-vae", num_labelled=100)  # the defaults: dlib's example's 0.9, cycled
    assert (model.config.train_percentage, model.config.labelled_batches) == (0.9, "cycle")
    assert (model.num_train, model.num_held_out) == (90, 10)
    assert "supervised_held_out" in model.term_descriptions()
    _, model = _model("s2-beta-vae", num_labelled=40, train_percentage=1.0)
    assert model.num_held_out == 0 and "supervised_held_out" not in model.term_descriptions()


def _model(name, **hyperparameters):
    data = get_dataset("dsprites")
    settings = {"num_labelled": 40, **hyperparameters}
    config = RunConfig.from_keywords(name, "dsprites", architecture="mlp", **settings)
    return data, config.for_dataset(data).build_model(data.observation_shape)


def _labelled_block(model, data, rows):
    labelled = model.labelled
    return data.observations(data.index_of(labelled.factors[rows])), torch.from_numpy(labelled.labels[rows])


def test_cycled_rows_wrap_around_from_one_pass_to_the_next():
    assert [cycled_rows(b, 4, 10).tolist() for b in range(4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1],
                                                                   [2, 3, 4, 5]]
    assert cycled_rows(0, 5, 2).tolist() == [0, 1, 0, 1, 0]


@pytest.mark.parametrize("name", SEMI_SUPERVISED)
def test_every_batch_ends_with_the_labelled_blocks_cycled_in_dlibs_order(name):
    """12 labelled points, 80 %: the first 10 are trained on (⌈9.6⌉), the last 2 held out;
    blocks of 4, as dlib's repeat().batch(4) takes them."""
    data, model = _model(name, labeller="partial", num_observed_factors=3, num_labelled=12,
                         train_percentage=0.8)
    generator, unsupervised = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    for train_rows in ([0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1], [2, 3, 4, 5]):
        batch = model.sample_batch(data, 4, generator)
        unlabelled = super(type(model).__mro__[1], model).sample_batch(data, 4, unsupervised)
        assert batch.blocks == unlabelled.blocks + 2
        assert torch.equal(batch.observations[:-8], unlabelled.observations)
        assert torch.equal(generator.get_state(), unsupervised.get_state())  # cycling draws nothing
        images, labels = _labelled_block(model, data, train_rows)
        assert torch.equal(batch.observations[-8:-4], images) and torch.equal(batch.rows["labels"], labels)
        images, labels = _labelled_block(model, data, [10, 11, 10, 11])
        assert torch.equal(batch.observations[-4:], images)
        assert torch.equal(batch.rows["held_out_labels"], labels)
    assert batch.rows["labels"].shape == (4, 3) and int(model.batches_drawn) == 4
    terms = model.loss(batch.observations, 0, **batch.context, **batch.rows)
    assert torch.isfinite(terms["loss"]) and terms["supervised"] > 0 and terms["gamma_sup"] == 1.0
    with torch.no_grad():
        held_out = model.supervised_loss(batch.observations[-4:], batch.rows["held_out_labels"])
    assert torch.equal(terms["supervised_held_out"], held_out)
    assert not terms["supervised_held_out"].requires_grad
    assert set(terms) <= set(model.term_descriptions())


def test_uniform_labelled_batches_draw_the_training_rows_with_replacement_after_the_unlabelled_ones():
    data, model = _model("s2-beta-vae", labelled_batches="uniform", num_labelled=40, train_percentage=1.0)
    assert "batches_drawn" not in dict(model.named_buffers())  # as before the setting: old checkpoints fit
    batch = model.sample_batch(data, 5, torch.Generator().manual_seed(1))
    generator = torch.Generator().manual_seed(1)
    super(type(model).__mro__[1], model).sample_batch(data, 5, generator)
    rows = torch.randint(40, (5,), generator=generator).numpy()
    images, labels = _labelled_block(model, data, rows)
    assert torch.equal(batch.observations[-5:], images) and torch.equal(batch.rows["labels"], labels)
    assert batch.blocks == 2 and "held_out_labels" not in batch.rows


def test_the_supervised_loss_adds_gamma_times_the_supervised_term():
    data, model = _model("s2-beta-vae", gamma_sup=3.0, supervised_loss="l2")
    batch = model.sample_batch(data, 4, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    terms = model.loss(batch.observations, 0, **batch.rows)
    torch.manual_seed(0)
    unsupervised = super(type(model).__mro__[1], model).loss(batch.observations[:4], 0)["loss"]
    assert batch.blocks == 3  # unlabelled, labelled, held out
    supervised = ((model.posterior(batch.observations[4:8])[0][:, :5] - batch.rows["labels"]) ** 2).sum()
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
    ({"train_percentage": 0.0}, "--train-percentage"), ({"train_percentage": 1.2}, "--train-percentage"),
    ({"labelled_batches": "shuffled"}, "--labelled-batches"),
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


def test_data_parallel_training_is_allowed_and_each_process_scores_its_share_of_every_block():
    """The labelled set never changes and every process draws the same global batch, so its
    count of batches drawn stays equal across processes."""
    data, model = _model("s2-beta-vae", num_labelled=12, train_percentage=0.8)
    Processes(device="cpu", rank=0, world_size=2).check(model, 8)
    batch = model.sample_batch(data, 4, torch.Generator().manual_seed(0))
    for rank in (0, 1):
        processes = Processes(device="cpu", rank=rank, world_size=2)
        x = processes.shard(batch.observations, batch.blocks)
        rows = {name: processes.shard(value) for name, value in batch.rows.items()}
        assert torch.equal(x[2:4], batch.observations[4 + 2 * rank: 6 + 2 * rank])
        assert torch.equal(x[4:], batch.observations[8 + 2 * rank: 10 + 2 * rank])
        terms = model.loss(x, 0, **rows)
        with torch.no_grad():
            held_out = model.supervised_loss(x[4:], rows["held_out_labels"])
        assert torch.equal(terms["supervised_held_out"], held_out)


@pytest.mark.slow
def test_the_run_folder_keeps_the_labelled_set_and_resume_is_bit_identical(tmp_path):
    """10 labelled points, 7 trained on in blocks of 4: the cycle wraps at the second step
    and is resumed at the third, mid-pass; fine-tune switches γ on after step 3."""
    settings = dict(steps=6, batch_size=4, architecture="mlp", checkpoint_every=3, keep_checkpoints=5,
                    log_every=1, num_labelled=10, train_percentage=0.7, labeller="noisy", supervised_loss="l2",
                    label_seed=5, gamma_schedule="fine-tune", gamma_threshold=3, progress=False)
    whole = train(tmp_path / "whole", "s2-beta-vae", "dsprites", **settings)
    parts = train(tmp_path / "parts", "s2-beta-vae", "dsprites", **{**settings, "steps": 3})
    resume(parts, steps=6, progress=False)
    a, b = load_file(str(latest_checkpoint(whole))), load_file(str(latest_checkpoint(parts)))
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    assert int(a["model.batches_drawn"]) == 6
    log = read_log(parts)
    assert [line["gamma_sup"] for line in log] == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]  # steps 0 … 5 of the loss
    assert all(np.isfinite(line["supervised_held_out"]) for line in log)
    loaded = load_run(parts)
    assert np.array_equal(a["model.labelled_factors"].numpy(), loaded.model.labelled.factors)
    assert np.array_equal(a["model.labels"].numpy(), loaded.model.labels.numpy())
    assert loaded.config["model"]["factors_num_values"] == [3, 6, 40, 32, 32]


@pytest.mark.slow
def test_a_run_folder_from_before_the_split_resumes_drawing_every_labelled_point_with_replacement(tmp_path):
    """Its config.json has neither ``train_percentage`` nor ``labelled_batches``: it trained on
    all its labelled points, drawn uniformly, and resumes so; its checkpoints have no count."""
    settings = dict(steps=6, batch_size=4, architecture="mlp", checkpoint_every=3, keep_checkpoints=5,
                    log_every=3, num_labelled=30, train_percentage=1.0, labelled_batches="uniform", progress=False)
    whole = train(tmp_path / "whole", "s2-beta-vae", "dsprites", **settings)
    parts = train(tmp_path / "parts", "s2-beta-vae", "dsprites", **{**settings, "steps": 3})
    config = json.loads((parts / "config.json").read_text())
    del config["model"]["train_percentage"], config["model"]["labelled_batches"]
    (parts / "config.json").write_text(json.dumps(config))
    loaded = load_run(parts).model
    assert (loaded.config.train_percentage, loaded.config.labelled_batches) == (1.0, "uniform")
    resume(parts, steps=6, progress=False)
    a, b = load_file(str(latest_checkpoint(whole))), load_file(str(latest_checkpoint(parts)))
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    assert "model.batches_drawn" not in a


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
