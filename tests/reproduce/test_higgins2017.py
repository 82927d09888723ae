import dataclasses
import json
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

import disentangle.scoring.baselines
import disentangle.sweep.execute
from disentangle.cli import main
from disentangle.errors import InputError
from disentangle.reproduce import higgins2017
from disentangle.reproduce.higgins2017 import (
    BUDGETS,
    HIGGINS_2017,
    HIGGINS_TRAINING,
    Budget,
    Method,
    budget_cuts,
    dry_run_lines,
    planned_cost,
    reproduce,
    run_folder_of,
)
from disentangle.train import train

#: two seeds of two-step models, scored on a few points of 4 pairs each
TINY = Budget("tiny", seeds=(0, 1), steps=2, checkpoint_every=2,
              beta_vae={"num_train": 40, "num_eval": 20, "batch_size": 4, "classifier_steps": 20})
METHOD = {method.key: method for method in HIGGINS_2017}
BROKEN = Method("broken", "broken model", (50.0, None), "trained", "beta-vae", {"beta": -1.0})


@pytest.fixture(scope="module")
def reproduction(tmp_path_factory):
    """Every method of Higgins' Table 1 under the tiny budget (PCA and ICA fitted on 500 images)."""
    out = tmp_path_factory.mktemp("reproduce") / "higgins"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(disentangle.scoring.baselines, "FIT_IMAGES", 500)
        results = reproduce("higgins", out, TINY)
    return out, results


def _checkpoint_times(out: Path) -> dict[str, int]:
    return {str(path.relative_to(out)): path.stat().st_mtime_ns for path in out.glob("runs/*/checkpoints/*")}


@pytest.mark.slow
def test_every_method_is_scored_under_both_protocols_beside_the_published_number(reproduction):
    out, results = reproduction
    assert json.loads((out / "results.json").read_text()) == json.loads(json.dumps(results))
    assert list(results["methods"]) == [method.key for method in HIGGINS_2017]
    for method in HIGGINS_2017:
        records = results["methods"][method.key]["seeds"]
        assert [r["status"] for r in records.values()] == ["done", "done"], records
        higgins, dlib = records["0"]["beta_vae_higgins"], records["0"]["beta_vae_dlib"]
        assert higgins["settings"]["protocol"] == "higgins" and higgins["settings"]["exclude_factors"] == [0]
        assert dlib["settings"]["protocol"] == "dlib" and dlib["settings"]["num_train"] == 40
        assert 0 <= higgins["eval_accuracy"] <= 1 and 0 <= dlib["eval_accuracy"] <= 1
        if method.source == "trained":
            assert records["1"]["steps"] == 2 and records["1"]["run"] == f"{method.key}-seed-1"
            assert (run_folder_of(out, method, 1) / "config.json").is_file()
    sweep = json.loads((out / "sweep.json").read_text())["runs"]  # trained by the sweep engine, in table order
    assert [run["name"] for run in sweep] == [f"{key}-seed-{seed}" for key in ("dc-ign", "infogan", "vae", "beta-vae")
                                              for seed in (0, 1)]
    assert [run["number"] for run in sweep] == list(range(8)) and sweep[7]["model"]["beta"] == 4.0
    table = (out / "table.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| method")]
    assert [row.split(" | ")[0][2:] for row in rows] == [method.label for method in HIGGINS_2017]
    assert "| β-VAE (β = 4) |" in table and "| 99.23 ± 0.1 |" in table and "| 45.75 ± 0.8 |" in table
    assert "2 training steps per model (full: 300,000)" in table and "500 random images" in table
    report, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert "| β-VAE (β = 4) |" in report and "disentangle reproduce higgins --budget tiny" in report
    assert "<td>β-VAE (β = 4)</td>" in page and "500 random images" in page


@pytest.mark.slow
def test_a_second_call_skips_every_finished_method_seed(reproduction, monkeypatch):
    out, results = reproduction
    before = _checkpoint_times(out)

    def must_not_run(*args, **kwargs):
        raise AssertionError("called for a finished method-seed")

    monkeypatch.setattr(disentangle.sweep.execute, "train_or_resume", must_not_run)
    monkeypatch.setattr(higgins2017, "score_representation", must_not_run)
    again = reproduce("higgins", out, TINY)
    assert again["methods"] == results["methods"]
    assert _checkpoint_times(out) == before and len(before) == 8


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    vae = METHOD["vae"]
    partial = run_folder_of(tmp_path, vae, 0)
    train(partial, vae.run_config(TINY, seed=0, device="cpu").with_train(steps=1), progress=False)
    results = reproduce("higgins", tmp_path, TINY, methods=(vae,))
    records = results["methods"]["vae"]["seeds"]
    assert records["0"]["resumed_from_step"] == 1 and records["1"]["resumed_from_step"] is None
    assert sorted(path.name for path in (partial / "checkpoints").iterdir()) == [
        "step-00000001.safetensors", "step-00000002.safetensors"
    ]
    # the sweep engine trains a method-seed exactly as training its configuration alone does
    alone = train(tmp_path / "alone", vae.run_config(TINY, seed=1, device="cpu"), progress=False)
    swept = load_file(str(run_folder_of(tmp_path, vae, 1) / "checkpoints/step-00000002.safetensors"))
    alone = load_file(str(alone / "checkpoints/step-00000002.safetensors"))
    assert swept.keys() == alone.keys() and all(swept[key].equal(alone[key]) for key in swept)


