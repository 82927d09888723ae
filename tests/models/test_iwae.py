import math

import pytest
import torch

from disentangle.errors import InputError
from disentangle.models import build_model

SHAPE = (1, 8, 8)


def test_with_one_sample_the_bound_equals_the_elbo_for_the_same_noise():
    torch.manual_seed(0)
    model = build_model("iwae", SHAPE, num_samples=1)
    x = (torch.rand(6, *SHAPE) > 0.5).float()
    torch.manual_seed(1)
    terms = model.loss(x, 0)

    torch.manual_seed(1)
    mean, logvar = model.posterior(x)
    z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
    q = torch.distributions.Normal(mean, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(z), torch.ones_like(z))
    log_px = model.likelihood.log_prob(x, model.decode(z))
    elbo = (log_px + p.log_prob(z).sum(1) - q.log_prob(z).sum(1)).mean()
    assert torch.allclose(terms["iwae_bound"], elbo, atol=1e-4)
    assert torch.allclose(terms["iwae_bound"], terms["elbo"])
    assert torch.allclose(terms["loss"], -elbo, atol=1e-4)


def test_the_bound_does_not_decrease_with_k_on_average_over_many_repetitions():
    torch.manual_seed(0)
    model = build_model("iwae", SHAPE)
    x = (torch.rand(4, *SHAPE) > 0.5).float()
    # a broad q(z|x) = N(0, 2²) far from the posterior, so the bounds differ by nats
    mean, logvar = torch.zeros(4, 10), torch.full((4, 10), math.log(4.0))
    with torch.no_grad():
        log_w, _ = model.log_weights(x, mean, logvar, torch.randn(4, 1600, 10))
    bounds = [
        (torch.logsumexp(log_w.view(4, -1, k), 2) - math.log(k)).mean().item() for k in (1, 4, 16, 100)
    ]
    assert bounds == sorted(bounds)
    assert bounds[-1] - bounds[0] > 1.0


def test_more_samples_give_a_bound_no_looser_than_the_elbo_in_training():
    torch.manual_seed(0)
    model = build_model("iwae", SHAPE, num_samples=20)
    terms = model.loss((torch.rand(8, *SHAPE) > 0.5).float(), 0)
    assert terms["iwae_bound"] >= terms["elbo"]
    assert terms["kl_per_dim"].shape == (10,) and torch.allclose(terms["kl"], terms["kl_per_dim"].sum())


@pytest.mark.parametrize("value", [0, -1, 2.5])
def test_bad_number_of_samples_is_rejected_naming_the_option(value):
    with pytest.raises(InputError, match="--num-samples"):
        build_model("iwae", SHAPE, num_samples=value)
