"""data/base.py: the shared readers (numpy files whose headers may lie) and factor grids
with nuisance factors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disentangle.data.base import load_npz_array, load_numpy_file
from disentangle.errors import InputError
from disentangle.scoring.representation import IndexedFactorData


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


# --------------------------------------------------------------------------- nuisance factors

def test_a_nuisance_axis_counts_in_the_length_but_not_in_the_factors(grid_factors):
    data = grid_factors([5, 10, 9, 18, 6], nuisance=(1,))  # SmallNORB's grid: the instance is a nuisance
    assert len(data) == 48_600 and data.num_factors == 4 and data.factors_num_values == [5, 9, 18, 6]
    assert data.nuisance_axes == (1,)
    index = data.index_of([[4, 8, 17, 5]], nuisance=[[7]])
    assert data.grid_of(index).tolist() == [[4, 7, 8, 17, 5]]
    assert data.factors_of(index).tolist() == [[4, 8, 17, 5]]
    assert data.grid_of(data.index_of([[4, 8, 17, 5]])).tolist() == [[4, 0, 8, 17, 5]]  # default level 0


def test_the_nuisance_is_drawn_from_the_random_state_as_dlib_draws_it(grid_factors):
    data = grid_factors([3, 4, 2, 5], nuisance=(1, 3))
    factors = np.array([[0, 1], [2, 0], [1, 1]] * 1000)
    drawn = data.sample_indices_of(factors, np.random.RandomState(7))
    replay = np.random.RandomState(7)  # dlib: one randint(size, num) per nuisance axis, in axis order
    expected = np.column_stack([factors[:, 0], replay.randint(4, size=3000), factors[:, 1], replay.randint(5, size=3000)])
    assert data.grid_of(drawn).tolist() == expected.tolist()
    counts = np.bincount(data.grid_of(drawn)[:, 1], minlength=4)
    assert counts.min() > 600  # 750 expected per level
    observed = data.sample_observations_from_factors(factors[:3], np.random.RandomState(7))
    assert observed.ravel().tolist() == data.sample_indices_of(factors[:3], np.random.RandomState(7)).tolist()


def test_without_nuisance_factors_sampling_observations_draws_no_random_numbers(grid_factors):
    data = grid_factors([3, 4])
    random_state = np.random.RandomState(3)
    data.sample_observations_from_factors(np.array([[1, 2]]), random_state)
    assert random_state.randint(10**6) == np.random.RandomState(3).randint(10**6)


def test_indexed_factor_data_hands_out_indices_of_the_requested_factors_with_a_drawn_nuisance(grid_factors):
    data = grid_factors([2, 3, 4], nuisance=(0,))
    view = IndexedFactorData(data)
    factors = view.sample_factors(500, np.random.RandomState(0))
    indices = view.sample_observations_from_factors(factors, np.random.RandomState(1))
    assert len(view) == 24 and data.factors_of(indices).tolist() == factors.tolist()
    assert set(data.grid_of(indices)[:, 0].tolist()) == {0, 1}


@settings(max_examples=60, deadline=None)
@given(data=st.data(), sizes=st.lists(st.integers(1, 6), min_size=1, max_size=5))
def test_index_and_grid_coordinates_determine_each_other(data, sizes, grid_factors):
    nuisance = tuple(sorted(data.draw(st.sets(st.integers(0, len(sizes) - 1), max_size=len(sizes) - 1))))
    grid = grid_factors(sizes, nuisance)
    point = [data.draw(st.integers(0, size - 1)) for size in sizes]
    factors = [[point[axis] for axis in grid.factor_axes]]
    levels = [[point[axis] for axis in nuisance]] if nuisance else None
    index = grid.index_of(factors, levels)
    assert grid.grid_of(index).tolist() == [point]
    assert grid.factors_of(index).tolist() == factors
    assert int(index[0]) == int(np.ravel_multi_index(point, sizes))


def test_out_of_range_nuisance_levels_are_refused_in_one_line(grid_factors):
    data = grid_factors([2, 3], nuisance=(1,))
    with pytest.raises(InputError, match=r"^nuisance: each column k must lie in \[0, \[3\]\[k\]\)$"):
        data.index_of([[1]], nuisance=[[3]])
    with pytest.raises(InputError, match=r"^nuisance: 2 rows for 1 factor vectors$"):
        data.index_of([[1]], nuisance=[[0], [1]])


def test_the_training_loop_draws_nuisance_levels_from_its_generator_and_nothing_without_them(grid_factors):
    data = grid_factors([3, 4, 2, 5], nuisance=(1, 3))
    factors = np.array([[0, 1], [2, 0], [1, 1]])
    first = data.draw_indices_of(factors, torch.Generator().manual_seed(3))
    again = data.draw_indices_of(factors, torch.Generator().manual_seed(3))
    assert np.array_equal(first, again) and np.array_equal(data.factors_of(first), factors)
    replay = torch.Generator().manual_seed(3)
    nuisance = torch.stack([torch.randint(4, (3,), generator=replay), torch.randint(5, (3,), generator=replay)], 1)
    assert np.array_equal(first, data.index_of(factors, nuisance.numpy()))
    plain, generator = grid_factors([3, 2]), torch.Generator().manual_seed(5)
    state = generator.get_state()
    assert np.array_equal(plain.draw_indices_of(factors, generator), plain.index_of(factors))
    assert torch.equal(generator.get_state(), state)
