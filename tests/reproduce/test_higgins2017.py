"""Higgins et al. 2017's Table 1 as a study declaration: fitted baselines and trained models
scored under both protocols of the BetaVAE score, through the one study engine."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import disentangle.reproduce.extra
import disentangle.scoring.baselines
import disentangle.sweep.execute
from disentangle.cli import main
from disentangle.data import get_dataset
from disentangle.errors import InputError
from disentangle.metrics import beta_vae_score
from disentangle.reproduce import HIGGINS_2017, StudyBudget, dry_run_lines, estimate, plan, reproduce_study
from disentangle.reproduce.extra import Subject, scores_of
from disentangle.reproduce.study import StudyMethod
from disentangle.scoring.baselines import fitted_representation
from disentangle.scoring.representation import IndexedFactorData

#: two seeds of two-step models, the BetaVAE score on a few points of 4 pairs each
SMALL_METRIC = {"beta_vae": {"num_train": 40, "num_eval": 20, "batch_size": 4, "classifier_steps": 20}}
TINY = StudyBudget("tiny", seeds=(0, 1), steps=2, datasets=("dsprites",), checkpoint_every=2,
                   metric_settings=SMALL_METRIC)
STUDY = dataclasses.replace(HIGGINS_2017, budgets={**HIGGINS_2017.budgets, "tiny": TINY})
METHOD = {method.key: method for method in HIGGINS_2017.methods}


def _only(*keys: str, **changes) -> StudyBudget:
    return dataclasses.replace(TINY, methods=keys, **changes)


@pytest.fixture(scope="module")
def reproduction(tmp_path_factory):
    """Every row of Higgins' Table 1 under the tiny budget (PCA and ICA fitted on 500 images)."""
    out = tmp_path_factory.mktemp("reproduce") / "higgins"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(disentangle.scoring.baselines, "FIT_IMAGES", 500)
        content = reproduce_study(STUDY, out, "tiny")
    return out, content


@pytest.mark.slow
def test_every_row_is_scored_under_both_protocols_beside_the_published_number(reproduction):
    out, content = reproduction
    assert content["failures"] == {} and content["counts"] == {"done": 8, "skipped": 0, "failed": 0}
    table = pd.read_csv(out / "results.csv")
    assert list(dict.fromkeys(table["method"])) == [method.key for method in HIGGINS_2017.methods]
    assert table.groupby("method").size().eq(2).all()
    for protocol in ("higgins", "dlib"):
        assert table[f"beta_vae_{protocol}.eval_accuracy"].between(0, 1).all()
    sweep = json.loads((out / "sweep.json").read_text())["runs"]  # trained by the sweep engine, in table order
    assert [(run["number"], run["model"]["name"], run["train"]["seed"], run["train"]["steps"]) for run in sweep] == [
        (2 * index + seed, model, seed, 2)
        for index, model in enumerate(("dc-ign", "infogan", "vae", "beta-vae")) for seed in (0, 1)]
    kept = json.loads((out / "extra" / "pca-data=dsprites-seed=1.json").read_text())
    assert kept["checkpoint_step"] is None and set(kept["scores"]) == {"beta_vae_higgins", "beta_vae_dlib"}
    report, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert "β-VAE (β = 4): 99.23 ± 0.1 % (BetaVAE score, Higgins protocol)" in report
    assert "docs/references.md#higgins-et-al-2017 (H9)" in report
    assert "Fitted in the study's process, one per seed" in report and "PCA (pca)" in report
    assert "beta_vae's settings replaced by" in report and (out / "figures" / "published.png").is_file()
    assert "<td>β-VAE (β = 4): 99.23 ± 0.1 % (BetaVAE score, Higgins protocol)</td>" in page


@pytest.mark.slow
def test_a_second_call_trains_fits_and_scores_nothing(reproduction, monkeypatch):
    out, content = reproduction
    before = pd.read_csv(out / "results.csv")

    def must_not_run(*args, **kwargs):
        raise AssertionError("called for a finished row")

    monkeypatch.setattr(disentangle.sweep.execute, "train_or_resume", must_not_run)
    monkeypatch.setattr(disentangle.reproduce.extra, "score_representation", must_not_run)
    again = reproduce_study(STUDY, out, "tiny")
    assert again["counts"] == {"done": 0, "skipped": 8, "failed": 0} and again["failures"] == {}
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), before)


