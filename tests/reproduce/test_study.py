"""Study declarations: what they expand into, what they cost, and what they refuse."""

import dataclasses

import pytest

from disentangle.errors import InputError
from disentangle.reproduce import STUDIES, StudyBudget, cost, estimate, plan
from disentangle.reproduce.study import Study, StudyMethod

TINY_BUDGET = StudyBudget("cpu-small", seeds=(0, 1), steps=6, datasets=("dsprites",), preset="fast",
                          checkpoint_every=3)
TINY = Study(
    name="tiny", citation="A test, 2026", question="Does it run?",
    methods=(StudyMethod("bvae", "β-VAE", "beta-vae", "beta", (1.0, 4.0)),
             StudyMethod("annealed", "AnnealedVAE", "annealed-vae", "c_max", (5.0, 25.0), fixed={"gamma": 1000.0},
                         per_step={"iteration_threshold": 1 / 3}),
             StudyMethod("pairs", "Ada-GVAE", "ada-gvae", "beta", (1.0,), images_per_row=2)),
    metrics=("mig",), scores=("mig.discrete_mig",),
    base={"model": {"architecture": "mlp", "latent_dim": 4}, "train": {"batch_size": 8}},
    budgets={"cpu-small": TINY_BUDGET}, matched_images=True,
)


def test_a_study_expands_into_methods_then_values_then_datasets_then_seeds():
    planned = plan(TINY, "cpu-small")
    assert [(p.method.key, p.value, p.run.config.train.seed) for p in planned] == [
        ("bvae", 1.0, 0), ("bvae", 1.0, 1), ("bvae", 4.0, 0), ("bvae", 4.0, 1),
        ("annealed", 5.0, 0), ("annealed", 5.0, 1), ("annealed", 25.0, 0), ("annealed", 25.0, 1),
        ("pairs", 1.0, 0), ("pairs", 1.0, 1)]
    assert [p.run.number for p in planned] == list(range(10))
    annealed = planned[4].run.config
    assert (annealed.model.gamma, annealed.model.iteration_threshold, annealed.train.steps) == (1000.0, 2, 6)


def test_pairs_train_on_half_the_batch_when_the_study_matches_images_seen():
    planned = plan(TINY, "cpu-small")
    assert {p.method.key: p.run.config.train.batch_size for p in planned} == {"bvae": 8, "annealed": 8, "pairs": 4}
    assert {p.method.key: p.images for p in planned} == {"bvae": 48, "annealed": 48, "pairs": 48}


def test_the_cost_is_images_over_the_measured_rate_plus_scoring():
    planned = plan(TINY, "cpu-small")[0]
    expected = 6 * 8 / cost.TRAINING_IMAGES_PER_SECOND["mlp"] + cost.scoring_seconds(["mig"], "fast", "mlp")
    assert planned.seconds == pytest.approx(expected)


def test_scoring_costs_each_metrics_encoding_at_the_nets_rate_plus_its_own_work(monkeypatch):
    monkeypatch.setattr(cost, "SCORING", {"fast": {"dear": (2.0, 1.0), "cheap": (0.0, 0.5)}})
    monkeypatch.setattr(cost, "ENCODING_IMAGES_PER_SECOND", {"mlp": 500.0, "conv": 100.0})
    assert cost.scoring_seconds(["dear", "cheap"], "fast", "mlp") == pytest.approx(2.0 + 1.0 + 0.5)
    # conv nets encode 5 times slower than the MLP nets the table was measured on
    assert cost.scoring_seconds(["dear", "cheap"], "fast", "conv") == pytest.approx(5 * 2.0 + 1.0 + 0.5)
    assert cost.scoring_seconds(["dear"], "fast", "mlp", seeds=3) == pytest.approx(3 * 3.0)
    # a metric not measured costs as the preset's dearest; nets not measured encode at the slowest rate
    assert cost.scoring_seconds(["unmeasured"], "fast", "mlp") == pytest.approx(3.0)
    assert cost.scoring_seconds(["dear"], "fast", "my-nets") == pytest.approx(11.0)


def test_every_metric_a_study_scores_with_has_a_measured_scoring_cost_under_both_presets():
    metrics = {metric for study in STUDIES.values() for metric in study.metrics}
    assert all(metrics <= set(cost.SCORING[preset]) for preset in ("fast", "dlib"))


@pytest.mark.parametrize("name", list(STUDIES))
def test_every_cpu_small_budget_fits_in_45_minutes_here_and_names_what_it_can_support(name):
    study = STUDIES[name]
    totals = estimate(plan(study, "cpu-small"))
    assert totals["runs"] >= 6 and totals["cpu_seconds"] <= 45 * 60, totals
    assert len(study.budgets["cpu-small"].seeds) == 2 and "cannot" in study.budgets["cpu-small"].supports


