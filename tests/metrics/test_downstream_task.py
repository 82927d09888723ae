import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import KFold

from disentangle.errors import InputError
from disentangle.scoring.evaluate import score_representation
from disentangle.metrics import downstream_task

SMALL = {"num_train": (20, 200), "num_test": 150, "predictor": "boosted_trees"}


def test_factors_as_codes_are_learned_exactly_by_boosted_trees(toy_data, factors_as_codes):
    result = downstream_task(toy_data([3, 4, 5]), factors_as_codes, np.random.RandomState(0), **SMALL)
    for key in ("mean_test_accuracy", "min_test_accuracy", "mean_train_accuracy", "test_accuracy_factor_2"):
        assert result[f"200:{key}"] == 1.0


def test_result_names_are_dlibs_for_every_training_size(toy_data, factors_as_codes):
    result = downstream_task(toy_data([3, 4]), factors_as_codes, np.random.RandomState(0), **SMALL)
    per_size = ["mean_train_accuracy", "mean_test_accuracy", "min_train_accuracy", "min_test_accuracy"]
    per_size += [f"{split}_accuracy_factor_{k}" for k in range(2) for split in ("train", "test")]
    assert set(result) == {f"{n}:{name}" for n in (20, 200) for name in per_size} | {"settings"}
    assert result["20:min_test_accuracy"] == min(result["20:test_accuracy_factor_0"],
                                                 result["20:test_accuracy_factor_1"])


def dlib_downstream_logistic(data, representation, seed, sizes, num_test, batch_size=16):
    """dlib's ``compute_downstream_task`` with ``logistic_regression_cv``, transcribed."""
    random_state, scores = np.random.RandomState(seed), {}

    def batch_factor_code(num):
        codes, factors = [], []
        for start in range(0, num, batch_size):
            f = data.sample_factors(min(batch_size, num - start), random_state)
            factors.append(f)
            codes.append(representation(data.sample_observations_from_factors(f, random_state)))
        return np.vstack(codes), np.vstack(factors)

    for size in sizes:
        x, y = batch_factor_code(size)
        x_test, y_test = batch_factor_code(num_test)
        train, test = [], []
        for k in range(y.shape[1]):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = LogisticRegressionCV(Cs=10, cv=KFold(n_splits=5), scoring="accuracy").fit(x, y[:, k])
            train.append(np.mean(model.predict(x) == y[:, k]))
            test.append(np.mean(model.predict(x_test) == y_test[:, k]))
        scores[f"{size}:mean_test_accuracy"], scores[f"{size}:min_train_accuracy"] = np.mean(test), np.min(train)
        scores.update({f"{size}:test_accuracy_factor_{k}": a for k, a in enumerate(test)})
    return scores


@pytest.mark.slow
def test_logistic_regression_equals_dlibs_procedure_on_the_same_points(toy_data):
    mixing = np.random.RandomState(2).randn(2, 3)

    def representation(x):  # a function of each observation alone: dlib encodes 16 at a time
        return x @ mixing + 0.3 * np.sin(40.0 * x @ mixing)

    data = toy_data([2, 3])
    ours = downstream_task(data, representation, np.random.RandomState(4), num_train=(10, 40), num_test=30)
    reference = dlib_downstream_logistic(data, representation, 4, (10, 40), 30)
    for key, value in reference.items():
        assert ours[key] == pytest.approx(value, abs=1e-12), key


def test_permuting_codes_and_increasing_maps_of_each_leave_boosted_trees_unchanged(toy_data):
    # Codes with few values, each seen in training: a test value then falls on the same side
    # of every threshold whatever the map (thresholds lie midway between training values).
    def representation(x):
        return np.c_[x[:, 0] + x[:, 1], x[:, 1] * x[:, 2], x[:, 2] - x[:, 0]]

    data, settings = toy_data([3, 4, 5]), {**SMALL, "num_train": (200,)}
    original = downstream_task(data, representation, np.random.RandomState(0), **settings)
    transformed = downstream_task(
        data, lambda x: np.c_[np.exp(representation(x)), representation(x) ** 3][:, [5, 3, 1]],
        np.random.RandomState(0), **settings,
    )
    assert {k: v for k, v in transformed.items() if k != "settings"} == pytest.approx(
        {k: v for k, v in original.items() if k != "settings"}, abs=1e-12
    )
    assert original["200:mean_test_accuracy"] < 1.0


def test_the_number_of_threads_does_not_change_the_result(toy_data, noise):
    one = downstream_task(toy_data([3, 4]), noise(3), np.random.RandomState(0), n_jobs=1, **SMALL)
    two = downstream_task(toy_data([3, 4]), noise(3), np.random.RandomState(0), n_jobs=2, **SMALL)
    assert {k: v for k, v in one.items() if k != "settings"} == {k: v for k, v in two.items() if k != "settings"}


def test_a_factor_with_one_value_in_training_is_predicted_as_that_value(toy_data, factors_as_codes):
    result = downstream_task(toy_data([1, 3]), factors_as_codes, np.random.RandomState(0), num_train=(10,),
                             num_test=30, predictor="logistic_regression")
    assert result["10:test_accuracy_factor_0"] == 1.0


def test_list_valued_settings_pass_through_evaluate_and_its_summary_keeps_scalars(toy_data, factors_as_codes):
    scored = score_representation(toy_data([2, 3]), factors_as_codes, ["downstream_task"], seeds=[0, 1],
                                  settings={"downstream_task": {**SMALL, "num_train": [30]}})
    summary = scored["summary"]["downstream_task"]
    assert summary["30:mean_test_accuracy"]["values"] == [1.0, 1.0]
    assert scored["results"]["downstream_task"][0]["settings"]["num_train"] == [30]


@pytest.mark.parametrize(
    ("setting", "value", "match"),
    [("predictor", "forest", "predictor"), ("num_train", (10, 0), "num_train"), ("num_train", [], "num_train"),
     ("n_jobs", 0, "n_jobs")],
)
def test_bad_settings_raise_input_error(toy_data, factors_as_codes, setting, value, match):
    with pytest.raises(InputError, match=match):
        downstream_task(toy_data([3]), factors_as_codes, np.random.RandomState(0), **{setting: value})
