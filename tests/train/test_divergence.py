"""The divergence watch: the first non-finite loss is found where the loop syncs anyway,
named by its own step, model and term, and the training loops ask it only there."""

import math

import pytest
import torch

from disentangle.train import RunConfig, train
from disentangle.train.divergence import Divergence, DivergenceWatch
from disentangle.train.packed import train_packed


def _terms(loss, kl_per_dim, recon=1.0):
    return {"loss": torch.tensor(loss), "recon": torch.tensor(recon), "kl_per_dim": torch.tensor(kl_per_dim)}


def test_nothing_is_reported_while_every_loss_is_finite():
    watch = DivergenceWatch(["loss"])
    assert watch.first() is None
    for step in range(3):
        watch.observe(_terms(1.0, [0.5, 0.25]), step)
    assert watch.first() is None


def test_the_first_non_finite_step_is_kept_with_its_first_non_finite_term_and_value():
    watch = DivergenceWatch(["loss"])
    watch.observe(_terms(1.0, [0.5, 0.25]), 0)
    watch.observe(_terms(math.inf, [0.5, -math.inf]), 1)  # kl_per_dim's first element is finite
    watch.observe(_terms(math.nan, [math.nan, math.nan], recon=math.nan), 2)
    assert watch.first() == Divergence(model=0, step=1, loss_key="loss", term="loss", value=math.inf)
    later = DivergenceWatch(["loss"])
    later.observe({"recon": torch.tensor(2.0), "kl_per_dim": torch.tensor([0.5, -math.inf]),
                   "loss": torch.tensor(math.inf)}, 4)
    assert later.first() == Divergence(0, 4, "loss", "kl_per_dim", -math.inf)


def test_a_second_player_that_diverges_is_named_by_its_own_loss_key():
    watch = DivergenceWatch(["loss", "loss_discriminator"])
    watch.observe({"loss": torch.tensor(1.0), "loss_discriminator": torch.tensor(math.nan)}, 0)
    found = watch.first()
    assert (found.step, found.loss_key, found.term) == (0, "loss_discriminator", "loss_discriminator")
    assert math.isnan(found.value)


def test_in_a_packed_group_the_earliest_step_wins_then_the_lowest_model():
    watch = DivergenceWatch(["loss"], models=3)
    terms = {"loss": torch.tensor([1.0, 2.0, 3.0]), "kl_per_dim": torch.tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])}
    watch.observe(terms, 0)
    watch.observe({"loss": torch.tensor([1.0, 2.0, math.nan]), "kl_per_dim": terms["kl_per_dim"]}, 1)
    watch.observe({"loss": torch.tensor([math.inf, math.inf, 3.0]), "kl_per_dim": terms["kl_per_dim"]}, 2)
    found = watch.first()
    assert (found.model, found.step, found.term) == (2, 1, "loss") and math.isnan(found.value)
    tie = DivergenceWatch(["loss"], models=3)
    tie.observe({"loss": torch.tensor([1.0, -math.inf, math.inf])}, 5)
    assert tie.first() == Divergence(1, 5, "loss", "loss", -math.inf)


class _CountedWatch(DivergenceWatch):
    reads: list[int] = []

    def observe(self, terms, step):
        self.step = step
        super().observe(terms, step)

    def first(self):
        _CountedWatch.reads.append(self.step + 1)
        return super().first()


@pytest.fixture
def counted(monkeypatch):
    from disentangle.train import loop, packed

    _CountedWatch.reads = []
    monkeypatch.setattr(loop, "DivergenceWatch", _CountedWatch)
    monkeypatch.setattr(packed, "DivergenceWatch", _CountedWatch)
    return _CountedWatch.reads


def test_one_run_asks_the_device_only_at_its_first_step_its_log_steps_and_its_checkpoints(tmp_path, counted):
    train(tmp_path / "run", "beta-vae", "dsprites", steps=12, batch_size=4, log_every=5, checkpoint_every=4,
          progress=False)
    assert counted == [1, 4, 5, 8, 10, 12]


def test_a_packed_group_asks_the_device_only_at_its_first_step_its_log_steps_and_its_checkpoints(tmp_path, counted):
    configs = [RunConfig.from_keywords("beta-vae", "dsprites", seed=seed, steps=12, batch_size=4, log_every=5,
                                       checkpoint_every=4) for seed in (0, 1)]
    train_packed([tmp_path / "a", tmp_path / "b"], configs)
    assert counted == [1, 4, 5, 8, 10, 12]

