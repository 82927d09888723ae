"""Factor datasets served from a memory map of uint8 images, and the resizing they share.

``MappedFactorDataset`` holds its images as a read-only NumPy memory map, either
``(N, C, H, W)`` (the cache's layout) or ``(N, H, W, C)`` (an official file mapped as
it is), and serves batches by fancy indexing the map: only the touched pages are read
(and count as file-backed resident memory, ``RssFile``, which the kernel may drop).
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from disentangle.data.base import FactorDataset, as_index_tensor
from disentangle.errors import InputError


def default_data_dir() -> Path:
    """Where datasets look for official files not given as ``path``:
    ``$DISENTANGLE_DATA`` if set, else ``~/.local/share/disentangle``."""
    return Path(os.environ.get("DISENTANGLE_DATA") or Path.home() / ".local" / "share" / "disentangle")


def map_images(path: str | Path, offset: int, shape: tuple[int, ...]) -> np.ndarray:
    """A read-only uint8 array ``shape`` mapped from ``path`` at byte ``offset``, with the
    kernel told to expect random access (``MADV_RANDOM``: no read-ahead, so sampling reads
    only the pages of the images drawn). ``ValueError`` when the file is too short."""
    size = int(np.prod(shape))
    aligned = offset - offset % mmap.ALLOCATIONGRANULARITY
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size < offset + size:
            raise ValueError(f"{path}: {offset + size:,} bytes expected, the file is shorter")
        mapping = mmap.mmap(handle.fileno(), offset - aligned + size, access=mmap.ACCESS_READ, offset=aligned)
    if hasattr(mmap, "MADV_RANDOM"):  # Linux and macOS
        mapping.madvise(mmap.MADV_RANDOM)
    return np.frombuffer(mapping, np.uint8, size, offset - aligned).reshape(shape)


def resize_lanczos(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 ``(N, size, size[, C])`` from uint8 ``(N, H, W[, C])``, each image resized with
    Pillow's Lanczos filter (``Image.Resampling.LANCZOS``: what dlib's ``Image.ANTIALIAS``
    named until Pillow 10 removed the alias), rounded to uint8 by Pillow as in dlib."""
    if images.shape[1:3] == (size, size):
        return np.array(images)
    out = np.empty((len(images), size, size) + images.shape[3:], dtype=np.uint8)
    for k, image in enumerate(images):
        out[k] = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.LANCZOS))
    return out


class MappedFactorDataset(FactorDataset):
    """A factor dataset whose images are a read-only uint8 memory map.

    Subclasses set ``self._pixels`` (``(N, C, H, W)``, or ``(N, H, W, C)`` with
    ``self._channels_last = True``; from ``map_images``) with N = ``len(self)``, and
    ``self.mapped_file``, the file it maps (the cache, or the official file itself).
    """

    _pixels: np.ndarray
    _channels_last: bool = False
    #: the file the images are mapped from
    mapped_file: Path

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        if self._channels_last:
            height, width, channels = self._pixels.shape[1:]
            return (channels, height, width)
        return tuple(self._pixels.shape[1:])

    def _batch(self, indices) -> np.ndarray:
        """uint8 ``(N, C, H, W)`` (a fresh array, not a view of the map)."""
        index = as_index_tensor(indices, len(self)).numpy()
        batch = self._pixels[index]
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2)) if self._channels_last else batch

    def images(self, indices) -> torch.Tensor:
        return torch.from_numpy(self._batch(indices))

    # in NumPy, single-threaded: cheaper than torch's kernels on a batch this small
    def observations(self, indices) -> torch.Tensor:
        batch = self._batch(indices).astype(np.float32)
        batch /= np.float32(255)
        return torch.from_numpy(batch)


def locate(path: str | Path | None, default: str, title: str) -> Path:
    """``path``, or ``default_data_dir() / default`` when ``None``; an ``InputError`` naming
    the place and ``title`` (what should be there) when nothing is there."""
    location = Path(path) if path is not None else default_data_dir() / default
    if not location.exists():
        hint = "" if path is not None else " (give --data-path, or set $DISENTANGLE_DATA)"
        raise InputError(f"{location}: no such file or folder (expected {title}){hint}")
    return location
