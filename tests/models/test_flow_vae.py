"""The flow-posterior VAEs: each flow's log-determinant against autograd's Jacobian, the
invertibility constraints, IAF's autoregressive structure, and the loss without flows
against the plain VAE."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.autograd.functional import jacobian

from disentangle.errors import InputError
from disentangle.models import build_model
from disentangle.models.flow_vae import IAFStep, PlanarFlow, RadialFlow, made_masks

SHAPE = (1, 8, 8)


def _flow(kind: str, dim: int, seed: int, scale: float) -> torch.nn.Module:
    torch.manual_seed(seed)
    flow = {"planar": lambda: PlanarFlow(dim), "radial": lambda: RadialFlow(dim),
            "iaf": lambda: IAFStep(dim, hidden_layers=2, hidden_size=8)}[kind]().double()
    with torch.no_grad():
        for parameter in flow.parameters():
            parameter.mul_(scale)
    return flow


def _log_abs_det_by_autograd(flow, z: torch.Tensor) -> torch.Tensor:
    """log |det ∂f/∂z| of each row of ``z`` from the full Jacobian autograd computes."""
    return torch.stack([torch.linalg.slogdet(jacobian(lambda row: flow(row[None])[0][0], row))[1]
                        for row in z])


@settings(max_examples=20, deadline=None)
@given(kind=st.sampled_from(["planar", "radial", "iaf"]), dim=st.integers(1, 5), seed=st.integers(0, 10_000),
       scale=st.floats(0.2, 3.0), spread=st.floats(0.1, 4.0))
def test_each_flows_log_determinant_is_that_of_autograds_jacobian(kind, dim, seed, scale, spread):
    flow = _flow(kind, dim, seed, scale)
    z = spread * torch.randn(4, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    _, log_det = flow(z)
    assert log_det.shape == (4,)
    torch.testing.assert_close(log_det, _log_abs_det_by_autograd(flow, z), rtol=1e-8, atol=1e-8)


@settings(max_examples=40, deadline=None)
@given(dim=st.integers(1, 6), seed=st.integers(0, 10_000), scale=st.floats(0.01, 10.0))
def test_planar_u_hat_keeps_w_dot_u_above_minus_one_and_radial_beta_above_minus_alpha(dim, seed, scale):
    planar, radial = _flow("planar", dim, seed, scale), _flow("radial", dim, seed, scale)
    w_u_hat = planar.w @ planar.u_hat()
    assert w_u_hat > -1 - 1e-12  # > −1 in exact arithmetic; it rounds to −1 where wᵀu < −37
    # û = u + [m(wᵀu) − wᵀu]·w/‖w‖² changes u only along w, to wᵀû = m(wᵀu) = −1 + log(1 + exp(wᵀu))
    w_u = (planar.w @ planar.u).item()
    m = -1 + math.log1p(math.exp(w_u)) if w_u < 30 else w_u - 1
    assert w_u_hat.item() == pytest.approx(m, rel=1e-9, abs=1e-9)
    component = planar.u_hat() - planar.u
    torch.testing.assert_close(component, (component @ planar.w) * planar.w / planar.w.square().sum())
    _, log_det = planar(torch.randn(3, dim, dtype=torch.float64))
    assert torch.isfinite(log_det).all()
    alpha, beta = radial.alpha_beta()
    assert alpha > 0 and beta >= -alpha


def test_the_planar_log_determinant_stays_finite_where_w_dot_u_hat_rounds_to_minus_one():
    planar = _flow("planar", 2, seed=0, scale=1.0)
    with torch.no_grad():
        planar.w.copy_(torch.tensor([1.0, 0.0]))
        planar.u.copy_(torch.tensor([-60.0, 0.0]))
        planar.b.zero_()
    z = torch.tensor([[0.0, 1.0]], dtype=torch.float64)  # wᵀz + b = 0: tanh′ = 1, det = 1 + wᵀû = e⁻⁶⁰
    assert planar(z)[1].item() == pytest.approx(-60.0, rel=1e-9)


def test_each_iaf_step_is_autoregressive_after_reversing_the_coordinates():
    step = _flow("iaf", 5, seed=3, scale=1.0)
    z = torch.randn(5, dtype=torch.float64)
    reversed_z = z.flip(0)
    triangular = jacobian(lambda row: step.autoregressive(row[None])[0][0], reversed_z)
    assert torch.equal(triangular, triangular.tril())  # output i depends on inputs 0..i only
    _, s = step.made(reversed_z[None])
    torch.testing.assert_close(triangular.diagonal(), s[0].exp())
    # and (m, s) on inputs 0..i − 1 only: strictly lower triangular
    for part in (0, 1):
        derivative = jacobian(lambda row: step.made(row[None])[part][0], reversed_z)
        assert torch.equal(derivative, derivative.tril(-1))
    # the whole step is the autoregressive map after the reversal
    whole = jacobian(lambda row: step(row[None])[0][0], z)
    torch.testing.assert_close(whole, triangular.flip(1))


def test_made_masks_let_output_i_see_only_inputs_before_i():
    masks = made_masks(4, [6, 6])
    connected = masks[2] @ masks[1] @ masks[0]  # paths from input j to output i
    assert torch.equal(connected > 0, torch.ones(4, 4).tril(-1) > 0)
    assert torch.equal(made_masks(1, [3])[-1], torch.zeros(1, 3))  # one dimension: outputs are constants


def _vae_and(name: str, architecture: str, **settings):
    """The plain VAE and the model ``name`` with the VAE's encoder and decoder weights."""
    torch.manual_seed(0)
    vae = build_model("vae", SHAPE, latent_dim=3, architecture=architecture).double()
    model = build_model(name, SHAPE, latent_dim=3, architecture=architecture, **settings).double()
    model.encoder.load_state_dict(vae.encoder.state_dict())
    model.decoder.load_state_dict(vae.decoder.state_dict())
    return vae, model


