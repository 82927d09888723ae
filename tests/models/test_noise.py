"""The sampling noise of a packed group: outside vmap torch's global stream, bit for bit;
under vmap each model's slice from its own generator, as its run alone would draw it."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import vmap

from disentangle.models.gaussian import reparameterize
from disentangle.models.noise import model_streams, standard_normal_like


def _generator_at(seed: int, draws: int = 0) -> torch.Generator:
    """A CPU generator seeded with ``seed`` after ``draws`` unrelated normal draws."""
    generator = torch.Generator().manual_seed(seed)
    torch.randn(draws, generator=generator)
    return generator


def test_outside_vmap_it_is_randn_like_from_the_global_stream():
    like = torch.zeros(5, 3)
    torch.manual_seed(4)
    expected = torch.randn_like(like)
    torch.manual_seed(4)
    assert torch.equal(standard_normal_like(like), expected)


def test_a_generator_in_the_global_streams_state_draws_what_randn_like_draws():
    torch.manual_seed(11)
    torch.randn(17)  # any position in the stream
    generator = torch.Generator()
    generator.set_state(torch.get_rng_state())
    expected = torch.randn_like(torch.zeros(64, 10))
    assert torch.equal(torch.randn((64, 10), generator=generator), expected)


@settings(max_examples=30, deadline=None)
@given(
    models=st.integers(1, 4),
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    seeds=st.lists(st.integers(0, 2**32 - 1), min_size=4, max_size=4),
    draws=st.integers(0, 20),
)
def test_under_vmap_model_k_draws_from_generator_k(models, shape, seeds, draws):
    streams = [_generator_at(seed, draws) for seed in seeds[:models]]
    expected = torch.stack([torch.randn(shape, generator=_generator_at(seed, draws)) for seed in seeds[:models]])
    with model_streams(streams):
        noise = vmap(standard_normal_like)(torch.zeros(models, *shape))
    assert torch.equal(noise, expected)
    follow = torch.stack([torch.randn(2, generator=stream) for stream in streams])
    reference = [_generator_at(seed, draws) for seed in seeds[:models]]
    for generator in reference:
        torch.randn(shape, generator=generator)
    assert torch.equal(follow, torch.stack([torch.randn(2, generator=g) for g in reference]))


def test_outside_vmap_within_one_models_stream_it_draws_from_that_stream():
    torch.manual_seed(0)
    global_state = torch.get_rng_state()
    with model_streams([_generator_at(5, 3)]):
        noise = standard_normal_like(torch.zeros(4, 2))
    assert torch.equal(noise, torch.randn((4, 2), generator=_generator_at(5, 3)))
    assert torch.equal(torch.get_rng_state(), global_state)


def test_under_vmap_without_one_generator_per_model_it_refuses():
    with pytest.raises(RuntimeError, match=r"needs one generator per model .* got none"):
        vmap(standard_normal_like)(torch.zeros(2, 3))
    with model_streams([torch.Generator()]), pytest.raises(RuntimeError, match=r"got 1$"):
        vmap(standard_normal_like)(torch.zeros(2, 3))


def test_the_reparameterised_sample_carries_gradients_to_mean_and_log_variance_under_vmap():
    mean = torch.zeros(2, 4, 3, requires_grad=True)
    logvar = torch.zeros(2, 4, 3, requires_grad=True)
    with model_streams([_generator_at(0), _generator_at(1)]):
        z = vmap(reparameterize)(mean, logvar)
    z.sum().backward()
    noise = torch.stack([torch.randn(4, 3, generator=_generator_at(seed)) for seed in (0, 1)])
    assert torch.equal(z.detach(), noise)
    assert torch.equal(mean.grad, torch.ones_like(mean))
    assert torch.allclose(logvar.grad, 0.5 * noise)
