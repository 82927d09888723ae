"""What every model declares: its capabilities match what it does, its configuration is
validated, and its batches come through ``sample_batch``. Parametrized over ``MODELS``."""

from __future__ import annotations

import pytest
import torch

from disentangle.data import InMemoryImages
from disentangle.errors import InputError
from disentangle.models import MODELS, Batch, build_model
from disentangle.models.base import ModelConfig

SHAPE = (1, 16, 16)
#: settings a model needs to be built without data
NEEDS = {"beta-tcvae": {"dataset_size": 100}, "s2-beta-tcvae": {"dataset_size": 100}, "k-sparse-ae": {"k": 2}}


def _model(name: str):
    torch.manual_seed(0)
    return build_model(name, SHAPE, latent_dim=4, **NEEDS.get(name, {})).eval()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_gaussian_posterior_is_declared_exactly_when_posterior_gives_the_mean_encode_returns(name):
    model, x = _model(name), torch.rand(3, *SHAPE)
    with torch.no_grad():
        codes = model.encode(x)
        if model.capabilities.gaussian_posterior:
            mean, logvar = model.posterior(x)
            assert mean.shape == logvar.shape == codes.shape == (3, model.latent_dim)
            assert torch.allclose(mean, codes)
        else:
            with pytest.raises(NotImplementedError, match="has no Gaussian posterior"):
                model.posterior(x)
    assert model.capabilities.representation


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_prior_declared_is_the_one_the_model_draws_from(name):
    """A model declaring N(0, I) decodes codes of ``latent_dim`` standard normals; the others
    (autoencoders, InfoGAN's uniform codes, VQ-VAE's codebook) declare no such prior."""
    model = _model(name)
    expected = name in {"vae", "beta-vae", "annealed-vae", "beta-tcvae", "dip-vae-i", "dip-vae-ii", "info-vae",
                        "factor-vae", "vae-gan", "iwae", "dc-ign", "avb", "draw",
                        "group-vae", "ml-vae", "ada-gvae", "ada-ml-vae",
                        "s2-beta-vae", "s2-factor-vae", "s2-dip-vae-i", "s2-dip-vae-ii", "s2-beta-tcvae",
                        "linear-flow-vae", "iaf-vae", "miwae", "ciwae", "piwae", "tvae", "ada-tvae",
                        "wae-mmd", "aae", "aae-deterministic", "tc-wae-mws", "tc-wae-gan"}
    assert model.capabilities.standard_normal_prior == expected
    if expected:
        with torch.no_grad():
            assert model.decode(torch.randn(2, model.latent_dim)).shape == (2, *SHAPE)


#: the models whose batches are structured (one varied factor, a second batch, pairs, labelled images)
STRUCTURED = {"dc-ign", "factor-vae", "group-vae", "ml-vae", "ada-gvae", "ada-ml-vae", "s2-beta-vae",
              "s2-factor-vae", "s2-dip-vae-i", "s2-dip-vae-ii", "s2-beta-tcvae", "supervised-vae", "tvae", "ada-tvae"}


@pytest.mark.parametrize("name", sorted(set(MODELS) - STRUCTURED))
def test_models_without_structured_batches_draw_one_uniform_block(name):
    images = InMemoryImages(torch.randint(0, 256, (30, *SHAPE), dtype=torch.uint8))
    batch = _model(name).sample_batch(images, 5, torch.Generator().manual_seed(2))
    assert isinstance(batch, Batch) and batch.blocks == 1 and batch.context == {} and batch.rows == {}
    expected = images.observations(images.sample_indices(5, torch.Generator().manual_seed(2)))
    assert torch.equal(batch.observations, expected)


def test_the_shared_settings_are_validated_naming_the_option():
    for settings, option in [({"latent_dim": 0}, "--latent-dim"), ({"likelihood": "poisson"}, "--likelihood"),
                             ({"gaussian_std": 0.0}, "--gaussian-std"), ({"architecture": "x"}, "--architecture"),
                             ({"architecture_options": ["width"]}, "--architecture-options")]:
        with pytest.raises(InputError, match=f"^{option}: must be"):
            ModelConfig(**settings)


def test_architecture_options_are_stored_only_when_given():
    assert "architecture_options" not in ModelConfig().to_dict()  # config.json as before
    assert ModelConfig(architecture_options={"width": 3}).to_dict()["architecture_options"] == {"width": 3}
