"""Deterministic autoencoders: plain, denoising, sparse, k-sparse and contractive."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch import nn

from disentangle.errors import InputError
from disentangle.models import MODELS, build_model
from disentangle.models.autoencoders import (
    FEATURES,
    DeterministicAutoencoder,
    corrupt,
    k_schedule,
    keep_top_k,
    sparsity_kl,
)

AUTOENCODERS = ["ae", "denoising-ae", "sparse-ae", "k-sparse-ae", "contractive-ae"]


def binary_batch(n: int, shape=(1, 64, 64), seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(n, *shape, generator=generator) < 0.3).float()


def with_tiny_nets(model: DeterministicAutoencoder) -> DeterministicAutoencoder:
    """The model with one-layer nets in place of its encoder and decoder: the objective
    is the model's either way, and a short training run fits in a fraction of a second."""
    shape = model.observation_shape
    model.encoder = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), FEATURES))
    model.decoder = nn.Sequential(nn.Linear(model.latent_dim, math.prod(shape)), nn.Unflatten(1, shape))
    return model


# --------------------------------------------------------------------------- every autoencoder


@pytest.mark.parametrize(
    "name, hyperparameters",
    [(name, {}) for name in AUTOENCODERS]
    + [
        ("ae", {"likelihood": "gaussian"}),
        ("denoising-ae", {"corruption": "gaussian", "corruption_level": 0.1}),
        ("denoising-ae", {"corruption": "salt-and-pepper"}),
        ("k-sparse-ae", {"k": 3, "k_start": 8, "k_anneal_steps": 10, "alpha": 2.0}),
        ("contractive-ae", {"jacobian": "autograd"}),
    ],
)
def test_every_autoencoder_builds_and_returns_finite_scalar_terms_that_backpropagate(name, hyperparameters):
    torch.manual_seed(0)
    model = build_model(name, (1, 64, 64), **hyperparameters)
    assert isinstance(model, MODELS[name]) and isinstance(model, DeterministicAutoencoder)
    x = binary_batch(3)
    terms = model.loss(x, step=5)
    assert {"loss", "recon"} <= set(terms)
    for key, value in terms.items():
        assert value.dim() == 0 and torch.isfinite(value), key
    terms["loss"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.encoder.parameters())
    assert model.encode(x).shape == (3, 10)
    assert model.decode(model.encode(x)).shape == x.shape


@pytest.mark.parametrize(
    "name, hyperparameters, option",
    [
        ("k-sparse-ae", {"k": 11}, "--k"),
        ("k-sparse-ae", {"k": 0}, "--k"),
        ("k-sparse-ae", {"k": 4, "latent_dim": 3}, "--k"),
        ("k-sparse-ae", {"k": 5, "k_start": 4, "k_anneal_steps": 10}, "--k-start"),
        ("k-sparse-ae", {"k": 5, "k_start": 11, "k_anneal_steps": 10}, "--k-start"),
        ("k-sparse-ae", {"k": 5, "k_start": 8}, "--k-anneal-steps"),
        ("k-sparse-ae", {"k_anneal_steps": -1}, "--k-anneal-steps"),
        ("k-sparse-ae", {"alpha": 0.5}, "--alpha"),
        ("sparse-ae", {"rho": 0.0}, "--rho"),
        ("sparse-ae", {"rho": 1.0}, "--rho"),
        ("sparse-ae", {"rho": -0.1}, "--rho"),
        ("sparse-ae", {"beta": -1.0}, "--beta"),
        ("sparse-ae", {"beta": 0.0}, "--beta"),
        ("denoising-ae", {"corruption_level": 1.0}, "--corruption-level"),
        ("denoising-ae", {"corruption_level": -0.1}, "--corruption-level"),
        ("denoising-ae", {"corruption": "dropout"}, "--corruption"),
        ("contractive-ae", {"lam": -1.0}, "--lam"),
        ("contractive-ae", {"lam": 0.0}, "--lam"),
        ("contractive-ae", {"jacobian": "numerical"}, "--jacobian"),
        ("ae", {"latent_dim": 0}, "--latent-dim"),
    ],
)
def test_bad_hyperparameters_raise_an_input_error_naming_the_option(name, hyperparameters, option):
    with pytest.raises(InputError, match=f"^{option}:") as error:
        build_model(name, (1, 64, 64), **hyperparameters)
    assert "\n" not in str(error.value)


