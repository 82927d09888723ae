import itertools
import math
from collections import defaultdict
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.data import InMemoryImages
from disentangle.errors import InputError
from disentangle.models import build_model
from disentangle.models.triplet import adaptive_negative_delta, sample_triplets, triplet_loss

DSPRITES = [3, 6, 40, 32, 32]


def test_the_triplet_loss_on_fixed_embeddings_is_the_hinge_worked_by_hand():
    anchor = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    positive = torch.tensor([[1.0, 0.0], [2.0, 3.0]])
    negative = torch.tensor([[0.0, 3.0], [1.0, 2.0]])
    # L1: row 0: max(0, 1 − 3 + 1) = 0; row 1: max(0, 3 − 1 + 1) = 3
    assert triplet_loss(anchor - positive, anchor - negative, 1.0, 1).item() == pytest.approx(1.5)
    # L2: row 0: max(0, 1 − 3 + 1) = 0; row 1: max(0, √5 − 1 + 1) = √5
    assert triplet_loss(anchor - positive, anchor - negative, 1.0, 2).item() == pytest.approx(math.sqrt(5) / 2)
    # margin 0: the positive nearer than the negative costs nothing
    assert triplet_loss(anchor - positive, anchor - negative, 0.0, 1).item() == pytest.approx(1.0)


def test_the_adaptive_negative_is_scaled_on_the_latents_below_the_midpoint_worked_by_hand():
    anchor = torch.tensor([[0.1, 2.0, 0.05, 1.0]])
    negative = torch.zeros(1, 4)
    positive = torch.tensor([[0.0, 1.0, 0.0, 0.0]])
    # δ = (0.1, 2, 0.05, 1): τ = (2 + 0.05) / 2 = 1.025, so latents 0, 2 and 3 are shared
    delta, shared = adaptive_negative_delta(anchor, negative, 0.95)
    assert shared.tolist() == [[True, False, True, True]]
    assert torch.allclose(delta, torch.tensor([[0.095, 2.0, 0.0475, 0.95]]))
    # ‖a − p‖₁ = 0.1 + 1 + 0.05 + 1 = 2.15; ‖Δ_n‖₁ = 3.0925; max(0, 2.15 − 3.0925 + 1) = 0.0575
    assert triplet_loss(anchor - positive, delta, 1.0, 1).item() == pytest.approx(0.0575, abs=1e-6)
    # s = 0 keeps only the latent that differs: max(0, 2.15 − 2 + 1) = 1.15
    delta, _ = adaptive_negative_delta(anchor, negative, 0.0)
    assert triplet_loss(anchor - positive, delta, 1.0, 1).item() == pytest.approx(1.15, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(2, 6), st.floats(0, 1), st.floats(0, 3), st.sampled_from([1, 2]),
       st.integers(0, 2**31 - 1))
def test_scaling_the_shared_latents_down_never_lowers_the_triplet_loss(batch, latent, scale, margin, p, seed):
    a, pos, neg = torch.randn(3, batch, latent, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    plain = triplet_loss(a - pos, a - neg, margin, p)
    delta, _ = adaptive_negative_delta(a, neg, scale)
    assert triplet_loss(a - pos, delta, margin, p) >= plain - 1e-12 and plain >= 0
    assert torch.equal(adaptive_negative_delta(a, neg, 1.0)[0], a - neg)


def test_every_factor_of_a_positive_is_no_further_from_the_anchor_than_the_negative_s():
    anchor, positive, negative = sample_triplets(DSPRITES, 20_000, torch.Generator().manual_seed(0))
    assert all(((0 <= f) & (f < np.array(DSPRITES))).all() for f in (anchor, positive, negative))
    to_positive, to_negative = np.abs(anchor - positive), np.abs(anchor - negative)
    assert (to_positive <= to_negative).all()
    assert ((anchor != positive).sum(1) <= (anchor != negative).sum(1)).all()
    manhattan_positive, manhattan_negative = to_positive.sum(1), to_negative.sum(1)
    assert (manhattan_positive <= manhattan_negative).all()
    assert (manhattan_positive < manhattan_negative).mean() > 0.8  # ties are the exception


def test_the_same_generator_state_draws_the_same_triplets_and_another_seed_others():
    first = sample_triplets(DSPRITES, 64, torch.Generator().manual_seed(5))
    again = sample_triplets(DSPRITES, 64, torch.Generator().manual_seed(5))
    other = sample_triplets(DSPRITES, 64, torch.Generator().manual_seed(6))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[1], other[1])
    # a generator that drew one batch continues where a fresh one would after that batch
    generator = torch.Generator().manual_seed(5)
    sample_triplets(DSPRITES, 64, generator)
    state = generator.get_state()
    second = sample_triplets(DSPRITES, 64, generator)
    resumed = sample_triplets(DSPRITES, 64, torch.Generator().set_state(state))
    assert all(np.array_equal(a, b) for a, b in zip(second, resumed))


