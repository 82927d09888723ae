"""Reader of factor datasets stored in the official dSprites ``.npz`` layout.

Arrays ``imgs`` (uint8 ``(N, size, size)`` of 0s and 1s), ``latents_classes`` and
``latents_values`` (``(N, 1 + num_factors)``: a colour column, then the factors), in
row-major factor order. The images are decompressed in chunks and bit-packed as they
are read, so the unpacked set is never in memory; nothing is unpickled.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from disentangle.data.base import load_npz_array, load_numpy_file, read_npy_header
from disentangle.errors import InputError

#: bytes of ``imgs`` decompressed at a time when reading an ``.npz`` (bounds peak memory)
_READ_CHUNK_BYTES = 64 * 2**20
_NPZ_KEYS = ("imgs", "latents_classes", "latents_values")
#: what reading a damaged archive member raises
_UNREADABLE = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error)


def read_factor_npz(path: str | Path, factors_num_values: Sequence[int], image_size: int) -> np.ndarray:
    """Read a factor dataset stored in the official dSprites ``.npz`` layout.

    Expects ``imgs``: uint8 ``(N, image_size, image_size)`` of 0s and 1s;
    ``latents_classes``: integers ``(N, 1 + num_factors)``, a colour column of 0s
    followed by the factor levels in row-major order (last factor fastest);
    ``latents_values``: floats ``(N, 1 + num_factors)``; N = prod(factors_num_values).
    Other entries (the official ``metadata``) are not read, and nothing is unpickled.

    Returns the images bit-packed, uint8 ``(N, ceil(image_size² / 8))`` (``np.packbits``
    of each row-major image), decompressing ``imgs`` in chunks so that the
    unpacked images are never all in memory.
    """
    path = Path(path)
    num_images = int(np.prod(factors_num_values))
    archive = load_numpy_file(path, ".npz file", f"an .npz with arrays {', '.join(_NPZ_KEYS)}")
    if isinstance(archive, np.ndarray):
        raise InputError(f"{path}: holds a single array, expected an .npz with arrays {', '.join(_NPZ_KEYS)}")
    with archive:
        for key in _NPZ_KEYS:
            if key not in archive.files:
                raise InputError(f"{path}: missing array '{key}' (expected arrays {', '.join(_NPZ_KEYS)})")
        member = "imgs.npy" if "imgs.npy" in archive.zip.namelist() else "imgs"
        try:
            with archive.zip.open(member) as imgs:
                shape, fortran_order, dtype = read_npy_header(imgs)
                expected = (num_images, image_size, image_size)
                if shape != expected or dtype != np.uint8:
                    raise InputError(
                        f"{path}: array 'imgs' has shape {shape} and dtype {dtype}, "
                        f"expected shape {expected} and dtype uint8"
                    )
                if fortran_order:
                    raise InputError(f"{path}: array 'imgs' is stored in Fortran order, expected C order")
                _check_latents(archive, path, factors_num_values)
                return _read_packed_binary(imgs, path, num_images, image_size * image_size)
        except InputError:
            raise
        except _UNREADABLE as error:
            raise InputError(f"{path}: array 'imgs' unreadable ({error})") from None


def _check_latents(archive, path: Path, factors_num_values: Sequence[int]) -> None:
    """Check ``latents_classes`` (order) and ``latents_values`` (shape, dtype)."""
    num_images = int(np.prod(factors_num_values))
    shape = (num_images, 1 + len(factors_num_values))
    for key, kind, dtype_name in (
        ("latents_classes", np.integer, "integers"),
        ("latents_values", np.floating, "floats"),
    ):
        array = load_npz_array(archive, key, path)
        if not isinstance(array, np.ndarray):
            raise InputError(f"{path}: entry '{key}' is not a .npy array")
        if array.shape != shape or not np.issubdtype(array.dtype, kind):
            raise InputError(
                f"{path}: array '{key}' has shape {array.shape} and dtype {array.dtype}, "
                f"expected shape {shape} of {dtype_name}"
            )
        if key == "latents_classes":
            order = np.stack(np.unravel_index(np.arange(num_images), factors_num_values), axis=1)
            if np.any(array[:, 0] != 0) or not np.array_equal(array[:, 1:], order):
                raise InputError(
                    f"{path}: 'latents_classes' is not in the official order "
                    "(colour column of 0s, then the factors with the last varying fastest)"
                )


def _read_packed_binary(stream, path: Path, num_images: int, pixels_per_image: int) -> np.ndarray:
    """Bit-pack ``num_images`` uint8 images of 0s and 1s read row by row from ``stream``."""
    packed = np.empty((num_images, (pixels_per_image + 7) // 8), dtype=np.uint8)
    per_chunk = max(1, _READ_CHUNK_BYTES // pixels_per_image)
    for start in range(0, num_images, per_chunk):
        count = min(per_chunk, num_images - start)
        data = stream.read(count * pixels_per_image)
        if len(data) != count * pixels_per_image:
            last = start + len(data) // pixels_per_image
            raise InputError(f"{path}: array 'imgs' is truncated (it ends inside image {last})")
        images = np.frombuffer(data, dtype=np.uint8).reshape(count, pixels_per_image)
        if images.max() > 1:
            raise InputError(f"{path}: 'imgs' must be binary (0 or 1), found values up to {images.max()}")
        packed[start : start + count] = np.packbits(images, axis=1)
    return packed
