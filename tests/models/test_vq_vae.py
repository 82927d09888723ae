import pytest
import torch

from disentangle.errors import InputError
from disentangle.models import build_model

SHAPE = (1, 8, 8)


def _data(num, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(num, *SHAPE, generator=generator) > 0.5).float()


def test_encoding_returns_codebook_entries_one_per_code_position():
    torch.manual_seed(0)
    model = build_model("vq-vae", SHAPE, latent_dim=12, embedding_dim=3, num_embeddings=16)
    code = model.encode(_data(5))
    assert code.shape == (5, 12) and model.code_positions == 4
    entries = code.view(5 * 4, 3)
    distances = torch.cdist(entries, model.codebook)
    assert torch.all(distances.min(1).values == 0)


def test_the_straight_through_gradient_reaches_the_encoder():
    torch.manual_seed(0)
    model = build_model("vq-vae", SHAPE)
    model.loss(_data(8), 0)["recon"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())


def test_an_ema_update_sets_each_assigned_code_to_the_mean_of_its_encodings_and_keeps_the_others():
    torch.manual_seed(0)
    model = build_model("vq-vae", SHAPE, latent_dim=4, embedding_dim=2, num_embeddings=8)
    x = _data(16)
    before = model.codebook.clone()
    z_e = model.encoder(x).detach()
    _, codes = model.quantize(z_e)
    model.loss(x, 0)
    vectors, codes = z_e.view(-1, 2), codes.flatten()
    for i in range(8):
        expected = vectors[codes == i].mean(0) if (codes == i).any() else before[i]
        assert torch.allclose(model.codebook[i], expected, atol=1e-5)


def test_evaluation_leaves_the_ema_codebook_unchanged():
    torch.manual_seed(0)
    model = build_model("vq-vae", SHAPE).eval()
    before = model.codebook.clone()
    model.loss(_data(8), 0)
    assert torch.equal(model.codebook, before)


@pytest.mark.parametrize("update", ["ema", "loss"])
def test_a_short_run_updates_the_codebook_and_uses_more_than_one_code(update):
    torch.manual_seed(0)
    model = build_model("vq-vae", SHAPE, codebook_update=update)
    before = model.codebook.detach().clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for step in range(10):
        terms = model.loss(_data(16, seed=step), step)
        optimizer.zero_grad()
        terms["loss"].backward()
        optimizer.step()
    assert not torch.equal(model.codebook.detach(), before)
    assert terms["perplexity"] > 1 and terms["codebook_usage"] > 1 / 64


def test_perplexity_is_one_for_a_single_code_and_k_for_uniform_use():
    from disentangle.models.vq_vae import perplexity

    assert torch.isclose(perplexity(torch.tensor([0, 7, 0])), torch.tensor(1.0))
    assert torch.isclose(perplexity(torch.tensor([3, 3, 3, 3])), torch.tensor(4.0))


def test_prior_samples_have_the_observations_shape_and_range():
    torch.manual_seed(0)
    images = build_model("vq-vae", SHAPE).sample(6, torch.Generator().manual_seed(0))
    assert images.shape == (6, *SHAPE) and 0 <= images.min() and images.max() <= 1


@pytest.mark.parametrize(
    "option, value",
    [("num_embeddings", 1), ("embedding_dim", 3), ("beta", -1.0), ("codebook_update", "kmeans"),
     ("decay", 1.0)],
)
def test_bad_hyperparameters_are_rejected_naming_the_option(option, value):
    with pytest.raises(InputError, match=f"--{option.replace('_', '-')}"):
        build_model("vq-vae", SHAPE, **{option: value})
