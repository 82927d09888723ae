"""WAE-MMD: the unbiased MMD estimator and its kernel against hand computations, its
expectation, and the model's loss."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.errors import InputError
from disentangle.models import build_model, model_config
from disentangle.models.wae import SCALES, imq_kernel, unbiased_mmd


def _imq_by_hand(a: list[float], b: list[float], scales, bandwidth: float = 1.0) -> float:
    dimension = len(a)
    distance = sum((x - y) ** 2 for x, y in zip(a, b))
    return sum(s * 2 * dimension * bandwidth**2 / (s * 2 * dimension * bandwidth**2 + distance) for s in scales)


def _unbiased_mmd_by_hand(xs: list[list[float]], ys: list[list[float]], scales, bandwidth: float = 1.0) -> float:
    n, m = len(xs), len(ys)
    within_x = sum(_imq_by_hand(xs[i], xs[j], scales, bandwidth) for i, j in itertools.permutations(range(n), 2))
    within_y = sum(_imq_by_hand(ys[i], ys[j], scales, bandwidth) for i, j in itertools.permutations(range(m), 2))
    cross = sum(_imq_by_hand(x, y, scales, bandwidth) for x in xs for y in ys)
    return within_x / (n * (n - 1)) + within_y / (m * (m - 1)) - 2 * cross / (n * m)


def test_the_mmd_of_two_points_against_two_points_is_the_hand_computed_fraction():
    """D = 1, one scale, σ = 1: C = 2, k = 2 / (2 + d²). a = {0, 1}, b = {0, 2}:
    within a: k(1) = 2/3; within b: k(4) = 1/3; across: (1 + 1/3 + 2/3 + 2/3)/4 = 2/3;
    MMD² = 2/3 + 1/3 − 2·2/3 = −1/3."""
    a = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    b = torch.tensor([[0.0], [2.0]], dtype=torch.float64)
    assert unbiased_mmd(a, b, scales=(1.0,)).item() == pytest.approx(-1 / 3, abs=1e-15)


def test_the_mmd_with_the_default_scales_on_a_tiny_fixed_sample_is_the_hand_computation():
    xs = [[0.5, -1.0], [2.0, 0.0], [-0.3, 0.7]]
    ys = [[0.0, 0.0], [1.0, 1.0], [-1.5, 0.2], [0.4, -2.0]]
    value = unbiased_mmd(torch.tensor(xs, dtype=torch.float64), torch.tensor(ys, dtype=torch.float64)).item()
    assert value == pytest.approx(_unbiased_mmd_by_hand(xs, ys, SCALES), rel=1e-12)
    with_bandwidth = unbiased_mmd(torch.tensor(xs), torch.tensor(ys), bandwidth=0.5, scales=(0.2, 3.0)).item()
    assert with_bandwidth == pytest.approx(_unbiased_mmd_by_hand(xs, ys, (0.2, 3.0), 0.5), rel=1e-5)


def test_the_kernel_summed_over_scales_is_the_paper_s_inverse_multiquadratics():
    a, b = torch.tensor([[1.0, 2.0, 0.0]]), torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 0.0]])
    kernel = imq_kernel(a, b)
    assert kernel.shape == (1, 2)
    assert kernel[0, 0].item() == pytest.approx(_imq_by_hand([1, 2, 0], [0, 0, 0], SCALES), rel=1e-6)
    assert kernel[0, 1].item() == pytest.approx(len(SCALES), rel=1e-6)  # k(x, x) = Σ_s 1


def test_the_mmd_of_two_large_samples_of_one_distribution_is_near_zero_and_of_two_distributions_is_not():
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(1000, 5, generator=generator), torch.randn(1000, 5, generator=generator)
    same = unbiased_mmd(a, b).item()
    shifted = unbiased_mmd(a, b + 0.3).item()
    assert abs(same) < 0.01 and shifted > 0.05


def test_the_estimator_is_unbiased_its_mean_over_many_tiny_samples_of_one_distribution_is_zero():
    """Over 1,500 pairs of samples of 3 draws, the mean is 0 within 4 standard errors, while
    the biased V-statistic (diagonals kept) is clearly positive."""
    generator = torch.Generator().manual_seed(1)
    unbiased, biased = [], []
    for _ in range(1500):
        a = torch.randn(3, 2, generator=generator, dtype=torch.float64)
        b = torch.randn(3, 2, generator=generator, dtype=torch.float64)
        unbiased.append(unbiased_mmd(a, b))
        biased.append(imq_kernel(a, a).mean() + imq_kernel(b, b).mean() - 2 * imq_kernel(a, b).mean())
    unbiased, biased = torch.stack(unbiased), torch.stack(biased)
    standard_error = unbiased.std().item() / 1500**0.5
    assert abs(unbiased.mean().item()) < 4 * standard_error
    assert biased.mean().item() > 10 * standard_error


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 6), m=st.integers(2, 6), d=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_the_mmd_is_the_hand_computation_for_any_small_sample(n, m, d, seed):
    generator = torch.Generator().manual_seed(seed)
    xs = torch.randn(n, d, generator=generator, dtype=torch.float64)
    ys = 2 * torch.randn(m, d, generator=generator, dtype=torch.float64)
    expected = _unbiased_mmd_by_hand(xs.tolist(), ys.tolist(), SCALES)
    assert unbiased_mmd(xs, ys).item() == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert unbiased_mmd(xs, ys).item() == pytest.approx(unbiased_mmd(ys, xs).item(), rel=1e-9, abs=1e-12)


def test_the_loss_is_recon_plus_lambda_times_the_mmd_to_the_prior_draws():
    torch.manual_seed(0)
    model = build_model("wae-mmd", (1, 16, 16), latent_dim=3, architecture="mlp", lam=10.0)
    x = (torch.rand(5, 1, 16, 16) < 0.4).float()
    torch.manual_seed(7)
    terms = model.loss(x, 0)
    torch.manual_seed(7)
    z = model.encode(x)
    expected_mmd = unbiased_mmd(z, torch.randn_like(z))
    assert terms["mmd"].item() == pytest.approx(expected_mmd.item(), rel=1e-5)
    assert terms["loss"].item() == pytest.approx(terms["recon"].item() + 10.0 * terms["mmd"].item(), rel=1e-6)
    terms["loss"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.encoder.parameters())
    with pytest.raises(InputError, match="^--batch-size:"):
        model.loss(x[:1], 0)


def test_the_scales_are_read_from_a_list_or_text_and_validated():
    assert model_config("wae-mmd", scales=[1, 2]).scales == (1.0, 2.0)
    assert model_config("wae-mmd", scales="0.5, 4").scales == (0.5, 4.0)
    assert model_config("wae-mmd").to_dict()["scales"] == SCALES
    for bad, option in [({"scales": []}, "--scales"), ({"scales": [1, -1]}, "--scales"), ({"scales": "a"}, "--scales"),
                        ({"lam": 0.0}, "--lam"), ({"kernel": "cauchy"}, "--kernel"),
                        ({"kernel_bandwidth": 0.0}, "--kernel-bandwidth")]:
        with pytest.raises(InputError, match=f"^{option}:"):
            model_config("wae-mmd", **bad)
