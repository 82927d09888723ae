"""Observations held on the training device: bit-identical to the dataset's, or declined.
(Run here with the CPU as the device: the same code path as a GPU's but for the copy.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from disentangle.data import ImageDataset, get_dataset
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


class Stripes(ImageDataset):
    """``count`` binary 1×3×5 images (15 pixels: the last byte of each packed row is half
    used); image i holds the bits of i * 2654435761 mod 2^15."""

    name = "stripes"

    def __init__(self, count: int):
        self.count = count

    @property
    def observation_shape(self):
        return (1, 3, 5)

    def __len__(self):
        return self.count

    def _pixels(self, indices) -> np.ndarray:
        codes = (np.asarray(indices, dtype=np.int64) * 2654435761) % 2**15
        return ((codes[:, None] >> np.arange(15)) & 1).astype(np.uint8).reshape(-1, 1, 3, 5)

    def images(self, indices):
        return torch.from_numpy(self._pixels(indices) * np.uint8(255))

    def packed_bits(self):
        return np.packbits(self._pixels(np.arange(self.count)).reshape(self.count, -1), axis=1)


def test_binary_images_are_held_bit_packed_and_unpacked_as_the_dataset_gives_them():
    dataset = Stripes(300)
    held = DeviceObservations.hold(dataset, "cpu")
    assert held is not None and held.bits and held.images.shape == (300, 2)
    indices = dataset.sample_indices(64, torch.Generator().manual_seed(0))
    assert torch.equal(held.observations(indices), dataset.observations(indices))
    assert torch.equal(held.observations(torch.arange(300)), dataset.observations(np.arange(300)))


def test_dsprites_is_held_in_its_377_mb_of_bits():
    dsprites = get_dataset("dsprites")
    held = DeviceObservations.hold(dsprites, "cpu")
    assert held.bits and held.images.shape == (737_280, 512) and held.images.dtype == torch.uint8
    indices = dsprites.sample_indices(256, torch.Generator().manual_seed(1))
    assert torch.equal(held.observations(indices), dsprites.observations(indices))


@pytest.mark.parametrize("model", ["beta-vae", "factor-vae", "ada-gvae", "s2-beta-vae"])
def test_a_run_that_gathers_its_batches_on_the_device_ends_bit_for_bit_as_one_that_does_not(
    tmp_path, monkeypatch, model
):
    """What a GPU run does (``holds_data_on_device``), forced here on the CPU, for the
    default batches and for models that draw their own (pairs, labelled rows)."""
    from disentangle.train import loop, train

    settings = dict(steps=3, batch_size=4, checkpoint_every=3, log_every=1, seed=2, threads=1, progress=False)
    train(tmp_path / "host", model, "dsprites", **settings)
    served = []
    monkeypatch.setattr(loop, "holds_data_on_device", lambda device: True)
    monkeypatch.setattr(DeviceObservations, "observations",
                        lambda self, indices, serve=DeviceObservations.observations:
                        served.append(len(indices)) or serve(self, indices))
    train(tmp_path / "device", model, "dsprites", **settings)
    assert served, "the batches were not gathered from the held observations"
    host = load_file(str(tmp_path / "host" / "checkpoints" / "step-00000003.safetensors"))
    device = load_file(str(tmp_path / "device" / "checkpoints" / "step-00000003.safetensors"))
    assert host.keys() == device.keys()
    assert [key for key in host if not torch.equal(host[key], device[key])] == []