# --------------------------------------------------------------------------- denoising


@pytest.mark.parametrize("level", [0.0, 0.1, 0.3, 0.75])
def test_masking_zeroes_exactly_the_set_fraction_of_every_input(level):
    x = torch.ones(8, 1, 28, 28)
    corrupted, realised = corrupt(x, "masking", level)
    zeroed = (corrupted == 0).flatten(1).float().mean(1)
    expected = round(level * 784) / 784
    assert torch.allclose(zeroed, torch.full((8,), expected))
    assert realised.item() == pytest.approx(expected)
    assert torch.equal(corrupted[corrupted != 0], x[corrupted != 0])


def test_salt_and_pepper_sets_the_set_fraction_to_zero_or_one_with_equal_probability():
    torch.manual_seed(0)
    x = torch.full((64, 1, 28, 28), 0.5)
    corrupted, realised = corrupt(x, "salt-and-pepper", 0.2)
    changed = corrupted != 0.5
    assert torch.allclose(changed.flatten(1).float().mean(1), torch.full((64,), round(0.2 * 784) / 784))
    assert realised.item() == pytest.approx(round(0.2 * 784) / 784)
    assert set(corrupted[changed].unique().tolist()) == {0.0, 1.0}
    assert corrupted[changed].mean().item() == pytest.approx(0.5, abs=0.02)


def test_gaussian_corruption_adds_zero_mean_noise_of_the_set_std():
    torch.manual_seed(0)
    x = torch.rand(64, 1, 28, 28)
    corrupted, realised = corrupt(x, "gaussian", 0.2)
    noise = corrupted - x
    assert noise.std().item() == pytest.approx(0.2, rel=0.02)
    assert noise.mean().item() == pytest.approx(0.0, abs=0.005)
    assert realised.item() == pytest.approx(0.2, rel=0.02)


@pytest.mark.parametrize("corruption", ["masking", "salt-and-pepper", "gaussian"])
def test_denoising_loss_reconstructs_the_clean_input_from_the_code_of_a_fresh_corruption(corruption):
    torch.manual_seed(0)
    model = build_model("denoising-ae", (1, 28, 28), corruption=corruption, corruption_level=0.3)
    x = binary_batch(4, (1, 28, 28))
    torch.manual_seed(1)
    terms = model.loss(x, step=0)
    torch.manual_seed(1)
    corrupted, realised = corrupt(x, corruption, 0.3)
    params = model.decode(model.encode(corrupted))
    against_clean = -model.likelihood.log_prob(x, params).mean()
    against_corrupted = -model.likelihood.log_prob(corrupted.clamp(0, 1), params).mean()
    assert torch.allclose(terms["recon"], against_clean)
    assert not torch.allclose(terms["recon"], against_corrupted)
    assert terms["corruption_level"] == realised
    torch.manual_seed(2)
    assert not torch.equal(model.loss(x, step=0)["recon"], terms["recon"])  # drawn afresh, never stored


# --------------------------------------------------------------------------- sparse