@pytest.mark.parametrize("name", list(STUDIES))
def test_every_cpu_budget_is_a_night_here(name):
    assert 2 * 3600 <= estimate(plan(STUDIES[name], "cpu"))["cpu_seconds"] <= 12 * 3600


@pytest.mark.slow
def test_locatellos_full_study_is_12600_models_and_about_2_5_gpu_years():
    totals = estimate(plan(STUDIES["locatello2019"], "full"))
    assert totals["runs"] == 12_600
    assert totals["gpu_hours"] == pytest.approx(2.5 * 365.25 * 24)


def test_the_cpu_small_weak_study_is_the_weak_versus_unsupervised_sweep_at_equal_beta():
    """The measured sweep of docs/results.md (configs/sweeps/weak-vs-unsupervised.yaml) at half
    its steps, run by run, for its β = 4 runs (β-VAE, Ada-GVAE), and Ada-ML-VAE with the
    sweep's settings at the same β."""
    from pathlib import Path

    from disentangle.sweep import expand_sweep

    sweep = expand_sweep(Path(__file__).parents[2] / "configs" / "sweeps" / "weak-vs-unsupervised.yaml")
    planned = plan(STUDIES["locatello2020-weak"], "cpu-small")

    def recipe(run):
        return run.config.model_name, run.config.model.beta, run.config.train.seed

    assert sorted(recipe(p.run) for p in planned) == [(model, 4.0, seed) for model in ("ada-gvae", "ada-ml-vae",
                                                                                      "beta-vae") for seed in (0, 1)]
    at_four = [run for run in sweep if run.config.model.beta == 4.0 or run.config.model_name == "ada-ml-vae"]
    for p, run in zip(sorted(planned, key=lambda p: recipe(p.run)),
                      sorted(at_four, key=lambda run: (run.config.model_name, run.config.train.seed)), strict=True):
        ours, theirs = p.run.config.to_dict(), run.config.to_dict()
        assert ours["model"] == {**theirs["model"], "likelihood": ours["model"]["likelihood"], "beta": 4.0}
        half = {"device": ours["train"]["device"], "steps": theirs["train"]["steps"] // 2}
        assert ours["train"] == {**theirs["train"], **half}


@pytest.mark.parametrize(("change", "message"), [
    ({"methods": (StudyMethod("m", "M", "no-such-model", "beta", (1.0,)),)},
     "study tiny: method m: unknown model 'no-such-model' (expected one of "),
    ({"metrics": ("mig", "no_such_metric")}, "study tiny: unknown metric(s) no_such_metric (expected some of "),
    ({"budgets": {"cpu-small": dataclasses.replace(TINY_BUDGET, datasets=("dsprites", "no-such-data"))}},
     "study tiny: budget cpu-small: unknown dataset 'no-such-data' (expected one of "),
    ({"figures": ("no_such_figure",)}, "study tiny: unknown figure 'no_such_figure' (expected one of "),
    ({"extra_scores": ("no_such_score",)}, "study tiny: unknown extra score 'no_such_score' (expected one of "),
    ({"scores": ("dci.disentanglement",)}, "study tiny: score 'dci.disentanglement' is of no metric"),
    ({"budgets": {"cpu-small": dataclasses.replace(TINY_BUDGET, values={"bvae": (3.0,)})}},
     "study tiny: budget cpu-small: bvae: beta = 3.0 is not in the paper's grid [1.0, 4.0]"),
    ({"budgets": {"cpu-small": dataclasses.replace(TINY_BUDGET, sections={"train": {"learning_rate": 1e-3}})}},
     "study tiny: budget cpu-small: replaces the paper's settings; say why in deviation"),
    ({"methods": (StudyMethod("m", "M", "beta-vae", "beta", (-1.0,)),)}, "study tiny (budget cpu-small): run 0"),
])
def test_a_study_naming_something_unknown_is_refused_naming_it(change, message):
    with pytest.raises(InputError) as error:
        plan(dataclasses.replace(TINY, **change), "cpu-small")
    assert str(error.value).startswith(message), str(error.value)
    assert "\n" not in str(error.value)


def test_an_unknown_budget_is_refused_with_the_studys_budgets():
    with pytest.raises(InputError, match=r"^--budget: unknown 'huge' for tiny \(expected one of cpu-small\)$"):
        plan(TINY, "huge")