def _terms(model, x, seed=1):
    torch.manual_seed(seed)
    return model.loss(x, 0)


@pytest.mark.parametrize("name, settings", [("linear-flow-vae", {"flows": ""}),
                                            ("iaf-vae", {"made_blocks": 0})])
def test_without_flows_the_loss_is_the_vaes_with_the_kl_estimated_at_its_sample(name, settings, small_mlp):
    vae, model = _vae_and(name, small_mlp, **settings)
    x = (torch.rand(2, *SHAPE, dtype=torch.float64) > 0.5).double().repeat(1000, 1, 1, 1)
    with torch.no_grad():
        flow_terms, vae_terms = _terms(model, x), _terms(vae, x)
        mean, logvar = vae.posterior(x)
        torch.manual_seed(1)
        z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
        q = torch.distributions.Normal(mean, (0.5 * logvar).exp())
        per_sample = q.log_prob(z).sum(1) - torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1)
    assert flow_terms["recon"].item() == pytest.approx(vae_terms["recon"].item(), rel=1e-12)
    assert flow_terms["kl"].item() == pytest.approx(per_sample.mean().item(), rel=1e-10)
    assert flow_terms["log_det_jacobian"].item() == 0.0
    expected_loss = flow_terms["recon"] + flow_terms["kl"]
    assert flow_terms["loss"].item() == pytest.approx(expected_loss.item(), rel=1e-12)
    # the estimate averages to the VAE's analytic KL
    standard_error = per_sample.std().item() / math.sqrt(len(x))
    assert abs(flow_terms["kl"].item() - vae_terms["kl"].item()) < 5 * standard_error
    torch.testing.assert_close(model.encode(x), vae.encode(x))


def _identity(model) -> None:
    """Set every flow of ``model`` to the identity: planar û = 0, radial β = 0, IAF m = s = 0."""
    with torch.no_grad():
        for flow in model.flows:
            if isinstance(flow, PlanarFlow):  # wᵀu = c with m(c) = 0, c = log(e − 1), gives û = 0
                flow.u.copy_(math.log(math.e - 1) * flow.w / flow.w.square().sum())
            elif isinstance(flow, RadialFlow):  # softplus(β̂) = α
                flow.beta_raw.copy_(torch.log(torch.expm1(flow.log_alpha.exp())))
            else:
                flow.made.net[-1].weight.zero_()
                flow.made.net[-1].bias.zero_()


@pytest.mark.parametrize("name, settings", [("linear-flow-vae", {"flows": "planar,radial,planar"}),
                                            ("iaf-vae", {"made_blocks": 2})])  # two reversals: no permutation
