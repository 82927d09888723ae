"""The adversarial autoencoder: the discriminator's and the generator's terms on fixed
logits by hand, the non-saturating generator term, and how the model's players split
the gradients."""

from __future__ import annotations

import math

import pytest
import torch

from disentangle.errors import InputError
from disentangle.models import build_model
from disentangle.models.aae import discriminator_accuracy, discriminator_loss, generator_loss


def _log_sigmoid(value: float) -> float:
    return math.log(1 / (1 + math.exp(-value)))


def test_the_discriminator_loss_on_fixed_logits_is_the_hand_computed_cross_entropy():
    prior, codes = [0.0, 2.0, -1.0], [-1.0, 0.5]
    expected = (-sum(_log_sigmoid(v) for v in prior) / 3
                - sum(math.log(1 - math.exp(_log_sigmoid(v))) for v in codes) / 2)
    value = discriminator_loss(torch.tensor(prior, dtype=torch.float64), torch.tensor(codes, dtype=torch.float64))
    assert value.item() == pytest.approx(expected, rel=1e-12)
    assert discriminator_loss(torch.zeros(4), torch.zeros(4)).item() == pytest.approx(2 * math.log(2), rel=1e-6)
    assert discriminator_accuracy(torch.tensor(prior), torch.tensor(codes)).item() == pytest.approx(
        0.5 * (1 / 3 + 1 / 2))


def test_the_generator_term_is_the_non_saturating_minus_log_d_of_the_codes():
    """−mean log σ(l): where the discriminator is sure the codes are fake (l = −10) its
    gradient is still about −1/N per code, whereas the minimax mean log(1 − σ(l)) would
    give about −σ(−10)/N ≈ −4.5e-5/N."""
    logits = torch.tensor([-10.0, 0.0, 3.0], dtype=torch.float64, requires_grad=True)
    value = generator_loss(logits)
    assert value.item() == pytest.approx(-sum(_log_sigmoid(v) for v in (-10.0, 0.0, 3.0)) / 3, rel=1e-12)
    (gradient,) = torch.autograd.grad(value, logits)
    assert gradient[0].item() == pytest.approx(-(1 - math.exp(_log_sigmoid(-10.0))) / 3, rel=1e-12)
    minimax = torch.log1p(-torch.sigmoid(logits)).mean()
    (minimax_gradient,) = torch.autograd.grad(minimax, logits)
    assert abs(gradient[0].item()) > 1e4 * abs(minimax_gradient[0].item())


@pytest.mark.parametrize("name", ["aae", "aae-deterministic"])
def test_the_model_s_terms_are_recon_plus_half_the_generator_term_and_the_discriminator_sees_detached_codes(name):
    torch.manual_seed(0)
    model = build_model(name, (1, 16, 16), latent_dim=3, architecture="mlp")
    x = (torch.rand(6, 1, 16, 16) < 0.4).float()
    torch.manual_seed(5)
    terms = model.loss(x, 0)
    torch.manual_seed(5)
    z = model.sample_code(x)
    prior = torch.randn_like(z)
    assert terms["adversarial"].item() == pytest.approx(generator_loss(model.discriminator(z).squeeze(1)).item(),
                                                        rel=1e-5)
    expected = discriminator_loss(model.discriminator(prior).squeeze(1), model.discriminator(z).squeeze(1))
    assert terms["loss_discriminator"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert terms["loss"].item() == pytest.approx(terms["recon"].item() + 0.5 * terms["adversarial"].item(), rel=1e-6)

    encoder = list(model.encoder.parameters())
    from_discriminator = torch.autograd.grad(terms["loss_discriminator"], encoder, allow_unused=True,
                                             retain_graph=True)
    assert all(g is None or torch.count_nonzero(g) == 0 for g in from_discriminator)
    model_player, discriminator_player = model.players()
    assert {id(p) for p in model_player.parameters} == {id(p) for p in [*encoder, *model.decoder.parameters()]}
    assert {id(p) for p in discriminator_player.parameters} == {id(p) for p in model.discriminator.parameters()}
    assert discriminator_player.loss_key == "loss_discriminator" and discriminator_player.learning_rate == 1e-4
    assert discriminator_player.betas == (0.9, 0.999)


def test_the_discriminator_is_pythae_s_one_hidden_layer_of_256_relu_units():
    model = build_model("aae", (1, 16, 16), latent_dim=4, architecture="mlp")
    layers = [layer for layer in model.discriminator.net]
    assert [type(layer).__name__ for layer in layers] == ["Linear", "LeakyReLU", "Linear"]
    assert layers[0].in_features == 4 and layers[0].out_features == 256 and layers[1].negative_slope == 0
    assert layers[2].out_features == 1


def test_the_gaussian_encoder_samples_around_its_mean_and_the_deterministic_one_does_not():
    torch.manual_seed(0)
    x = torch.rand(4, 1, 16, 16)
    gaussian = build_model("aae", (1, 16, 16), latent_dim=3, architecture="mlp")
    mean, logvar = gaussian.posterior(x)
    assert torch.equal(gaussian.encode(x), mean) and not torch.equal(gaussian.sample_code(x), mean)
    deterministic = build_model("aae-deterministic", (1, 16, 16), latent_dim=3, architecture="mlp")
    assert torch.equal(deterministic.sample_code(x), deterministic.encode(x))
    with pytest.raises(NotImplementedError):
        deterministic.posterior(x)


def test_bad_settings_name_the_option():
    for bad, option in [({"adversarial_weight": 1.5}, "--adversarial-weight"),
                        ({"adversarial_weight": -0.1}, "--adversarial-weight"),
                        ({"discriminator_learning_rate": 0.0}, "--discriminator-learning-rate")]:
        with pytest.raises(InputError, match=f"^{option}:"):
            build_model("aae", (1, 16, 16), **bad)
