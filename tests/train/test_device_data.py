"""Observations held on the training device: bit-identical to the dataset's, or declined.
(Run here with the CPU as the device: the same code path as a GPU's but for the copy.)"""

from __future__ import annotations

import torch

from disentangle.data import ImageDataset
from disentangle.train import device_data
from disentangle.train.device_data import DeviceObservations


class Shades(ImageDataset):
    """``count`` 1×2×3 images; observation i is ``i / divisor`` everywhere (clipped to 1)."""

    name = "shades"

    def __init__(self, count: int, divisor: float):
        self.count, self.divisor = count, divisor

    @property
    def observation_shape(self):
        return (1, 2, 3)

    def __len__(self):
        return self.count

    def observations(self, indices):
        values = (torch.as_tensor(indices, dtype=torch.float32) / self.divisor).clamp(max=1.0)
        return values.view(-1, 1, 1, 1).expand(-1, 1, 2, 3).contiguous()

    def images(self, indices):
        return torch.round(self.observations(indices) * 255).to(torch.uint8)


def test_held_observations_equal_the_datasets_bit_for_bit(tiny_factors, monkeypatch):
    monkeypatch.setattr(device_data, "CHUNK", 7)  # several chunks, the last one short
    held = DeviceObservations.hold(tiny_factors, "cpu")
    assert held is not None and held.images.dtype == torch.uint8
    indices = tiny_factors.sample_indices(50, torch.Generator().manual_seed(0))
    assert torch.equal(held.observations(indices), tiny_factors.observations(indices))
    assert torch.equal(held.observations(torch.arange(len(tiny_factors))), tiny_factors.observations(range(120)))


def test_observations_that_are_multiples_of_one_255th_are_held_and_others_declined():
    assert DeviceObservations.hold(Shades(256, 255.0), "cpu") is not None
    assert DeviceObservations.hold(Shades(256, 100.0), "cpu") is None


def test_a_dataset_larger_than_the_devices_share_of_free_memory_is_declined(tiny_factors, monkeypatch):
    size = len(tiny_factors) * 4
    monkeypatch.setattr(device_data, "available_memory", lambda device: 2 * size - 2)
    assert DeviceObservations.hold(tiny_factors, "cpu") is None
    monkeypatch.setattr(device_data, "available_memory", lambda device: 2 * size)
    assert DeviceObservations.hold(tiny_factors, "cpu") is not None
