import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from disentangle.errors import InputError
from disentangle.metrics import beta_vae_score

SMALL = {"num_train": 300, "num_eval": 200, "batch_size": 16}


def dlib_points(data, representation, batch_size, num_points, random_state):
    """dlib's ``_generate_training_batch``: one point at a time, encoding each pair batch."""
    points, labels = [], []
    for _ in range(num_points):
        k = random_state.randint(data.num_factors)
        first = data.sample_factors(batch_size, random_state)
        second = data.sample_factors(batch_size, random_state)
        second[:, k] = first[:, k]
        z1 = representation(data.sample_observations_from_factors(first, random_state))
        z2 = representation(data.sample_observations_from_factors(second, random_state))
        points.append(np.mean(np.abs(z1 - z2), axis=0))
        labels.append(k)
    return np.array(points), np.array(labels)


def test_scores_equal_dlibs_point_by_point_computation(toy_data):
    data = toy_data([3, 5, 8])
    mixing = np.random.RandomState(1).randn(3, 4)

    def representation(x):
        return x @ mixing

    result = beta_vae_score(data, representation, np.random.RandomState(7), **SMALL)
    state = np.random.RandomState(7)
    train_points, train_labels = dlib_points(data, representation, 16, 300, state)
    model = LogisticRegression(random_state=state).fit(train_points, train_labels)
    eval_points, eval_labels = dlib_points(data, representation, 16, 200, state)
    assert result["train_accuracy"] == np.mean(model.predict(train_points) == train_labels)
    assert result["eval_accuracy"] == model.score(eval_points, eval_labels)


def test_factors_as_codes_score_one(toy_data, factors_as_codes):
    result = beta_vae_score(toy_data([3, 6, 10, 8]), factors_as_codes, np.random.RandomState(0), **SMALL)
    assert result["eval_accuracy"] == pytest.approx(1.0, abs=0.01)


def test_noise_codes_score_chance(toy_data, noise):
    result = beta_vae_score(toy_data([3, 6, 10, 8]), noise(5), np.random.RandomState(0), **SMALL)
    assert result["eval_accuracy"] == pytest.approx(0.25, abs=0.08)


def test_permuting_code_dimensions_leaves_the_score_unchanged(toy_data):
    mixing = np.random.RandomState(3).randn(3, 5)
    permutation = [4, 2, 0, 1, 3]
    data = toy_data([4, 4, 4])
    original = beta_vae_score(data, lambda x: x @ mixing, np.random.RandomState(0), **SMALL)
    permuted = beta_vae_score(data, lambda x: (x @ mixing)[:, permutation], np.random.RandomState(0), **SMALL)
    assert permuted["eval_accuracy"] == pytest.approx(original["eval_accuracy"], abs=1 / 200)


def test_higgins_protocol_excludes_the_shape_factor_and_scores_factors_as_one(toy_data, factors_as_codes):
    data = toy_data([3, 6, 10], names=["shape", "scale", "orientation"])
    result = beta_vae_score(
        data, factors_as_codes, np.random.RandomState(0), protocol="higgins", classifier_steps=2000, **SMALL
    )
    assert result["settings"]["exclude_factors"] == [0]
    assert result["eval_accuracy"] == pytest.approx(1.0, abs=0.01)


def test_higgins_protocol_on_noise_scores_chance_among_the_remaining_factors(toy_data, noise):
    data = toy_data([3, 6, 10], names=["shape", "scale", "orientation"])
    result = beta_vae_score(
        data, noise(4), np.random.RandomState(0), protocol="higgins", classifier_steps=2000, **SMALL
    )
    assert result["eval_accuracy"] == pytest.approx(0.5, abs=0.1)


def test_result_records_dlib_default_settings(toy_data, factors_as_codes):
    result = beta_vae_score(
        toy_data([2, 3]), factors_as_codes, np.random.RandomState(0), num_train=50, num_eval=20
    )
    assert result["settings"] == {
        "batch_size": 64, "num_train": 50, "num_eval": 20, "protocol": "dlib", "exclude_factors": [],
        "classifier_steps": 10_000, "classifier_batch_size": 64, "learning_rate": 0.01, "preset": "dlib",
    }


def test_unknown_protocol_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="protocol"):
        beta_vae_score(toy_data([2, 3]), factors_as_codes, np.random.RandomState(0), protocol="paper")


def test_fewer_than_two_candidate_factors_raise_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="at least 2 factors"):
        beta_vae_score(toy_data([2, 3]), factors_as_codes, np.random.RandomState(0), exclude_factors=[1])
