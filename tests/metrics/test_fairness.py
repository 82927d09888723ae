import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import KFold

from disentangle.errors import InputError
from disentangle.metrics import fairness
from disentangle.metrics.fairness import fairness_scores, inter_group_fairness

SMALL = {"num_train": 300, "num_test_points_per_class": 20}


def dlib_inter_group_fairness(counts):
    """dlib's ``inter_group_fairness``, transcribed (in float64)."""
    overall = np.sum(counts, axis=1, dtype=np.float64)
    overall /= overall.sum()
    normalized = np.array(counts, dtype=np.float64)
    per_class = np.sum(counts, axis=0)
    normalized /= np.expand_dims(per_class, 0)
    distances = np.sum(np.abs(normalized - np.expand_dims(overall, 1)), 0) / 2.0
    mean = distances * per_class
    mean /= per_class.sum()
    return np.sum(mean), np.amax(distances)


def dlib_scores(metric, prefix):
    """dlib's ``compute_scores_dict``, transcribed."""
    result, rows_means, rows_maxs, column_means, column_maxs = {}, [], [], [], []
    n = metric.shape[0]
    for i in range(n):
        for j in range(n):
            if i != j:
                result[f"{prefix}:pred{i}:sens{j}"] = metric[i, j]
    for i in range(n):
        relevant = [metric[i, j] for j in range(n) if i != j]
        result[f"{prefix}:pred{i}:mean_sens"], result[f"{prefix}:pred{i}:max_sens"] = np.mean(relevant), np.max(relevant)
        rows_means.append(np.mean(relevant))
        rows_maxs.append(np.max(relevant))
    for j in range(n):
        relevant = [metric[i, j] for i in range(n) if i != j]
        result[f"{prefix}:sens{j}:mean_pred"], result[f"{prefix}:sens{j}:max_pred"] = np.mean(relevant), np.max(relevant)
        column_means.append(np.mean(relevant))
        column_maxs.append(np.max(relevant))
    result[f"{prefix}:mean_sens:mean_pred"] = np.mean(column_means)
    result[f"{prefix}:mean_sens:max_pred"] = np.mean(column_maxs)
    result[f"{prefix}:max_sens:mean_pred"] = np.amax(column_means)
    result[f"{prefix}:max_sens:max_pred"] = np.amax(column_maxs)
    result[f"{prefix}:mean_pred:mean_sens"] = np.mean(rows_means)
    result[f"{prefix}:mean_pred:max_sens"] = np.mean(rows_maxs)
    result[f"{prefix}:max_pred:mean_sens"] = np.amax(rows_means)
    result[f"{prefix}:max_pred:max_sens"] = np.amax(rows_maxs)
    return result


def test_total_variation_of_hand_made_counts():
    assert inter_group_fairness(np.array([[2, 0], [0, 2]])) == pytest.approx((0.5, 0.5))
    assert inter_group_fairness(np.array([[3, 1], [1, 3]])) == pytest.approx((0.25, 0.25))
    assert inter_group_fairness(np.array([[5, 5], [2, 2]])) == pytest.approx((0.0, 0.0))
    # Columns of 2 and 4 points: distributions (1, 0) and (1/4, 3/4) against (1/2, 1/2).
    assert inter_group_fairness(np.array([[2, 1], [0, 3]])) == pytest.approx(((0.5 * 2 + 0.25 * 4) / 6, 0.5))


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 5), st.integers(2, 5), st.integers(0, 2**31))
def test_total_variation_equals_dlibs_arithmetic(num_predicted, num_sensitive, seed):
    counts = np.random.RandomState(seed).randint(0, 30, size=(num_predicted, num_sensitive))
    counts[0] += 1  # no empty column
    assert inter_group_fairness(counts) == pytest.approx(dlib_inter_group_fairness(counts), rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 6), st.integers(0, 2**31))
def test_aggregates_equal_dlibs_names_and_values(num_factors, seed):
    matrix = np.random.RandomState(seed).rand(num_factors, num_factors)
    ours, reference = fairness_scores(matrix, "mean_fairness"), dlib_scores(matrix, "mean_fairness")
    assert ours.keys() == reference.keys()
    assert ours == pytest.approx(reference, rel=1e-12)


def test_factors_as_codes_are_perfectly_fair(toy_data, factors_as_codes):
    result = fairness(toy_data([3, 4, 5]), factors_as_codes, np.random.RandomState(0), **SMALL)
    scores = {k: v for k, v in result.items() if k != "settings"}
    assert len(scores) == 2 * (6 + 3 * 2 + 3 * 2 + 8)
    assert all(value == 0.0 for value in scores.values())