def test_a_protocol_score_is_the_metric_seeded_with_the_rows_seed():
    """The extra score of a fitted row equals calling the BetaVAE score directly on that
    representation, its random state seeded with the row's seed."""
    dataset = get_dataset("dsprites")
    subject = Subject("pca", seed=3, metric_settings=SMALL_METRIC,
                      fit=lambda: (dataset, fitted_representation("ground-truth", dataset, 3)))
    scores = disentangle.reproduce.extra.EXTRA_SCORES["beta_vae_higgins"](subject)
    direct = beta_vae_score(IndexedFactorData(dataset), fitted_representation("ground-truth", dataset, 3),
                            np.random.RandomState(3), **SMALL_METRIC["beta_vae"], protocol="higgins")
    assert scores == {"beta_vae_higgins.eval_accuracy": direct["eval_accuracy"],
                      "beta_vae_higgins.train_accuracy": direct["train_accuracy"]}


def test_the_plan_numbers_the_trained_runs_in_table_order_and_fits_the_baselines():
    planned = plan(HIGGINS_2017, "cpu-small")
    assert [(p.method.key, p.seed) for p in planned] == [(method.key, seed) for method in HIGGINS_2017.methods
                                                        for seed in (0, 1)]
    assert [p.method.key for p in planned if p.run is None][::2] == [
        "ground-truth", "raw-pixels", "pca", "ica", "untrained-vae"]
    trained = [(p.run.number, p.method.key, p.seed, p.run.steps) for p in planned if p.run is not None]
    assert trained == [(number, key, number % 2, 400 if key == "infogan" else 1_000)
                       for number, key in enumerate(key for key in ("dc-ign", "dc-ign", "infogan", "infogan", "vae",
                                                                    "vae", "beta-vae", "beta-vae"))]
    untrained = next(p for p in planned if p.method.key == "untrained-vae")
    assert (untrained.config.model_name, untrained.config.model.architecture) == ("vae", "mlp")
    lines = dry_run_lines(HIGGINS_2017, "cpu-small")
    assert lines[0].startswith("ground-truth-data=dsprites-seed=0  ~") and lines[0].endswith(", fitted here")
    assert lines[-1].startswith("higgins2017, budget cpu-small: 18 runs, about ")


def test_the_budgets_train_as_the_paper_or_say_why_not():
    full = {p.method.key: p.run.config for p in plan(HIGGINS_2017, "full") if p.run is not None}
    config = yaml.safe_load((Path(__file__).parents[2] / "configs" / "higgins-beta-vae-dsprites.yaml").read_text())
    beta_vae = full["beta-vae"]
    assert {key: getattr(beta_vae.model, key) for key in config["model"] if key != "name"} == \
        {key: value for key, value in config["model"].items() if key != "name"}
    assert {key: getattr(beta_vae.train, key) for key in ("optimizer", "learning_rate", "batch_size")} == \
        {key: config["train"][key] for key in ("optimizer", "learning_rate", "batch_size")}
    small = {p.method.key: p.run.config.train for p in plan(HIGGINS_2017, "cpu-small") if p.run is not None}
    assert (small["vae"].optimizer, small["vae"].learning_rate, small["dc-ign"].optimizer) == ("adam", 1e-3, "adam")
    assert "Adagrad at 1e-2 is made for many more steps" in HIGGINS_2017.budgets["cpu-small"].deviation


def test_the_estimated_cost_is_of_the_order_measured():
    """cpu-small was measured at 10.4 min here (2026-12-03, docs/results.md)."""
    totals = estimate(plan(HIGGINS_2017, "cpu-small"))
    assert 5 * 60 <= totals["cpu_seconds"] <= 20 * 60
    full = estimate(plan(HIGGINS_2017, "full"))  # 4 trained methods x 5 seeds x 300,000 steps of 64 images
    assert full["gpu_hours"] == pytest.approx(4 * 5 * 300_000 * 64 / 3600 / (12_600 * 300_000 * 64 / (2.5 * 365.25
                                                                                                       * 86400)))


