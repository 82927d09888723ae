"""Bring your own nets: a registered architecture trains, resumes exactly, is evaluated and
reported; its run folder names it and its options, never code."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from disentangle import run_folder
from disentangle import nets
from disentangle.cli import main
from disentangle.errors import InputError
from disentangle.scoring.evaluate import evaluate
from disentangle.models import build_model
from disentangle.nets import architectures, make_encoder, register_architecture
from disentangle.train import load_run, resume, train
from disentangle.viz import write_report


class ResidualBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1))

    def forward(self, x):
        return torch.relu(x + self.body(x))


class ResidualEncoder(nn.Module):
    """Two residual blocks, each followed by 4×4 average pooling, then a linear head."""

    def __init__(self, observation_shape, out_features, width=8):
        super().__init__()
        channels, height, breadth = observation_shape
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(),
            ResidualBlock(width), nn.AvgPool2d(4), ResidualBlock(width), nn.AvgPool2d(4),
            nn.Flatten(), nn.Linear(width * (height // 16) * (breadth // 16), out_features),
        )

    def forward(self, x):
        return self.net(x)


def small_decoder(latent_dim, observation_shape, width=8):
    return nn.Sequential(nn.Linear(latent_dim, 4 * width), nn.ReLU(), nn.Linear(4 * width, math.prod(observation_shape)),
                         nn.Unflatten(1, tuple(observation_shape)))


@pytest.fixture
def residual(monkeypatch):
    """'residual' registered for the test only (the registry is restored afterwards)."""
    monkeypatch.setattr(nets, "_REGISTRY", dict(nets._REGISTRY))
    register_architecture("residual", ResidualEncoder, small_decoder)
    return "residual"


def _weights(run):
    return load_file(str(run_folder.latest_checkpoint(run)))


@pytest.mark.slow
def test_a_user_defined_residual_encoder_trains_resumes_exactly_and_is_evaluated_and_reported(
    residual, tmp_path, monkeypatch
):
    settings = {"architecture": residual, "architecture_options": {"width": 6}, "latent_dim": 4, "beta": 4.0,
                "batch_size": 8, "checkpoint_every": 2, "seed": 1, "progress": False}
    straight = train(tmp_path / "straight", "beta-vae", "dsprites", steps=4, **settings)
    written = json.loads((straight / "config.json").read_text())["model"]
    assert written["architecture"] == "residual" and written["architecture_options"] == {"width": 6}
    model = load_run(straight).model
    assert isinstance(model.encoder, ResidualEncoder) and model.encoder.net[0].out_channels == 6

    interrupted = train(tmp_path / "interrupted", "beta-vae", "dsprites", steps=2, **settings)
    resume(interrupted, steps=4, progress=False)
    mine, reference = _weights(interrupted), _weights(straight)
    assert mine.keys() == reference.keys() and all(torch.equal(mine[k], reference[k]) for k in mine)

    scores = evaluate(straight, metrics=["mig", "active_units"], preset="fast")["summary"]
    assert 0 <= scores["mig"]["discrete_mig"]["mean"] <= 1 and scores["active_units"]["num_active_units"]["values"]
    page = write_report(straight, num_factor_images=200).read_text()
    assert "Latent traversals" in page and "<script" not in page

    monkeypatch.setattr(nets, "_REGISTRY", {k: v for k, v in nets._REGISTRY.items() if k != residual})
    with pytest.raises(InputError) as error:  # another process, which has not registered it
        load_run(straight)
    message = str(error.value)
    assert message.startswith(f"{straight / 'config.json'}: model.architecture: must be one of auto, conv")
    assert "register_architecture('residual', make_encoder, make_decoder)" in message and "\n" not in message


def test_an_unregistered_architecture_is_one_line_at_the_command_line(capsys, tmp_path):
    assert main(["train", "--architecture", "resnet", "--steps", "1", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--architecture: must be one of auto, conv, conv-2x2, mlp" in err
    assert "register_architecture('resnet'" in err and not (tmp_path / "run").exists()


def test_registered_names_are_unique_and_options_reach_the_constructors(residual):
    assert architectures() == ["auto", "conv", "conv-2x2", "mlp", "residual"]
    for name in ("auto", "conv", "residual"):
        with pytest.raises(InputError, match="already taken"):
            register_architecture(name, ResidualEncoder, small_decoder)
    encoder = make_encoder(residual, (3, 32, 32), 5, {"width": 4})
    assert encoder(torch.rand(2, 3, 32, 32)).shape == (2, 5) and encoder.net[0].out_channels == 4
    with pytest.raises(InputError, match="^--architecture-options: residual's make_encoder does not take"):
        make_encoder(residual, (3, 32, 32), 5, {"depth": 4})
    with pytest.raises(InputError, match="^--architecture-options: the built-in architecture conv takes none"):
        make_encoder("conv", (1, 64, 64), 5, {"width": 4})


def test_every_net_of_a_model_is_built_by_the_registered_architecture(residual):
    model = build_model("vae-gan", (1, 32, 32), architecture=residual, latent_dim=3)
    assert isinstance(model.encoder, ResidualEncoder)
    assert isinstance(model.discriminator.body, ResidualEncoder)  # the adversary sees through the same shapes
    terms = model.loss(torch.rand(4, 1, 32, 32), step=0)
    assert all(torch.isfinite(value).all() for value in terms.values())


def test_conv_trains_on_32_pixel_rgb_images_without_a_special_case(tmp_path):
    images = tmp_path / "images.npy"
    np.save(images, np.random.default_rng(0).integers(0, 256, (20, 32, 32, 3), dtype=np.uint8))
    run = train(tmp_path / "run", "beta-vae", "array", data_options={"path": str(images)}, steps=2,
                batch_size=4, progress=False)
    model = load_run(run).model
    assert model.observation_shape == (3, 32, 32)
    assert [m.out_channels for m in model.encoder.modules() if isinstance(m, nn.Conv2d)] == [32, 64, 64]
