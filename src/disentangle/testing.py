"""For tests and benchmarks: writers of files in the datasets' official layouts, at full size but cheaply.

Each writes the official container (HDF5, zip ``.npz``, NORB binary matrices, MATLAB
files) with the official shapes and label grids; the pixels are zero except the
``marked`` images given (index -> uint8 image ``(H, W[, C])``), and the zeros are not
written: they are an HDF5 fill value or a hole in a sparse file, so a full-size file
costs kilobytes of disk. (A sparse zip member's CRC-32 is left 0: ``np.load`` would
reject it at the member's end; the readers here map it and never read that far.)
"""

from __future__ import annotations

import gzip
import io
import struct
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from disentangle.data import cars3d, shapes3d, smallnorb


def write_shapes3d(path: Path, marked: dict | None = None, contiguous: bool = False, labels=None) -> Path:
    """``3dshapes.h5`` with ``images`` (480000×64×64×3 uint8; chunked and gzip-compressed as
    the official file, or ``contiguous`` and uncompressed) and ``labels`` (the official
    grid unless ``labels`` is given)."""
    shape = (shapes3d.NUM_IMAGES, *shapes3d.IMAGE_SHAPE)
    with h5py.File(path, "w") as file:
        if contiguous:
            space = h5py.h5s.create_simple(shape)
            plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            plist.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
            plist.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
            h5py.h5d.create(file.id, b"images", h5py.h5t.STD_U8LE, space, plist)
        else:
            file.create_dataset("images", shape, np.uint8, chunks=(100, 64, 64, 3), compression="gzip", fillvalue=0)
        for index, image in (marked or {}).items():
            file["images"][index] = image
        file.create_dataset("labels", data=shapes3d.official_labels() if labels is None else labels)
    return path


def write_npz_images(path: Path, shape: tuple[int, ...], marked: dict | None = None) -> Path:
    """An ``.npz`` holding one uncompressed uint8 array ``images`` of ``shape`` (as the
    official MPI3D files), its body a sparse hole but for the ``marked`` images."""
    header = _npy_header(shape)
    body = int(np.prod(shape))
    name = b"images.npy"
    size = len(header) + body
    local_extra = struct.pack("<HHQQ", 1, 16, size, size)
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 45, 0, 0, 0, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF, len(name), len(local_extra))
    start = len(local) + len(name) + len(local_extra)
    per_image = int(np.prod(shape[1:]))
    with open(path, "wb") as handle:
        handle.write(local + name + local_extra + header)
        for index, image in (marked or {}).items():
            handle.seek(start + len(header) + index * per_image)
            handle.write(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
        directory = start + size
        handle.truncate(directory)
        handle.seek(directory)
        central_extra = struct.pack("<HHQQ", 1, 16, size, size)
        central = struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 45, 45, 0, 0, 0, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF,
            len(name), len(central_extra), 0, 0, 0, 0, 0,
        )
        handle.write(central + name + central_extra)
        end = handle.tell()
        length = end - directory
        handle.write(struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 1, 1, length, directory))
        handle.write(struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1))
        handle.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    return path


def write_compressed_npz_images(path: Path, images: np.ndarray) -> Path:
    """An ``.npz`` (``np.savez_compressed``) holding ``images``: a compressed archive."""
    with open(path, "wb") as handle:
        np.savez_compressed(handle, images=images)
    return path


def _npy_header(shape: tuple[int, ...]) -> bytes:
    """The ``.npy`` header (format 1.0) of a C-order uint8 array of ``shape``."""
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, {"descr": "|u1", "fortran_order": False, "shape": tuple(shape)})
    return stream.getvalue()


def norb_header(magic: int, shape: tuple[int, ...]) -> bytes:
    """A NORB binary matrix header: magic, ndim, then ``max(3, ndim)`` dimensions (1s past ndim)."""
    dims = list(shape) + [1] * (3 - len(shape))
    return struct.pack(f"<2i{len(dims)}i", magic, len(shape), *dims)


