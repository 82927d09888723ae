import json

import pytest

from disentangle.scoring.baselines import evaluate_baselines
from disentangle.errors import InputError


@pytest.mark.slow
def test_baselines_are_scored_and_written_per_baseline(tmp_path):
    summary = evaluate_baselines(tmp_path, "dsprites", baselines=["pca", "untrained-vae"], metrics=["mig"],
                                 preset="fast")
    assert set(summary) == {"pca", "untrained-vae"}
    for kind in summary:
        content = json.loads((tmp_path / kind / "metrics.json").read_text())
        assert content["baseline"] == kind and "mig" in content["results"]
    assert json.loads((tmp_path / "baselines.json").read_text()) == json.loads(json.dumps(summary))


def test_raw_pixels_skip_the_per_dimension_classifier_metrics(tmp_path):
    summary = evaluate_baselines(tmp_path, "dsprites", baselines=["raw-pixels"], preset="fast",
                                 metrics=["sap", "dci", "unsupervised_scores", "mig"])
    assert set(summary["raw-pixels"]) == {"mig"}


def test_unknown_baseline_and_factorless_data_are_rejected(tmp_path):
    with pytest.raises(InputError, match="--baselines: unknown baseline 'nope'"):
        evaluate_baselines(tmp_path, baselines=["nope"])
    with pytest.raises(InputError, match="has no ground-truth factors"):
        evaluate_baselines(tmp_path, "digits", baselines=["pca"])