@settings(max_examples=50, deadline=None)
@given(
    logits=st.lists(st.floats(-30, 30), min_size=2, max_size=20),
    rho=st.floats(0.01, 0.99),
)
@example(logits=[27.0, 27.0], rho=0.5)  # failed once: 1 − sigmoid(27) loses 4 digits to cancellation
def test_sparsity_kl_is_the_bernoulli_kl_of_rho_from_the_mean_activation(logits, rho):
    # 1 − ρ̂ as the mean of sigmoid(−x), never as 1 − mean(sigmoid(x)), which cancels
    # catastrophically at saturated units (the implementation works in log space and does not)
    pre = torch.tensor(logits, dtype=torch.float64).view(-1, 1)
    rho_hat, one_minus_rho_hat = torch.sigmoid(pre).mean().item(), torch.sigmoid(-pre).mean().item()
    expected = rho * math.log(rho / rho_hat) + (1 - rho) * math.log((1 - rho) / one_minus_rho_hat)
    value = sparsity_kl(pre, rho)
    assert value.item() == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert value.item() >= -1e-12


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("logit", [-200.0, -40.0, 27.0, 40.0, 200.0])
def test_sparsity_kl_of_saturated_units_is_the_closed_form(logit, dtype):
    # every unit at the same logit L: ρ̂ = σ(L), log ρ̂ = −softplus(−L), log(1 − ρ̂) = −softplus(L),
    # so KL(ρ ‖ ρ̂) = ρ (log ρ + softplus(−L)) + (1 − ρ) (log(1 − ρ) + softplus(L)), linear in |L|
    rho = 0.05

    def softplus(t):
        return max(t, 0.0) + math.log1p(math.exp(-abs(t)))

    expected = rho * (math.log(rho) + softplus(-logit)) + (1 - rho) * (math.log(1 - rho) + softplus(logit))
    value = sparsity_kl(torch.full((6, 2), logit, dtype=dtype), rho)
    assert value.dtype == dtype
    assert value.item() == pytest.approx(2 * expected, rel=1e-6 if dtype == torch.float32 else 1e-12)


def test_sparsity_kl_is_zero_when_every_unit_averages_rho_and_finite_when_units_saturate():
    rho = 0.05
    pre = torch.full((4, 3), math.log(rho / (1 - rho)))
    assert sparsity_kl(pre, rho).item() == pytest.approx(0.0, abs=1e-6)
    saturated = torch.full((4, 3), 200.0, requires_grad=True)
    value = sparsity_kl(saturated, rho)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(saturated.grad).all()


def test_training_moves_the_mean_activations_toward_rho():
    torch.manual_seed(0)
    model = with_tiny_nets(build_model("sparse-ae", (1, 8, 8), latent_dim=16, rho=0.05, beta=10.0))
    data = binary_batch(256, (1, 8, 8))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for step in range(100):
        terms = model.loss(data[torch.randint(0, 256, (32,))], step)
        optimizer.zero_grad()
        terms["loss"].backward()
        optimizer.step()
        first = terms if first is None else first
    with torch.no_grad():
        activations = model.encode(data).mean(0)
    assert abs(first["mean_activation"].item() - 0.5) < 0.1
    assert (activations - 0.05).abs().max().item() < 0.03
    assert terms["sparsity"].item() < 0.05 * first["sparsity"].item()


# --------------------------------------------------------------------------- k-sparse


@pytest.mark.parametrize("k", [1, 3, 10])
def test_the_training_code_has_exactly_k_nonzero_units_per_example_the_largest(k):
    code = torch.randn(16, 10)
    sparse = keep_top_k(code, k)
    assert ((sparse != 0).sum(1) == k).all()
    kept = sparse != 0
    assert torch.equal(sparse[kept], code[kept])
    largest_dropped = code.masked_fill(kept, -math.inf).max(1).values
    assert (largest_dropped <= code.masked_fill(~kept, math.inf).min(1).values).all()


def test_the_k_sparse_model_trains_on_k_units_and_encodes_with_alpha_k():
    torch.manual_seed(0)
    model = build_model("k-sparse-ae", (1, 28, 28), k=3, alpha=2.0)
    x = binary_batch(5, (1, 28, 28))
    seen = {}
    model.decoder.register_forward_hook(lambda module, inputs, output: seen.update(code=inputs[0]))
    model.loss(x, step=0)
    assert ((seen["code"] != 0).sum(1) == 3).all()
    assert ((model.encode(x) != 0).sum(1) == 6).all()
    assert ((build_model("k-sparse-ae", (1, 28, 28), k=6, alpha=3.0).encode(x) != 0).sum(1) == 10).all()


