"""Pictures of a factor dataset: one row per factor sweeping its values, one GIF per factor."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from disentangle.data import FactorDataset
from disentangle.viz.dataset import MAX_COLUMNS, factor_sweep_gif, factor_sweep_grid, write_dataset_figures


class Coloured(FactorDataset):
    """4×4 RGB images whose colour spells the grid point: red = first factor, green =
    second (nuisance: the middle axis), blue = third."""

    name = "coloured"
    factor_names = ["red", "blue"]
    factors_num_values = [3, 20]

    @property
    def grid_num_values(self):
        return [3, 2, 20]

    @property
    def factor_axes(self):
        return (0, 2)

    @property
    def observation_shape(self):
        return (3, 4, 4)

    def images(self, indices):
        grid = torch.as_tensor(self.grid_of(np.asarray(indices)))
        colour = torch.stack([grid[:, 0] * 100, grid[:, 1] * 200, grid[:, 2] * 12], dim=1).to(torch.uint8)
        return colour[:, :, None, None].expand(-1, -1, 4, 4).contiguous()


def _cells(image: Image.Image, rows: int, columns: int) -> np.ndarray:
    """The RGB of each cell's centre, ``(rows, columns, 3)``, from the right of the label margin."""
    pixels = np.asarray(image.convert("RGB"))
    margin = pixels.shape[1] - (columns * 6 + 2)
    return np.stack([[pixels[2 + r * 6 + 2, margin + 2 + c * 6 + 2] for c in range(columns)] for r in range(rows)])


def test_each_row_sweeps_one_factor_in_colour_with_the_rest_held():
    data = Coloured()
    cells = _cells(factor_sweep_grid(data, seed=0), 2, MAX_COLUMNS)
    red_row, blue_row = cells[0], cells[1]
    assert red_row[:3, 0].tolist() == [0, 100, 200] and (red_row[3:] == 255).all()  # 3 values, then blanks
    assert len(set(red_row[:3, 2].tolist())) == 1 and len(set(red_row[:3, 1].tolist())) == 1  # blue, nuisance held
    blues = np.linspace(0, 19, MAX_COLUMNS).round().astype(int) * 12
    assert blue_row[:, 2].tolist() == blues.tolist()  # 20 values: 12 evenly spaced
    assert len(set(blue_row[:, 0].tolist())) == 1 and len(set(blue_row[:, 1].tolist())) == 1


def test_each_gif_sweeps_every_value_of_its_factor(tmp_path):
    with Image.open(io.BytesIO(factor_sweep_gif(Coloured(), 1, seed=3))) as gif:
        assert gif.n_frames == 20
        blues = []
        for frame in range(gif.n_frames):
            gif.seek(frame)
            blues.append(int(np.asarray(gif.convert("RGB"))[4, 4, 2]))
    assert np.abs(np.asarray(blues) - np.arange(20) * 12).max() <= 8  # GIF palettes round colours
    paths = write_dataset_figures(Coloured(), tmp_path / "out" / "grid.png")
    assert [path.name for path in paths] == ["grid.png", "grid-red.gif", "grid-blue.gif"]
