import pytest
import torch

from disentangle.errors import InputError
from disentangle.models import build_model
from disentangle.train import train
from disentangle.run_folder import read_log

SMALL = dict(steps_t=4, hidden_size=32, latent_dim=3)


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (3, 10, 13)])
def test_the_canvas_after_t_steps_has_the_images_shape(shape):
    torch.manual_seed(0)
    model = build_model("draw", shape, **SMALL)
    x = torch.rand(5, *shape)
    canvases = model.canvases(model.encode(x))
    assert len(canvases) == 4 and all(c.shape == (5, *shape) for c in canvases)
    assert model.decode(torch.randn(5, 12)).shape == (5, *shape)
    assert model.loss(x, 0)["kl_per_step"].shape == (4,)


def test_encode_concatenates_the_posterior_means_of_every_step():
    torch.manual_seed(0)
    model = build_model("draw", (1, 8, 8), **SMALL)
    x = torch.rand(6, 1, 8, 8)
    mean, logvar = model.posterior(x)
    assert model.latent_dim == 12 and mean.shape == logvar.shape == (6, 12)
    assert torch.equal(model.encode(x), mean) and torch.equal(model.encode(x), model.encode(x))


def test_sampling_draws_step_by_step_into_images_in_the_unit_range():
    torch.manual_seed(0)
    model = build_model("draw", (1, 28, 28), **SMALL)
    images = model.sample(3, torch.Generator().manual_seed(0))
    assert images.shape == (3, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    z = torch.randn(3, 12)
    first, *_, last = model.canvases(z)
    assert not torch.equal(first, last)  # every step writes on the canvas


def test_the_loss_is_recon_plus_the_kl_summed_over_steps():
    torch.manual_seed(0)
    terms = build_model("draw", (1, 8, 8), **SMALL).loss(torch.rand(4, 1, 8, 8), 0)
    assert torch.allclose(terms["kl"], terms["kl_per_step"].sum())
    assert torch.allclose(terms["loss"], terms["recon"] + terms["kl"])


def test_the_loss_falls_on_a_short_run_on_digits(tmp_path):
    run = train(tmp_path / "run", "draw", "digits", steps=60, batch_size=32, learning_rate=3e-3, log_every=20,
                progress=False, **SMALL)
    losses = [line["loss"] for line in read_log(run)]
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.mark.parametrize("option", ["steps_t", "read_size", "write_size", "hidden_size"])
def test_bad_hyperparameters_are_rejected_naming_the_option(option):
    with pytest.raises(InputError, match=f"--{option.replace('_', '-')}"):
        build_model("draw", (1, 8, 8), **{option: 0})
