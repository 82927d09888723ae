import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.errors import InputError
from disentangle.metrics import z_max_var
from disentangle.metrics.z_max_var import Z_MAX_VAR, majority_vote_accuracy, vote_counts

SMALL = {"num_train": 300, "num_eval": 200, "num_variance_estimate": 1000, "batch_size": 16}


def test_majority_vote_accuracy_of_hand_made_votes():
    votes = vote_counts(np.array([0, 0, 1, 1, 1, 2]), np.array([0, 0, 0, 1, 1, 1]), 3, 2)
    np.testing.assert_array_equal(votes, [[2, 0], [1, 2], [0, 1]])
    classifier = np.argmax(votes, axis=0)
    assert majority_vote_accuracy(votes, classifier) == pytest.approx(4 / 6)


def test_factors_as_codes_score_one(toy_data, factors_as_codes):
    result = z_max_var(toy_data([3, 4, 5]), factors_as_codes, np.random.RandomState(0), **SMALL)
    assert result["train_accuracy"] == result["eval_accuracy"] == result["eval_accuracy_above_chance"] == 1.0


def test_noise_codes_score_chance(toy_data, noise):
    result = z_max_var(toy_data([3, 4, 5]), noise(3), np.random.RandomState(0), **SMALL)
    assert result["eval_accuracy"] == pytest.approx(1 / 3, abs=0.08)
    assert result["eval_accuracy_above_chance"] == pytest.approx(0.0, abs=0.12)


def test_a_factor_no_code_carries_costs_its_share(toy_data):
    # Factor 2 moves no code: its votes all go to code 0 (every relative variance 0, the
    # first wins), which also wins factor 0's votes; the classifier gets one of the two.
    result = z_max_var(toy_data([3, 4, 5]), lambda x: x[:, :2], np.random.RandomState(0), **SMALL)
    assert result["eval_accuracy"] == pytest.approx(2 / 3, abs=0.08)


def test_the_factorvae_score_and_z_max_var_differ_on_a_factor_split_over_two_codes(toy_data):
    # Factor 0 drives codes 0 and 1 (the same value): either wins its votes, half each; as
    # the classifier maps both codes to factor 0 the accuracy stays 1.
    def duplicated(x):
        return np.hstack([x[:, :1], 2.0 * x[:, :1], x[:, 1:]])

    assert z_max_var(toy_data([3, 4]), duplicated, np.random.RandomState(0), **SMALL)["eval_accuracy"] == 1.0


@settings(max_examples=8, deadline=None)
@given(st.lists(st.floats(0.5, 50.0), min_size=3, max_size=3), st.permutations(range(3)))
def test_rescaling_and_permuting_codes_leave_it_unchanged(toy_data, scales, permutation):
    data = toy_data([3, 4])
    mixing = np.eye(2, 3) + 0.2 * np.random.RandomState(2).randn(2, 3)

    def representation(x):
        return x @ mixing + 0.1 * np.random.RandomState(len(x)).randn(len(x), 3)

    original = z_max_var(data, representation, np.random.RandomState(0), **SMALL)
    transformed = z_max_var(data, lambda x: (representation(x) * scales)[:, permutation], np.random.RandomState(0),
                            **SMALL)
    assert transformed["eval_accuracy"] == original["eval_accuracy"]


def test_no_active_code_scores_zero(toy_data):
    result = z_max_var(toy_data([3, 4]), lambda x: np.zeros((len(x), 2)), np.random.RandomState(0), **SMALL)
    assert result["eval_accuracy"] == 0.0 and result["num_active_dims"] == 0


def test_a_batch_of_one_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="batch_size must be at least 2"):
        z_max_var(toy_data([3, 4]), factors_as_codes, np.random.RandomState(0), batch_size=1)


def test_the_vote_arithmetic_is_zaidi_et_als(toy_data):
    # The reference's _compute_votes, classifier and rescaled accuracy, written out on
    # fixed (winning code, varied factor) pairs; its vote matrix is (codes, factors).
    rng = np.random.RandomState(3)
    num_codes, num_factors = 5, 3
    train = rng.randint([0, 0], [num_codes, num_factors], size=(800, 2))
    evaluation = rng.randint([0, 0], [num_codes, num_factors], size=(800, 2))

    def reference_votes(pairs):
        votes = np.zeros((num_codes, num_factors), dtype=np.int64)
        for code, factor in pairs:
            votes[code, factor] += 1
        return votes

    classifier = np.argmax(reference_votes(train), axis=1)
    eval_votes = reference_votes(evaluation)
    accuracy = np.sum(eval_votes[np.arange(num_codes), classifier]) / np.sum(eval_votes)
    rescaled = (accuracy - 1 / num_factors) / (1 - 1 / num_factors)

    ours = vote_counts(train[:, 1], train[:, 0], num_factors, num_codes)
    ours_classifier = np.argmax(ours, axis=0)
    np.testing.assert_array_equal(ours_classifier, classifier)
    ours_accuracy = majority_vote_accuracy(vote_counts(evaluation[:, 1], evaluation[:, 0], num_factors, num_codes),
                                           ours_classifier)
    assert ours_accuracy == accuracy
    assert (ours_accuracy - 1 / num_factors) / (1 - 1 / num_factors) == pytest.approx(rescaled, abs=1e-15)


def test_defaults_and_headline_are_the_references(toy_data, noise):
    assert {k: Z_MAX_VAR.settings[k] for k in ("batch_size", "num_train", "num_eval", "num_variance_estimate")} == {
        "batch_size": 200, "num_train": 800, "num_eval": 800, "num_variance_estimate": 10_000,
    }
    assert Z_MAX_VAR.headline == ("eval_accuracy_above_chance",)
    result = z_max_var(toy_data([3, 4]), noise(2), np.random.RandomState(0), num_variance_estimate=2000)
    chance = 1 / 2
    assert result["eval_accuracy_above_chance"] == pytest.approx((result["eval_accuracy"] - chance) / (1 - chance))
