"""The weakly supervised pair VAEs: pair sampling, the aggregations, the shared-latent
rules, and training from pairs (resume included)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file

from disentangle.data import DATASETS, FactorDataset, get_dataset
from disentangle.errors import InputError
from disentangle.models import build_model
from disentangle.models.weak import (
    adaptive_shared_latents,
    average_posteriors,
    known_shared_latents,
    pair_kl_per_dim,
    product_of_experts,
    sample_pairs,
)
from disentangle.train import load_run, resume, train
from disentangle.train.distributed import Processes
from disentangle.train.run_folder import latest_checkpoint

SIZES = [3, 6, 40, 32, 32]


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_pairs_differ_in_exactly_k_factors_each_in_its_range(k):
    first, second, changed = sample_pairs(SIZES, 4000, k, _generator())
    assert np.array_equal(first != second, changed)
    assert (changed.sum(1) == k).all()
    assert ((0 <= second) & (second < np.asarray(SIZES))).all()


#: the factor grid of every registered factor dataset (a class attribute of each)
FACTOR_GRIDS = {name: cls.factors_num_values for name, cls in DATASETS.items()
                if isinstance(cls, type) and issubclass(cls, FactorDataset)}


@pytest.mark.parametrize("name", sorted(FACTOR_GRIDS))
def test_on_every_factor_dataset_pairs_differ_in_exactly_k_or_in_1_to_k_minus_1_factors(name):
    sizes = FACTOR_GRIDS[name]
    for k in (1, len(sizes) - 1, -1):
        first, second, changed = sample_pairs(sizes, 3000, k, _generator(k + 5))
        counts = (first != second).sum(1)
        assert np.array_equal(first != second, changed) and ((0 <= second) & (second < np.asarray(sizes))).all()
        if k > 0:
            assert (counts == k).all()
        else:
            assert set(np.unique(counts)) == set(range(1, len(sizes)))
            assert np.allclose(np.bincount(counts)[1:] / 3000, 1 / (len(sizes) - 1), atol=0.05)


def test_pairs_with_k_minus_one_differ_in_1_to_k_minus_1_factors_uniformly():
    num = 40_000
    _, _, changed = sample_pairs(SIZES, num, -1, _generator(1))
    counts = np.bincount(changed.sum(1), minlength=6)
    assert counts[0] == 0 and counts[5] == 0
    # uniform over 1 … 4: each count within 4 standard deviations of num / 4
    expected, std = num / 4, math.sqrt(num * 0.25 * 0.75)
    assert np.all(np.abs(counts[1:5] - expected) < 4 * std), counts


def test_which_factors_change_and_their_new_values_are_uniform():
    num = 60_000
    first, second, changed = sample_pairs([4, 3, 5], num, 1, _generator(2))
    per_factor = changed.sum(0) / num
    assert np.allclose(per_factor, 1 / 3, atol=0.015)
    rows = changed[:, 0]
    steps = (second[rows, 0] - first[rows, 0]) % 4
    assert set(np.unique(steps)) == {1, 2, 3}
    assert np.allclose(np.bincount(steps, minlength=4)[1:] / rows.sum(), 1 / 3, atol=0.02)


def test_factors_with_a_single_value_never_change():
    _, _, changed = sample_pairs([1, 5, 1, 4], 2000, -1, _generator())
    assert not changed[:, [0, 2]].any() and (changed.sum(1) == 1).all()


def test_pairs_repeat_from_the_same_generator_state():
    a = sample_pairs(SIZES, 64, -1, _generator(7))
    b = sample_pairs(SIZES, 64, -1, _generator(7))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("k", [0, -2, 6])
def test_a_k_outside_the_factors_that_vary_is_refused(k):
    with pytest.raises(InputError, match="k:"):
        sample_pairs(SIZES, 4, k, _generator())


def _kl_closed_form(m1, v1, m2, v2):
    return 0.5 * (v1 / v2 + (m2 - m1) ** 2 / v2 - 1 + math.log(v2 / v1))


@settings(max_examples=50, deadline=None)
@given(
    st.floats(-3, 3), st.floats(0.05, 4), st.floats(-3, 3), st.floats(0.05, 4),
)
def test_the_aggregations_and_the_pair_kl_equal_their_closed_forms(m1, v1, m2, v2):
    t = lambda value: torch.tensor([[value]], dtype=torch.float64)  # noqa: E731
    mean, logvar = average_posteriors(t(m1), t(math.log(v1)), t(m2), t(math.log(v2)))
    assert mean.item() == pytest.approx((m1 + m2) / 2) and logvar.exp().item() == pytest.approx((v1 + v2) / 2)
    mean, logvar = product_of_experts(t(m1), t(math.log(v1)), t(m2), t(math.log(v2)))
    precision = 1 / v1 + 1 / v2
    assert mean.item() == pytest.approx((m1 / v1 + m2 / v2) / precision, abs=1e-12)
    assert logvar.exp().item() == pytest.approx(2 / precision)
    delta = pair_kl_per_dim(t(m1), t(math.log(v1)), t(m2), t(math.log(v2)))
    assert delta.item() == pytest.approx(_kl_closed_form(m1, v1, m2, v2), abs=1e-12)


def test_identical_posteriors_aggregate_to_themselves():
    mean, logvar = torch.randn(5, 4), torch.randn(5, 4)
    for aggregate in (average_posteriors, product_of_experts):
        new_mean, new_logvar = aggregate(mean, logvar, mean, logvar)
        assert torch.allclose(new_mean, mean, atol=1e-6) and torch.allclose(new_logvar, logvar, atol=1e-6)


def test_the_adaptive_threshold_shares_exactly_the_latents_whose_posteriors_agree():
    # Pair 0: latents 1 and 3 differ; pair 1: only latent 0 differs; pair 2: all agree exactly.
    mean_1 = torch.zeros(3, 4)
    logvar = torch.full((3, 4), -2.0)
    mean_2 = mean_1.clone()
    mean_2[0, 1], mean_2[0, 3], mean_2[1, 0] = 2.0, -1.5, 0.7
    mean_2[:2, 2] += 1e-4  # a tiny difference stays shared
    shared = adaptive_shared_latents(pair_kl_per_dim(mean_1, logvar, mean_2, logvar))
    assert shared[0].tolist() == [True, False, True, False]
    assert shared[1].tolist() == [False, True, True, True]
    assert shared[2].tolist() == [False, False, False, False]  # nothing lies below τ = δ


def test_known_changed_factors_keep_their_own_latents():
    changed = torch.tensor([[False, True, False], [True, False, True]])
    shared = known_shared_latents(changed, 5)
    assert shared.tolist() == [[True, False, True, True, True], [False, True, False, True, True]]


def _pair_batch(name: str, **hyperparameters):
    data = get_dataset("dsprites")
    model = build_model(name, data.observation_shape, architecture="mlp", **hyperparameters)
    return data, model, model.sample_batch(data, 6, _generator(3))


@pytest.mark.parametrize("name", ["group-vae", "ml-vae", "ada-gvae", "ada-ml-vae"])
def test_a_batch_of_pairs_is_two_blocks_of_images_sharing_all_factors_but_the_changed(name):
    data, model, batch = _pair_batch(name, k=2)
    assert batch.blocks == 2 and batch.observations.shape == (12, 1, 64, 64)
    first, second, changed = sample_pairs(list(data.factors_num_values), 6, 2, _generator(3))
    expected = data.observations(np.concatenate([data.index_of(first), data.index_of(second)]))
    assert torch.equal(batch.observations, expected)
    assert (name in ("group-vae", "ml-vae")) == ("changed" in batch.rows)
    terms = model.loss(batch.observations, 0, **batch.rows)
    assert torch.isfinite(terms["loss"]) and terms["kl_per_dim"].shape == (10,)
    assert 0 <= terms["shared_latents"].item() <= 10


def test_the_loss_is_the_beta_vae_loss_of_the_aggregated_posteriors():
    """Both images of a pair are one image: every posterior agrees, the aggregate is the
    posterior itself, and the loss is the β-VAE's on that image (same noise)."""
    torch.manual_seed(0)
    data, model, _ = _pair_batch("ada-ml-vae", beta=3.0)
    x = data.observations([5, 5, 900, 900]).reshape(4, 1, 64, 64)
    x = torch.cat([x[[0, 2]], x[[1, 3]]])
    torch.manual_seed(1)
    terms = model.loss(x, 0)
    torch.manual_seed(1)
    mean, logvar = model.posterior(x[:2])
    z_1 = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
    z_2 = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
    recon = 0.5 * (-model.likelihood.log_prob(x[:2], model.decoder(z_1)).mean()
                   - model.likelihood.log_prob(x[:2], model.decoder(z_2)).mean())
    kl = (0.5 * (mean.square() + logvar.exp() - logvar - 1)).sum(1).mean()
    assert torch.allclose(terms["loss"], recon + 3.0 * kl, rtol=1e-5)


