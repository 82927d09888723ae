import numpy as np
import pytest

from disentangle.errors import InputError
from disentangle.metrics import CODES, METRICS
from disentangle.metrics.sampling import (
    encode,
    encode_groups,
    excluded_factors,
    factor_sizes,
    sample_factor_codes,
    sample_points,
)

#: the metrics of dlib's contract (codes in, scores out); the diagnostics take a posterior
CODE_METRICS = sorted(name for name, metric in METRICS.items() if metric.needs == (CODES,))


def dlib_generate_batch_factor_code(data, representation, num_points, random_state, batch_size):
    """dlib's loop: sample and encode ``batch_size`` points at a time; returns (codes, factors)."""
    codes, factors = [], []
    for start in range(0, num_points, batch_size):
        batch = data.sample_factors(min(batch_size, num_points - start), random_state)
        factors.append(batch)
        codes.append(representation(data.sample_observations_from_factors(batch, random_state)))
    return np.vstack(codes), np.vstack(factors)


def test_factor_codes_and_random_stream_match_dlibs_batch_loop(toy_data, factors_as_codes):
    data = toy_data([3, 40, 7])
    ours_state, dlib_state = np.random.RandomState(5), np.random.RandomState(5)
    codes, factors = sample_factor_codes(data, factors_as_codes, 1000, ours_state, batch_size=16)
    expected_codes, expected_factors = dlib_generate_batch_factor_code(
        data, factors_as_codes, 1000, dlib_state, 16
    )
    np.testing.assert_array_equal(factors, expected_factors)
    np.testing.assert_array_equal(codes, expected_codes)
    assert ours_state.randint(10**9) == dlib_state.randint(10**9)


def test_a_metrics_points_are_its_sets_drawn_one_after_the_other(toy_data, factors_as_codes):
    data = toy_data([3, 40, 7])
    ours_state, expected_state = np.random.RandomState(5), np.random.RandomState(5)
    points = sample_points("m", data, factors_as_codes, ours_state, [100, 30], batch_size=16)
    for (codes, factors), count in zip(points, (100, 30)):
        expected_codes, expected_factors = sample_factor_codes(data, factors_as_codes, count, expected_state, 16)
        np.testing.assert_array_equal(codes, expected_codes)
        np.testing.assert_array_equal(factors, expected_factors)
    assert ours_state.randint(10**9) == expected_state.randint(10**9)


def test_a_metric_without_enough_factors_or_codes_raises_input_error_naming_it(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="^m: expected at least 2 factors, got 1$"):
        sample_points("m", toy_data([3]), factors_as_codes, np.random.RandomState(0), [10], min_factors=2)
    with pytest.raises(InputError, match="^m: expected at least 3 code dimensions, got 2$"):
        sample_points("m", toy_data([3, 4]), factors_as_codes, np.random.RandomState(0), [10], min_codes=3)


def test_encode_groups_equals_encoding_every_group_at_once(toy_data, factors_as_codes, monkeypatch):
    import disentangle.metrics.sampling as sampling

    monkeypatch.setattr(sampling, "ENCODE_BATCH", 10)  # forces many chunks of whole groups
    data = toy_data([4, 5])
    groups = np.random.RandomState(0).randint(4, size=(13, 3, 2))
    means = encode_groups(data, factors_as_codes, groups, np.random.RandomState(0), lambda c: c.mean(axis=1))
    np.testing.assert_allclose(means, groups.mean(axis=1))


def test_representation_with_wrong_number_of_rows_raises_input_error(toy_data):
    with pytest.raises(InputError, match="expected 5 rows"):
        encode(
            toy_data([3]), lambda x: np.zeros((4, 2)), np.zeros((5, 1), dtype=int), np.random.RandomState(0)
        )


