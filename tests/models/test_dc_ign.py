import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from disentangle.data import FactorDataset, InMemoryImages
from disentangle.errors import InputError
from disentangle.models import build_model, model_config
from disentangle.models.dc_ign import clamp, one_factor_batch
from disentangle.train import resume, train
from disentangle.run_folder import checkpoint_paths


class Grid(FactorDataset):
    """3 factors (3, 4, 5 values); pixel (0, k) of each 1×4×4 image shows factor k."""

    name = "grid"
    factors_num_values = [3, 4, 5]
    factor_names = ["colour", "size", "place"]
    observation_shape = (1, 4, 4)

    def images(self, indices):
        factors = torch.from_numpy(self.factors_of(np.asarray(indices)))
        images = torch.zeros(len(factors), 1, 4, 4, dtype=torch.uint8)
        images[:, 0, 0, :3] = (factors * 50).to(torch.uint8)
        return images


def _factors(x):
    return (x[:, 0, 0, :3] * 255 / 50).round().long()


def test_a_batch_varies_only_the_chosen_factor_and_names_its_latents():
    model = build_model("dc-ign", Grid.observation_shape, latent_dim=6, latents_per_factor="size=2,place=1")
    generator = torch.Generator().manual_seed(0)
    chosen = []
    for _ in range(20):
        batch = model.sample_batch(Grid(), 16, generator)
        x = batch.observations
        factors = _factors(x)
        assert batch.blocks == 1
        factor = {(0, 1): 1, (2,): 2}[batch.context["varied_latents"]]  # size owns latents 0, 1; place latent 2
        others = [k for k in range(3) if k != factor]
        assert x.shape == (16, 1, 4, 4) and (factors[:, others] == factors[0, others]).all()
        assert len(factors[:, factor].unique()) > 1
        chosen.append(factor)
    assert set(chosen) == {1, 2}  # colour has no latents, so no batch varies it


def test_batches_depend_only_on_the_given_generator_so_a_resumed_run_repeats_them():
    model = build_model("dc-ign", Grid.observation_shape, latent_dim=4)
    batches = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        batches.append(model.sample_batch(Grid(), 8, torch.Generator().manual_seed(5)))
    first, second = batches
    assert torch.equal(first.observations, second.observations) and first.context == second.context
    factors = one_factor_batch(Grid(), 1, 8, torch.Generator().manual_seed(5))
    assert (factors[:, [0, 2]] == factors[0, [0, 2]]).all()


def test_clamped_latents_equal_the_batch_mean_and_their_gradient_points_to_it():
    z = torch.randn(8, 4, requires_grad=True)
    clamped = torch.tensor([True, False, True, True])
    code, invariance = clamp(z, clamped)
    assert torch.allclose(code[:, clamped], z[:, clamped].mean(0).expand(8, 3))
    assert torch.equal(code[:, 1], z[:, 1])

    (decoder_grad,) = torch.autograd.grad(code.sum(), z, retain_graph=True)
    assert torch.equal(decoder_grad[:, clamped], torch.zeros(8, 3))  # the decoder's gradient stops there
    (invariance_grad,) = torch.autograd.grad(invariance, z)
    expected = (z - z.mean(0)).detach() / 8
    assert torch.allclose(invariance_grad[:, clamped], expected[:, clamped], atol=1e-6)
    assert torch.equal(invariance_grad[:, 1], torch.zeros(8))


def test_the_loss_adds_the_invariance_term_and_clamps_nothing_without_a_context():
    torch.manual_seed(0)
    model = build_model("dc-ign", Grid.observation_shape, latent_dim=4)
    batch = model.sample_batch(Grid(), 8, torch.Generator().manual_seed(1))
    x = batch.observations
    terms = model.loss(x, 0, **batch.context)
    assert torch.allclose(terms["loss"], terms["recon"] + terms["kl"] + terms["invariance"])
    assert terms["invariance"] > 0 and model.loss(x, 0)["invariance"] == 0


def test_the_default_assignment_gives_one_latent_per_factor_and_needs_enough_latents():
    groups = build_model("dc-ign", (1, 4, 4), latent_dim=4).latent_groups(Grid())
    assert groups == [(0, (0,)), (1, (1,)), (2, (2,))]
    with pytest.raises(InputError, match="--latent-dim"):
        build_model("dc-ign", (1, 4, 4), latent_dim=2).latent_groups(Grid())


def test_latents_per_factor_reads_the_command_lines_form_and_rejects_bad_assignments():
    config = model_config("dc-ign", latents_per_factor="size=2, place=1")
    assert config.latents_per_factor == {"size": 2, "place": 1}
    for bad in ("size", "size=0", "size=two", {"size": 1.5}, "size=6,place=5"):
        with pytest.raises(InputError, match="--latents-per-factor"):
            model_config("dc-ign", latents_per_factor=bad)
    with pytest.raises(InputError, match="--latents-per-factor: unknown factor 'shape'"):
        build_model("dc-ign", (1, 4, 4), latents_per_factor={"shape": 1}).latent_groups(Grid())


def test_a_dataset_without_factors_is_rejected_naming_the_data_option():
    model = build_model("dc-ign", (1, 4, 4))
    images = InMemoryImages(torch.zeros(10, 1, 4, 4, dtype=torch.uint8))
    with pytest.raises(InputError, match="--data: dc-ign needs a dataset with ground-truth factors"):
        model.sample_batch(images, 4, torch.Generator())


def test_training_on_dsprites_resumes_exactly(tmp_path):
    common = dict(batch_size=8, checkpoint_every=2, seed=2, progress=False)
    straight = train(tmp_path / "straight", "dc-ign", "dsprites", steps=4, **common)
    interrupted = train(tmp_path / "interrupted", "dc-ign", "dsprites", steps=2, **common)
    resume(interrupted, steps=4, progress=False)
    a, b = (load_file(str(checkpoint_paths(run)[-1])) for run in (straight, interrupted))
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("model."))


def test_a_dataset_without_factors_is_refused_before_any_run_folder_exists(tmp_path):
    from disentangle.errors import InputError
    from disentangle.train import train

    with pytest.raises(InputError, match="dc-ign needs a dataset with ground-truth factors"):
        train(tmp_path / "run", "dc-ign", "digits", steps=1, progress=False)
    assert not (tmp_path / "run").exists()
