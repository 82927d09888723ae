"""A dataset's observations held on the training device, so that a step gathers its
batch there instead of building it on the host and copying it over.

The observations are stored as uint8 (one byte a pixel: dSprites' 737,280 images take
2.9 GiB) and turned into float32 on the device as ``ImageDataset.observations`` does
(``uint8 → float32, / 255``), so a batch is bit-identical to the host's. Only datasets
whose every observation is a multiple of 1/255 can be held so; ``DeviceObservations.hold``
checks that while it copies, and declines (returns ``None``) for the others, or when
the device lacks the memory.
"""

from __future__ import annotations

import torch
from torch import Tensor

from disentangle.data import ImageDataset
from disentangle.resources import available_memory

#: images copied to the device at a time while it is filled
CHUNK = 16_384
#: the share of the device's free memory the observations may take
MEMORY_SHARE = 0.5


class DeviceObservations:
    """The observations of a dataset, uint8 ``(N, C, H, W)`` on ``device``."""

    def __init__(self, images: Tensor):
        self.images = images

    @classmethod
    def hold(cls, dataset: ImageDataset, device: str) -> DeviceObservations | None:
        """Every observation of ``dataset`` copied to ``device``, or ``None`` where they do not
        fit in ``MEMORY_SHARE`` of its free memory or are not all multiples of 1/255."""
        count = len(dataset)
        size = count * int(torch.Size(dataset.observation_shape).numel())
        available = available_memory(device)
        if available is not None and size > MEMORY_SHARE * available:
            return None
        images = torch.empty((count, *dataset.observation_shape), dtype=torch.uint8, device=device)
        for start in range(0, count, CHUNK):
            observations = dataset.observations(torch.arange(start, min(start + CHUNK, count)))
            scaled = torch.round(observations * 255).to(torch.uint8)
            if not torch.equal(scaled.to(torch.float32).div_(255.0), observations):
                return None
            images[start:start + len(scaled)] = scaled.to(device)
        return cls(images)

    def observations(self, indices: Tensor) -> Tensor:
        """float32 ``(len(indices), C, H, W)`` in [0, 1] on the device, equal to the dataset's."""
        return self.images[indices.to(self.images.device)].to(torch.float32).div_(255.0)
