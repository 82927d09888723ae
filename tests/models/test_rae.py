"""The regularised autoencoders: their loss terms on fixed inputs worked by hand, RAE-L2's
term as the decoder weight decay of the reference's optimizer, and the ex-post density."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from torch import nn

from disentangle.data import InMemoryImages
from disentangle.errors import InputError
from disentangle.models import build_model
from disentangle.models.autoencoders import FEATURES
from disentangle.models.rae import ExPostDensity, fit_code_mixture, fit_ex_post_density
from disentangle.train.loop import Run

#: 16 × 16 images flatten to FEATURES = 256 numbers: the encoder net can be the flattening alone
SHAPE = (1, 16, 16)
LATENT = 2


def _linear_model(name: str, **hyperparameters):
    """The model with fixed linear nets: z = W_e·vec(x) + b_e, D(z) = W_d z + b_d (logits),
    for a ``gaussian`` likelihood with σ = 1/√2 (recon = squared error, plus its constant)."""
    assert math.prod(SHAPE) == FEATURES
    model = build_model(name, SHAPE, latent_dim=LATENT, likelihood="gaussian", architecture="mlp", **hyperparameters)
    generator = torch.Generator().manual_seed(0)
    model.encoder = nn.Flatten()
    with torch.no_grad():
        model.code_layer.weight.copy_(0.05 * torch.randn(LATENT, FEATURES, generator=generator))
        model.code_layer.bias.copy_(torch.tensor([0.5, -1.0]))
    decoder = nn.Linear(LATENT, FEATURES)
    with torch.no_grad():
        decoder.weight.copy_(torch.randn(FEATURES, LATENT, generator=generator))
        decoder.bias.copy_(0.1 * torch.randn(FEATURES, generator=generator))
    model.decoder = nn.Sequential(decoder, nn.Unflatten(1, SHAPE))
    return model, decoder


def _batch() -> torch.Tensor:
    return (torch.rand(3, *SHAPE, generator=torch.Generator().manual_seed(1)) < 0.4).float()


def _by_hand(model, decoder, x):
    """The terms with numpy: z, the decoded means s = sigmoid(W_d z + b_d), recon and ½‖z‖²."""
    w_e = model.code_layer.weight.detach().double().numpy()
    b_e = model.code_layer.bias.detach().double().numpy()
    w_d = decoder.weight.detach().double().numpy()
    b_d = decoder.bias.detach().double().numpy()
    pixels = x.flatten(1).double().numpy()
    z = pixels @ w_e.T + b_e
    s = 1 / (1 + np.exp(-(z @ w_d.T + b_d)))
    sigma = 1 / math.sqrt(2)
    recon = ((pixels - s) ** 2 / (2 * sigma**2)).sum(1) + FEATURES * math.log(sigma * math.sqrt(2 * math.pi))
    return z, s, w_e, w_d, b_d, recon.mean(), (0.5 * (z**2).sum(1)).mean()


def test_rae_l2_terms_on_fixed_inputs_are_the_hand_computation():
    model, decoder = _linear_model("rae-l2", embedding_weight=0.3, reg_weight=0.01)
    x = _batch()
    terms = model.loss(x, 0)
    z, s, w_e, w_d, b_d, recon, embedding = _by_hand(model, decoder, x)
    decoder_l2 = 0.5 * ((w_d**2).sum() + (b_d**2).sum())
    assert terms["recon"].item() == pytest.approx(recon, rel=1e-5)
    assert terms["embedding"].item() == pytest.approx(embedding, rel=1e-5)
    assert terms["decoder_l2"].item() == pytest.approx(decoder_l2, rel=1e-5)
    assert terms["loss"].item() == pytest.approx(recon + 0.3 * embedding + 0.01 * decoder_l2, rel=1e-5)


def test_rae_l2_s_term_steps_the_decoder_as_the_reference_s_adam_with_weight_decay_on_the_decoder():
    """pythae trains RAE-L2 with weight_decay = λ on the decoder's Adam and none on the
    encoder's; our loss term λ·½‖θ_D‖² in one Adam gives the same step."""
    x = _batch()
    ours, _ = _linear_model("rae-l2", reg_weight=0.05)
    reference, _ = _linear_model("rae-l2", reg_weight=0.05)
    optimizer = torch.optim.Adam(ours.parameters(), lr=1e-2)
    encoder_optimizer = torch.optim.Adam(reference.code_layer.parameters(), lr=1e-2)
    decoder_optimizer = torch.optim.Adam(reference.decoder.parameters(), lr=1e-2, weight_decay=0.05)
    for _ in range(3):
        optimizer.zero_grad()
        ours.loss(x, 0)["loss"].backward()
        optimizer.step()
        encoder_optimizer.zero_grad()
        decoder_optimizer.zero_grad()
        terms = reference.loss(x, 0)
        (terms["loss"] - 0.05 * terms["decoder_l2"]).backward()
        encoder_optimizer.step()
        decoder_optimizer.step()
    for mine, theirs in zip(ours.parameters(), reference.parameters()):
        assert torch.allclose(mine, theirs, atol=1e-6)