def test_no_gradient_reaches_the_suppressed_units():
    torch.manual_seed(0)
    model = build_model("k-sparse-ae", (1, 28, 28), k=3)
    x = binary_batch(4, (1, 28, 28))
    pre = model.code_layer(model.features(x))
    pre.retain_grad()
    recon = model.recon(x, keep_top_k(pre, 3))
    recon.backward()
    kept = keep_top_k(pre, 3) != 0
    assert (pre.grad[~kept] == 0).all()
    assert (pre.grad[kept] != 0).all()

    model.zero_grad()
    single = x[:1]
    model.loss(single, step=0)["loss"].backward()
    suppressed = keep_top_k(model.code_layer(model.features(single)), 3)[0] == 0
    assert (model.code_layer.weight.grad[suppressed] == 0).all()
    assert (model.code_layer.bias.grad[suppressed] == 0).all()
    assert (model.code_layer.weight.grad[~suppressed].abs().sum(1) > 0).all()


def test_k_schedule_falls_linearly_from_k_start_to_k_then_stays():
    assert [k_schedule(step, 2, 10, 8) for step in (0, 1, 2, 4, 6, 8, 100)] == [10, 9, 8, 6, 4, 2, 2]
    assert [k_schedule(step, 4, None, 0) for step in (0, 50)] == [4, 4]


@settings(max_examples=50, deadline=None)
@given(k=st.integers(1, 50), extra=st.integers(0, 50), steps=st.integers(1, 1000), step=st.integers(0, 2000))
def test_k_schedule_never_increases_and_stays_between_k_and_k_start(k, extra, steps, step):
    k_start = k + extra
    value = k_schedule(step, k, k_start, steps)
    assert k <= value <= k_start
    assert k_schedule(step + 1, k, k_start, steps) <= value
    assert k_schedule(0, k, k_start, steps) == k_start and k_schedule(steps, k, k_start, steps) == k


def test_the_k_sparse_loss_uses_and_logs_the_scheduled_k():
    torch.manual_seed(0)
    model = build_model("k-sparse-ae", (1, 28, 28), k=2, k_start=10, k_anneal_steps=8)
    x = binary_batch(2, (1, 28, 28))
    seen = {}
    model.decoder.register_forward_hook(lambda module, inputs, output: seen.update(code=inputs[0]))
    for step, k in [(0, 10), (4, 6), (8, 2)]:
        assert model.loss(x, step)["k"].item() == k
        assert ((seen["code"] != 0).sum(1) == k).all()


# --------------------------------------------------------------------------- contractive


def test_closed_form_penalty_is_the_squared_frobenius_norm_of_the_jacobian_wrt_the_code_layer_input():
    torch.manual_seed(0)
    model = build_model("contractive-ae", (1, 28, 28), lam=0.5).double()
    x = binary_batch(3, (1, 28, 28)).double()
    features = model.features(x).detach()
    norms = [
        torch.autograd.functional.jacobian(model.code, features[n]).square().sum() for n in range(3)
    ]
    terms = model.loss(x, step=0)
    assert terms["contraction"].item() == pytest.approx(torch.stack(norms).mean().item(), rel=1e-10)
    assert terms["loss"].item() == pytest.approx(terms["recon"].item() + 0.5 * terms["contraction"].item())


def test_autograd_penalty_is_the_squared_frobenius_norm_of_the_jacobian_wrt_the_pixels():
    torch.manual_seed(0)
    model = build_model("contractive-ae", (1, 28, 28), jacobian="autograd").double()
    x = torch.rand(3, 1, 28, 28, dtype=torch.float64)
    norms = [
        torch.autograd.functional.jacobian(lambda image: model.encode(image[None])[0], x[n]).square().sum()
        for n in range(3)
    ]
    terms = model.loss(x, step=0)
    assert terms["contraction"].item() == pytest.approx(torch.stack(norms).mean().item(), rel=1e-10)
    terms["contraction"].backward()
    first_layer = next(model.encoder.parameters())
    assert first_layer.grad is not None and first_layer.grad.abs().sum() > 0
    assert x.grad is None
    with torch.no_grad():
        assert model.loss(x, step=0)["contraction"].item() == pytest.approx(terms["contraction"].item())