@pytest.mark.slow
def test_packed_seeds_train_as_each_seed_alone(tmp_path, assert_packed_as_alone):
    vae = METHOD["vae"]
    results = reproduce("higgins", tmp_path / "packed", TINY, methods=(vae,), pack=2)
    assert {record["status"] for record in results["methods"]["vae"]["seeds"].values()} == {"done"}
    for seed in TINY.seeds:
        alone = train(tmp_path / f"alone-{seed}", vae.run_config(TINY, seed=seed, device="cpu"), progress=False)
        packed = load_file(str(run_folder_of(tmp_path / "packed", vae, seed) / "checkpoints/step-00000002.safetensors"))
        alone = load_file(str(alone / "checkpoints/step-00000002.safetensors"))
        assert_packed_as_alone(packed, alone, HIGGINS_TRAINING["learning_rate"], 2)


def test_a_failing_method_is_reported_and_the_others_go_on(tmp_path):
    results = reproduce("higgins", tmp_path, TINY, methods=(BROKEN, METHOD["ground-truth"]))
    broken = results["methods"]["broken"]["seeds"]
    assert {r["status"] for r in broken.values()} == {"failed"}
    assert broken["0"]["error"] == "method broken: model.beta: must be > 0, got -1.0"
    assert {r["status"] for r in results["methods"]["ground-truth"]["seeds"].values()} == {"done"}
    table = (tmp_path / "table.md").read_text()
    assert "| broken model | failed | failed | 50 | 0 of 2 |" in table
    assert "- broken model, seed 1: method broken: model.beta: must be > 0" in table


def test_a_call_for_some_methods_keeps_the_rows_of_the_others(tmp_path):
    first = reproduce("higgins", tmp_path, TINY, methods=(METHOD["ground-truth"],))
    second = reproduce("higgins", tmp_path, TINY, methods=(METHOD["raw-pixels"],))
    assert list(second["methods"]) == ["ground-truth", "raw-pixels"]
    assert second["methods"]["ground-truth"] == first["methods"]["ground-truth"]


def test_a_folder_holding_another_budget_is_refused(tmp_path):
    reproduce("higgins", tmp_path, TINY, methods=(METHOD["ground-truth"],))
    with pytest.raises(InputError, match=r"other settings \(budget 'tiny' as it was then\); use a new --out"):
        reproduce("higgins", tmp_path, dataclasses.replace(TINY, steps=3), methods=(METHOD["ground-truth"],))


def test_budgets_list_their_cuts_and_refuse_bad_settings():
    assert budget_cuts(BUDGETS["full"]) == []
    small = budget_cuts(BUDGETS["cpu-small"])
    assert any("seeds (full: 5)" in cut for cut in small) and any("evaluation points" in cut for cut in small)
    with pytest.raises(InputError, match="seeds must be ≥ 2 distinct"):
        Budget("one", seeds=(0,), steps=1)
    with pytest.raises(InputError, match=r"cannot set \['protocol'\]"):
        Budget("bad", seeds=(0, 1), steps=1, beta_vae={"protocol": "dlib"})
    with pytest.raises(InputError, match="must be a positive integer"):
        Budget("bad", seeds=(0, 1), steps=1, beta_vae={"num_train": 0})


def test_a_budget_may_replace_training_settings_and_the_table_says_so(tmp_path):
    """The replaced settings reach the run folder, and the table lists each one beside the
    paper's value, with the budget's reason."""
    budget = dataclasses.replace(TINY, training={"vae": {"optimizer": "adam", "learning_rate": 1e-3}},
                                 training_reason="the paper's rate is made for 300,000 steps")
    results = reproduce("higgins", tmp_path, budget, methods=(METHOD["vae"],))
    written = json.loads((run_folder_of(tmp_path, METHOD["vae"], 0) / "config.json").read_text())["train"]
    assert (written["optimizer"], written["learning_rate"], written["batch_size"]) == ("adam", 1e-3, 64)
    assert results["training_deviations"] == ["VAE: optimizer adam (paper: adagrad), learning_rate 0.001 (paper: 0.01)"]
    table = (tmp_path / "table.md").read_text()
    assert ("Training settings that deviate from the paper's: VAE: optimizer adam (paper: adagrad), learning_rate "
            "0.001 (paper: 0.01). Why: the paper's rate is made for 300,000 steps") in table


def test_a_budget_that_replaces_training_settings_must_be_valid_and_say_why():
    with pytest.raises(InputError, match="say why in training_reason"):
        Budget("bad", seeds=(0, 1), steps=1, training={"vae": {"learning_rate": 1e-3}})
    with pytest.raises(InputError, match="training of vae: train.learning_rate: must be > 0"):
        Budget("bad", seeds=(0, 1), steps=1, training={"vae": {"learning_rate": -1.0}}, training_reason="x")


