import numpy as np
import pytest

from disentangle.errors import InputError
from disentangle.metrics import strong_downstream_task
from disentangle.metrics.strong_downstream_task import intervene

SMALL = {"num_train": (300,), "num_test": 200, "n_experiment": 2}


def test_factors_as_codes_generalise_under_any_shift(toy_data, factors_as_codes):
    result = strong_downstream_task(toy_data([3, 4, 5]), factors_as_codes, np.random.RandomState(0), **SMALL)
    assert result["300:mean_test_accuracy"] == 1.0 and result["300:mean_strong_test_accuracy"] == 1.0
    assert result["300:strong_generalization_gap"] == 0.0
    assert set(result) == {f"300:{name}" for name in (
        "mean_train_accuracy", "mean_test_accuracy", "mean_strong_train_accuracy", "mean_strong_test_accuracy",
        "strong_generalization_gap")} | {"settings"}


def test_a_code_entangling_two_factors_fails_under_a_shift_of_the_other(toy_data):
    # f0 + 10 f1 tells f0 and f1 apart, but a classifier of f0 trained with f1 fixed
    # sees the shifted test codes outside the range it learned.
    result = strong_downstream_task(toy_data([3, 4]), lambda x: (x[:, 0] + 10.0 * x[:, 1])[:, None],
                                    np.random.RandomState(0), **SMALL)
    assert result["300:mean_test_accuracy"] == 1.0
    assert result["300:mean_strong_train_accuracy"] == 1.0
    assert result["300:mean_strong_test_accuracy"] < 0.8
    gap = 1.0 - result["300:mean_strong_test_accuracy"] / result["300:mean_test_accuracy"]
    assert result["300:strong_generalization_gap"] == pytest.approx(gap) and gap > 0.2


def test_an_intervention_fixes_one_other_factor_in_training_and_avoids_its_value_in_test():
    rng = np.random.RandomState(0)
    sizes = np.array([3, 1, 4, 5])
    factors = np.stack([rng.randint(n, size=50) for n in sizes], axis=1)
    factors_test = np.stack([rng.randint(n, size=40) for n in sizes], axis=1)
    seen = set()
    for _ in range(30):
        train, test = intervene(factors, factors_test, 0, sizes, rng)
        changed = [k for k in range(4) if not np.array_equal(train[:, k], factors[:, k])]
        assert len(changed) <= 1
        shifted = int(np.argmax([len(np.unique(train[:, k])) == 1 and sizes[k] > 1 for k in range(4)]))
        seen.add(shifted)
        assert shifted in (2, 3) and np.all(test[:, shifted] != train[0, shifted])
        assert np.all(test[:, shifted] < sizes[shifted])
        others = [k for k in range(4) if k != shifted]
        assert np.array_equal(train[:, others], factors[:, others])
        assert np.array_equal(test[:, others], factors_test[:, others])
    assert seen == {2, 3}


def test_a_factor_with_nothing_to_shift_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="no other factor"):
        strong_downstream_task(toy_data([3, 1]), factors_as_codes, np.random.RandomState(0), **SMALL)


def test_the_factors_of_every_training_size_are_drawn_first_as_dlib_draws_them(toy_data, factors_as_codes):
    data, calls = toy_data([3, 4]), []
    sample = data.sample_factors

    def recording(num, random_state):
        calls.append(sample(num, random_state))
        return calls[-1]

    data.sample_factors = recording
    strong_downstream_task(data, factors_as_codes, np.random.RandomState(3), num_train=(40, 30), num_test=20,
                           n_experiment=1)
    replay = np.random.RandomState(3)
    expected = [sample(num, replay) for num in (40, 20, 30, 20)]
    assert len(calls) == 4 and all(np.array_equal(a, b) for a, b in zip(calls, expected))
