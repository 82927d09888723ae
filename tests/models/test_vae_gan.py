import math

import pytest
import torch

from disentangle.errors import InputError, TrainingDiverged
from disentangle.models import build_model
from disentangle.models.vae_gan import VAEGAN
from disentangle.train import TrainConfig, load_run, train
from disentangle.train.loop import _apply_gradients, _optimizers

SHAPE = (1, 8, 8)


def test_the_three_losses_are_reported_separately_and_each_optimizer_changes_only_its_own_parameters():
    torch.manual_seed(0)
    model = build_model("vae-gan", SHAPE, gamma=0.5)
    x = (torch.rand(8, *SHAPE) > 0.5).float()
    terms = model.loss(x, 0)
    assert torch.allclose(terms["loss"], terms["kl"] + terms["llike"])
    assert torch.allclose(terms["loss_decoder"], 0.5 * terms["llike"] - terms["gan"])
    assert torch.allclose(terms["loss_discriminator"], terms["gan"])

    players = model.players()
    assert [(p.name, p.loss_key) for p in players] == [
        ("encoder", "loss"), ("decoder", "loss_decoder"), ("discriminator", "loss_discriminator")
    ]
    owned = [id(q) for p in players for q in p.parameters]
    assert len(owned) == len(set(owned)) and set(owned) == {id(q) for q in model.parameters()}

    expected = [torch.autograd.grad(terms[p.loss_key], p.parameters, retain_graph=True) for p in players]
    before = [[q.detach().clone() for q in p.parameters] for p in players]
    names = ["optimizer_encoder", "optimizer_decoder", "optimizer_discriminator"]
    assert list(_optimizers(model, TrainConfig())) == names
    optimizers = {p.name: torch.optim.SGD(p.parameters, lr=0.1) for p in players}
    _apply_gradients(terms, players, optimizers)
    for player, grads, old in zip(players, expected, before):
        for parameter, grad, value in zip(player.parameters, grads, old):
            assert torch.allclose(parameter, value - 0.1 * grad)


def test_llike_is_the_gaussian_negative_log_likelihood_of_the_real_features_around_the_reconstructed_ones():
    torch.manual_seed(0)
    model = build_model("vae-gan", SHAPE)
    x = torch.rand(5, *SHAPE)
    torch.manual_seed(1)
    terms = model.loss(x, 0)
    torch.manual_seed(1)
    mean, logvar = model.posterior(x)
    z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
    f_x = model.discriminator(x)[0]
    f_tilde = model.discriminator(model.likelihood.mean(model.decode(z)))[0]
    constant = 0.5 * f_x.shape[1] * math.log(2 * math.pi)
    expected = -torch.distributions.Normal(f_tilde, 1.0).log_prob(f_x).sum(1).mean() - constant
    assert torch.allclose(terms["llike"], expected, rtol=1e-4, atol=1e-4)


def test_a_diverging_player_stops_training_naming_player_and_step_and_the_last_checkpoint_loads(
    tmp_path, monkeypatch
):
    original = VAEGAN.loss

    def poisoned(self, x, step):
        terms = original(self, x, step)
        if step >= 4:
            terms["loss_discriminator"] = terms["loss_discriminator"] * float("nan")
        return terms

    monkeypatch.setattr(VAEGAN, "loss", poisoned)
    pattern = r"step 5: discriminator loss term 'loss_discriminator' is nan .*step-00000003"
    with pytest.raises(TrainingDiverged, match=pattern):
        train(tmp_path / "run", "vae-gan", "dsprites", steps=8, batch_size=4, checkpoint_every=3,
              progress=False)
    monkeypatch.setattr(VAEGAN, "loss", original)
    loaded = load_run(tmp_path / "run")
    assert loaded.step == 3
    assert all(torch.isfinite(p).all() for p in loaded.model.parameters())


@pytest.mark.parametrize("option, value", [("gamma", 0.0), ("discriminator_learning_rate", -1e-4)])
def test_bad_hyperparameters_are_rejected_naming_the_option(option, value):
    with pytest.raises(InputError, match=f"--{option.replace('_', '-')}"):
        build_model("vae-gan", SHAPE, **{option: value})
