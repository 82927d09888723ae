import torch

from disentangle.nets.draw import AttentionWindow, filterbank, read_glimpse


def test_every_filter_is_a_normalised_gaussian_centred_on_its_grid_point():
    bank = filterbank(torch.tensor([5.0]), torch.tensor([2.0]), torch.tensor([0.5]), size=10, grid=3)
    assert bank.shape == (1, 3, 10)
    assert torch.allclose(bank.sum(2), torch.ones(1, 3))
    pixels = torch.arange(1, 11, dtype=torch.float32)
    centres = bank[0] @ pixels  # μ_i = g + (i − N/2 − 0.5)·δ
    assert torch.allclose(centres, torch.tensor([3.0, 5.0, 7.0]), atol=1e-3)


def test_a_fresh_window_spreads_its_grid_over_the_whole_image_and_reads_a_constant_image_as_that_constant():
    window = AttentionWindow(hidden_size=4, height=8, width=12, grid=3)
    torch.nn.init.zeros_(window.parameters_layer.weight)
    torch.nn.init.zeros_(window.parameters_layer.bias)
    f_y, f_x, gamma = window(torch.zeros(2, 4))
    assert f_y.shape == (2, 3, 8) and f_x.shape == (2, 3, 12) and torch.equal(gamma, torch.ones(2))
    columns = f_x[0] @ torch.arange(1, 13, dtype=torch.float32)
    assert columns[0] < 4 and abs(columns[1] - 6.5) < 1e-3 and columns[2] > 9
    glimpse = read_glimpse(torch.full((2, 3, 8, 12), 0.25), f_y, f_x)
    assert glimpse.shape == (2, 3, 3, 3)
    assert torch.allclose(glimpse, torch.full_like(glimpse, 0.25), atol=1e-5)
