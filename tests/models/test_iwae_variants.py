import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.errors import InputError
from disentangle.models import build_model
from disentangle.models.iwae import importance_weighted_bound
from disentangle.train.loop import _apply_gradients

SHAPE = (1, 8, 8)


def _model(name: str, **settings):
    torch.manual_seed(0)
    return build_model(name, SHAPE, **settings)


def _pair(name: str, twin_name: str, this: dict, other: dict):
    """Model ``name`` (settings ``this``) and model ``twin_name`` (settings ``other``) with equal weights."""
    model = _model(name, **this)
    twin = build_model(twin_name, SHAPE, **other)
    twin.load_state_dict(model.state_dict())
    return model, twin


def _x(batch: int = 6) -> torch.Tensor:
    """A fixed batch of binary images."""
    return (torch.rand(batch, *SHAPE, generator=torch.Generator().manual_seed(3)) > 0.5).float()


def _terms(model, x, seed: int = 1) -> dict:
    torch.manual_seed(seed)
    return model.loss(x, 0)


def _hand_log_weights(model, x, samples: int, seed: int = 1) -> torch.Tensor:
    """log w ``(N, samples)`` with torch.distributions, from the noise the model draws after the same seed."""
    torch.manual_seed(seed)
    mean, logvar = model.posterior(x)
    noise = torch.randn(mean.shape[0], samples, mean.shape[1])
    std = (0.5 * logvar).exp()[:, None]
    z = mean[:, None] + std * noise
    q = torch.distributions.Normal(mean[:, None], std)
    p = torch.distributions.Normal(torch.zeros_like(z), torch.ones_like(z))
    logits = model.decode(z.flatten(0, 1)).view(len(x), samples, -1)
    log_px = torch.distributions.Bernoulli(logits=logits).log_prob(x.flatten(1)[:, None]).sum(-1)
    return log_px + p.log_prob(z).sum(-1) - q.log_prob(z).sum(-1)


def test_miwae_with_one_estimate_is_the_iwae_bit_for_bit():
    miwae, iwae = _pair("miwae", "iwae", this=dict(num_estimates=1, num_samples=7), other=dict(num_samples=7))
    x = _x()
    a, b = _terms(miwae, x), _terms(iwae, x)
    assert torch.equal(a["miwae_bound"], b["iwae_bound"]) and torch.equal(a["loss"], b["loss"])
    assert all(torch.equal(a[key], b[key]) for key in ("recon", "kl", "kl_per_dim", "elbo"))


def test_miwae_with_one_sample_per_estimate_is_the_elbo_of_its_draws():
    miwae = _model("miwae", num_estimates=4, num_samples=1)
    x = _x()
    terms = _terms(miwae, x)
    hand = _hand_log_weights(miwae, x, 4).mean()
    assert torch.allclose(terms["miwae_bound"], hand, atol=1e-3)
    assert torch.equal(terms["miwae_bound"], terms["elbo"])


def test_miwae_averages_m_iwae_bounds_of_k_consecutive_draws_as_worked_by_hand():
    miwae = _model("miwae", num_estimates=3, num_samples=4)
    x = _x(5)
    terms = _terms(miwae, x)
    log_w = _hand_log_weights(miwae, x, 12).detach().double().numpy().reshape(5, 3, 4)
    peak = log_w.max(axis=2, keepdims=True)
    by_hand = (peak[..., 0] + np.log(np.exp(log_w - peak).mean(axis=2))).mean()
    assert terms["miwae_bound"].item() == pytest.approx(by_hand, abs=1e-3)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 6), st.floats(0.1, 30), st.integers(0, 2**31 - 1))
def test_the_elbo_the_miwae_and_the_iwae_of_the_same_draws_are_ordered(batch, estimates, samples, spread, seed):
    """Jensen: mean log w ≤ (1/M) Σ_m log mean_k w ≤ log mean_{m,k} w, with equality at M = 1 or K = 1."""
    log_w = torch.randn(batch, estimates, samples, generator=torch.Generator().manual_seed(seed),
                        dtype=torch.float64) * spread - 100
    elbo = log_w.mean()
    miwae = importance_weighted_bound(log_w).mean()
    iwae = importance_weighted_bound(log_w.flatten(1)).mean()
    assert elbo <= miwae + 1e-9 and miwae <= iwae + 1e-9
    if samples == 1:
        assert miwae.item() == pytest.approx(elbo.item(), abs=1e-9)
    if estimates == 1:
        assert miwae.item() == pytest.approx(iwae.item(), abs=1e-9)


@pytest.mark.parametrize("beta, bound", [(1.0, "elbo"), (0.0, "iwae_bound")])
def test_ciwae_at_the_ends_of_beta_is_the_elbo_or_the_iwae_bound(beta, bound):
    ciwae, iwae = _pair("ciwae", "iwae", this=dict(beta=beta, num_samples=6), other=dict(num_samples=6))
    x = _x()
    a, b = _terms(ciwae, x), _terms(iwae, x)
    assert torch.equal(a["ciwae_bound"], b[bound]) and torch.equal(a["loss"], -b[bound])
    assert torch.equal(a["iwae_bound"], b["iwae_bound"]) and torch.equal(a["elbo"], b["elbo"])