def test_the_beta_vae_trains_as_the_higgins_config_file_says():
    path = Path(__file__).parents[2] / "configs" / "higgins-beta-vae-dsprites.yaml"
    config = yaml.safe_load(path.read_text())
    beta_vae = METHOD["beta-vae"]
    assert {k: v for k, v in config["model"].items() if k != "name"} == beta_vae.hyperparameters
    assert {k: config["train"][k] for k in beta_vae.train_settings} == beta_vae.train_settings


def test_cli_prints_the_table_exits_1_on_a_failure_and_2_on_unknown_choices(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(BUDGETS, "cpu-small", TINY)
    monkeypatch.setitem(higgins2017.PAPERS, "higgins", ("a test table", (METHOD["ground-truth"],)))
    assert main(["reproduce", "higgins", "--out", str(tmp_path / "ok"), "--quiet"]) == 0
    output = capsys.readouterr().out
    assert "| ground truth |" in output and f"wrote {tmp_path / 'ok' / 'table.md'}" in output
    monkeypatch.setitem(higgins2017.PAPERS, "higgins", ("a test table", (BROKEN,)))
    assert main(["reproduce", "higgins", "--out", str(tmp_path / "broken"), "--quiet"]) == 1
    for argv in (["reproduce", "nope"], ["reproduce", "higgins", "--budget", "huge"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2


def test_the_dry_run_lists_each_method_seed_and_the_estimated_cost():
    lines = dry_run_lines(BUDGETS["cpu-small"])
    assert len(lines) == 2 * len(HIGGINS_2017) + 1
    assert lines[0] == "ground-truth-seed-0  ground-truth" and "vae-seed-1  run 5, 1,000 steps" in lines
    assert lines[-1].startswith("higgins2017, budget cpu-small: 18 method-seeds, about ")


def test_the_estimated_cost_counts_the_trained_images_at_the_measured_rates():
    """cpu-small was measured at 10.4 min here (2026-12-03, docs/results.md); the estimate is of
    the same order."""
    totals = planned_cost(BUDGETS["cpu-small"])
    assert 10 * 60 <= totals["cpu_seconds"] <= 25 * 60
    full = planned_cost(BUDGETS["full"])  # 4 trained methods x 5 seeds x 300,000 steps of 64 images
    assert full["gpu_hours"] == pytest.approx(4 * 5 * 300_000 * 64 / 3600 / (12_600 * 300_000 * 64 / (2.5 * 365.25
                                                                                                       * 86400)))


def test_cli_dry_runs_higgins_and_refuses_the_options_it_does_not_take(tmp_path, capsys):
    assert main(["reproduce", "higgins2017", "--dry-run", "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.splitlines() == dry_run_lines(BUDGETS["cpu-small"])
    assert main(["reproduce", "higgins", "--datasets", "shapes3d", "--out", str(tmp_path / "out")]) == 2
    assert "--datasets: not for higgins, whose table is of dSprites" in capsys.readouterr().err
    assert main(["reproduce", "higgins", "--run", "99", "--out", str(tmp_path / "out")]) == 2
    assert "--run: no trained run 99 in higgins (--dry-run shows the numbers)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_run_trains_one_numbered_run_and_a_last_call_scores_every_seed(tmp_path, monkeypatch, capsys):
    """An array job's share (``--run 1``) only trains; the call without ``--run`` skips it and scores."""
    monkeypatch.setitem(BUDGETS, "cpu-small", TINY)
    monkeypatch.setitem(higgins2017.PAPERS, "higgins", ("a test table", (METHOD["ground-truth"], METHOD["vae"])))
    out = tmp_path / "out"
    assert main(["reproduce", "higgins", "--run", "1", "--out", str(out), "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == f"{out}: 1 done, 0 skipped, 0 failed"
    assert [path.name for path in (out / "runs").iterdir()] == ["vae-seed-1"] and not (out / "results.json").exists()
    assert main(["reproduce", "higgins", "--out", str(out), "--quiet"]) == 0
    records = json.loads((out / "results.json").read_text())["methods"]["vae"]["seeds"]
    assert [records[seed]["status"] for seed in "01"] == ["done", "done"]
    # run 1 was trained by the first call: its training time is that call's, from the sweep's status file
    status = json.loads((out / "status" / "vae-seed-1.json").read_text())
    assert records["1"]["train_wall_time_s"] == status["wall_time_s"] > 0 and records["0"]["train_wall_time_s"] > 0


@pytest.mark.slow
def test_the_trained_models_train_through_ray(tmp_path):
    results = reproduce("higgins", tmp_path, TINY, methods=(METHOD["vae"],), executor="ray", workers=1)
    assert {record["status"] for record in results["methods"]["vae"]["seeds"].values()} == {"done"}
    assert all(json.loads(path.read_text())["state"] == "done" for path in (tmp_path / "status").iterdir())
