import importlib
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from disentangle.errors import InputError
from disentangle.sweep.aggregate import aggregate, collect, methods, score_columns
from disentangle.sweep.figures import rank_correlation


def _run(folder, model, beta, seed, scores=None):
    """A run folder as train and evaluate write it; ``scores``: {(metric, score): [value per metric seed]}."""
    folder.mkdir(parents=True)
    config = {
        "format_version": 1,
        "model": {"name": model, "latent_dim": 10, "beta": beta, "betas": [0.5, 0.9]},
        "data": {"name": "dsprites", "path": None},
        "train": {"steps": 100, "seed": seed},
        "environment": {"disentangle": "0.1.0"},
    }
    (folder / "config.json").write_text(json.dumps(config))
    if scores is not None:
        summary = {}
        for (metric, score), values in scores.items():
            summary.setdefault(metric, {})[score] = {
                "mean": float(np.mean(values)),
                "std": float(np.std(values)),
                "values": values,
            }
        metrics = {"checkpoint_step": 100, "preset": "fast", "seeds": [0, 1], "summary": summary}
        (folder / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture
def study(tmp_path):
    """Two models × two seeds, scored with MIG and DCI under two metric seeds; one run unscored."""
    for i, (model, beta, seed) in enumerate(
        [("beta-vae", 1.0, 0), ("beta-vae", 4.0, 1), ("beta-tcvae", 6.0, 0), ("beta-tcvae", 6.0, 1)]
    ):
        _run(
            tmp_path / "runs" / f"{i:04d}-{model}",
            model,
            beta,
            seed,
            {
                ("mig", "discrete_mig"): [0.1 * i, 0.1 * i + 0.02],
                ("dci", "disentanglement"): [0.9 - 0.1 * i, 0.9 - 0.1 * i],
                ("dci", "completeness"): [0.5 + 0.05 * (i % 2), 0.5],
                ("dci", "informativeness_train"): [0.7, 0.7 + 0.01 * i],  # not a headline score
            },
        )
    _run(tmp_path / "elsewhere" / "hand-made", "vae", 1.0, 3)
    (tmp_path / "runs" / "0000-beta-vae" / "checkpoints").mkdir()
    return tmp_path


def test_one_row_per_run_with_its_flattened_config_and_mean_and_per_seed_scores(study):
    table = collect(study)
    assert list(table["run"]) == [
        "elsewhere/hand-made",
        "runs/0000-beta-vae",
        "runs/0001-beta-vae",
        "runs/0002-beta-tcvae",
        "runs/0003-beta-tcvae",
    ]
    assert list(table.columns[:5]) == ["run", "model", "scored", "checkpoint_step", "preset"]
    row = table.set_index("run").loc["runs/0002-beta-tcvae"]
    assert row["model"] == "beta-tcvae" and row["model.beta"] == 6.0 and row["train.seed"] == 0
    assert row["model.betas"] == "[0.5, 0.9]" and row["data.name"] == "dsprites"
    assert row["scored"] and row["checkpoint_step"] == 100 and row["preset"] == "fast"
    assert row["mig.discrete_mig"] == pytest.approx(0.21)
    assert row["mig.discrete_mig[seed=0]"] == pytest.approx(0.2)
    assert row["mig.discrete_mig[seed=1]"] == pytest.approx(0.22)
    assert score_columns(table) == [
        "mig.discrete_mig", "dci.disentanglement", "dci.completeness", "dci.informativeness_train"
    ]
    unscored = table.set_index("run").loc["elsewhere/hand-made"]
    assert (
        not unscored["scored"]
        and pd.isna(unscored["mig.discrete_mig"])
        and pd.isna(unscored["checkpoint_step"])
    )


def test_aggregate_writes_csv_parquet_and_a_figure_per_headline_score_plus_the_rank_correlation(study):
    (study / "figures").mkdir()
    (study / "figures" / "stale.png").write_bytes(b"old")
    table = aggregate(study)
    for read in (pd.read_csv(study / "results.csv"), pd.read_parquet(study / "results.parquet")):
        assert list(read.columns) == list(table.columns) and len(read) == 5
        assert np.allclose(read["mig.discrete_mig"], table["mig.discrete_mig"], equal_nan=True)
    written = sorted(path.name for path in (study / "figures").glob("*.png"))
    assert written == [
        "dci.completeness.png",
        "dci.disentanglement.png",
        "mig.discrete_mig.png",
        "rank-correlation.png",
    ]
    for name in written:
        with Image.open(study / "figures" / name) as image:
            assert image.size[0] > 200 and image.size[1] > 200


def test_rank_correlation_is_spearmans_over_the_runs_headline_scores(study, monkeypatch):
    module = importlib.import_module("disentangle.sweep.aggregate")  # the package's name is the function

    _run(study / "runs" / "0004-extra", "vae", 1.0, 5, {
        ("mig", "discrete_mig"): [0.5, 0.5], ("dci", "disentanglement"): [0.1, 0.1],
        ("dci", "informativeness_train"): [0.9, 0.95],  # not a headline score: left out of the matrix
    })
    drawn = []
    monkeypatch.setattr(module, "rank_correlation", lambda scores: drawn.append(scores) or rank_correlation(scores))
    aggregate(study)
    (scores,) = drawn
    assert list(scores.columns) == ["mig.discrete_mig", "dci.disentanglement", "dci.completeness"]
    assert scores[["mig.discrete_mig", "dci.disentanglement"]].dropna().corr(method="spearman").iloc[0, 1] == (
        pytest.approx(-1.0)
    )


def test_methods_are_models_optionally_split_by_a_hyperparameter(study):
    table = collect(study)
    assert list(methods(table)) == ["vae", "beta-vae", "beta-vae", "beta-tcvae", "beta-tcvae"]
    assert list(methods(table, ["model.beta"])) == [
        "vae beta=1",
        "beta-vae beta=1",
        "beta-vae beta=4",
        "beta-tcvae beta=6",
        "beta-tcvae beta=6",
    ]
    with pytest.raises(InputError, match="--by model.bta: no such column"):
        methods(table, ["model.bta"])
    aggregate(study, by=["model.beta"])


def test_a_folder_without_runs_or_without_scores(tmp_path):
    with pytest.raises(InputError, match="no run folders under it"):
        collect(tmp_path)
    with pytest.raises(InputError, match="no such folder"):
        collect(tmp_path / "missing")
    _run(tmp_path / "only", "vae", 1.0, 0)
    table = aggregate(tmp_path)
    assert list(table["scored"]) == [False] and not list((tmp_path / "figures").glob("*.png"))


def test_the_sampled_evaluation_and_the_udr_are_columns_of_their_own(study, monkeypatch):
    module = importlib.import_module("disentangle.sweep.aggregate")
    for i, folder in enumerate(sorted((study / "runs").iterdir())):
        path = folder / "metrics.json"
        content = json.loads(path.read_text())
        sampled_summary = {
            "mig": {"discrete_mig": {"mean": 0.01 * i, "std": 0.0, "values": [0.01 * i]}},
            "dci": {"informativeness_train": {"mean": 0.5, "std": 0.0, "values": [0.5]}},
        }
        content["sampled"] = {"seeds": [7], "representation": "sampled", "summary": sampled_summary}
        content["udr"] = {"model_score": 0.2 * i, "runs": [], "settings": {}}
        path.write_text(json.dumps(content))
    drawn = []
    monkeypatch.setattr(module, "rank_correlation", lambda scores: drawn.append(scores) or rank_correlation(scores))
    table = aggregate(study)
    runs = table[table["run"].str.startswith("runs/")]
    assert runs["sampled.mig.discrete_mig"].tolist() == pytest.approx([0.0, 0.01, 0.02, 0.03])
    assert runs["sampled.mig.discrete_mig[seed=7]"].tolist() == pytest.approx([0.0, 0.01, 0.02, 0.03])
    assert runs["udr.model_score"].tolist() == pytest.approx([0.0, 0.2, 0.4, 0.6])
    assert runs["mig.discrete_mig"].tolist()[1] == pytest.approx(0.11)  # the mean's scores are unchanged
    (scores,) = drawn
    assert {"sampled.mig.discrete_mig", "udr.model_score"} <= set(scores.columns)
    assert "sampled.dci.informativeness_train" not in scores.columns  # not a headline score
