import numpy as np
import pytest

from disentangle.errors import InputError
from disentangle.metrics import reduced_downstream_task
from disentangle.metrics.reduced_downstream_task import kept_codes, reduced_scores

SMALL = {"num_train": (300,), "num_test": 200}


def test_without_its_code_a_factor_of_factors_as_codes_is_at_chance_and_the_others_intact(toy_data,
                                                                                          factors_as_codes):
    result = reduced_downstream_task(toy_data([3, 4, 5]), factors_as_codes, np.random.RandomState(0), **SMALL)
    for f, size in enumerate((3, 4, 5)):
        assert result[f"300:test_accuracy_{f}_factor_of_interest_{f}"] == pytest.approx(1 / size, abs=0.1)
    assert result["300:mean_test_accuracy_other_factors"] == 1.0
    assert result["300:mean_test_accuracy_factor_of_interest"] < 0.45


def test_a_factor_held_by_two_codes_survives_the_removal_of_one(toy_data):
    result = reduced_downstream_task(toy_data([3, 4]), lambda x: np.c_[x[:, 0], x[:, 1], 2.0 * x[:, 0]],
                                     np.random.RandomState(0), **SMALL)
    assert result["300:test_accuracy_0_factor_of_interest_0"] == 1.0
    assert result["300:test_accuracy_1_factor_of_interest_1"] < 0.5
    # Two removals take both of factor 0's codes.
    twice = reduced_downstream_task(toy_data([3, 4]), lambda x: np.c_[x[:, 0], x[:, 1], 2.0 * x[:, 0]],
                                    np.random.RandomState(0), num_factors_to_remove=2, **SMALL)
    assert twice["300:test_accuracy_0_factor_of_interest_0"] < 0.5


def test_the_removed_code_is_the_most_important_for_the_factor_of_interest():
    rng = np.random.RandomState(0)
    factors = np.stack([rng.randint(3, size=300), rng.randint(4, size=300)], axis=1)
    codes = np.c_[rng.randn(300), factors[:, 1], rng.randn(300), factors[:, 0]]
    kept = kept_codes(codes, factors, codes, factors, 1, 1, np.random.RandomState(0))
    assert kept[0].tolist() == [0, 1, 2] and kept[1].tolist() == [0, 2, 3]
    kept = kept_codes(codes, factors, codes, factors, 3, 1, np.random.RandomState(0))
    assert kept[0].shape == (1,) and 3 not in kept[0] and 1 not in kept[1]


def test_names_are_dlibs_and_means_are_over_the_diagonal_and_the_rest():
    train = np.array([[0.5, 1.0], [0.9, 0.25]])
    test = np.array([[0.4, 0.8], [0.6, 0.2]])
    scores = reduced_scores("100", train, test)
    assert scores["100:test_accuracy_1_factor_of_interest_0"] == 0.8
    assert scores["100:train_accuracy_0_factor_of_interest_1"] == 0.9
    assert scores["100:mean_test_accuracy_factor_of_interest"] == pytest.approx(0.3)
    assert scores["100:mean_test_accuracy_other_factors"] == pytest.approx(0.7)
    assert scores["100:mean_train_accuracy_factor_of_interest"] == pytest.approx(0.375)
    assert len(scores) == 4 + 2 * 4


def test_permuting_codes_permutes_nothing_in_the_result(toy_data):
    def representation(x):
        return np.c_[x[:, 0] + x[:, 1], x[:, 1] * x[:, 2], x[:, 2] - x[:, 0], x[:, 0]]

    data = toy_data([3, 4, 5])
    original = reduced_downstream_task(data, representation, np.random.RandomState(0), **SMALL)
    permuted = reduced_downstream_task(data, lambda x: representation(x)[:, [2, 0, 3, 1]],
                                       np.random.RandomState(0), **SMALL)
    assert {k: v for k, v in permuted.items() if k != "settings"} == pytest.approx(
        {k: v for k, v in original.items() if k != "settings"}, abs=1e-12
    )


def test_removing_every_code_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="num_factors_to_remove"):
        reduced_downstream_task(toy_data([3, 4]), factors_as_codes, np.random.RandomState(0),
                                num_factors_to_remove=2, num_train=(20,), num_test=10)
