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


def test_auto_picks_conv_for_square_powers_of_two_from_16_to_256_and_28_pixels_and_mlp_otherwise():
    for size in (16, 28, 32, 64, 128, 256):
        assert resolve_architecture("auto", (3, size, size)) == "conv"
    for shape in ((1, 8, 8), (1, 48, 48), (1, 512, 512), (1, 64, 32)):
        assert resolve_architecture("auto", shape) == "mlp"


@pytest.mark.parametrize("size", [16, 32, 128, 256])
@pytest.mark.parametrize("channels", [1, 3, 5])
def test_conv_nets_take_every_square_power_of_two_size_and_channel_count(size, channels):
    encoder, decoder = make_encoder("conv", (channels, size, size), 7), make_decoder("conv", 6, (channels, size, size))
    assert encoder(torch.rand(2, channels, size, size)).shape == (2, 7)
    assert decoder(torch.randn(2, 6)).shape == (2, channels, size, size)
    widths = [m.out_channels for m in encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(widths) == size.bit_length() - 3 and widths == sorted(widths) and set(widths) == {32, 64}


def test_the_64_pixel_conv_nets_are_dlibs():
    encoder, decoder = make_encoder("conv", (1, 64, 64), 20), make_decoder("conv", 10, (1, 64, 64))
    assert [m.out_channels for m in encoder.modules() if isinstance(m, torch.nn.Conv2d)] == [32, 32, 64, 64]
    assert [m.out_channels for m in decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)] == [64, 32, 32, 1]
    # the parameter names of run folders written with the former 64×64 classes
    assert list(encoder.state_dict())[:2] == ["net.0.weight", "net.0.bias"] and "net.11.weight" in encoder.state_dict()
    assert "net.11.weight" in decoder.state_dict()
    assert sum(p.numel() for p in encoder.parameters()) == 32 * 17 + 32 * 513 + 64 * 513 + 64 * 1025 + 256 * 1025 + 20 * 257


def test_conv_on_an_unsupported_size_names_the_option():
    with pytest.raises(InputError, match="--architecture conv: needs square observations of 16, 32, 64, 128, 256 or 28"):
        make_encoder("conv", (1, 48, 48), 4)