def test_ciwae_between_the_ends_is_the_convex_combination_of_the_two_bounds_worked_by_hand():
    ciwae = _model("ciwae", beta=0.3, num_samples=5)
    x = _x()
    terms = _terms(ciwae, x)
    log_w = _hand_log_weights(ciwae, x, 5).double()
    by_hand = (0.3 * log_w.mean(1) + 0.7 * (torch.logsumexp(log_w, 1) - math.log(5))).mean()
    assert terms["ciwae_bound"].item() == pytest.approx(by_hand.item(), abs=1e-3)


def test_piwae_players_split_the_nets_and_each_gradient_comes_from_its_own_bound(small_mlp):
    """The encoder's gradient is that of −MIWAE(M, K) (a MIWAE with the same weights and draws)
    and the decoder's that of −IWAE_{M·K} (an IWAE of M·K samples, the same draws)."""
    settings = dict(num_estimates=2, num_samples=3, latent_dim=3, architecture=small_mlp)
    piwae, miwae = _pair("piwae", "miwae", this=settings, other=settings)
    iwae = build_model("iwae", SHAPE, num_samples=6, latent_dim=3, architecture=small_mlp)
    iwae.load_state_dict(piwae.state_dict())
    x = _x(4)
    encoder, decoder = piwae.players()
    assert {id(p) for p in encoder.parameters} == {id(p) for p in piwae.encoder.parameters()}
    assert {id(p) for p in decoder.parameters} == {id(p) for p in piwae.decoder.parameters()}
    terms = _terms(piwae, x)
    got_encoder = torch.autograd.grad(terms[encoder.loss_key], encoder.parameters, retain_graph=True)
    got_decoder = torch.autograd.grad(terms[decoder.loss_key], decoder.parameters)
    want_encoder = torch.autograd.grad(_terms(miwae, x)["loss"], tuple(miwae.encoder.parameters()))
    want_decoder = torch.autograd.grad(_terms(iwae, x)["loss"], tuple(iwae.decoder.parameters()))
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(got_encoder, want_encoder))
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(got_decoder, want_decoder))
    # the decoder's bound does reach the encoder: a loop that summed both would step otherwise
    other = torch.autograd.grad(_terms(iwae, x)["loss"], tuple(iwae.encoder.parameters()))
    assert max((a - b).abs().max() for a, b in zip(other, want_encoder)) > 1e-3


def test_a_training_step_moves_the_encoder_by_the_miwae_gradient_and_the_decoder_by_the_iwae_one(small_mlp):
    settings = dict(num_estimates=2, num_samples=3, latent_dim=3, architecture=small_mlp)
    piwae, miwae = _pair("piwae", "miwae", this=settings, other=settings)
    iwae = build_model("iwae", SHAPE, num_samples=6, latent_dim=3, architecture=small_mlp)
    iwae.load_state_dict(piwae.state_dict())
    x = _x(4)
    want_encoder = torch.autograd.grad(_terms(miwae, x)["loss"], tuple(miwae.encoder.parameters()))
    want_decoder = torch.autograd.grad(_terms(iwae, x)["loss"], tuple(iwae.decoder.parameters()))
    before = {name: value.clone() for name, value in piwae.state_dict().items()}
    players = piwae.players()
    optimizers = {p.name: torch.optim.SGD(p.parameters, lr=1.0) for p in players}
    _apply_gradients(_terms(piwae, x), players, optimizers)
    for prefix, net, want in (("encoder", piwae.encoder, want_encoder), ("decoder", piwae.decoder, want_decoder)):
        for (name, value), grad in zip(net.named_parameters(), want):
            assert torch.allclose(before[f"{prefix}.{name}"] - value.detach(), grad, atol=1e-6), name


@pytest.mark.parametrize("name, settings, option", [
    ("miwae", {"num_estimates": 0}, "--num-estimates"),
    ("piwae", {"num_estimates": 1.5}, "--num-estimates"),
    ("miwae", {"num_samples": 0}, "--num-samples"),
    ("ciwae", {"beta": 1.5}, "--beta"),
    ("ciwae", {"beta": -0.1}, "--beta"),
])
def test_bad_settings_are_rejected_naming_the_option(name, settings, option):
    with pytest.raises(InputError, match=option):
        build_model(name, SHAPE, **settings)


def test_the_defaults_are_pythae_s():
    miwae, ciwae, piwae = (build_model(name, SHAPE).config for name in ("miwae", "ciwae", "piwae"))
    assert (miwae.num_estimates, miwae.num_samples) == (piwae.num_estimates, piwae.num_samples) == (5, 10)
    assert (ciwae.num_samples, ciwae.beta) == (10, 0.5)
