import math

import pytest
import torch

from disentangle.errors import InputError
from disentangle.models import build_model
from disentangle.train.loop import _apply_gradients

SHAPE = (1, 8, 8)


@pytest.mark.parametrize("shape", [SHAPE, (3, 64, 64)])
def test_generated_images_have_the_datasets_shape_and_range(shape):
    torch.manual_seed(0)
    model = build_model("infogan", shape, categorical_codes=1)
    images = model.sample(5, torch.Generator().manual_seed(0))
    assert images.shape == (5, *shape)
    assert images.min() >= 0 and images.max() <= 1
    assert model.likelihood.mean(model.decode(torch.zeros(2, 10))).shape == (2, *shape)


def test_the_mutual_information_bound_rises_during_a_short_run():
    torch.manual_seed(0)
    model = build_model("infogan", SHAPE, latent_dim=3, categorical_codes=1, noise_dim=8)
    players = model.players()
    optimizers = {p.name: torch.optim.Adam(p.parameters, lr=p.learning_rate, betas=p.betas) for p in players}
    data = (torch.rand(512, *SHAPE) > 0.5).float()
    bounds = []
    for step in range(40):
        terms = model.loss(data[torch.randint(512, (32,))], step)
        _apply_gradients(terms, players, optimizers)
        bounds.append(terms["mi"].item())
    assert sum(bounds[-5:]) / 5 > sum(bounds[:5]) / 5 + 0.2


def test_encode_is_the_q_heads_continuous_mean_and_decode_fixes_the_noise_to_zero():
    torch.manual_seed(0)
    model = build_model("infogan", SHAPE, latent_dim=4, categorical_codes=2, categories=3, q_std="learned")
    x = torch.rand(6, *SHAPE)
    q_head = model.discriminator(x)[1]["q"]
    assert q_head.shape == (6, 4 + 4 + 2 * 3)
    assert torch.equal(model.encode(x), q_head[:, :4])
    c = torch.rand(6, 4)
    uniform = torch.full((6, 2, 3), 1 / 3)
    assert torch.equal(model.decode(c), model.generate(c, uniform, torch.zeros(6, model.config.noise_dim)))


def test_the_generator_player_holds_g_and_the_q_head_and_the_discriminator_the_body_and_d_head():
    model = build_model("infogan", SHAPE)
    generator, discriminator = model.players()
    d = model.discriminator
    assert {id(p) for p in generator.parameters} == {
        id(p) for p in (*model.generator.parameters(), *d.heads["q"].parameters())
    }
    assert {id(p) for p in discriminator.parameters} == {
        id(p) for p in (*d.body.parameters(), *d.heads["logit"].parameters())
    }
    assert (generator.loss_key, discriminator.loss_key) == ("loss", "loss_discriminator")
    assert (generator.learning_rate, discriminator.learning_rate) == (1e-3, 2e-4)


def test_the_bound_of_a_perfect_q_is_the_entropy_of_the_categorical_codes_minus_the_gaussian_constant():
    model = build_model("infogan", SHAPE, latent_dim=2, categorical_codes=1, categories=4)
    c, categorical = torch.rand(3, 2) * 2 - 1, torch.tensor([[0], [3], [1]])
    q_head = torch.cat([c, 1e4 * torch.nn.functional.one_hot(categorical[:, 0], 4).float()], dim=1)
    expected = 2 * (math.log(2) - 0.5 * math.log(2 * math.pi)) + math.log(4)
    assert torch.isclose(model.mutual_information(q_head, c, categorical), torch.tensor(expected))


@pytest.mark.parametrize(
    "option, value",
    [("noise_dim", -1), ("categorical_codes", -2), ("categories", 1), ("lam", -0.5), ("q_std", "free"),
     ("generator_learning_rate", 0.0), ("discriminator_learning_rate", 0.0)],
)
def test_bad_hyperparameters_are_rejected_naming_the_option(option, value):
    with pytest.raises(InputError, match=f"--{option.replace('_', '-')}"):
        build_model("infogan", SHAPE, **{option: value})
