"""The weakly supervised pair VAEs: pair sampling, the aggregations, the shared-latent
rules, and training from pairs (resume included)."""

from __future__ import annotations

import itertools
import json
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
from disentangle.run_folder import latest_checkpoint

SIZES = [3, 6, 40, 32, 32]
#: the dynamics of exactly k changed factors (the default is dlib's)
EXACT = "exact-k"


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_pairs_differ_in_exactly_k_factors_each_in_its_range(k):
    first, second, changed = sample_pairs(SIZES, 4000, k, _generator(), EXACT)
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
        first, second, changed = sample_pairs(sizes, 3000, k, _generator(k + 5), EXACT)
        counts = (first != second).sum(1)
        assert np.array_equal(first != second, changed) and ((0 <= second) & (second < np.asarray(sizes))).all()
        if k > 0:
            assert (counts == k).all()
        else:
            assert set(np.unique(counts)) == set(range(1, len(sizes)))
            assert np.allclose(np.bincount(counts)[1:] / 3000, 1 / (len(sizes) - 1), atol=0.05)


def test_pairs_with_k_minus_one_differ_in_1_to_k_minus_1_factors_uniformly():
    num = 40_000
    _, _, changed = sample_pairs(SIZES, num, -1, _generator(1), EXACT)
    counts = np.bincount(changed.sum(1), minlength=6)
    assert counts[0] == 0 and counts[5] == 0
    # uniform over 1 … 4: each count within 4 standard deviations of num / 4
    expected, std = num / 4, math.sqrt(num * 0.25 * 0.75)
    assert np.all(np.abs(counts[1:5] - expected) < 4 * std), counts


def test_which_factors_change_and_their_new_values_are_uniform():
    num = 60_000
    first, second, changed = sample_pairs([4, 3, 5], num, 1, _generator(2), EXACT)
    per_factor = changed.sum(0) / num
    assert np.allclose(per_factor, 1 / 3, atol=0.015)
    rows = changed[:, 0]
    steps = (second[rows, 0] - first[rows, 0]) % 4
    assert set(np.unique(steps)) == {1, 2, 3}
    assert np.allclose(np.bincount(steps, minlength=4)[1:] / rows.sum(), 1 / 3, atol=0.02)


def test_factors_with_a_single_value_never_change():
    _, _, changed = sample_pairs([1, 5, 1, 4], 2000, -1, _generator(), EXACT)
    assert not changed[:, [0, 2]].any() and (changed.sum(1) == 1).all()


@pytest.mark.parametrize("dynamics", ["dlib", EXACT])
def test_pairs_repeat_from_the_same_generator_state(dynamics):
    a = sample_pairs(SIZES, 64, -1, _generator(7), dynamics)
    b = sample_pairs(SIZES, 64, -1, _generator(7), dynamics)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("dynamics", ["dlib", EXACT])
@pytest.mark.parametrize("k", [0, -2, 6])
def test_a_k_outside_the_factors_that_can_be_drawn_is_refused(k, dynamics):
    with pytest.raises(InputError, match="^k:"):
        sample_pairs(SIZES, 4, k, _generator(), dynamics)


def test_unknown_dynamics_are_refused_naming_the_setting():
    with pytest.raises(InputError, match="^dynamics: expected one of dlib, exact-k, got 'random'"):
        sample_pairs(SIZES, 4, -1, _generator(), "random")
    with pytest.raises(InputError, match="^--dynamics:"):
        build_model("ada-gvae", (1, 64, 64), dynamics="random")


def dlib_pair_distribution(sizes: list[int], k: int) -> tuple[dict[int, float], dict[int, float]]:
    """dlib's ``simple_dynamics`` written out: the exact probabilities of the number of
    factors redrawn and of the number whose value changed. k' = k or uniform in
    1 … K − 1; 1 or k' factors (½ each) drawn uniformly without replacement; each drawn
    factor i changes with probability 1 − 1/|V_i|."""
    num = len(sizes)
    k_values = range(1, num) if k == -1 else [k]
    redrawn: dict[int, float] = {}
    for k_observed in k_values:
        for r in (1, k_observed):
            redrawn[r] = redrawn.get(r, 0.0) + 0.5 / len(k_values)
    changed: dict[int, float] = {}
    for r, p_r in redrawn.items():
        subsets = list(itertools.combinations(range(num), r))
        for subset in subsets:
            for stays in itertools.product([False, True], repeat=r):
                p = p_r / len(subsets)
                for factor, same in zip(subset, stays):
                    p *= 1 / sizes[factor] if same else 1 - 1 / sizes[factor]
                count = r - sum(stays)
                changed[count] = changed.get(count, 0.0) + p
    return redrawn, changed


@pytest.mark.parametrize("k", [-1, 1, 3])
def test_dlib_pairs_change_as_many_factors_as_dlibs_dynamics(k):
    num = 200_000
    first, second, labelled = sample_pairs(SIZES, num, k, _generator(11))
    _, expected = dlib_pair_distribution(SIZES, k)
    counts = np.bincount((first != second).sum(1), minlength=len(SIZES) + 1) / num
    for count, p in expected.items():  # each share within 4 standard errors
        assert abs(counts[count] - p) < 4 * math.sqrt(p * (1 - p) / num) + 1e-12, (count, counts[count], p)
    assert (labelled.sum(1) == 1).all()  # one label per pair, unchanged pairs included


