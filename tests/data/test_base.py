"""The shared readers of data/base.py: numpy files whose headers may lie."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disentangle.data.base import load_npz_array, load_numpy_file
from disentangle.errors import InputError


def _npy(path, shape, descr="|u1", payload=b""):
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": descr, "fortran_order": False, "shape": shape})
        handle.write(payload)
    return path


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.lists(st.integers(0, 10**7), max_size=4).map(tuple),
    descr=st.sampled_from(["|u1", "<f4", "<f8", "|b1", "<i8"]),
    payload=st.integers(0, 2000),
)
def test_a_npy_header_is_trusted_only_as_far_as_the_file_holds_it(tmp_path, shape, descr, payload):
    path = _npy(tmp_path / "x.npy", shape, descr, b"\x00" * payload)
    declared = int(np.prod(shape, dtype=np.float64)) * np.dtype(descr).itemsize
    try:
        array = load_numpy_file(path, ".npy file", "an array")
    except InputError as error:
        assert declared != payload and "declares an array" in str(error) and "\n" not in str(error)
    else:
        assert declared == payload and array.shape == shape


def test_an_npz_member_is_checked_against_its_size_in_the_archive(tmp_path):
    import zipfile

    path = tmp_path / "x.npz"
    with zipfile.ZipFile(path, "w") as archive:
        _npy(tmp_path / "member.npy", (10**6, 1000, 1000), payload=b"\x00" * 10)
        archive.write(tmp_path / "member.npy", "imgs.npy")
        _npy(tmp_path / "good.npy", (2, 5), payload=b"\x01" * 10)
        archive.write(tmp_path / "good.npy", "good.npy")
    loaded = load_numpy_file(path, ".npz file", "an archive")
    with loaded:
        message = re.escape(f"{path}: array 'imgs': declares an array (1000000, 1000, 1000) of uint8")
        with pytest.raises(InputError, match=f"^{message}"):
            load_npz_array(loaded, "imgs", path)
        assert load_npz_array(loaded, "good", path).sum() == 10
