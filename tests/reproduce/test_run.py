"""A tiny study end to end: through the local executor and Ray, resumed after a real kill (SIGKILL),
reported in Markdown and HTML; and the command line's list, dry run and refusals."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import disentangle.reproduce
import disentangle.sweep.execute
from disentangle.cli import main
from disentangle.errors import InputError
from disentangle.reproduce import HIGGINS_2017, StudyBudget, cost, plan, reproduce_study
from disentangle.reproduce.study import Study, StudyMethod
from disentangle.sweep.execute import is_finished, run_path
from disentangle.run_folder import checkpoint_paths, last_checkpoint_step

#: two methods, two seeds, two steps of 8 images on dlib's conv nets (cheaper to encode and checkpoint
#: than the MLP), scored by MIG (fast)
TINY = Study(
    name="tiny", citation="A test, 2026", question="Does a study run end to end?",
    methods=(StudyMethod("bvae", "β-VAE", "beta-vae", "beta", (1.0, 4.0)),
             StudyMethod("tcvae", "β-TCVAE", "beta-tcvae", "beta", (4.0,))),
    metrics=("mig",), scores=("mig.discrete_mig", "reconstruction.recon"),
    base={"model": {"architecture": "conv-2x2", "latent_dim": 4}, "train": {"batch_size": 8, "log_every": 1}},
    budgets={"cpu-small": StudyBudget("cpu-small", seeds=(0, 1), steps=2, datasets=("dsprites",), preset="fast",
                                      values={"bvae": (1.0,)}, checkpoint_every=2,
                                      supports="nothing: it is a test")},
    extra_scores=("reconstruction",), udr=True,
    figures=("score_distributions", "seed_variance_share", "udr_model_selection", "hyperparameter_transfer"),
)


def _check_finished(out, content, runs=4):
    assert content["counts"]["failed"] == 0 and not content["failures"], content["failures"]
    table = pd.read_csv(out / "results.csv")
    assert len(table) == runs and table["mig.discrete_mig"].notna().all()
    assert table["reconstruction.recon"].gt(0).all() and table["udr.model_score"].notna().all()
    assert list(table["method"]) == ["bvae"] * 2 + ["tcvae"] * 2 and list(table["seed"]) == [0, 1] * 2
    report = (out / "report.md").read_text()
    assert "# tiny: A test, budget cpu-small" in report and "nothing: it is a test" in report
    assert "| bvae | 1 | dsprites | 2 |" in report and "![" in report
    assert f"Runs: {runs} of {runs} finished (this call: " in report
    for line in report.splitlines():
        if line.startswith("!["):
            assert (out / line.split("](")[1].split(")")[0]).is_file()
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and 'src="http' not in page and "<table>" in page
    assert "<th>mig.<wbr>discrete_<wbr>mig</th>" in page  # long headers break at their punctuation


#: the tiny study at 120 steps with a checkpoint every 20 (all kept), one thread: long enough for a kill
#: to land inside a run's training
LONGER = dataclasses.replace(
    TINY, base={**TINY.base, "train": {**TINY.base["train"], "keep_checkpoints": 10, "threads": 1}},
    budgets={"cpu-small": dataclasses.replace(TINY.budgets["cpu-small"], steps=120, checkpoint_every=20)})
#: what the killed process runs: this file's LONGER study through ``reproduce_study``
KILLED_STUDY = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("tiny_study", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from disentangle.reproduce import reproduce_study
reproduce_study(module.LONGER, sys.argv[2], "cpu-small")
"""