def write_smallnorb(folder: Path, marked: dict | None = None, compress: bool = False, info=None) -> Path:
    """The six SmallNORB files in ``folder`` (``.gz`` with ``compress``), labels in the
    official grid (shuffled rows, as the official files are not sorted), the ``dat``
    bodies sparse but for ``marked``: (chunk name, row, camera) -> uint8 96×96 image.
    ``info``: chunk name -> int32 (24300, 4) replacing that chunk's info."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = smallnorb.PAIRS_PER_FILE
    for number, (chunk, instances) in enumerate(smallnorb.CHUNKS.items()):
        grid = np.stack(np.meshgrid(np.arange(5), np.arange(5), np.arange(9), np.arange(18), np.arange(6),
                                    indexing="ij"), -1).reshape(-1, 5)
        grid = grid[np.random.RandomState(number).permutation(rows)]
        chunk_info = np.column_stack([np.asarray(instances)[grid[:, 1]], grid[:, 2], grid[:, 3] * 2, grid[:, 4]])
        chunk_info = (info or {}).get(chunk, chunk_info)
        for kind, magic, array in (("cat", 0x1E3D4C54, grid[:, 0]), ("info", 0x1E3D4C54, chunk_info)):
            _write_matrix(folder / f"{chunk}-{kind}.mat", norb_header(magic, array.shape),
                          np.asarray(array, "<i4").tobytes(), compress)
        header = norb_header(0x1E3D4C55, (rows, 2, 96, 96))
        path = folder / f"{chunk}-dat.mat"
        pixels = {(row, camera): image for (name, row, camera), image in (marked or {}).items() if name == chunk}
        if compress:
            body = np.zeros((rows, 2, 96, 96), np.uint8)
            for (row, camera), image in pixels.items():
                body[row, camera] = image
            _write_matrix(path, header, body.tobytes(), True)
            continue
        with open(path, "wb") as handle:
            handle.write(header)
            for (row, camera), image in pixels.items():
                handle.seek(len(header) + (row * 2 + camera) * 96 * 96)
                handle.write(np.asarray(image, np.uint8).tobytes())
            handle.truncate(len(header) + rows * 2 * 96 * 96)
    return folder


def _write_matrix(path: Path, header: bytes, body: bytes, compress: bool) -> None:
    opener = gzip.open if compress else open
    with opener(path.with_name(path.name + ".gz") if compress else path, "wb") as handle:
        handle.write(header + body)


def write_cars3d(folder: Path, marked: dict | None = None, names: list[str] | None = None) -> Path:
    """The 183 ``.mat`` files of Cars3D in ``folder`` (compressed MATLAB v5, zeros but for
    ``marked``: (object number, elevation, azimuth) -> uint8 128×128×3 image), named
    ``car_001_mesh.mat`` … unless ``names`` are given (in object order). The all-zero
    file is compressed once and copied."""
    folder.mkdir(parents=True, exist_ok=True)
    names = names or [f"car_{number + 1:03d}_mesh" for number in range(cars3d.FACTORS_NUM_VALUES[2])]
    blank = io.BytesIO()
    scipy.io.savemat(blank, {"im": np.zeros(cars3d.MESH_SHAPE, np.uint8)}, do_compression=True)
    for number, name in enumerate(names):
        views = {key[1:]: image for key, image in (marked or {}).items() if key[0] == number}
        if not views:
            (folder / f"{name}.mat").write_bytes(blank.getvalue())
            continue
        mesh = np.zeros(cars3d.MESH_SHAPE, np.uint8)
        for (elevation, azimuth), image in views.items():
            mesh[:, :, :, azimuth, elevation] = image
        scipy.io.savemat(folder / f"{name}.mat", {"im": mesh}, do_compression=True)
    return folder


__all__ = [
    "norb_header", "write_cars3d", "write_compressed_npz_images", "write_npz_images", "write_shapes3d",
    "write_smallnorb",
]