def test_codes_blind_to_the_sensitive_factor_are_fair_with_respect_to_it(toy_data, noise):
    def representation(x):  # factor 2 does not reach the codes
        return np.c_[x[:, 0] + 0.4 * x[:, 1], x[:, 1] - 0.3 * x[:, 0], np.sin(7.0 * x[:, 0] * x[:, 1])]

    result = fairness(toy_data([3, 4, 5]), representation, np.random.RandomState(0), **SMALL)
    assert result["mean_fairness:pred0:sens2"] == 0.0 and result["max_fairness:pred1:sens2"] == 0.0


def test_a_code_mixing_target_and_sensitive_factor_is_unfair(toy_data):
    # The classifier of factor 0 sees only f0 + f1: setting f1 = 0 makes small sums, and
    # so small predictions, setting f1 = 3 large ones.
    result = fairness(toy_data([3, 4]), lambda x: np.c_[x[:, 0] + x[:, 1], x[:, 0] + x[:, 1]],
                      np.random.RandomState(0), **SMALL)
    assert result["mean_fairness:pred0:sens1"] > 0.25
    assert result["max_fairness:pred0:sens1"] > result["mean_fairness:pred0:sens1"]
    assert result["mean_fairness:mean_pred:mean_sens"] > 0.25


def test_permuting_codes_and_increasing_maps_leave_the_scores_unchanged(toy_data):
    def representation(x):
        return np.c_[x[:, 0] + x[:, 1], x[:, 1] * x[:, 2], x[:, 2] - x[:, 0]]

    data = toy_data([3, 4, 5])
    original = fairness(data, representation, np.random.RandomState(0), **SMALL)
    transformed = fairness(data, lambda x: np.c_[np.exp(representation(x)), representation(x) ** 3][:, [5, 3, 1]],
                           np.random.RandomState(0), **SMALL)
    assert {k: v for k, v in transformed.items() if k != "settings"} == pytest.approx(
        {k: v for k, v in original.items() if k != "settings"}, abs=1e-12
    )


def test_a_single_factor_raises_input_error(toy_data, factors_as_codes):
    with pytest.raises(InputError, match="at least 2 factors"):
        fairness(toy_data([3]), factors_as_codes, np.random.RandomState(0), **SMALL)


def test_equals_dlibs_procedure_with_a_deterministic_classifier(toy_data):
    """dlib's ``compute_fairness`` transcribed with logistic regression, whose fit is
    deterministic: the same points, predictions and scores."""
    data, rng = toy_data([2, 3]), np.random.RandomState(7)

    def representation(x):
        return np.c_[x[:, 0] + 0.5 * x[:, 1], np.cos(3.0 * x[:, 1])]

    codes, factors = [], []
    for _ in range(0, 40, 16):
        f = data.sample_factors(min(16, 40 - len(factors) * 16), rng)
        factors.append(f)
        codes.append(representation(data.sample_observations_from_factors(f, rng)))
    codes, factors = np.vstack(codes), np.vstack(factors)
    mean, maximum = np.zeros((2, 2)), np.zeros((2, 2))
    for i in range(2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = LogisticRegressionCV(Cs=10, cv=KFold(n_splits=5), scoring="accuracy").fit(codes, factors[:, i])
        for j in range(2):
            if i == j:
                continue
            original = data.sample_factors(10, rng)
            counts = np.zeros((data.factors_num_values[i], data.factors_num_values[j]), dtype=np.int64)
            for c in range(data.factors_num_values[j]):
                intervened = np.copy(original)
                intervened[:, j] = c
                predictions = model.predict(representation(data.sample_observations_from_factors(intervened, rng)))
                counts[:, c] = np.bincount(predictions, minlength=data.factors_num_values[i])
            mean[i, j], maximum[i, j] = dlib_inter_group_fairness(counts)
    reference = {**dlib_scores(mean, "mean_fairness"), **dlib_scores(maximum, "max_fairness")}
    ours = fairness(data, representation, np.random.RandomState(7), num_train=40, num_test_points_per_class=10,
                    predictor="logistic_regression")
    assert {k: v for k, v in ours.items() if k != "settings"} == pytest.approx(reference, abs=1e-12)
    assert max(reference.values()) > 0
