import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.errors import InputError
from disentangle.metrics import factor_vae_score

SMALL = {"num_train": 300, "num_eval": 200, "num_variance_estimate": 1000, "batch_size": 16}


def dlib_votes(data, representation, batch_size, num_votes, random_state, global_variances, active):
    """dlib's ``_generate_training_batch``: one vote at a time."""
    votes = np.zeros((data.num_factors, len(global_variances)), dtype=np.int64)
    for _ in range(num_votes):
        k = random_state.randint(data.num_factors)
        factors = data.sample_factors(batch_size, random_state)
        factors[:, k] = factors[0, k]
        codes = representation(data.sample_observations_from_factors(factors, random_state))
        local = np.var(codes, axis=0, ddof=1)
        votes[k, np.argmin(local[active] / global_variances[active])] += 1
    return votes


def test_scores_equal_dlibs_vote_by_vote_computation(toy_data):
    data = toy_data([3, 5, 8])
    mixing = np.random.RandomState(1).randn(3, 4)

    def representation(x):
        return x @ mixing

    result = factor_vae_score(data, representation, np.random.RandomState(7), **SMALL)
    state = np.random.RandomState(7)
    factors = data.sample_factors(1000, state)
    variances = np.var(representation(data.sample_observations_from_factors(factors, state)), axis=0, ddof=1)
    active = np.sqrt(variances) >= 0.05
    train = dlib_votes(data, representation, 16, 300, state, variances, active)
    classifier = np.argmax(train, axis=0)
    evaluation = dlib_votes(data, representation, 16, 200, state, variances, active)
    columns = np.arange(train.shape[1])
    assert result["train_accuracy"] == train[classifier, columns].sum() / train.sum()
    assert result["eval_accuracy"] == evaluation[classifier, columns].sum() / evaluation.sum()


def test_factors_as_codes_score_one(toy_data, factors_as_codes):
    result = factor_vae_score(toy_data([3, 6, 10, 8]), factors_as_codes, np.random.RandomState(0), **SMALL)
    assert result["eval_accuracy"] == 1.0
    assert result["num_active_dims"] == 4


def test_noise_codes_score_chance(toy_data, noise):
    result = factor_vae_score(toy_data([3, 6, 10, 8]), noise(6), np.random.RandomState(0), **SMALL)
    assert result["eval_accuracy"] == pytest.approx(0.25, abs=0.1)


@settings(max_examples=8, deadline=None)
@given(
    st.lists(st.floats(0.5, 20.0), min_size=5, max_size=5),
    st.permutations(range(5)),
)
def test_positive_scaling_and_permuting_codes_leave_the_score_unchanged(toy_data, scales, permutation):
    data = toy_data([4, 5, 6])
    mixing = np.random.RandomState(2).randn(3, 5)
    settings_ = {"num_train": 100, "num_eval": 100, "num_variance_estimate": 500, "batch_size": 16}
    original = factor_vae_score(data, lambda x: x @ mixing, np.random.RandomState(0), **settings_)
    transformed = factor_vae_score(
        data, lambda x: ((x @ mixing) * scales)[:, permutation], np.random.RandomState(0), **settings_
    )
    assert transformed["train_accuracy"] == original["train_accuracy"]
    assert transformed["eval_accuracy"] == original["eval_accuracy"]


def test_dimensions_below_the_threshold_are_pruned(toy_data):
    def representation(x):
        return np.hstack([x, 0.01 * x[:, :1]])  # the last code has std < 0.05

    result = factor_vae_score(toy_data([3, 6]), representation, np.random.RandomState(0), **SMALL)
    assert result["num_active_dims"] == 2
    assert result["eval_accuracy"] == 1.0


def test_no_active_dimension_scores_zero(toy_data):
    result = factor_vae_score(toy_data([3, 6]), lambda x: 1e-3 * x, np.random.RandomState(0), **SMALL)
    assert (result["train_accuracy"], result["eval_accuracy"], result["num_active_dims"]) == (0.0, 0.0, 0)


def test_batch_of_one_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="batch_size must be at least 2"):
        factor_vae_score(toy_data([3, 6]), factors_as_codes, np.random.RandomState(0), batch_size=1)