def test_a_dataset_without_factors_is_refused_before_any_folder_is_created(tmp_path):
    with pytest.raises(InputError, match="ground-truth factors"):
        train(tmp_path / "run", "ada-gvae", "digits", steps=2, progress=False)
    assert not (tmp_path / "run").exists()


def test_known_variants_need_a_latent_per_factor(tmp_path):
    with pytest.raises(InputError, match="--latent-dim"):
        train(tmp_path / "run", "group-vae", "dsprites", steps=2, latent_dim=4, progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ada-gvae", "group-vae"])
def test_resume_after_an_interruption_is_bit_identical(name, tmp_path):
    settings = dict(steps=6, batch_size=4, architecture="mlp", checkpoint_every=3, keep_checkpoints=5,
                    log_every=3, progress=False)
    whole = train(tmp_path / "whole", name, "dsprites", **settings)
    parts = train(tmp_path / "parts", name, "dsprites", **{**settings, "steps": 3})
    resume(parts, steps=6, progress=False)
    a, b = load_file(str(latest_checkpoint(whole))), load_file(str(latest_checkpoint(parts)))
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    assert load_run(parts).step == 6


def test_each_process_trains_on_whole_pairs_and_their_rows():
    _, _, batch = _pair_batch("group-vae", k=1)  # 6 pairs
    first, second, changed = batch.observations[:6], batch.observations[6:], batch.rows["changed"]
    for rank in range(3):
        processes = Processes(device="cpu", rank=rank, world_size=3)
        x, rows = processes.shard(batch.observations, batch.blocks), processes.shard(changed)
        pairs = slice(2 * rank, 2 * rank + 2)
        assert torch.equal(x[:2], first[pairs]) and torch.equal(x[2:], second[pairs])
        assert torch.equal(rows, changed[pairs])


def test_pairs_on_a_dataset_with_a_nuisance_factor_draw_it_for_each_image(grid_factors):
    data = grid_factors([3, 5, 4, 6], nuisance=(1,))  # the second axis is a nuisance, as SmallNORB's instance
    model = build_model("ada-gvae", data.observation_shape, architecture="mlp", latent_dim=3, k=1)
    batch = model.sample_batch(data, 200, _generator(4))
    indices = batch.observations.reshape(-1).long().numpy()
    first, second = data.factors_of(indices[:200]), data.factors_of(indices[200:])
    assert ((first != second).sum(1) == 1).all()
    instances = data.grid_of(indices)[:, 1]
    assert len(np.unique(instances)) == data.grid_num_values[1]