@pytest.mark.parametrize("output", [np.zeros(5), np.zeros((5, 2, 2)), np.zeros((5, 0))])
def test_representation_that_is_not_a_2d_array_raises_input_error(toy_data, output):
    with pytest.raises(InputError, match="2-D array"):
        encode(toy_data([3]), lambda x: output, np.zeros((5, 1), dtype=int), np.random.RandomState(0))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_codes_raise_input_error(toy_data, bad):
    def representation(observations):
        codes = np.zeros((len(observations), 2))
        codes[-1, 1] = bad
        return codes

    with pytest.raises(InputError, match="NaN or infinite"):
        encode(toy_data([3]), representation, np.zeros((5, 1), dtype=int), np.random.RandomState(0))


def test_representation_changing_its_width_between_batches_raises_input_error(toy_data, monkeypatch):
    import disentangle.metrics.sampling as sampling

    monkeypatch.setattr(sampling, "ENCODE_BATCH", 2)
    widths = iter([3, 4])
    with pytest.raises(InputError, match="expected 3 codes"):
        encode(toy_data([3]), lambda x: np.zeros((len(x), next(widths))), np.zeros((4, 1), dtype=int),
               np.random.RandomState(0))


def test_factors_num_values_disagreeing_with_num_factors_raises_input_error(toy_data):
    data = toy_data([3, 4])
    data.num_factors = 3
    with pytest.raises(InputError, match="expected num_factors = 3"):
        factor_sizes(data)


def test_dataset_without_the_interface_raises_input_error():
    with pytest.raises(InputError, match="missing 'sample_factors'"):
        factor_sizes(type("Data", (), {"num_factors": 1, "factors_num_values": [2]})())


def test_sampled_factors_out_of_range_raise_input_error(toy_data, factors_as_codes):
    data = toy_data([3, 4])
    data.sample_factors = lambda num, random_state: np.full((num, 2), 3)
    with pytest.raises(InputError, match=r"factor 0 has values outside \[0, 3\)"):
        sample_factor_codes(data, factors_as_codes, 10, np.random.RandomState(0))


def test_sampled_factors_of_wrong_shape_or_type_raise_input_error(toy_data, factors_as_codes):
    data = toy_data([3, 4])
    data.sample_factors = lambda num, random_state: np.zeros((num, 3), dtype=int)
    with pytest.raises(InputError, match=r"expected an array \(10, 2\)"):
        sample_factor_codes(data, factors_as_codes, 10, np.random.RandomState(0))
    data.sample_factors = lambda num, random_state: np.zeros((num, 2))
    with pytest.raises(InputError, match="expected integer factors"):
        sample_factor_codes(data, factors_as_codes, 10, np.random.RandomState(0))


def test_excluded_factors_default_to_the_named_shape_factor_only_when_asked(toy_data):
    data = toy_data([3, 6, 40], names=["scale", "shape", "orientation"])
    assert excluded_factors(data, None, exclude_shape=True) == [1]
    assert excluded_factors(data, None, exclude_shape=False) == []
    assert excluded_factors(toy_data([3, 6]), None, exclude_shape=True) == []
    assert excluded_factors(data, [2, 0, 2], exclude_shape=True) == [0, 2]


@pytest.mark.parametrize("bad", [[3], [-1], ["shape"], 1, [True]])
def test_invalid_exclude_factors_raise_input_error(toy_data, bad):
    with pytest.raises(InputError, match="exclude_factors"):
        excluded_factors(toy_data([3, 6, 40]), bad, exclude_shape=False)


@pytest.mark.parametrize("name", CODE_METRICS)
def test_every_metric_rejects_nan_codes_and_inconsistent_datasets(name, toy_data):
    def nan_codes(observations):
        return np.full((len(observations), 3), np.nan)

    with pytest.raises(InputError, match="NaN or infinite"):
        METRICS[name](toy_data([2, 3]), nan_codes, np.random.RandomState(0))
    inconsistent = toy_data([2, 3])
    inconsistent.factors_num_values = [2, 3, 4]
    with pytest.raises(InputError, match="factors_num_values"):
        METRICS[name](inconsistent, nan_codes, np.random.RandomState(0))
