"""β-TCVAE: dlib's objective recon + KL + (β − 1)·TC and its logged decomposition (MSS
estimates, whichever estimator the loss uses)."""

from __future__ import annotations

import math

import pytest
import torch

from disentangle.errors import InputError
from disentangle.models import build_model
from disentangle.models.tc_estimators import kl_decomposition
from disentangle.models.tcvae import BetaTCVAE
from disentangle.models.vae import gaussian_kl_per_dim
from disentangle.train import load_run, train


def binary_batch(n: int, shape=(1, 64, 64)) -> torch.Tensor:
    return (torch.rand(n, *shape, generator=torch.Generator().manual_seed(0)) < 0.3).float()


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_beta_tcvae_builds_and_returns_finite_terms_that_backpropagate(estimator):
    torch.manual_seed(0)
    model = build_model("beta-tcvae", (1, 64, 64), estimator=estimator, dataset_size=737_280)
    assert isinstance(model, BetaTCVAE)
    terms = model.loss(binary_batch(4), step=0)
    assert {"loss", "recon", "kl", "kl_per_dim", "tc_mss", "index_code_mi_mss", "dimwise_kl_mss"} <= set(terms)
    assert ("tc_mws" in terms) == (estimator == "mws")
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


@pytest.mark.parametrize("estimator, weighed", [("mss", "tc_mss"), ("mws", "tc_mws")])
def test_the_loss_is_recon_plus_kl_plus_beta_minus_one_times_the_logged_tc_of_its_estimator(estimator, weighed):
    torch.manual_seed(0)
    model = build_model("beta-tcvae", (1, 28, 28), beta=6.0, estimator=estimator, dataset_size=1000)
    terms = model.loss(binary_batch(8, (1, 28, 28)), step=0)
    expected = terms["recon"] + terms["kl"] + 5.0 * terms[weighed]
    assert terms["loss"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_with_mws_the_loss_and_its_gradient_are_dlibs_and_the_mss_terms_are_only_logged():
    torch.manual_seed(0)
    model = build_model("beta-tcvae", (1, 28, 28), beta=6.0, estimator="mws", dataset_size=1000)
    x = binary_batch(8, (1, 28, 28))
    torch.manual_seed(1)
    terms = model.loss(x, step=0)
    torch.manual_seed(1)  # the same posterior sample, the loss written out with MWS's TC
    q = model.sample_posterior(x)
    weighed = kl_decomposition(q.z, q.mean, q.logvar, 1000, "mws")["tc"]
    expected = model.recon(x, q.z) + (q.kl + 5.0 * weighed)
    assert torch.equal(terms["loss"], expected) and torch.equal(terms["tc_mws"], weighed)
    assert not any(terms[key].requires_grad for key in ("index_code_mi_mss", "tc_mss", "dimwise_kl_mss"))
    logged = kl_decomposition(q.z, q.mean, q.logvar, 1000, "mss")
    assert all(torch.equal(terms[f"{key}_mss"], logged[key].detach()) for key in logged)


def separated_grid_posteriors(values: int, dim: int, batch: int, generator: torch.Generator):
    """A batch drawn without replacement from N = values**dim observations whose posteriors
    are N(μ, 0.01² I), μ on a grid of unit spacing: every factor independent and uniform,
    every posterior far from the others. Then q(z) and each q(z_l) are mixtures of
    separated components, so I(x; z) = log N, TC = 0 and the dimension-wise KL is the
    analytic KL less log N. Returns (mean, logvar), each ``(batch, dim)``."""
    grid = torch.cartesian_prod(*[torch.arange(values, dtype=torch.float64)] * dim).reshape(-1, dim)
    mean = grid[torch.randperm(len(grid), generator=generator)[:batch]] - (values - 1) / 2
    return mean, torch.full_like(mean, 2 * math.log(0.01))


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_the_logged_terms_are_the_known_decomposition_of_independent_separated_factors(estimator):
    values, dim, batch, batches = 4, 3, 32, 40
    size = values**dim
    model = build_model("beta-tcvae", (1, 28, 28), latent_dim=dim, estimator=estimator, dataset_size=size)
    generator = torch.Generator().manual_seed(0)
    logged, analytic_kl = [], []
    for _ in range(batches):
        mean, logvar = separated_grid_posteriors(values, dim, batch, generator)
        z = mean + 0.01 * torch.randn(mean.shape, generator=generator, dtype=torch.float64)
        kl_per_dim = gaussian_kl_per_dim(mean, logvar).mean(0)
        logged.append(model.regularizer(kl_per_dim.sum(), kl_per_dim, mean, logvar, z, step=0))
        analytic_kl.append(kl_per_dim.sum().item())
    average = {key: sum(terms[key].item() for terms in logged) / batches for key in logged[0] if key != "regularizer"}
    kl = sum(analytic_kl) / batches
    assert average["index_code_mi_mss"] == pytest.approx(math.log(size), abs=0.02)
    # TC = 0 but for the estimator's small-batch bias: log of a random count of batch
    # neighbours sharing each value, low by about Var/(2·mean²) ≈ 0.027 nats per dimension
    assert 0 < average["tc_mss"] < 0.15
    assert average["dimwise_kl_mss"] == pytest.approx(kl - math.log(size) - average["tc_mss"], abs=0.05)
    if estimator == "mws":  # the loss's estimate: high by about D·log N − log M here, as documented (less
        # about D·log(1 + values/batch) since MWS's marginals count the sample's own posterior fully)
        offset = dim * math.log(size) - math.log(batch)
        assert average["tc_mws"] - average["tc_mss"] == pytest.approx(offset, abs=0.3)


def test_the_terms_are_described_by_their_estimator_and_old_logs_by_the_losss():
    model = build_model("beta-tcvae", (1, 28, 28), dataset_size=1000)
    described = model.term_descriptions()
    assert all("minibatch stratified sampling" in described[f"{key}_mss"] for key in ("index_code_mi", "tc", "dimwise_kl"))
    assert "weighted sampling" in described["tc_mws"] and "(D − 1)·log N; the loss weighs it" in described["tc_mws"]
    assert "loss weighs" not in described["tc_mss"]
    assert described["tc"] == described["tc_mws"]  # a log from before the names said the estimator
    stratified = build_model("beta-tcvae", (1, 28, 28), estimator="mss", dataset_size=1000).term_descriptions()
    assert stratified["tc"] == stratified["tc_mss"] and "the loss weighs it by β − 1" in stratified["tc_mss"]


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
