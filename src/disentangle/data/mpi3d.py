"""MPI3D (Gondal et al. 2019) from the official ``.npz`` files.

RGB 64×64 images of a robot arm holding an object, one per combination of

=================  =====================  ==========================================
factor             values (final release)  meaning
=================  =====================  ==========================================
object colour      6                      white, green, red, blue, brown, olive
object shape       6                      cone, cube, cylinder, hexagonal, pyramid, sphere
object size        2                      small, large
camera height      3                      top, centre, bottom
background colour  3                      purple, sea green, salmon
first DOF          40                     horizontal rotation of the arm, 0…39
second DOF         40                     vertical rotation of the arm, 0…39
=================  =====================  ==========================================

in C order (object colour slowest, second DOF fastest), the only array ``images``
``(N, 64, 64, 3)`` uint8. ``mpi3d-toy``, ``mpi3d-realistic`` and ``mpi3d-real`` are the
final releases (``mpi3d_<name>.npz``, 1,036,800 images) or, with
``release="challenge"``, the NeurIPS 2019 challenge files (460,800 images, 4 colours
and 4 shapes), which disentanglement_lib's reader assumes. ``mpi3d-complex``
(``real3d_complicated_shapes_ordered.npz``) has 4 colours and 4 shapes (460,800
images). A file whose image count is not the chosen release's is refused: read as
the other grid, every index would name the wrong image.

The official files are stored uncompressed, so ``images`` is mapped where it lies in
the file (no copy, no cache: 12.7 GB of pixels stay on disk and training reads the
pages it samples). A compressed archive (``np.savez_compressed``) is converted once
into the cache (``disentangle.data.cache``) instead.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from disentangle.data.base import DataFiles, absolute_path, read_npy_header
from disentangle.data.cache import cache_path, load_or_convert
from disentangle.data.mapped import MappedFactorDataset, locate, map_images
from disentangle.errors import InputError

FACTOR_NAMES = [
    "object colour", "object shape", "object size", "camera height", "background colour", "first DOF", "second DOF",
]
#: factor sizes of each release
RELEASES = {"final": [6, 6, 2, 3, 3, 40, 40], "challenge": [4, 4, 2, 3, 3, 40, 40]}
IMAGE_SHAPE = (64, 64, 3)
#: version of the conversion of compressed archives into the cache
READER_VERSION = 1
#: images decompressed at a time when converting a compressed archive (123 MB)
_BLOCK = 10_000
#: bytes of a zip local file header before its variable-length name and extra field
_LOCAL_HEADER = 30


class MPI3D(MappedFactorDataset):
    """One MPI3D variant (see the module's description); subclasses name the variant."""

    factor_names = FACTOR_NAMES
    categorical_factors = (0, 1, 4)  # object colour and shape, background colour (DCI-ES's reference)
    factors_num_values = RELEASES["final"]
    #: the official file name of the final release
    filename: str

    def __init__(self, path: str | Path | None = None, release: str = "final", cache_dir: str | Path | None = None):
        if release not in RELEASES:
            raise InputError(f"release: expected 'final' or 'challenge', got {release!r}")
        self.release = release
        self.factors_num_values = RELEASES[release]
        file_path = locate(path, self.filename, f"the official {self.filename}")
        self.path = absolute_path(file_path)
        self.source_files = {self.path: [Path(self.path)]}
        shape = (int(np.prod(self.factors_num_values)), *IMAGE_SHAPE)
        self._channels_last, self._pixels, self.mapped_file = _map_images(
            file_path, shape, cache_dir, self.name, self._expected()
        )

    def _expected(self) -> str:
        """What the file should be, in words, for error messages."""
        other = "challenge" if self.release == "final" else "final"
        count = int(np.prod(RELEASES[other]))
        return f"the {self.release} release; a {count:,}-image {other} file needs release={other}"

    def describe(self) -> dict:
        return {"name": self.name, "path": self.path, "release": self.release}


def _map_images(path: Path, shape: tuple[int, ...], cache_dir, reader: str, expected: str):
    """``(channels_last, pixels, mapped file)``: the archive's ``images`` mapped in place (stored
    uncompressed) or converted into the cache (compressed); ``expected`` says in words
    which file a wrong shape should have been."""
    name = path.name
    try:
        with zipfile.ZipFile(path) as archive:
            member = next((info for info in archive.infolist() if info.filename in ("images.npy", "images")), None)
            if member is None:
                raise InputError(f"{name}: no array 'images' (expected an .npz holding 'images' {shape} uint8)")
            with archive.open(member) as stream:
                found, fortran_order, dtype = read_npy_header(stream)
                header = stream.tell()
            if dtype != np.uint8:
                raise InputError(f"{name}: images has dtype {dtype}, expected uint8")
            if found != shape:
                raise InputError(f"{name}: images has shape {found}, expected {shape} ({expected})")
            if fortran_order:
                raise InputError(f"{name}: images is stored in Fortran order, expected C order")
            if member.file_size - header != np.prod(shape):
                raise InputError(f"{name}: images holds {member.file_size - header:,} bytes, expected {np.prod(shape):,}")
            if member.compress_type == zipfile.ZIP_STORED:
                offset = _data_offset(path, member) + header
                if path.stat().st_size < offset + np.prod(shape):
                    raise InputError(f"{name}: is truncated (images ends past the end of the file)")
                return True, map_images(path, offset, shape), path
            cache = cache_path(reader, READER_VERSION, {"shape": list(shape)}, [path], cache_dir)
            converted = (shape[0], shape[3], shape[1], shape[2])
            pixels = load_or_convert(cache, converted, lambda out: _convert(archive, member, header, out, name))
            return False, pixels, cache
    except InputError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise InputError(f"{name}: not a readable .npz archive ({error})") from None


def _data_offset(path: Path, member: zipfile.ZipInfo) -> int:
    """Byte offset in the archive of an uncompressed member's first byte (after its local
    header, whose name and extra field may differ in length from the central directory's)."""
    with open(path, "rb") as handle:
        handle.seek(member.header_offset)
        local = handle.read(_LOCAL_HEADER)
    if len(local) != _LOCAL_HEADER or local[:4] != b"PK\x03\x04":
        raise InputError(f"{path.name}: damaged zip local header for {member.filename}")
    name_length = int.from_bytes(local[26:28], "little")
    extra_length = int.from_bytes(local[28:30], "little")
    return member.header_offset + _LOCAL_HEADER + name_length + extra_length


def _convert(archive: zipfile.ZipFile, member: zipfile.ZipInfo, header: int, out: np.ndarray, name: str) -> None:
    """Decompress ``images`` ``(N, H, W, C)`` into ``out`` ``(N, C, H, W)``, block by block."""
    per_image = int(np.prod(out.shape[1:]))
    height, width, channels = out.shape[2], out.shape[3], out.shape[1]
    with archive.open(member) as stream:
        stream.read(header)
        for start in range(0, len(out), _BLOCK):
            count = min(_BLOCK, len(out) - start)
            data = stream.read(count * per_image)
            if len(data) != count * per_image:
                raise InputError(f"{name}: images is truncated (it ends inside image {start + len(data) // per_image})")
            block = np.frombuffer(data, np.uint8).reshape(count, height, width, channels)
            out[start : start + count] = block.transpose(0, 3, 1, 2)


class MPI3DToy(MPI3D):
    """MPI3D-toy: simple renderings."""

    name = "mpi3d-toy"
    filename = "mpi3d_toy.npz"
    data_files = DataFiles("the official mpi3d_toy.npz", filename, md5={filename: "55889cb7c7dfc655d6e0277beee88868"})


class MPI3DRealistic(MPI3D):
    """MPI3D-realistic: realistic renderings of the real set-up."""

    name = "mpi3d-realistic"
    filename = "mpi3d_realistic.npz"
    data_files = DataFiles(
        "the official mpi3d_realistic.npz", filename, md5={filename: "59a6225b88b635365f70c91b3e52f70f"}
    )


class MPI3DReal(MPI3D):
    """MPI3D-real: photographs of the real robot."""

    name = "mpi3d-real"
    filename = "mpi3d_real.npz"
    data_files = DataFiles("the official mpi3d_real.npz", filename, md5={filename: "0f33f609918fb5c97996692f91129802"})


class MPI3DComplex(MPI3D):
    """MPI3D-complex: photographs of real, more complex objects (4 colours, 4 shapes)."""

    name = "mpi3d-complex"
    filename = "real3d_complicated_shapes_ordered.npz"
    factors_num_values = RELEASES["challenge"]
    data_files = DataFiles(f"the official {filename}", filename)

    def __init__(self, path: str | Path | None = None, cache_dir: str | Path | None = None):
        super().__init__(path, "challenge", cache_dir)

    def _expected(self) -> str:
        return "the MPI3D-complex grid 4×4×2×3×3×40×40"

    def describe(self) -> dict:
        return {"name": self.name, "path": self.path}
