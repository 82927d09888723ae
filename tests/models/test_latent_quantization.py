"""QLAE: the per-dimension scalar quantiser, its straight-through gradient, and the loss
against the reference's arithmetic (kylehkhsu/latent_quantization) worked by hand."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.errors import InputError
from disentangle.models.latent_quantization import QLAE, QLAEConfig, quantize, straight_through
from disentangle.train import TrainConfig, train
from disentangle.train.steps import clip_gradients, player_optimizer

SHAPE = (1, 8, 8)


def _data(num, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(num, *SHAPE, generator=generator) > 0.5).float()


def _model(**settings_) -> QLAE:
    return QLAE(QLAEConfig(**settings_), SHAPE)


VALUES = torch.tensor([[-1.0, 0.0, 1.0], [0.0, 0.5, 2.0]])


def test_each_entry_becomes_the_nearest_value_of_its_own_dimensions_codebook():
    z = torch.tensor([[0.4, 1.3], [-0.6, -5.0], [0.5, 1.2]])
    z_q, indices = quantize(z, VALUES)
    # dimension 0 chooses among (−1, 0, 1), dimension 1 among (0, 0.5, 2); 0.5 is as near
    # to 0 as to 1 and takes the first, as jnp.argmin does
    assert torch.equal(z_q, torch.tensor([[0.0, 2.0], [-1.0, 0.0], [0.0, 0.5]]))
    assert torch.equal(indices, torch.tensor([[1, 2], [0, 0], [1, 1]]))


@settings(max_examples=50, deadline=None)
@given(
    z=st.lists(st.floats(-3, 3), min_size=6, max_size=6),
    values=st.lists(st.floats(-2, 2), min_size=8, max_size=8),
)
def test_no_value_of_a_dimensions_codebook_is_nearer_than_the_chosen_one(z, values):
    z = torch.tensor(z, dtype=torch.float64).view(3, 2)
    values = torch.tensor(values, dtype=torch.float64).view(2, 4)
    z_q, indices = quantize(z, values)
    for i in range(3):
        for j in range(2):
            assert z_q[i, j] == values[j, indices[i, j]]
            assert all(abs(z[i, j] - z_q[i, j]) <= abs(z[i, j] - v) for v in values[j])


def test_the_straight_through_estimator_is_z_q_forward_and_the_identity_backward():
    z = torch.tensor([[0.4, 1.3], [-0.6, -5.0]], dtype=torch.float64)
    values = VALUES.double()

    def through(z):
        return straight_through(z, quantize(z, values)[0])

    assert torch.equal(through(z), quantize(z, values)[0])
    jacobian = torch.autograd.functional.jacobian(through, z).reshape(4, 4)
    assert torch.equal(jacobian, torch.eye(4, dtype=torch.float64))


def test_the_quantization_loss_moves_each_used_value_towards_its_encodings_and_leaves_the_others():
    z = torch.tensor([[0.4, 1.3], [-0.6, -5.0], [0.2, 1.2]], requires_grad=True)
    values = VALUES.clone().requires_grad_(True)
    z_q, _ = quantize(z, values)
    (z.detach() - z_q).square().mean(1).mean().backward()
    # ∂/∂v_jk of (1/N)Σ_i (1/D)Σ_j (z_ij − z_q,ij)² = Σ_{i: z_ij ↦ k} 2(v_jk − z_ij) / (N·D), N = 3, D = 2
    expected = torch.zeros(2, 3)
    expected[0, 1] = 2 * ((0 - 0.4) + (0 - 0.2)) / 6
    expected[0, 0] = 2 * (-1 + 0.6) / 6
    expected[1, 2] = 2 * (2 - 1.3) / 6
    expected[1, 1] = 2 * (0.5 - 1.2) / 6  # 1.2 is nearer 0.5 than 2
    expected[1, 0] = 2 * (0 + 5.0) / 6
    assert torch.allclose(values.grad, expected, atol=1e-6)
    assert z.grad is None  # the codebook term does not reach the encoder


def test_the_codebooks_start_evenly_spaced_in_minus_a_half_to_a_half_one_per_dimension():
    model = _model(latent_dim=3, num_values=5)
    assert model.codebook.shape == (3, 5)
    for row in model.codebook.detach():
        assert torch.allclose(row, torch.tensor([-0.5, -0.25, 0.0, 0.25, 0.5]))


def test_encode_returns_for_every_dimension_one_of_its_own_values():
    model = _model(latent_dim=4)
    with torch.no_grad():
        model.codebook.add_(torch.arange(4.0).unsqueeze(1))  # distinct codebooks per dimension
        code = model.encode(_data(6))
    for j in range(4):
        assert all(any(torch.isclose(value, v) for v in model.codebook[j]) for value in code[:, j])


def _sigmoid_binary_cross_entropy(logit: float, label: float) -> float:
    """optax.sigmoid_binary_cross_entropy, written out."""
    return max(logit, 0.0) - logit * label + math.log1p(math.exp(-abs(logit)))


def test_the_loss_is_the_number_of_pixels_times_the_references_loss_worked_by_hand():
    model = _model(latent_dim=3, num_values=4, quantization_weight=0.01, commitment_weight=0.02)
    x = _data(2, seed=3)
    with torch.no_grad():
        z_c = model.encoder(x)
        values = model.codebook.tolist()
        z_q = [[min(values[j], key=lambda v: abs(v - z_c[i, j].item())) for j in range(3)] for i in range(2)]
        logits = model.decoder(torch.tensor(z_q)).flatten(1)
        terms = model.loss(x, 0)
    pixels = x[0].numel()
    reference = []
    for i in range(2):
        bce = sum(_sigmoid_binary_cross_entropy(logits[i, p].item(), x[i].flatten()[p].item())
                  for p in range(pixels)) / pixels
        squared = sum((z_c[i, j].item() - z_q[i][j]) ** 2 for j in range(3)) / 3
        reference.append(bce + 0.01 * squared + 0.02 * squared)
    reference = sum(reference) / 2
    assert terms["loss"].item() == pytest.approx(pixels * reference, rel=1e-5)
    assert terms["recon"].item() / pixels == pytest.approx(
        sum(_sigmoid_binary_cross_entropy(logits[i, p].item(), x[i].flatten()[p].item())
            for i in range(2) for p in range(pixels)) / (2 * pixels), rel=1e-5)
    assert terms["quantization"].item() == pytest.approx(terms["commitment"].item())


def test_the_reconstruction_reaches_the_encoder_and_the_codebook_only_through_its_terms():
    model = _model()
    model.loss(_data(8), 0)["recon"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    assert model.codebook.grad is None


def test_a_short_run_lowers_the_loss_and_moves_the_codebook():
    model = _model()
    before = model.codebook.detach().clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for step in range(8):
        terms = model.loss(_data(16, seed=step % 2), step)
        optimizer.zero_grad()
        terms["loss"].backward()
        optimizer.step()
        losses.append(terms["loss"].item())
    assert not torch.equal(model.codebook.detach(), before)
    assert sum(losses[-3:]) < sum(losses[:3]) and 0 < terms["codebook_usage"] <= 1


def test_adamw_decays_the_weights_alone_after_clipping_their_gradients_as_the_reference():
    """The reference (``models/ae.py``): AdamW, decay 0.1, on the weights but not the biases
    or the codebook, whose gradient entries alone are clipped (at ±1 of its per-pixel loss)."""
    model = _model()
    (player,) = model.players()
    decayed = {id(p) for p in player.decayed()}
    for name, parameter in model.named_parameters():
        assert (id(parameter) in decayed) == (name != "codebook" and not name.endswith("bias")), name
    optimizer = player_optimizer(player, player.parameters, TrainConfig(learning_rate=1e-3))
    assert isinstance(optimizer, torch.optim.AdamW)
    assert [group["weight_decay"] for group in optimizer.param_groups] == [0.1, 0.0]
    assert player.gradient_clip == model.pixels * 1.0
    before = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    for parameter in model.parameters():
        parameter.grad = torch.full_like(parameter, 3.0 * model.pixels)
    clip_gradients(player)
    assert all((p.grad == (model.pixels if id(p) in decayed else 3.0 * model.pixels)).all() for p in model.parameters())
    optimizer.step()
    # AdamW's first step: θ (1 − lr·decay) − lr·g/(|g| + ε) on the decayed, θ − lr·g/(|g| + ε) on the others
    for name, parameter in model.named_parameters():
        decay = 1 - 1e-3 * 0.1 if id(parameter) in decayed else 1.0
        torch.testing.assert_close(parameter.detach(), before[name] * decay - 1e-3, rtol=0, atol=1e-7)
    assert QLAE(QLAEConfig(weight_decay=0.0, architecture="mlp", latent_dim=3), (1, 8, 8)).players()[0].weight_decay == 0


def test_weight_decay_asks_for_adam_before_the_run_folder_is_written(tmp_path):
    (player,) = _model().players()
    with pytest.raises(InputError, match="^--optimizer: must be adam for a model whose player 'model' has weight decay"):
        player_optimizer(player, player.parameters, TrainConfig(optimizer="adagrad"))
    with pytest.raises(InputError, match="^--optimizer: must be adam"):
        train(tmp_path / "run", "qlae", "digits", optimizer="adagrad", steps=1, progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "option, value", [("num_values", 1), ("quantization_weight", -1.0), ("commitment_weight", -0.1),
                      ("weight_decay", -0.1), ("gradient_clip", 0.0)],
)
def test_bad_hyperparameters_are_rejected_naming_the_option(option, value):
    with pytest.raises(InputError, match=f"--{option.replace('_', '-')}"):
        QLAEConfig(**{option: value})
