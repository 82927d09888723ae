"""A dataset's observations held on the training device, so that a step gathers its
batch there instead of building it on the host and copying it over.

A dataset of binary images that offers them bit-packed (``ImageDataset.packed_bits``:
dSprites' 737,280 images take 377 MB) is held so, and each batch is unpacked on the
device. Any other is stored as uint8 (one byte a pixel) and turned into float32 on the
device as ``ImageDataset.observations`` does (``uint8 → float32, / 255``). Either way a
batch is bit-identical to the host's. Only datasets whose every observation is a
multiple of 1/255 can be held as uint8; ``DeviceObservations.hold`` checks that while it
copies, and declines (returns ``None``) for the others, or when the device lacks the
memory.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from disentangle.data import ImageDataset
from disentangle.resources import available_memory

#: images copied to the device at a time while it is filled
CHUNK = 16_384
#: the share of the device's free memory the observations may take
MEMORY_SHARE = 0.5


class DeviceObservations:
    """The observations of a dataset on the device: uint8 ``(N, C, H, W)``, or for binary
    images bit-packed uint8 ``(N, ceil(C·H·W / 8))`` (``bits=True``)."""

    def __init__(self, images: Tensor, shape: tuple[int, int, int], bits: bool = False):
        self.images, self.shape, self.bits = images, tuple(shape), bits

    @classmethod
    def hold(cls, dataset: ImageDataset, device: str) -> DeviceObservations | None:
        """Every observation of ``dataset`` copied to ``device``, or ``None`` where they do not
        fit in ``MEMORY_SHARE`` of its free memory or are not all multiples of 1/255."""
        count, shape = len(dataset), tuple(dataset.observation_shape)
        packed = dataset.packed_bits()
        size = packed.nbytes if packed is not None else count * int(torch.Size(shape).numel())
        available = available_memory(device)
        if available is not None and size > MEMORY_SHARE * available:
            return None
        if packed is not None:
            return cls(torch.from_numpy(packed).to(device), shape, bits=True)
        images = torch.empty((count, *shape), dtype=torch.uint8, device=device)
        for start in range(0, count, CHUNK):
            observations = dataset.observations(torch.arange(start, min(start + CHUNK, count)))
            scaled = torch.round(observations * 255).to(torch.uint8)
            if not torch.equal(scaled.to(torch.float32).div_(255.0), observations):
                return None
            images[start:start + len(scaled)] = scaled.to(device)
        return cls(images, shape)

    def observations(self, indices: Tensor) -> Tensor:
        """float32 ``(len(indices), C, H, W)`` in [0, 1] on the device, equal to the dataset's."""
        rows = self.images[indices.to(self.images.device)]
        if not self.bits:
            return rows.to(torch.float32).div_(255.0)
        shifts = torch.arange(7, -1, -1, dtype=torch.uint8, device=rows.device)
        pixels = (rows.unsqueeze(-1) >> shifts).bitwise_and_(1).flatten(1)[:, : torch.Size(self.shape).numel()]
        return pixels.to(torch.float32).view(len(rows), *self.shape)



def held_on_device(dataset: ImageDataset, device: str) -> ImageDataset:
    """``dataset`` with its observations served from the device where ``DeviceObservations.hold``
    takes them (else ``dataset`` itself): a shallow copy whose ``observations`` gathers there,
    so that a model's ``sample_batch`` draws its indices as before and gets its batch on the
    device; everything else (its class, factors, sizes) is the dataset's own."""
    held = DeviceObservations.hold(dataset, device)
    if held is None:
        return dataset
    served = copy.copy(dataset)
    served.observations = lambda indices: held.observations(torch.as_tensor(indices))
    return served