def test_a_fitted_method_is_checked_before_anything_runs(tmp_path):
    unknown = dataclasses.replace(STUDY, methods=(StudyMethod("svd", "SVD", fitted="svd"),))
    with pytest.raises(InputError, match="method svd: unknown fitted representation 'svd'"):
        plan(unknown, "tiny")
    with_metrics = dataclasses.replace(STUDY, metrics=("mig",))
    with pytest.raises(InputError, match="method ground-truth is fitted, and fitted methods are scored by extra"):
        plan(with_metrics, "tiny")
    with pytest.raises(InputError, match="budget tiny: unknown method 'nope'"):
        plan(dataclasses.replace(STUDY, budgets={"tiny": _only("pca", steps_by_method={"nope": 3})}), "tiny")
    with pytest.raises(InputError, match="replaces the paper's settings; say why in deviation"):
        plan(dataclasses.replace(STUDY, budgets={"tiny": _only("vae", training={"vae": {"learning_rate": 1.0}})}),
             "tiny")
    with pytest.raises(InputError, match="beta_vae: setting num_train must be a positive integer"):
        plan(dataclasses.replace(STUDY, budgets={"tiny": _only("pca", metric_settings={"beta_vae": {"num_train": 0}})}),
             "tiny")
    assert not tmp_path.joinpath("extra").exists()


def test_a_failing_fitted_row_is_reported_and_the_others_go_on(tmp_path, monkeypatch):
    def broken(kind, dataset, seed, model=None, device="cpu"):
        if kind == "ica":
            raise ValueError("ICA did not converge")
        return fitted_representation(kind, dataset, seed, model, device)

    monkeypatch.setattr(disentangle.reproduce.run, "fitted_representation", broken)
    study = dataclasses.replace(STUDY, budgets={"tiny": _only("ground-truth", "ica")})
    content = reproduce_study(study, tmp_path, "tiny")
    assert content["failures"] == {f"ica-data=dsprites-seed={seed}": "extra scores: ValueError: ICA did not converge"
                                   for seed in (0, 1)}
    assert list(pd.read_csv(tmp_path / "results.csv")["method"]) == ["ground-truth", "ground-truth"]


def test_cli_run_trains_one_numbered_run_and_fits_nothing_then_a_last_call_scores_every_row(tmp_path, monkeypatch,
                                                                                               capsys):
    """An array job's share (``--run 1``) only trains; the call without ``--run`` fits and scores."""
    small = dataclasses.replace(HIGGINS_2017, budgets={"cpu-small": _only("ground-truth", "vae", steps=2)})
    monkeypatch.setitem(disentangle.reproduce.STUDIES, "higgins2017", small)
    out = tmp_path / "out"
    assert main(["reproduce", "higgins", "--run", "1", "--out", str(out), "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"{out}: 1 done, 0 skipped, 0 failed"
    assert [path.name for path in (out / "runs").iterdir()] == [
        "0001-vae-likelihood=bernoulli-architecture=mlp-optimizer=adagrad-learning_rate=0.01-data=dsprites-seed=1"]
    assert not (out / "extra").joinpath("ground-truth-data=dsprites-seed=0.json").exists()
    assert main(["reproduce", "higgins2017", "--out", str(out), "--quiet"]) == 0
    table = pd.read_csv(out / "results.csv")
    assert list(table["method"]) == ["ground-truth", "ground-truth", "vae", "vae"]
    for argv in (["reproduce", "nope"], ["reproduce", "higgins", "--budget", "huge"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2


def test_scores_of_a_fitted_row_are_kept_and_not_computed_twice(tmp_path, monkeypatch):
    dataset = get_dataset("dsprites")
    subject = Subject("truth", seed=0, metric_settings=SMALL_METRIC,
                      fit=lambda: (dataset, fitted_representation("ground-truth", dataset, 0)))
    first = scores_of(tmp_path, subject, ["beta_vae_dlib"])
    monkeypatch.setattr(disentangle.reproduce.extra, "score_representation", None)  # would fail if called
    assert scores_of(tmp_path, subject, ["beta_vae_dlib"]) == first
    assert scores_of(tmp_path, subject, ["beta_vae_higgins"], compute=False) == {}
