"""β-TCVAE: dlib's objective recon + KL + (β − 1)·TC and its logged decomposition."""

from __future__ import annotations

import pytest
import torch

from disentangle.errors import InputError
from disentangle.models import build_model
from disentangle.models.tcvae import BetaTCVAE
from disentangle.train import load_run, train


def binary_batch(n: int, shape=(1, 64, 64)) -> torch.Tensor:
    return (torch.rand(n, *shape, generator=torch.Generator().manual_seed(0)) < 0.3).float()


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_beta_tcvae_builds_and_returns_finite_terms_that_backpropagate(estimator):
    torch.manual_seed(0)
    model = build_model("beta-tcvae", (1, 64, 64), estimator=estimator, dataset_size=737_280)
    assert isinstance(model, BetaTCVAE)
    terms = model.loss(binary_batch(4), step=0)
    assert {"loss", "recon", "kl", "kl_per_dim", "tc", "index_code_mi", "dimwise_kl"} <= set(terms)
    assert all(torch.isfinite(value).all() for value in terms.values())
    assert terms["loss"].dim() == 0
    terms["loss"].backward()
    assert all(p.grad is not None for p in model.encoder.parameters())


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_with_beta_one_the_loss_is_exactly_the_vae_loss(estimator):
    x = binary_batch(6, (1, 28, 28))
    losses = {}
    for name, hyperparameters in [
        ("vae", {}), ("beta-tcvae", {"beta": 1.0, "estimator": estimator, "dataset_size": 1000}),
    ]:
        torch.manual_seed(0)
        model = build_model(name, (1, 28, 28), **hyperparameters)
        torch.manual_seed(1)
        losses[name] = model.loss(x, step=3)
    assert torch.equal(losses["vae"]["loss"], losses["beta-tcvae"]["loss"])
    assert torch.equal(losses["vae"]["kl"], losses["beta-tcvae"]["kl"])


def test_the_loss_is_recon_plus_kl_plus_beta_minus_one_times_the_logged_tc():
    torch.manual_seed(0)
    model = build_model("beta-tcvae", (1, 28, 28), beta=6.0, estimator="mss", dataset_size=1000)
    terms = model.loss(binary_batch(8, (1, 28, 28)), step=0)
    expected = terms["recon"] + terms["kl"] + 5.0 * terms["tc"]
    assert terms["loss"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_the_logged_decomposition_adds_up_to_the_monte_carlo_kl_at_the_sample():
    torch.manual_seed(0)
    model = build_model("beta-tcvae", (1, 28, 28), dataset_size=1000)
    mean, logvar = torch.zeros(5, 10), torch.zeros(5, 10)
    z = torch.randn(5, 10)
    terms = model.regularizer(torch.tensor(0.0), torch.zeros(10), mean, logvar, z, step=0)
    # q(z|x) = p(z) here, so the Monte Carlo KL is exactly 0
    total = terms["index_code_mi"] + terms["tc"] + terms["dimwise_kl"]
    assert total.item() == pytest.approx(0.0, abs=1e-4)


@pytest.mark.parametrize(
    "hyperparameters, option",
    [
        ({"beta": -1.0}, "--beta"),
        ({"beta": 0.0}, "--beta"),
        ({"estimator": "naive"}, "--estimator"),
        ({"dataset_size": 0}, "--dataset-size"),
        ({"latent_dim": -2}, "--latent-dim"),
        ({"gamma": 3.0}, "--gamma"),
    ],
)
def test_bad_hyperparameters_raise_an_input_error_naming_the_option(hyperparameters, option):
    with pytest.raises(InputError, match=f"^{option}:"):
        build_model("beta-tcvae", (1, 64, 64), **hyperparameters)


def test_the_dataset_size_is_the_training_datas_unless_given(tmp_path):
    common = {"steps": 1, "batch_size": 4, "architecture": "mlp", "progress": False}
    run = train(tmp_path / "digits", "beta-tcvae", "digits", **common)
    assert load_run(run).settings.model.dataset_size == 1797  # scikit-learn's digits, not dSprites' 737,280
    given = train(tmp_path / "given", "beta-tcvae", "digits", dataset_size=500, **common)
    assert load_run(given).model.config.dataset_size == 500


def test_a_model_built_without_data_needs_its_dataset_size():
    with pytest.raises(InputError, match="^--dataset-size: must be set"):
        build_model("beta-tcvae", (1, 28, 28))
