import pytest
import torch

from disentangle.errors import InputError
from disentangle.nets import make_decoder, make_encoder, resolve_architecture


@pytest.mark.parametrize(
    "architecture, shape",
    [("conv", (1, 64, 64)), ("conv-2x2", (3, 64, 64)), ("conv", (1, 28, 28)), ("mlp", (1, 8, 8)), ("auto", (3, 28, 28))],
)
def test_encoder_and_decoder_shapes_follow_the_observation_shape(architecture, shape):
    encoder, decoder = make_encoder(architecture, shape, 20), make_decoder(architecture, 10, shape)
    x = torch.rand(5, *shape)
    assert encoder(x).shape == (5, 20)
    assert decoder(torch.randn(5, 10)).shape == (5, *shape)


def test_dlib_variant_uses_two_by_two_kernels_in_layers_three_and_four():
    convolutions = [m for m in make_encoder("conv-2x2", (1, 64, 64), 20).modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convolutions] == [(4, 4), (4, 4), (2, 2), (2, 2)]
    assert [c.out_channels for c in convolutions] == [32, 32, 64, 64]


def test_auto_picks_conv_for_64_and_28_pixels_and_mlp_otherwise():
    assert resolve_architecture("auto", (1, 64, 64)) == "conv"
    assert resolve_architecture("auto", (1, 28, 28)) == "conv"
    assert resolve_architecture("auto", (1, 8, 8)) == "mlp"


def test_conv_on_an_unsupported_size_names_the_option():
    with pytest.raises(InputError, match="--architecture conv: needs 64×64 or 28×28"):
        make_encoder("conv", (1, 32, 32), 4)