def _disent_triplet_distribution(sizes: list[int]) -> dict:
    """P(anchor, positive, negative) of disent's ``GroundTruthTripleSampler`` with its defaults,
    enumerated exactly: p_k ~ U{0..K}, n_k ~ U{p_k..K}, a random order of the factors (the
    positive keeps the first K − p_k, the negative the first K − n_k), per factor a fresh
    positive value v ~ U{0..size−1} and a fresh negative value ~ U{u : |u − a| ≥ |v − a|}."""
    count = len(sizes)
    probability = defaultdict(Fraction)
    for anchor in itertools.product(*(range(size) for size in sizes)):
        for p_k in range(count + 1):
            for n_k in range(p_k, count + 1):
                for order in itertools.permutations(range(count)):
                    weight = Fraction(1, math.prod(sizes) * (count + 1) * (count + 1 - p_k) * math.factorial(count))
                    per_factor = []
                    for f, size in enumerate(sizes):
                        outcomes = defaultdict(Fraction)
                        for fresh_p in range(size):
                            allowed = [u for u in range(size) if abs(u - anchor[f]) >= abs(fresh_p - anchor[f])]
                            for fresh_n in allowed:
                                kept_p, kept_n = f in order[: count - p_k], f in order[: count - n_k]
                                value = (anchor[f] if kept_p else fresh_p, anchor[f] if kept_n else fresh_n)
                                outcomes[value] += Fraction(1, size * len(allowed))
                        per_factor.append(outcomes.items())
                    for combination in itertools.product(*per_factor):
                        key = (anchor, tuple(c[0][0] for c in combination), tuple(c[0][1] for c in combination))
                        probability[key] += weight * math.prod(c[1] for c in combination)
    return probability


def test_the_triplets_follow_disent_s_sampling_distribution_enumerated_exactly():
    sizes, draws = [3, 2], 100_000
    exact = _disent_triplet_distribution(sizes)
    assert sum(exact.values()) == 1
    triplets = np.concatenate(sample_triplets(sizes, draws, torch.Generator().manual_seed(1)), axis=1)
    shape = sizes * 3
    counts = np.bincount(np.ravel_multi_index(triplets.T, shape), minlength=math.prod(shape))
    possible = np.zeros_like(counts, dtype=np.float64)
    for (a, p, n), value in exact.items():
        possible[np.ravel_multi_index(a + p + n, shape)] = float(value)
    assert (counts[possible == 0] == 0).all()
    assert np.abs(counts / draws - possible).max() < 2.5e-3


def test_a_batch_is_three_blocks_of_the_triplets_images_drawn_from_the_run_s_generator(grid_factors):
    data = grid_factors([3, 4, 2, 5], nuisance=(2,))
    model = build_model("tvae", (1, 1, 1), latent_dim=2, architecture="mlp")
    batch = model.sample_batch(data, 50, torch.Generator().manual_seed(4))
    again = model.sample_batch(data, 50, torch.Generator().manual_seed(4))
    assert batch.blocks == 3 and batch.observations.shape[0] == 150 and batch.rows == {} and batch.context == {}
    assert torch.equal(batch.observations, again.observations)
    anchor, positive, negative = (data.factors_of(block.flatten().long().numpy()) for block in
                                  batch.observations.chunk(3))
    assert (np.abs(anchor - positive) <= np.abs(anchor - negative)).all()
    expected = sample_triplets(data.factors_num_values, 50, torch.Generator().manual_seed(4))
    assert np.array_equal(anchor, expected[0]) and np.array_equal(negative, expected[2])


@pytest.mark.parametrize("name", ["tvae", "ada-tvae"])
def test_the_loss_is_the_beta_vae_s_plus_the_scaled_triplet_of_the_posterior_means(name):
    torch.manual_seed(0)
    model = build_model(name, (1, 8, 8), beta=2.0, triplet_scale=0.3)
    x = (torch.rand(12, 1, 8, 8, generator=torch.Generator().manual_seed(2)) > 0.5).float()
    terms = model.loss(x, 0)
    key = "ada_triplet" if name == "ada-tvae" else "triplet"
    assert torch.allclose(terms["loss"], terms["recon"] + 2.0 * terms["kl"] + 0.3 * 64 * terms[key])
    a, p, n = model.posterior(x)[0].chunk(3)
    plain = (torch.clamp((a - p).abs().sum(1) - (a - n).abs().sum(1) + 1.0, min=0)).mean()
    assert torch.allclose(terms["triplet"], plain)
    if name == "ada-tvae":
        delta = (a - n).abs()
        shared = delta < (delta.amax(1, keepdim=True) + delta.amin(1, keepdim=True)) / 2
        negative = torch.where(shared, 0.95 * (a - n), a - n).abs().sum(1)
        assert torch.allclose(terms["ada_triplet"], torch.clamp((a - p).abs().sum(1) - negative + 1.0, min=0).mean())
        assert terms["shared_latents"] == shared.sum(1).float().mean()


def test_a_dataset_without_factors_is_refused_naming_the_option():
    images = InMemoryImages(torch.randint(0, 256, (10, 1, 4, 4), dtype=torch.uint8))
    with pytest.raises(InputError, match="--data"):
        build_model("tvae", (1, 4, 4)).sample_batch(images, 2, torch.Generator())


@pytest.mark.parametrize("name, settings, option", [
    ("tvae", {"beta": 0}, "--beta"),
    ("tvae", {"triplet_margin": -1}, "--triplet-margin"),
    ("tvae", {"triplet_scale": -0.1}, "--triplet-scale"),
    ("ada-tvae", {"triplet_p": 3}, "--triplet-p"),
    ("ada-tvae", {"share_scale": 1.5}, "--share-scale"),
])
def test_bad_settings_are_rejected_naming_the_option(name, settings, option):
    with pytest.raises(InputError, match=option):
        build_model(name, (1, 8, 8), **settings)


def test_the_defaults_are_disent_s_configs():
    config = build_model("ada-tvae", (1, 8, 8)).config
    assert (config.triplet_margin, config.triplet_scale, config.triplet_p, config.share_scale) == (1.0, 0.1, 1, 0.95)