def test_on_dsprites_dlibs_pairs_leave_about_7_5_percent_unchanged_and_change_1_5_factors_on_average():
    """The analytic values of dlib's dynamics on dSprites' grid (3, 6, 40, 32, 32), k = −1."""
    redrawn, changed = dlib_pair_distribution(SIZES, -1)
    assert redrawn == pytest.approx({1: 5 / 8, 2: 1 / 8, 3: 1 / 8, 4: 1 / 8})
    # by hand: one redrawn factor stays with probability mean(1/|V|) = 0.1175, so
    # P(none changes) ≈ 5/8 · 0.1175 + (two stay of two) ≈ 0.0748 and P(one) ≈ 0.5821; by
    # linearity the mean is E[redrawn] · (1 − 0.1175) = 1.75 · 0.8825
    assert changed[0] == pytest.approx(0.0748, abs=2e-4)
    assert changed[1] == pytest.approx(0.5821, abs=2e-4)
    assert sum(count * p for count, p in changed.items()) == pytest.approx(1.75 * 0.8825, rel=1e-12)


def test_dlib_pairs_redraw_a_factor_uniformly_over_all_its_values_and_label_the_last_drawn():
    num = 60_000
    sizes = [4, 3, 5]
    first, second, labelled = sample_pairs(sizes, num, 1, _generator(2))  # one factor redrawn per pair
    assert ((first != second).sum(1) <= 1).all() and (labelled.sum(1) == 1).all()
    assert not ((first != second) & ~labelled).any()  # only the labelled factor can differ
    assert np.allclose(labelled.sum(0) / num, 1 / 3, atol=0.015)
    for factor, size in enumerate(sizes):  # a fresh uniform value: the old one with probability 1/|V|
        rows = labelled[:, factor]
        assert np.mean(second[rows, factor] == first[rows, factor]) == pytest.approx(1 / size, abs=0.02)
        assert np.allclose(np.bincount(second[rows, factor], minlength=size) / rows.sum(), 1 / size, atol=0.02)


@pytest.mark.parametrize("k", [-1, 3])
def test_dlib_pairs_are_dlibs_loop_on_the_same_random_numbers(k):
    """dlib's ``simple_dynamics`` as its loop runs, pair by pair, on the random numbers
    ``sample_pairs`` draws (in its order: first values, k', the ½ coin, the draw order,
    the new values): the same pairs, and the label is the last factor of the loop."""
    num = 500
    first, second, labelled = sample_pairs(SIZES, num, k, _generator(9))
    generator = _generator(9)
    start = torch.minimum((torch.rand(num, 5, generator=generator) * torch.tensor(SIZES)).long(),
                          torch.tensor(SIZES) - 1).numpy()
    k_observed = torch.randint(1, 5, (num,), generator=generator).numpy() if k == -1 else np.full(num, k)
    coin = torch.rand(num, generator=generator).numpy()
    order = torch.rand(num, 5, generator=generator).argsort(dim=1).numpy()
    fresh = torch.minimum((torch.rand(num, 5, generator=generator) * torch.tensor(SIZES)).long(),
                          torch.tensor(SIZES) - 1).numpy()
    for i in range(num):
        z = start[i].copy()
        index_list = order[i][: 1 if coin[i] < 0.5 else k_observed[i]]
        idx = -1
        for index in index_list:
            z[index] = fresh[i, index]
            idx = index
        assert np.array_equal(first[i], start[i]) and np.array_equal(second[i], z)
        assert labelled[i].tolist() == [j == idx for j in range(5)]


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


@pytest.mark.slow
def test_a_run_folder_from_before_the_dynamics_setting_resumes_on_the_pairs_it_trained_on(tmp_path):
    """Its config.json has no ``dynamics``: it ran exact-k pairs, and resumes with them."""
    settings = dict(steps=6, batch_size=4, architecture="mlp", checkpoint_every=3, keep_checkpoints=5,
                    log_every=3, progress=False, dynamics=EXACT)
    whole = train(tmp_path / "whole", "group-vae", "dsprites", **settings)
    parts = train(tmp_path / "parts", "group-vae", "dsprites", **{**settings, "steps": 3})
    config = json.loads((parts / "config.json").read_text())
    del config["model"]["dynamics"]
    (parts / "config.json").write_text(json.dumps(config))
    assert load_run(parts).model.config.dynamics == EXACT
    resume(parts, steps=6, progress=False)
    a, b = load_file(str(latest_checkpoint(whole))), load_file(str(latest_checkpoint(parts)))
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    assert build_model("group-vae", (1, 64, 64)).config.dynamics == "dlib"  # a new run's default


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
    model = build_model("ada-gvae", data.observation_shape, architecture="mlp", latent_dim=3, k=1, dynamics=EXACT)
    batch = model.sample_batch(data, 200, _generator(4))
    indices = batch.observations.reshape(-1).long().numpy()
    first, second = data.factors_of(indices[:200]), data.factors_of(indices[200:])
    assert ((first != second).sum(1) == 1).all()
    instances = data.grid_of(indices)[:, 1]
    assert len(np.unique(instances)) == data.grid_num_values[1]