@pytest.mark.parametrize("penalty_wrt", ["code", "input"])
def test_rae_gp_terms_on_fixed_inputs_are_the_hand_computation(penalty_wrt):
    """∇_z Σ_p sigmoid(W_d z + b_d)_p = W_dᵀ·s(1 − s); with respect to the pixels, the
    chain rule adds W_eᵀ."""
    model, decoder = _linear_model("rae-gp", embedding_weight=0.2, reg_weight=0.7, penalty_wrt=penalty_wrt)
    x = _batch()
    terms = model.loss(x, 0)
    z, s, w_e, w_d, b_d, recon, embedding = _by_hand(model, decoder, x)
    gradient = (s * (1 - s)) @ w_d
    if penalty_wrt == "input":
        gradient = gradient @ w_e
    penalty = (gradient**2).sum(1).mean()
    assert terms["recon"].item() == pytest.approx(recon, rel=1e-5)
    assert terms["embedding"].item() == pytest.approx(embedding, rel=1e-5)
    assert terms["gradient_penalty"].item() == pytest.approx(penalty, rel=1e-4)
    assert terms["loss"].item() == pytest.approx(recon + 0.2 * embedding + 0.7 * penalty, rel=1e-5)


def test_rae_gp_s_penalty_is_autograd_s_jacobian_and_is_differentiable_even_without_gradients():
    model, _ = _linear_model("rae-gp")
    x = _batch()
    z = model.encode(x).detach()
    jacobian = torch.autograd.functional.jacobian(
        lambda code: model.likelihood.mean(model.decoder(code)).sum((1, 2, 3)), z)  # (3 images, 3 codes, D)
    own = torch.stack([jacobian[i, i] for i in range(3)])
    assert torch.count_nonzero(jacobian.sum(2) - torch.diag(jacobian.sum(2).diagonal())) == 0
    terms = model.loss(x, 0)
    assert terms["gradient_penalty"].item() == pytest.approx(own.square().sum(1).mean().item(), rel=1e-5)
    terms["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.decoder.parameters())
    with torch.no_grad():
        assert torch.isfinite(model.loss(x, 0)["gradient_penalty"])


def test_bad_settings_name_the_option():
    for name, bad, option in [("rae-l2", {"embedding_weight": -1.0}, "--embedding-weight"),
                              ("rae-l2", {"reg_weight": -1.0}, "--reg-weight"),
                              ("rae-gp", {"penalty_wrt": "weights"}, "--penalty-wrt")]:
        with pytest.raises(InputError, match=f"^{option}:"):
            build_model(name, SHAPE, **bad)


# --------------------------------------------------------------------------- the ex-post density


def _off_centre_codes(n: int = 600, seed: int = 0) -> np.ndarray:
    """Two tight clusters around (4, 4, 4) and (−3, 5, 2): far from N(0, I)'s mass."""
    rng = np.random.default_rng(seed)
    centres = np.array([[4.0, 4.0, 4.0], [-3.0, 5.0, 2.0]])
    return centres[rng.integers(0, 2, n)] + 0.3 * rng.standard_normal((n, 3))


def test_the_mixture_fitted_on_off_centre_codes_beats_the_standard_normal_and_samples_codes_of_their_shape():
    codes = _off_centre_codes()
    model = build_model("rae-l2", SHAPE, latent_dim=3, architecture="mlp")
    density = ExPostDensity(model, fit_code_mixture(codes))
    assert density.mixture.n_components == 10 and density.mixture.covariance_type == "full"
    sampled = density.sample_codes(64)
    assert sampled.shape == (64, 3) and sampled.dtype == torch.float32
    assert torch.equal(sampled, density.sample_codes(64)) and not torch.equal(sampled, density.sample_codes(64, seed=1))
    mixture_ll = density.log_likelihood(codes).mean()
    normal_ll = multivariate_normal(np.zeros(3), np.eye(3)).logpdf(codes).mean()
    assert mixture_ll > normal_ll + 10
    assert (np.abs(sampled.numpy()).mean(0) > 1).all()  # samples land near the clusters, not at 0
    assert density.sample(5).shape == (5, *SHAPE)


def test_fit_ex_post_density_encodes_the_training_observations_of_a_loaded_run():
    torch.manual_seed(0)
    model = build_model("rae-gp", SHAPE, latent_dim=3, architecture="mlp")
    offset = torch.tensor([5.0, -4.0, 3.0])
    model.code_layer.bias.data.copy_(offset)  # codes far from the origin
    images = InMemoryImages(torch.randint(0, 256, (120, *SHAPE), dtype=torch.uint8))
    run = Run(path=None, config={}, settings=None, model=model.train(), dataset=images, step=0)
    density = fit_ex_post_density(run, num_codes=80, components=4)
    assert model.training and density.mixture.n_components == 4
    assert np.allclose(density.mixture.means_.mean(0), offset.numpy(), atol=1.5)
    with torch.no_grad():
        codes = model.eval().encode(images.observations(torch.arange(120))).numpy()
    assert density.log_likelihood(codes).mean() > multivariate_normal(np.zeros(3), np.eye(3)).logpdf(codes).mean()
    assert fit_ex_post_density(run, num_codes=None, components=500).mixture.n_components == 120
    assert density.sample(7).shape == (7, *SHAPE)
