import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.errors import InputError
from disentangle.likelihoods import Bernoulli, Gaussian, get_likelihood


def test_bernoulli_log_prob_matches_hand_computation():
    logits = torch.tensor([[[[0.0, 2.0], [-1.0, 3.0]]]])
    x = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    p = torch.sigmoid(logits)
    by_hand = (x * p.log() + (1 - x) * (1 - p).log()).sum()
    assert torch.allclose(Bernoulli().log_prob(x, logits), by_hand.reshape(1), atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.floats(0.05, 3.0), st.integers(1, 4))
def test_gaussian_log_prob_is_the_normal_density_summed_over_pixels(std, batch):
    generator = torch.Generator().manual_seed(batch)
    params = torch.randn(batch, 1, 3, 3, generator=generator, dtype=torch.float64)
    x = torch.rand(batch, 1, 3, 3, generator=generator, dtype=torch.float64)
    reference = torch.distributions.Normal(torch.sigmoid(params), std).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(Gaussian(std).log_prob(x, params), reference, atol=1e-9)


def test_default_gaussian_data_term_is_the_sum_of_squared_errors():
    params, x = torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)
    constant = 4 * math.log(math.sqrt(math.pi))
    assert Gaussian().log_prob(x, params).item() == pytest.approx(-(4 * 0.25) - constant, rel=1e-6)


def test_unknown_likelihood_and_bad_std_are_rejected():
    with pytest.raises(InputError, match="--likelihood"):
        get_likelihood("poisson")
    with pytest.raises(InputError, match="--gaussian-std"):
        Gaussian(0.0)
