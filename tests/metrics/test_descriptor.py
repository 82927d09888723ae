"""The metric registry: each descriptor is complete, and a metric declared by a descriptor
alone is run by ``score_representation`` with what it needs."""

from __future__ import annotations

import numpy as np
import pytest

import inspect
import pydoc

from disentangle.errors import InputError
from disentangle.scoring.evaluate import DEFAULT_METRICS, HEADLINE_SCORES, check_metric_names, score_representation
from disentangle.metrics import CODES, METRICS, POSTERIOR, UDR, Inputs, Metric, mig
from disentangle.metrics.descriptor import metric, resolve_n_jobs

#: small settings for each metric of dlib's contract, so the test runs in seconds
SMALL = {
    "beta_vae": {"num_train": 40, "num_eval": 20, "batch_size": 4},
    "factor_vae": {"num_train": 40, "num_eval": 20, "num_variance_estimate": 100, "batch_size": 4},
    "dci": {"num_train": 60, "num_test": 30, "num_stages": 2},
    "sap": {"num_train": 100, "num_test": 50},
    "modularity_explicitness": {"num_train": 100, "num_test": 50},
}


def test_the_default_metrics_are_dlibs_seven_in_dlibs_order():
    assert DEFAULT_METRICS == (
        "beta_vae", "factor_vae", "mig", "dci", "sap", "modularity_explicitness", "unsupervised_scores",
    )
    assert list(METRICS)[: len(DEFAULT_METRICS)] == list(DEFAULT_METRICS)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_every_descriptor_is_complete(name):
    metric = METRICS[name]
    assert metric.name == name and metric.headline and HEADLINE_SCORES[name] == metric.headline
    assert set(metric.fast) <= set(metric.settings) and set(metric.needs) <= {CODES, POSTERIOR, "likelihood"}
    assert metric.preset("dlib") == dict(metric.settings) and metric.preset("fast") == {**metric.settings, **metric.fast}


@pytest.mark.parametrize("name", DEFAULT_METRICS)
def test_a_metrics_first_headline_score_is_in_its_result(name, toy_data, factors_as_codes):
    small = SMALL.get(name, {"num_train": 100})
    result = METRICS[name](toy_data([2, 3]), factors_as_codes, np.random.RandomState(0), **small)
    assert METRICS[name].headline[0] in result


def test_a_descriptor_refuses_fast_changes_to_settings_it_does_not_have():
    with pytest.raises(ValueError, match="fast changes unknown settings"):
        Metric("x", lambda *args: {}, settings={"num_train": 10}, headline=("x",), fast={"num_test": 5})


def test_a_new_metric_is_one_decorated_function(monkeypatch, toy_data, factors_as_codes):
    @metric("code_range", headline=("code_range",), fast={"num_points": 5})
    def code_range(ground_truth_data, representation_function, random_state, *, num_points=50):
        factors = ground_truth_data.sample_factors(num_points, random_state)
        codes = representation_function(ground_truth_data.sample_observations_from_factors(factors, random_state))
        return {"code_range": float(np.ptp(codes))}

    assert code_range.metric.settings == {"num_points": 50} and code_range.metric.function is code_range
    monkeypatch.setitem(METRICS, "code_range", code_range.metric)
    assert check_metric_names(["code_range"]) == ["code_range"]
    scores = score_representation(toy_data([3, 4]), factors_as_codes, ["code_range"], seeds=[0, 1], preset="fast")
    assert [r["settings"]["num_points"] for r in scores["results"]["code_range"]] == [5, 5]
    assert scores["summary"]["code_range"]["code_range"]["mean"] == pytest.approx(3.0, abs=1.0)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_a_descriptors_settings_are_its_functions_keyword_only_defaults(name):
    descriptor = METRICS[name]
    declared = descriptor.adapter or descriptor.function
    keyword_only = {
        p.name: p.default for p in inspect.signature(declared).parameters.values() if p.kind is p.KEYWORD_ONLY
    }
    assert keyword_only == dict(descriptor.settings)
    if descriptor.adapter is None:
        assert descriptor.function.metric is descriptor
        assert inspect.signature(descriptor.function).parameters["preset"].default == "dlib"


def test_the_settings_and_their_defaults_show_in_the_signature_and_help():
    assert str(inspect.signature(mig)).startswith(
        "(ground_truth_data, representation_function, random_state, preset='dlib', posterior_function=None, *, "
        "estimator='dlib', num_train=10000, batch_size=16, num_bins=20,"
    )
    assert "num_bins=20" in pydoc.render_doc(mig) and "equal-width bins per code" in pydoc.render_doc(mig)
    assert list(inspect.signature(UDR.function).parameters)[3:5] == ["preset", "num_data_points"]


def test_explicit_settings_override_the_preset_which_fills_the_rest(toy_data, factors_as_codes):
    calls = []

    @metric("probe", headline=("x",), fast={"num_train": 7, "num_bins": 3})
    def probe(ground_truth_data, representation_function, random_state, *, num_train=100, num_bins=20, n_jobs=None):
        calls.append((num_train, num_bins, n_jobs))
        return {"x": 1.0, "settings": {"num_bins": -num_bins}}

    result = probe(toy_data([2]), factors_as_codes, np.random.RandomState(0), "fast", num_train=9)
    assert calls == [(9, 3, resolve_n_jobs("probe", None))]
    assert result == {"x": 1.0, "settings": {"num_train": 9, "num_bins": -3, "n_jobs": calls[0][2], "preset": "fast"}}
    for bad, message in (({"bogus": 1}, "unknown setting"), ({"num_train": 0}, "positive integer"),
                         ({"n_jobs": 1.5}, "n_jobs must be a positive integer or None")):
        with pytest.raises(InputError, match=f"^probe: .*{message}"):
            probe(toy_data([2]), factors_as_codes, np.random.RandomState(0), **bad)


def test_n_jobs_is_the_cpus_available_unless_given():
    assert resolve_n_jobs("m", 3) == 3 and resolve_n_jobs("m", np.int64(2)) == 2 and resolve_n_jobs("m", None) >= 1
    for bad in (0, 1.5, True, "2"):
        with pytest.raises(InputError, match="^m: n_jobs must be a positive integer or None"):
            resolve_n_jobs("m", bad)


def test_a_metric_is_given_the_posterior_only_when_it_uses_it(toy_data, factors_as_codes):
    seen = {}

    def posterior(observations):
        seen["called"] = True
        return np.asarray(observations, float), np.zeros((len(observations), 2))

    scores = score_representation(toy_data([4, 4]), factors_as_codes, ["mig"], posterior_function=posterior,
                                  settings={"mig": {"estimator": "chen", "num_samples": 16, "num_components": 16}})
    assert seen["called"] and 0 <= scores["results"]["mig"][0]["mig"] <= 1
    inputs = Inputs(toy_data([2]), factors_as_codes)
    with pytest.raises(InputError, match="^--metrics: active_units needs the posterior of the representation"):
        METRICS["active_units"].check(inputs)
