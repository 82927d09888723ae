import json

import pytest

from disentangle.errors import InputError
from disentangle.scoring import baselines
from disentangle.scoring.baselines import evaluate_baselines


@pytest.mark.slow
def test_baselines_are_scored_and_written_per_baseline(tmp_path):
    summary = evaluate_baselines(tmp_path, "dsprites", baselines=["pca", "untrained-vae"], metrics=["mig"],
                                 preset="fast")
    assert set(summary) == {"pca", "untrained-vae"}
    for kind in summary:
        content = json.loads((tmp_path / kind / "metrics.json").read_text())
        assert content["baseline"] == kind and "mig" in content["results"]
    assert json.loads((tmp_path / "baselines.json").read_text()) == json.loads(json.dumps(summary))


def test_raw_pixels_skip_the_per_dimension_classifier_metrics(tmp_path, monkeypatch):
    """Which metrics each baseline is scored with (the scoring itself is replaced: MIG on
    4,096 pixel dimensions took 36 s here, and raw pixels are scored for real in
    tests/reproduce/test_higgins2017.py)."""
    scored = {}

    def record(data, memo, metrics, seeds, preset, progress=None):
        scored[len(scored)] = list(metrics)
        return {"results": {}, "summary": {metric: {} for metric in metrics}}

    monkeypatch.setattr(baselines, "score_representation", record)
    summary = evaluate_baselines(tmp_path, "dsprites", baselines=["raw-pixels", "pca"], preset="fast",
                                 metrics=["sap", "dci", "unsupervised_scores", "mig"])
    assert scored == {0: ["mig"], 1: ["sap", "dci", "unsupervised_scores", "mig"]}
    assert set(summary["raw-pixels"]) == {"mig"}


def test_unknown_baseline_and_factorless_data_are_rejected(tmp_path):
    with pytest.raises(InputError, match="--baselines: unknown baseline 'nope'"):
        evaluate_baselines(tmp_path, baselines=["nope"])
    with pytest.raises(InputError, match="has no ground-truth factors"):
        evaluate_baselines(tmp_path, "digits", baselines=["pca"])