def test_identity_flows_give_the_loss_without_flows(name, settings, small_mlp):
    _, model = _vae_and(name, small_mlp, **settings)
    no_flows = {"flows": ""} if name == "linear-flow-vae" else {"made_blocks": 0}
    _, without = _vae_and(name, small_mlp, **no_flows)
    _identity(model)
    x = (torch.rand(4, *SHAPE, dtype=torch.float64) > 0.5).double()
    with torch.no_grad():
        terms, expected = _terms(model, x), _terms(without, x)
    assert abs(terms["log_det_jacobian"].item()) < 1e-12
    for key in ("loss", "recon", "kl", "elbo"):
        assert terms[key].item() == pytest.approx(expected[key].item(), rel=1e-10, abs=1e-10), key


@pytest.mark.parametrize("name, settings", [("linear-flow-vae", {"flows": "radial,planar"}), ("iaf-vae", {})])
def test_the_kl_subtracts_the_log_determinant_and_encode_is_the_flow_of_the_mean(name, settings, small_mlp):
    _, model = _vae_and(name, small_mlp, **settings)
    x = (torch.rand(4, *SHAPE, dtype=torch.float64) > 0.5).double()
    with torch.no_grad():
        terms = _terms(model, x)
        mean, logvar = model.base_posterior(x)
        torch.manual_seed(1)
        z = z0 = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
        log_det = torch.zeros(4, dtype=torch.float64)
        for flow in model.flows:
            log_det += _log_abs_det_by_autograd(flow, z)
            z = flow(z)[0]
        log_q = torch.distributions.Normal(mean, (0.5 * logvar).exp()).log_prob(z0).sum(1) - log_det
        kl = (log_q - torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1)).mean()
        recon = -model.likelihood.log_prob(x, model.decode(z)).mean()
        code = mean
        for flow in model.flows:
            code = flow(code)[0]
    assert terms["kl"].item() == pytest.approx(kl.item(), rel=1e-8)
    assert terms["recon"].item() == pytest.approx(recon.item(), rel=1e-10)
    assert terms["log_det_jacobian"].item() == pytest.approx(log_det.mean().item(), rel=1e-8, abs=1e-10)
    torch.testing.assert_close(model.encode(x), code)


def test_the_flows_setting_reads_names_lists_and_empty_text(small_mlp):
    def build(name, **settings):
        return build_model(name, SHAPE, architecture=small_mlp, **settings)

    assert build("linear-flow-vae").config.flow_names == ("planar", "planar")  # pythae's default
    model = build("linear-flow-vae", flows=["radial", "planar"])
    assert model.config.flows == "radial,planar" and [type(f).__name__ for f in model.flows] == ["RadialFlow",
                                                                                                 "PlanarFlow"]
    assert build("linear-flow-vae", flows=" planar , radial ").config.flows == "planar,radial"
    assert len(build("linear-flow-vae", flows="").flows) == 0
    assert len(build("iaf-vae").flows) == 2


@pytest.mark.parametrize("name", ["linear-flow-vae", "iaf-vae"])
def test_a_one_dimensional_code_trains(name, small_mlp):
    torch.manual_seed(0)
    settings = {"flows": "planar,radial"} if name == "linear-flow-vae" else {}
    model = build_model(name, SHAPE, latent_dim=1, architecture=small_mlp, **settings)
    terms = model.loss((torch.rand(4, *SHAPE) > 0.5).float(), 0)
    assert all(torch.isfinite(value) for value in terms.values())
    terms["loss"].backward()


@pytest.mark.parametrize("name, settings, option", [
    ("linear-flow-vae", {"flows": "planar,sylvester"}, "--flows"),
    ("linear-flow-vae", {"flows": 3}, "--flows"),
    ("iaf-vae", {"made_blocks": -1}, "--made-blocks"),
    ("iaf-vae", {"made_hidden_layers": 0}, "--made-hidden-layers"),
    ("iaf-vae", {"made_hidden_size": 0}, "--made-hidden-size"),
])
def test_bad_hyperparameters_raise_an_input_error_naming_the_option(name, settings, option):
    with pytest.raises(InputError, match=f"^{option}:"):
        build_model(name, SHAPE, **settings)


def test_the_made_masks_are_declared_constant_buffers_so_data_parallel_training_accepts_them(small_mlp):
    model = build_model("iaf-vae", SHAPE, architecture=small_mlp, made_hidden_layers=2)
    masks = [name for name, _ in model.named_buffers()]
    assert len(masks) == 2 * 3 and all(name.endswith("mask") for name in masks)
    assert set(model.constant_buffers) == set(masks)
    assert build_model("linear-flow-vae", SHAPE, architecture=small_mlp).constant_buffers == ()
