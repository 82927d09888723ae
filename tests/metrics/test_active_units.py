import numpy as np
import pytest

from disentangle.errors import InputError
from disentangle.metrics.active_units import active_units

# variances 4, 0.25, 0.0025, 0.04, 0 (the last unit has collapsed to a constant)
STDS = np.array([2.0, 0.5, 0.05, 0.2, 0.0])


def table(num, seed=0):
    rng = np.random.RandomState(seed)
    return 3.0 + rng.randn(num, len(STDS)) * STDS


def test_the_whole_dataset_gives_the_exact_variances_and_the_units_above_threshold():
    codes = table(3000)
    result = active_units(lambda indices: codes[indices], 3000, np.random.RandomState(0))
    assert result["activity"] == pytest.approx(codes.var(axis=0), rel=1e-12)
    assert result["num_active_units"] == 3
    assert result["active_dimensions"] == [0, 1, 3]
    assert result["settings"] == {"threshold": 0.01, "num_samples": 3000, "num_observations": 3000}


def test_a_subsample_estimates_the_known_variances():
    codes = table(50_000)
    result = active_units(lambda indices: codes[indices], 50_000, np.random.RandomState(0))
    assert result["settings"]["num_samples"] == 10_000
    assert result["activity"] == pytest.approx(STDS**2, rel=0.05)
    assert result["active_dimensions"] == [0, 1, 3]


def test_a_posterior_tuple_is_scored_by_its_mean():
    codes = table(500)
    logvar = np.random.RandomState(1).randn(500, len(STDS)) * 10

    def posterior(indices):
        return codes[indices], logvar[indices]

    result = active_units(posterior, 500, np.random.RandomState(0), num_samples=200)
    expected = active_units(lambda indices: codes[indices], 500, np.random.RandomState(0), num_samples=200)
    assert result == expected


def test_the_threshold_is_strict_and_adjustable():
    signs = np.where(np.arange(64) % 2 == 0, 0.125, -0.125)[:, None]  # variance exactly 2⁻⁶
    result = active_units(lambda indices: signs[indices], 64, np.random.RandomState(0), threshold=2.0**-6)
    assert result["activity"] == [2.0**-6]
    assert result["num_active_units"] == 0
    assert active_units(lambda indices: signs[indices], 64, np.random.RandomState(0))["num_active_units"] == 1


def test_the_subsample_follows_the_random_state():
    codes = table(20_000)
    first, second, other = (
        active_units(lambda indices: codes[indices], 20_000, np.random.RandomState(seed), num_samples=500)
        for seed in (7, 7, 8)
    )
    assert first == second
    assert first["activity"] != other["activity"]


@pytest.mark.parametrize(
    "function, arguments, match",
    [
        (lambda indices: np.full((len(indices), 2), np.nan), {}, "NaN or infinite"),
        (lambda indices: np.zeros(len(indices)), {}, "expected a 2-D array"),
        (lambda indices: np.zeros((len(indices), 2)), {"num_samples": 0}, "num_samples must be a positive"),
        (lambda indices: np.zeros((len(indices), 2)), {"threshold": -1.0}, "threshold must be a non-neg"),
    ],
)
def test_bad_inputs_raise_input_error(function, arguments, match):
    with pytest.raises(InputError, match=match):
        active_units(function, 100, np.random.RandomState(0), **arguments)


def test_codes_of_changing_width_raise_input_error():
    def function(indices):
        return np.zeros((len(indices), 2 if indices[0] == 0 else 3))

    with pytest.raises(InputError, match="expected 2 codes per row"):
        active_units(function, 5000, np.random.RandomState(0))
