"""FactorVAE: the discriminator's TC estimate, the dimension-wise permutation, the two
players and the second-batch mode."""

from __future__ import annotations

import math

import pytest
import torch

from disentangle.data import InMemoryImages
from disentangle.errors import InputError
from disentangle.models import build_model, factor_vae
from disentangle.models.factor_vae import (
    FactorVAE,
    discriminator_accuracy,
    discriminator_loss,
    permute_dims,
    tc_estimate,
)
from disentangle.nets import CodeDiscriminator
from disentangle.train import TrainConfig, train
from disentangle.train.loop import _apply_gradients, _optimizers


def binary_batch(n: int, shape=(1, 64, 64)) -> torch.Tensor:
    return (torch.rand(n, *shape, generator=torch.Generator().manual_seed(0)) < 0.3).float()


def trained_tc_estimate(correlation: float, dim: int = 4, steps: int = 300) -> tuple[float, float]:
    """(estimate, truth): a discriminator trained alone on z ~ N(0, Σ), Σ = (1 − ρ)I + ρ11ᵀ,
    against its dimension-wise permutation; its TC estimate on fresh codes, and the true
    TC = −½ log det Σ in nats. A smaller net than the paper's keeps the test fast."""
    torch.manual_seed(0)
    sigma = (1 - correlation) * torch.eye(dim) + correlation * torch.ones(dim, dim)
    cholesky = torch.linalg.cholesky(sigma)
    discriminator = CodeDiscriminator(dim, hidden=128, layers=2)
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-3, betas=factor_vae.DISCRIMINATOR_BETAS)
    for _ in range(steps):
        z = torch.randn(256, dim) @ cholesky.T
        loss = discriminator_loss(discriminator(z), discriminator(permute_dims(z)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        estimate = tc_estimate(discriminator(torch.randn(10_000, dim) @ cholesky.T)).item()
    return estimate, -0.5 * torch.logdet(sigma).item()


@pytest.fixture
def one_thread():
    """Small matrices train faster on one thread, above all on a busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_a_trained_discriminator_finds_no_tc_in_independent_codes_and_the_tc_of_correlated_ones(one_thread):
    independent, truth = trained_tc_estimate(0.0)
    assert truth == 0.0 and abs(independent) < 0.1
    correlated, truth = trained_tc_estimate(0.8)
    assert truth == pytest.approx(1.80, abs=0.01)
    assert correlated == pytest.approx(truth, rel=0.25)


def test_permute_dims_permutes_each_column_independently_across_the_batch():
    torch.manual_seed(0)
    rows, dims = 64, 6
    z = torch.arange(rows, dtype=torch.float32)[:, None] + 1000 * torch.arange(dims)[None, :]
    permuted = permute_dims(z)
    assert permuted.shape == z.shape
    orders = (permuted - 1000 * torch.arange(dims)[None, :]).long()  # the source row of every entry
    for j in range(dims):
        assert torch.equal(orders[:, j].sort().values, torch.arange(rows))  # a permutation of column j
        assert not torch.equal(orders[:, j], torch.arange(rows))
    assert len({tuple(orders[:, j].tolist()) for j in range(dims)}) == dims  # no two columns alike


def test_tc_is_the_mean_logit_difference_and_the_discriminator_loss_is_dlibs_cross_entropy():
    logits_real = torch.tensor([[2.0, 0.0], [0.0, 1.0], [40.0, 0.0]])
    logits_permuted = torch.tensor([[0.0, 3.0], [1.0, 0.0]])
    assert tc_estimate(logits_real).item() == pytest.approx((2 - 1 + 40) / 3)
    p_real = [1 / (1 + math.exp(-2)), 1 / (1 + math.exp(1)), 1 - 1e-6]  # the third is clipped
    p_permuted = [1 / (1 + math.exp(-3)), 1 / (1 + math.exp(1))]
    expected = -0.5 * (sum(map(math.log, p_real)) / 3 + sum(map(math.log, p_permuted)) / 2)
    assert discriminator_loss(logits_real, logits_permuted).item() == pytest.approx(expected, rel=1e-5)
    assert discriminator_accuracy(logits_real, logits_permuted).item() == pytest.approx(0.5 * (2 / 3 + 1 / 2))


def test_the_model_loss_is_recon_plus_kl_plus_gamma_times_tc_with_every_term_logged():
    torch.manual_seed(0)
    model = build_model("factor-vae", (1, 64, 64), gamma=35.0)
    assert isinstance(model, FactorVAE)
    terms = model.loss(binary_batch(6), step=0)
    logged = {"loss", "recon", "kl", "kl_per_dim", "tc", "loss_discriminator", "discriminator_accuracy"}
    assert logged <= set(terms)
    assert all(torch.isfinite(value).all() for value in terms.values())
    expected = terms["recon"] + terms["kl"] + 35.0 * terms["tc"]
    assert terms["loss"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_players_are_model_and_discriminator_and_each_optimizer_changes_only_its_own_parameters():
    torch.manual_seed(0)
    model = build_model("factor-vae", (1, 28, 28))
    players = model.players()
    assert [(p.name, p.loss_key) for p in players] == [
        ("model", "loss"), ("discriminator", "loss_discriminator"),
    ]
    vae, discriminator = ({id(q) for q in p.parameters} for p in players)
    assert vae == {id(q) for q in (*model.encoder.parameters(), *model.decoder.parameters())}
    assert discriminator == {id(q) for q in model.discriminator.parameters()}
    assert vae | discriminator == {id(q) for q in model.parameters()}

    adam = _optimizers(model, TrainConfig())["optimizer_discriminator"].param_groups[0]
    assert adam["lr"] == 1e-4 and adam["betas"] == (0.5, 0.9)

    terms = model.loss(binary_batch(8, (1, 28, 28)), step=0)
    # the discriminator's loss sees codes detached from the encoder
    encoder_grads = torch.autograd.grad(terms["loss_discriminator"], tuple(model.encoder.parameters()),
                                        retain_graph=True, allow_unused=True)
    assert all(grad is None for grad in encoder_grads)
    expected = [torch.autograd.grad(terms[p.loss_key], p.parameters, retain_graph=True) for p in players]
    before = [[q.detach().clone() for q in p.parameters] for p in players]
    optimizers = {"optimizer": torch.optim.SGD(players[0].parameters, lr=0.1),
                  "optimizer_discriminator": torch.optim.SGD(players[1].parameters, lr=0.1)}
    _apply_gradients(terms, players, optimizers)
    for player, grads, old in zip(players, expected, before):
        for parameter, grad, value in zip(player.parameters, grads, old):
            assert torch.allclose(parameter, value - 0.1 * grad), player.name


class Recorder:
    """Wraps ``permute_dims`` and keeps its inputs."""

    def __init__(self):
        self.inputs = []

    def __call__(self, z):
        self.inputs.append(z.detach().clone())
        return permute_dims(z)


@pytest.mark.parametrize("tc_batch", ["same", "second"])
def test_the_permuted_codes_come_from_the_same_batch_or_from_the_other_half(tc_batch, monkeypatch):
    torch.manual_seed(0)
    dims, half = 3, 5
    model = build_model("factor-vae", (1, 8, 8), latent_dim=dims, tc_batch=tc_batch)
    batch = model.sample_batch(InMemoryImages(torch.zeros(10, 1, 8, 8, dtype=torch.uint8)), half, torch.Generator())
    assert batch.blocks == {"same": 1, "second": 2}[tc_batch] and len(batch.observations) == batch.blocks * half
    # a posterior with mean = the first pixels of x and σ ≈ 0, so every code is known
    model.posterior = lambda x: (x.flatten(1)[:, :dims], torch.full((len(x), dims), -60.0))
    x = torch.rand(2 * half, 1, 8, 8)
    codes = x.flatten(1)[:, :dims]
    recorder = Recorder()
    monkeypatch.setattr(factor_vae, "permute_dims", recorder)
    decoded, discriminated = [], []
    model.decoder.register_forward_hook(lambda module, args, out: decoded.append(args[0].detach()))
    model.discriminator.register_forward_hook(
        lambda module, args, out: discriminated.append(args[0].detach())
    )

    model.loss(x if tc_batch == "second" else x[:half], step=0)

    (permuted_source,) = recorder.inputs
    expected_source = codes[half:] if tc_batch == "second" else codes[:half]
    assert torch.allclose(permuted_source, expected_source)
    assert torch.allclose(decoded[0], codes[:half])  # the VAE's batch is the first half
    real_codes = discriminated[-1][:half]  # the discriminator's z ~ q(z) are the VAE's codes
    assert torch.allclose(real_codes, codes[:half])


def test_training_in_second_batch_mode_hands_the_model_twice_the_batch(monkeypatch, tmp_path):
    sizes = []
    original = FactorVAE.loss

    def recording(self, x, step):
        sizes.append(x.shape[0])
        return original(self, x, step)

    monkeypatch.setattr(FactorVAE, "loss", recording)
    train(tmp_path / "run", "factor-vae", "dsprites", tc_batch="second", steps=2, batch_size=4,
          latent_dim=2, progress=False)
    assert sizes == [8, 8]


def test_an_odd_batch_in_second_batch_mode_is_refused():
    model = build_model("factor-vae", (1, 8, 8), tc_batch="second")
    with pytest.raises(InputError, match="^--tc-batch second: expected an even batch"):
        model.loss(torch.rand(5, 1, 8, 8), step=0)


@pytest.mark.parametrize(
    "hyperparameters, option",
    [
        ({"gamma": 0.0}, "--gamma"),
        ({"gamma": -10.0}, "--gamma"),
        ({"tc_batch": "third"}, "--tc-batch"),
        ({"discriminator_learning_rate": 0.0}, "--discriminator-learning-rate"),
        ({"beta": 4.0}, "--beta"),
    ],
)
def test_bad_hyperparameters_raise_an_input_error_naming_the_option(hyperparameters, option):
    with pytest.raises(InputError, match=f"^{option}:"):
        build_model("factor-vae", (1, 64, 64), **hyperparameters)