def _kill_when(command: list[str], ready) -> None:
    """Start ``command``, SIGKILL it as soon as ``ready()`` holds (or it has run for 300 s)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    while not ready() and process.poll() is None and time.monotonic() - started < 300:
        time.sleep(0.002)
    assert process.poll() is None, f"the study ended before the kill: {process.stderr.read()}"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


@pytest.mark.slow
def test_a_study_killed_inside_a_run_resumes_it_skips_on_relaunch_and_reports(tmp_path, monkeypatch):
    out = tmp_path / "study"
    first, second = (p.run for p in plan(LONGER, "cpu-small")[:2])
    # killed while the second run trains: the first finished and scored, the second at its first checkpoint
    _kill_when([sys.executable, "-c", KILLED_STUDY, __file__, str(out)],
               lambda: last_checkpoint_step(run_path(out, second)) >= 20)
    assert is_finished(first, run_path(out, first)) and 20 <= last_checkpoint_step(run_path(out, second)) < 120
    assert json.loads((out / "study.json").read_text())["study"] == "tiny" and not (out / "report.md").exists()
    kept = {path.name: (path.stat().st_ino, path.stat().st_mtime_ns) for path in checkpoint_paths(run_path(out, second))}

    content = reproduce_study(LONGER, out, "cpu-small")
    _check_finished(out, content)
    assert content["counts"] == {"done": 3, "skipped": 1, "failed": 0}
    after = {path.name: (path.stat().st_ino, path.stat().st_mtime_ns) for path in checkpoint_paths(run_path(out, second))}
    assert {name: after.get(name) for name in kept} == kept  # resumed from its checkpoints, not restarted
    assert last_checkpoint_step(run_path(out, second)) == 120
    sections = [json.loads((run_path(out, p.run) / "metrics.json").read_text())["udr"]
                for p in plan(LONGER, "cpu-small")]
    assert [len(section["runs"]) for section in sections] == [2] * 4  # UDR among the seeds of each setting

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(disentangle.sweep.execute, "train_or_resume", must_not_train)
    before = pd.read_csv(out / "results.csv")
    again = reproduce_study(LONGER, out, "cpu-small")
    assert again["counts"] == {"done": 0, "skipped": 4, "failed": 0}
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), before)
    assert again["wall_time_s"] > content["wall_time_s"]


@pytest.mark.slow
def test_a_tiny_study_runs_through_ray(tmp_path):
    """One seed of each method, on a one-CPU local Ray instance."""
    one_seed = dataclasses.replace(TINY.budgets["cpu-small"], seeds=(0,))
    study = dataclasses.replace(TINY, budgets={"cpu-small": one_seed}, udr=False, figures=("score_distributions",))
    content = reproduce_study(study, tmp_path / "study", "cpu-small", executor="ray", workers=1)
    assert content["counts"] == {"done": 2, "skipped": 0, "failed": 0}
    table = pd.read_csv(tmp_path / "study" / "results.csv")
    assert list(table["method"]) == ["bvae", "tcvae"] and table["mig.discrete_mig"].notna().all()
    assert (tmp_path / "study" / "figures" / "distribution-mig.discrete_mig.png").is_file()


@pytest.mark.slow
def test_a_failed_run_is_reported_and_the_others_finish(tmp_path):
    budget = dataclasses.replace(TINY.budgets["cpu-small"], seeds=(0,), datasets=("dsprites", "shapes3d"),
                                 values={"bvae": (1.0,)})
    broken = dataclasses.replace(TINY, methods=TINY.methods[:1], budgets={"cpu-small": budget}, udr=False,
                                 figures=("score_distributions",), extra_scores=(), scores=("mig.discrete_mig",))
    with pytest.MonkeyPatch.context() as patch:  # the official Shapes3D file is nowhere: its run fails
        patch.setenv("DISENTANGLE_DATA", str(tmp_path / "no-data"))
        content = reproduce_study(broken, tmp_path / "study", "cpu-small")
    assert content["counts"] == {"done": 1, "skipped": 0, "failed": 1}
    assert sorted(content["failures"]) == [p.run.name for p in plan(broken, "cpu-small") if "shapes3d" in p.run.name]
    assert "## Failed" in (tmp_path / "study" / "report.md").read_text()


def test_a_folder_holding_another_study_is_refused(tmp_path):
    (tmp_path / "study.json").write_text(json.dumps({"study": "other", "budget": {"name": "cpu"}}))
    with pytest.raises(InputError, match=r"holds study 'other' under other settings \(budget 'cpu' as it was then\)"):
        reproduce_study(TINY, tmp_path, "cpu-small")


def test_cli_refuses_a_study_naming_an_unknown_model_before_anything_runs(tmp_path, monkeypatch, capsys):
    bad = dataclasses.replace(TINY, methods=(StudyMethod("m", "M", "no-such-model", "beta", (1.0,)),))
    monkeypatch.setitem(disentangle.reproduce.STUDIES, "tiny", bad)
    assert main(["reproduce", "tiny", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("disentangle reproduce: error: study tiny: method m: unknown model 'no-such-model'")
    assert "\n" not in err and not (tmp_path / "out").exists()


def test_cli_dry_run_prints_each_run_and_the_estimated_cost_without_running(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(disentangle.reproduce.STUDIES, "tiny", TINY)
    assert main(["reproduce", "tiny", "--dry-run", "--out", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    planned = plan(TINY, "cpu-small")
    assert len(lines) == 5 and lines[0] == f"0000-beta-vae-beta=1-data=dsprites-seed=0  ~{cost.duration(planned[0].seconds)}"
    total = cost.duration(sum(p.seconds for p in planned))
    assert lines[-1].startswith(f"tiny, budget cpu-small: 4 runs, about {total} of CPU time")
    assert "GPU-hours" in lines[-1] and not (tmp_path / "out").exists()


def test_cli_list_names_every_study_with_each_budgets_runs_and_cost(monkeypatch, capsys):
    monkeypatch.setattr(disentangle.reproduce, "STUDIES", {"tiny": TINY, "higgins2017": HIGGINS_2017})
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    total = cost.duration(sum(p.seconds for p in plan(TINY, "cpu-small")))
    assert f"tiny: A test, 2026\n  cpu-small      4 runs, ~{total} here, ~0.0 GPU-hours\n" in out
    assert 'higgins2017 (or higgins): Higgins et al. 2017, "β-VAE: Learning Basic Visual Concepts' in out
    assert "\n  cpu-small     18 runs, ~" in out


def test_cli_without_a_study_or_with_an_unknown_one_exits_2(capsys):
    assert main(["reproduce"]) == 2
    assert "name a study (disentangle reproduce --list shows them)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["reproduce", "no-such-study"])
    assert exit_.value.code == 2
