import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.errors import InputError
from disentangle.metrics import dci_es
from disentangle.metrics.dci_es import explicitness_from_curve

SMALL = {"num_train": 400, "num_test": 200, "num_trees": 10, "max_depths": (1, 2, 4, 8)}


def test_explicitness_of_hand_made_curves():
    capacities = np.array([1.0, 2.0, 3.0])
    # Reaching the lowest loss at once: 1. Falling linearly from the baseline to 0: 0.
    assert explicitness_from_curve(capacities, [0.2, 0.2, 0.2], 0.5) == 1.0
    assert explicitness_from_curve(capacities, [0.5, 0.25, 0.0], 0.5) == pytest.approx(0.0)
    # Flat at the baseline: 1 above its own lowest loss, -1 above zero.
    assert explicitness_from_curve(capacities, [0.5, 0.5, 0.5], 0.5, "zero") == pytest.approx(-1.0)
    # Made monotone (0.5, 0.1, 0.1); area above 0.1: (0.4 + 0) / 2 = 0.2; Z = 2 * 0.5 / 2.
    assert explicitness_from_curve(capacities, [0.5, 0.1, 0.3], 0.5) == pytest.approx(1 - 0.2 / 0.5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=8), st.floats(0.1, 1.0), st.sampled_from(["curve", "zero"]))
def test_explicitness_lies_in_minus_one_one_and_rewards_lower_early_losses(fractions, baseline, floor):
    losses = np.array(fractions) * baseline
    capacities = np.cumsum(np.arange(1, len(losses) + 1, dtype=float))
    value = explicitness_from_curve(capacities, losses, baseline, floor)
    assert -1 - 1e-12 <= value <= 1 + 1e-12
    if floor == "zero":
        better = losses.copy()
        better[0] = 0.5 * better[0]
        assert explicitness_from_curve(capacities, better, baseline, floor) >= value - 1e-12


def test_factors_as_codes_are_informative_disentangled_and_explicit(toy_data, factors_as_codes):
    result = dci_es(toy_data([2, 3, 4]), factors_as_codes, np.random.RandomState(0), **SMALL)
    assert result["informativeness_test"] == 1.0 and result["size"] == 1.0
    assert result["disentanglement"] > 0.8 and result["completeness"] > 0.8
    # Depth 1 resolves 2 of each factor's values, depth 2 all of them: a steep curve.
    assert result["explicitness"] > 0.75


def test_an_entangled_code_is_less_explicit_than_the_factors(toy_data, factors_as_codes):
    # One code 12 v0 + 4 v1 + v2 holds all three factors: a forest needs depth to unpick
    # the digits, so the curves fall later.
    def packed(x):
        return np.hstack([x[:, :1] * 12 + x[:, 1:2] * 4 + x[:, 2:], np.zeros((len(x), 1))])

    data = toy_data([2, 3, 4])
    entangled = dci_es(data, packed, np.random.RandomState(0), **SMALL)
    assert entangled["informativeness_test"] > 0.85 and entangled["size"] == 1.5
    assert entangled["explicitness"] < dci_es(data, factors_as_codes, np.random.RandomState(0), **SMALL)["explicitness"] - 0.1


def test_noise_codes_are_uninformative_and_not_disentangled(toy_data, noise):
    result = dci_es(toy_data([3, 4]), noise(4), np.random.RandomState(0), **SMALL)
    assert result["informativeness_test"] < 0.45 and result["disentanglement"] < 0.1
    assert result["size"] == 0.5


def test_the_number_of_threads_does_not_change_the_result(toy_data, noise):
    one = dci_es(toy_data([3, 4]), noise(3), np.random.RandomState(0), n_jobs=1, **SMALL)
    two = dci_es(toy_data([3, 4]), noise(3), np.random.RandomState(0), n_jobs=2, **SMALL)
    assert {k: v for k, v in one.items() if k != "settings"} == {k: v for k, v in two.items() if k != "settings"}


@pytest.mark.parametrize("depths", [(4,), (2, 2, 4), (0, 3), "1,2"])
def test_bad_capacities_raise_input_error(toy_data, factors_as_codes, depths):
    with pytest.raises(InputError, match="max_depths"):
        dci_es(toy_data([3, 4]), factors_as_codes, np.random.RandomState(0), max_depths=depths)


def test_unknown_loss_floor_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="loss_floor"):
        dci_es(toy_data([3, 4]), factors_as_codes, np.random.RandomState(0), loss_floor="best")
