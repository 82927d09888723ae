import math

import pytest
import torch

from disentangle.errors import InputError
from disentangle.models import build_model, model_config
from disentangle.models.avb import AVB
from disentangle.nets.adversarial import FEATURES, PairDiscriminator
from disentangle.nets.mlp import MLPEncoder

SHAPE = (1, 4, 4)
STD = 0.5


class GaussianEncoderAVB(AVB):
    """AVB with a fixed Gaussian q(z|x) = N(x W, 0.5² I), whose log q(z|x) − log p(z) is
    known, and nets small enough to train the adversary in a second."""

    def __init__(self, weight):
        super().__init__(model_config("avb", latent_dim=2, architecture="mlp"), SHAPE)
        self.weight = weight
        self.decoder = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Unflatten(1, SHAPE))
        self.adversary = PairDiscriminator(MLPEncoder(SHAPE, FEATURES, hidden=64), 2)

    def posterior_mean(self, x):
        return x.flatten(1) @ self.weight

    def posterior_sample(self, x):
        mean = self.posterior_mean(x)
        return mean + STD * torch.randn_like(mean)

    def log_ratio(self, x, z):
        """log q(z|x) − log p(z), analytically."""
        return (-(z - self.posterior_mean(x)).square() / (2 * STD**2) - math.log(STD) + z.square() / 2).sum(1)


def _binary(num):
    return (torch.rand(num, *SHAPE) > 0.5).float()


def test_the_trained_adversary_approaches_the_log_density_ratio_of_a_gaussian_encoder():
    torch.manual_seed(0)
    model = GaussianEncoderAVB(0.7 * torch.randn(16, 2))
    optimizer = torch.optim.Adam(model.adversary.parameters(), lr=3e-3)
    for step in range(400):
        loss = model.loss(_binary(64), step)["loss_adversary"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        x = _binary(1000)
        z = torch.cat([model.posterior_sample(x[:500]), torch.randn(500, 2)])
        pairs = torch.stack([model.adversary(x, z), model.log_ratio(x, z)])
    assert torch.corrcoef(pairs)[0, 1] > 0.9


def test_the_encoder_is_implicit_and_encode_is_the_noise_free_encoding():
    torch.manual_seed(0)
    model = build_model("avb", (1, 8, 8), noise_channels=2)
    x = torch.rand(4, 1, 8, 8)
    assert not torch.allclose(model.posterior_sample(x), model.posterior_sample(x))
    assert torch.equal(model.encode(x), model.implicit_encoder(x, torch.zeros(4, 2, 8, 8)))
    assert torch.equal(model.encode(x), model.encode(x)) and model.encode(x).shape == (4, 10)


def test_the_models_loss_reaches_the_encoder_through_the_adversary_but_trains_only_encoder_and_decoder():
    torch.manual_seed(0)
    model = build_model("avb", (1, 8, 8))
    terms = model.loss(torch.rand(4, 1, 8, 8), 0)
    assert torch.allclose(terms["loss"], terms["recon"] + terms["kl"])
    model_player, adversary = model.players()
    assert (model_player.name, adversary.name, adversary.loss_key) == ("model", "adversary", "loss_adversary")
    assert {id(p) for p in adversary.parameters} == {id(p) for p in model.adversary.parameters()}
    assert {id(p) for p in model_player.parameters} == {
        id(p) for p in (*model.encoder.parameters(), *model.decoder.parameters())
    }
    grads = torch.autograd.grad(terms["kl"], list(model.encoder.parameters()))
    assert all(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("option, value", [("noise_channels", 0), ("adversary_learning_rate", 0.0)])
def test_bad_hyperparameters_are_rejected_naming_the_option(option, value):
    with pytest.raises(InputError, match=f"--{option.replace('_', '-')}"):
        build_model("avb", SHAPE, **{option: value})
