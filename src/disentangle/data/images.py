"""Image datasets without ground-truth factors, read from files the user points at.

=================  ==========================================================  ===========
name               source                                                      observation
=================  ==========================================================  ===========
``mnist``          the official MNIST IDX files (raw or ``.gz``)               (1, 28, 28)
``fashion-mnist``  the official Fashion-MNIST IDX files (same format)          (1, 28, 28)
``array``          a ``.npy`` / ``.npz`` array of images                       (C, H, W)
``folder``         a folder of png / jpg / jpeg / bmp / gif files              (C, H, W)
``digits``         scikit-learn's bundled 8×8 handwritten digits, with labels  (1, 8, 8)
=================  ==========================================================  ===========

Each dataset loads its images once into one uint8 tensor ``(N, C, H, W)`` and serves
batches by tensor indexing. Every malformed input raises ``InputError`` naming the
file or option and what was expected.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from disentangle.data.base import (
    DataFiles,
    ImageDataset,
    absolute_path,
    as_index_tensor,
    check_declared_size,
    load_npz_array,
    load_numpy_file,
)
from disentangle.errors import InputError, shown
from disentangle.resources import available_memory, gibibytes

#: IDX magic number of a 3-D array of unsigned bytes (MNIST images)
IDX_UINT8_IMAGES = 0x00000803
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
#: bytes of IDX pixels read at a time
_READ_CHUNK = 64 * 2**20


class InMemoryImages(ImageDataset):
    """Images held in memory as one uint8 tensor ``(N, C, H, W)``."""

    def __init__(self, images: torch.Tensor):
        if images.dtype != torch.uint8 or images.ndim != 4 or 0 in images.shape:
            raise ValueError(
                f"expected a non-empty uint8 tensor (N, C, H, W), got {images.dtype} {tuple(images.shape)}"
            )
        self._images = images.contiguous()

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        return tuple(self._images.shape[1:])

    def __len__(self) -> int:
        return self._images.shape[0]

    def images(self, indices) -> torch.Tensor:
        return self._images.index_select(0, as_index_tensor(indices, len(self)))


# --------------------------------------------------------------------------- IDX


def read_idx_images(path: str | Path, image_size: tuple[int, int] | None = None, title: str = "") -> np.ndarray:
    """uint8 array ``(N, H, W)`` from an IDX images file, raw or gzip-compressed; with
    ``image_size``, images of any other (H, W) are refused from the header alone (the
    message names them ``title`` images, e.g. MNIST).

    The IDX format: the magic number ``0x00000803`` (unsigned bytes, 3 dimensions),
    then N, H, W as big-endian 32-bit integers, then the N·H·W pixels row-major.
    Compression is recognised by content, not by the file's name. The header is read
    first and the declared size checked against the file (for gzip, against the size
    its trailer records) and against the memory available, before the pixels are read;
    exactly the declared pixels are then read, so a small file cannot expand without bound.
    """
    path = Path(path)
    compressed = False
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == b"\x1f\x8b"
            raw.seek(-4 if compressed else 0, os.SEEK_END)
            stored = int.from_bytes(raw.read(4), "little") if compressed else raw.tell()
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw) if compressed else raw
            header = stream.read(16)
            shape = _idx_shape(header, path)
            if image_size is not None and shape[1:] != tuple(image_size):
                expected = f"{image_size[0]}×{image_size[1]} {title} images".replace("  ", " ")
                raise InputError(f"{path}: images are {shape[1]}×{shape[2]}, expected {expected}")
            pixels = math.prod(shape)
            if (16 + pixels) % 2**32 != stored % 2**32 if compressed else 16 + pixels != stored:
                size = "its gzip trailer records (a damaged gzip file?)" if compressed else "the file holds"
                raise InputError(
                    f"{path}: IDX header says {shape[0]}×{shape[1]}×{shape[2]} images ({16 + pixels} bytes) "
                    f"but {size} {stored} bytes"
                )
            check_declared_size(shape, np.dtype(np.uint8), pixels, str(path))
            images = np.empty(shape, dtype=np.uint8)
            flat, done = images.reshape(-1), 0
            while done < pixels:  # in chunks: gzip would otherwise hold a second copy of it all
                chunk = stream.read(min(_READ_CHUNK, pixels - done))
                if not chunk:
                    break
                flat[done : done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                done += len(chunk)
            if done != pixels or stream.read(1):
                raise InputError(f"{path}: IDX data is not the {pixels} bytes its header declares")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file (expected an IDX images file)") from None
    except InputError:
        raise
    except (OSError, EOFError, zlib.error) as error:
        kind = "damaged gzip file" if compressed else "unreadable file"
        raise InputError(f"{path}: {kind} ({error})") from None
    return images


def _idx_shape(header: bytes, path: Path) -> tuple[int, int, int]:
    """(N, H, W) from the 16-byte header of an IDX images file."""
    if len(header) < 16:
        raise InputError(f"{path}: {len(header)} bytes is too short for an IDX images header (16 bytes)")
    magic = int.from_bytes(header[:4], "big")
    if magic != IDX_UINT8_IMAGES:
        raise InputError(
            f"{path}: IDX magic 0x{magic:08x} is not uint8 images (expected 0x{IDX_UINT8_IMAGES:08x})"
        )
    shape = tuple(int.from_bytes(header[4 + 4 * k : 8 + 4 * k], "big") for k in range(3))
    if 0 in shape:
        raise InputError(f"{path}: IDX header says {shape[0]}×{shape[1]}×{shape[2]}; expected at least one image")
    return shape


class MNIST(InMemoryImages):
    """MNIST digits from the official IDX files, observation ``(1, 28, 28)``.

    Args:
        path: a folder holding ``train-images-idx3-ubyte`` (and, for the test split,
            ``t10k-images-idx3-ubyte``), each raw or ``.gz``; or one IDX images file.
        split: ``"train"`` (default), ``"test"`` or ``"all"`` (train then test);
            only for a folder.
    """

    name = "mnist"
    title = "MNIST"
    data_files = DataFiles("the official IDX files (train-images-idx3-ubyte, t10k-images-idx3-ubyte, raw or .gz)")
    #: the official file name of each split's images
    split_files = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}

    def __init__(self, path: str | Path, split: str | None = None):
        #: absolute and resolved, so that ``describe()`` rebuilds it from any working folder
        self.path = absolute_path(path)
        location = Path(path)
        if location.is_dir():
            self.split = "train" if split is None else split
            if self.split not in ("train", "test", "all"):
                raise InputError(f"split: expected 'train', 'test' or 'all', got {self.split!r}")
            splits = ("train", "test") if self.split == "all" else (self.split,)
            files = [self._find(location, self.split_files[name]) for name in splits]
        elif location.exists():
            if split is not None:
                raise InputError(f"split: applies to a folder of {self.title} files, but {path} is a file")
            self.split = None
            files = [location]
        else:
            raise InputError(f"{path}: no such file or folder (expected the {self.title} IDX files)")
        self.source_files = {self.path: files}
        arrays = [read_idx_images(file, image_size=(28, 28), title=self.title) for file in files]
        super().__init__(torch.from_numpy(np.concatenate(arrays)).unsqueeze(1))

    def _find(self, folder: Path, name: str) -> Path:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
        raise InputError(f"{folder}: no {name} or {name}.gz (expected the official {self.title} IDX files)")

    def describe(self) -> dict:
        return {"name": self.name, "path": self.path, "split": self.split}


class FashionMNIST(MNIST):
    """Fashion-MNIST (Xiao et al. 2017): the same IDX files and names as MNIST."""

    name = "fashion-mnist"
    title = "Fashion-MNIST"


# --------------------------------------------------------------------------- arrays


def images_from_array(array: np.ndarray, source: str) -> torch.Tensor:
    """uint8 tensor ``(N, C, H, W)`` from an array of images.

    Accepts uint8 in [0, 255], bool, or float in [0, 1] (scaled by 255 and rounded);
    shapes ``(N, H, W)``, ``(N, H, W, C)`` or ``(N, C, H, W)`` with C in {1, 3}. When
    both the second and the last axis could be channels, ``(N, C, H, W)`` is assumed.
    ``source`` names the array in error messages.
    """
    if 0 in array.shape:
        raise InputError(f"{source}: array of shape {array.shape} holds no images")
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[1] not in (1, 3) and array.shape[3] in (1, 3):
        array = array.transpose(0, 3, 1, 2)
    elif array.ndim != 4 or array.shape[1] not in (1, 3):
        raise InputError(
            f"{source}: array of shape {array.shape} is not images "
            "(expected (N, H, W), (N, H, W, C) or (N, C, H, W) with C = 1 or 3)"
        )
    if array.dtype == np.uint8:
        pixels = array
    elif array.dtype == np.bool_:
        pixels = array.astype(np.uint8) * np.uint8(255)
    elif np.issubdtype(array.dtype, np.floating):
        low, high = float(array.min()), float(array.max())
        if not (0.0 <= low and high <= 1.0):  # also rejects NaN
            raise InputError(f"{source}: float values span [{low}, {high}], expected [0, 1]")
        pixels = np.rint(array * 255.0).astype(np.uint8)
    else:
        raise InputError(
            f"{source}: dtype {array.dtype} is not images (expected uint8 in 0..255 or float in [0, 1])"
        )
    return torch.from_numpy(np.ascontiguousarray(pixels))


class ArrayImages(InMemoryImages):
    """Images from a ``.npy`` or ``.npz`` file (see ``images_from_array`` for layouts).

    Args:
        path: the file; never unpickled.
        key: for a ``.npz``, which array to read; default the only array, else
            ``imgs`` or ``images``.
    """

    name = "array"
    data_files = DataFiles("a .npy / .npz array of images")

    def __init__(self, path: str | Path, key: str | None = None):
        #: absolute and resolved, so that ``describe()`` rebuilds it from any working folder
        self.path = absolute_path(path)
        self.source_files = {self.path: [Path(self.path)]}
        loaded = load_numpy_file(path, ".npy or .npz file", "a .npy or .npz array of images")
        if isinstance(loaded, np.ndarray):
            if key is not None:
                raise InputError(f"key: applies to a .npz archive, but {path} holds a single array")
            self.key = None
            array, source = loaded, str(path)
        else:
            with loaded:
                self.key = self._choose_key(loaded.files, key, path)
                source = f"{path}: array '{self.key}'"
                array = load_npz_array(loaded, self.key, path)
        super().__init__(images_from_array(array, source))

    def _choose_key(self, files: list[str], key: str | None, path: str | Path) -> str:
        if key is not None:
            if key not in files:
                held = ", ".join(files) or "none"
                raise InputError(f"key: {path} has no array {key!r} (it holds {held})")
            return key
        if len(files) == 1:
            return files[0]
        for name in ("imgs", "images"):
            if name in files:
                return name
        raise InputError(
            f"{path}: holds arrays {', '.join(files) or '(none)'}; choose one with key= "
            "(default: the only array, or imgs / images)"
        )

    def describe(self) -> dict:
        return {"name": self.name, "path": self.path, "key": self.key}


# --------------------------------------------------------------------------- folders


#: the largest side, in pixels, that a folder's images may be resized to
MAX_IMAGE_SIDE = 4096


def _image_size(size: int | Sequence[int] | None) -> tuple[int, int] | None:
    """``(H, W)`` from ``size`` (an int for square images, or a pair H, W)."""
    if size is None:
        return None
    pair = (size, size) if isinstance(size, int) else tuple(size) if isinstance(size, (list, tuple)) else ()
    if len(pair) != 2 or not all(
        isinstance(n, int) and not isinstance(n, bool) and 0 < n <= MAX_IMAGE_SIDE for n in pair
    ):
        raise InputError(
            f"size: expected an int or a pair (height, width) of 1 to {MAX_IMAGE_SIDE} pixels, got {shown(size)}"
        )
    return pair


class ImageFolder(InMemoryImages):
    """Every image under a folder (recursively, sorted by relative path).

    Args:
        path: the folder; files ending in png, jpg, jpeg, bmp or gif (any case).
        mode: ``"L"`` (grey, 1 channel) or ``"RGB"`` (3 channels); default RGB if
            any image has colour, else L. Alpha is dropped; a GIF gives its first frame.
        size: resize every image to this (an int, or a pair height, width) with
            bilinear filtering; default: all images must share one size.
    """

    name = "folder"
    data_files = DataFiles("a folder of PNG / JPEG / BMP / GIF images")

    def __init__(self, path: str | Path, mode: str | None = None, size: int | Sequence[int] | None = None):
        #: absolute and resolved, so that ``describe()`` rebuilds it from any working folder
        self.path = absolute_path(path)
        if mode not in (None, "L", "RGB"):
            raise InputError(f"mode: expected 'L' or 'RGB', got {mode!r}")
        self.mode = mode
        self.size = _image_size(size)
        folder = Path(path)
        if not folder.is_dir():
            raise InputError(f"{path}: no such folder (expected a folder of images)")
        files = sorted(
            (file for file in folder.rglob("*") if file.suffix.lower() in IMAGE_SUFFIXES and file.is_file()),
            key=lambda file: file.relative_to(folder).as_posix(),
        )
        if not files:
            suffixes = ", ".join(IMAGE_SUFFIXES)
            raise InputError(f"{path}: no images found (expected files ending in {suffixes})")
        if self.size is not None:
            needed, available = len(files) * self.size[0] * self.size[1] * 3, available_memory()
            if available is not None and needed > available:
                raise InputError(
                    f"size: {len(files):,} images of {self.size[0]}×{self.size[1]} need up to {gibibytes(needed)}, "
                    f"more than the {gibibytes(available)} of memory available"
                )
        self.source_files = {self.path: files}
        pixels = [self._read(file) for file in files]
        first = pixels[0].shape[:2]
        for file, array in zip(files, pixels):
            if array.shape[:2] != first:
                raise InputError(
                    f"{file}: image is {array.shape[0]}×{array.shape[1]} but {files[0]} is "
                    f"{first[0]}×{first[1]} (H×W); all images must share one size, or pass size="
                )
        if self.mode is None:
            self.mode = "RGB" if any(array.ndim == 3 for array in pixels) else "L"
        if self.mode == "RGB":
            colour = [array if array.ndim == 3 else np.repeat(array[:, :, None], 3, axis=2) for array in pixels]
            stacked = np.stack(colour).transpose(0, 3, 1, 2)
        else:
            stacked = np.stack([array if array.ndim == 2 else array[:, :, 0] for array in pixels])[:, None]
        super().__init__(torch.from_numpy(np.ascontiguousarray(stacked)))

    def _read(self, file: Path) -> np.ndarray:
        """uint8 ``(H, W)`` for a grey image, ``(H, W, 3)`` for a colour one."""
        try:
            with Image.open(file) as image:
                if image.mode.startswith(("I", "F")):
                    raise InputError(
                        f"{file}: {image.mode} images are not supported (expected 8-bit grey or colour)"
                    )
                grey = self.mode == "L" or (self.mode is None and image.mode in ("1", "L", "LA"))
                image = image.convert("L" if grey else "RGB")
        except InputError:
            raise
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
            raise InputError(f"{file}: not a readable image ({error})") from None
        if self.size is not None:
            image = image.resize((self.size[1], self.size[0]), Image.Resampling.BILINEAR)
        pixels = np.asarray(image)
        if self.mode is None and not grey and (pixels == pixels[:, :, :1]).all():
            return pixels[:, :, 0].copy()
        return pixels

    def describe(self) -> dict:
        size = list(self.size) if self.size else None
        return {"name": self.name, "path": self.path, "mode": self.mode, "size": size}


# --------------------------------------------------------------------------- digits


class Digits(InMemoryImages):
    """scikit-learn's bundled 8×8 handwritten digits (1,797 images; UCI optdigits).

    Pixel counts 0..16 are scaled to 0..255. ``labels`` holds the digit of each
    image (int64 ``(N,)``); the dataset has no factors.
    """

    name = "digits"

    def __init__(self):
        from sklearn.datasets import load_digits

        digits = load_digits()
        pixels = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)
        self.labels = digits.target.astype(np.int64)
        super().__init__(torch.from_numpy(pixels).unsqueeze(1))
