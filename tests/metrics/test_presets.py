import numpy as np
import pytest

from disentangle.errors import InputError
from disentangle.metrics import CODES, METRICS, PRESETS

DLIB, FAST = PRESETS["dlib"], PRESETS["fast"]

#: the metrics of dlib's contract (codes in, scores out); the diagnostics take a posterior
CODE_METRICS = sorted(name for name, metric in METRICS.items() if metric.needs == (CODES,))


def test_every_metric_has_settings_in_every_preset():
    assert set(METRICS) == set(DLIB) == set(FAST)
    for name in METRICS:
        assert set(FAST[name]) == set(DLIB[name])


def test_dlib_defaults_are_disentanglement_libs():
    def pick(metric, *keys):
        return tuple(DLIB[metric][key] for key in keys)

    assert pick("beta_vae", "batch_size", "num_train", "num_eval", "protocol") == (64, 10_000, 5_000, "dlib")
    assert pick("factor_vae", "batch_size", "num_train", "num_eval", "num_variance_estimate") == (
        64, 10_000, 5_000, 10_000
    )
    assert DLIB["factor_vae"]["prune_threshold"] == 0.05
    assert pick("mig", "estimator", "num_train", "num_bins", "batch_size") == ("dlib", 10_000, 20, 16)
    assert pick("dci", "num_train", "num_test", "batch_size", "num_stages") == (10_000, 5_000, 16, 100)
    assert pick("sap", "num_train", "num_test", "continuous_factors") == (10_000, 5_000, False)
    assert pick("modularity_explicitness", "num_train", "num_test", "num_bins") == (10_000, 5_000, 20)
    assert pick("unsupervised_scores", "num_train", "num_bins") == (10_000, 20)


def test_overrides_apply_on_top_of_the_preset_and_are_recorded():
    settings = METRICS["dci"].resolve("fast", {"num_train": 123})
    assert settings == {**FAST["dci"], "num_train": 123, "preset": "fast"}


@pytest.mark.parametrize("name", CODE_METRICS)
def test_every_metric_returns_its_settings(name, toy_data, factors_as_codes):
    small = {"beta_vae": {"num_train": 40, "num_eval": 20, "batch_size": 4},
             "factor_vae": {"num_train": 40, "num_eval": 20, "num_variance_estimate": 100, "batch_size": 4},
             "dci": {"num_train": 60, "num_test": 30, "num_stages": 2},
             "dci_es": {"num_train": 60, "num_test": 30, "num_trees": 4}}.get(name, {"num_train": 100})
    if name in ("sap", "modularity_explicitness"):
        small = {"num_train": 100, "num_test": 50}
    result = METRICS[name](toy_data([2, 3]), factors_as_codes, np.random.RandomState(0), **small)
    assert {key: value for key, value in result["settings"].items() if key in small} == small
    assert result["settings"]["preset"] == "dlib"


def test_unknown_preset_raises_input_error():
    with pytest.raises(InputError, match="unknown preset 'slow'"):
        METRICS["mig"].resolve("slow", {})
    assert set(PRESETS) == {"dlib", "fast"}


def test_unknown_setting_raises_input_error():
    with pytest.raises(InputError, match="unknown setting"):
        METRICS["mig"].resolve("dlib", {"num_points": 10})


@pytest.mark.parametrize("value", [0, -5, 2.5, "10", True])
def test_non_positive_integer_counts_raise_input_error(value):
    with pytest.raises(InputError, match="num_train must be a positive integer"):
        METRICS["sap"].resolve("dlib", {"num_train": value})


def test_non_boolean_flag_raises_input_error():
    with pytest.raises(InputError, match="continuous_factors must be True or False"):
        METRICS["sap"].resolve("dlib", {"continuous_factors": 1})
