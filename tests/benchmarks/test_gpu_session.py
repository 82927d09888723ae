"""``benchmarks/gpu_session.py``: its tiny mode on the CPU runs every phase, and its
dependency check names what is missing and stops the session."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_session.py"
PHASES = ["dependencies", "throughput", "precision", "training", "scores", "summary"]


@pytest.fixture
def gpu_session(monkeypatch):
    """The script as a module."""
    spec = importlib.util.spec_from_file_location("gpu_session", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _numbers(figures: dict) -> bool:
    return all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in figures.values())


@pytest.mark.slow
def test_the_tiny_mode_runs_every_phase_and_writes_the_summary_and_the_json(tmp_path):
    out = tmp_path / "session"
    result = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--device", "cpu", "--out", str(out)],
                            cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    session = json.loads((out / "session.json").read_text())
    summary = (out / "summary.md").read_text()
    assert [phase["name"] for phase in session["phases"]] == PHASES
    for phase in session["phases"]:
        assert phase["status"] == "done", phase
        assert phase["figures"] and _numbers(phase["figures"]), phase
        assert f"## {phase['number']}. {phase['name']}: done" in summary
        for command in phase["commands"]:
            assert (out / command["stdout"]).is_file() and command["command"] in summary
    assert session["machine"]["device_name"] == "cpu" and session["machine"]["torch"]
    assert session["steps_trained"] == {"beta-vae": 6, "factor-vae": 6} and session["failed"] == []
    assert set(session["score_summary"]) == {"beta-vae", "factor-vae"}
    for scores in session["score_summary"].values():
        score = scores["mig discrete_mig"]
        assert score["seeds"] == 2 and score["min"] <= score["median"] <= score["max"]
    assert "their scores are not in this repository" in summary and "the budget did not fit" not in summary
    assert [row["met"] for row in session["targets"]] == [False, False, False]


def test_a_missing_module_is_named_in_one_line_and_stops_the_session_with_exit_2(
    gpu_session, tmp_path, capsys, monkeypatch
):
    fake = gpu_session.Dependency("no-such-distribution", "no_such_module_for_this_test", "the test")
    line = ("missing: no-such-distribution (import no_such_module_for_this_test), needed by the test; "
            "carry its wheel and pass --wheels DIR")
    assert gpu_session.missing_line(fake) == line
    monkeypatch.setattr(gpu_session, "DEPENDENCIES", (*gpu_session.DEPENDENCIES, fake))

    assert gpu_session.main(["--tiny", "--device", "cpu", "--out", str(tmp_path / "session")]) == 2
    printed = capsys.readouterr().out.splitlines()
    assert printed.count(line) == 1
    assert sum(text.startswith("missing: ") for text in printed) == 1  # this machine has every real one
    session = json.loads((tmp_path / "session" / "session.json").read_text())
    assert [phase["name"] for phase in session["phases"]] == ["dependencies"]
    assert session["phases"][0]["status"] == "failed" and session["phases"][0]["errors"] == [line]
    assert session["phases"][0]["commands"] == []  # nothing else ran


def test_what_the_wheels_do_not_hold_is_still_missing_after_installing_them(
    gpu_session, tmp_path, capsys, monkeypatch
):
    fake = gpu_session.Dependency("no-such-distribution", "no_such_module_for_this_test", "the test")
    monkeypatch.setattr(gpu_session, "DEPENDENCIES", (fake,))
    wheels = tmp_path / "wheels"
    wheels.mkdir()

    out = tmp_path / "session"
    assert gpu_session.main(["--tiny", "--device", "cpu", "--out", str(out), "--wheels", str(wheels)]) == 2
    assert f"still {gpu_session.missing_line(fake)}" in capsys.readouterr().out.splitlines()
    phase = json.loads((tmp_path / "session" / "session.json").read_text())["phases"][0]
    pip = phase["commands"][0]
    assert "pip install --no-index --no-deps" in pip["command"] and pip["returncode"] != 0
    assert phase["figures"] == {"missing before installing": 1, "missing": 1}


def test_the_training_plan_packs_only_when_it_is_faster_and_keeps_to_thousands_of_steps(gpu_session):
    plan = gpu_session.plan_training
    one_model = 50_000  # images/s: 781 steps/s of one model
    fits_all = plan(10_000, one_model, packed_per_model=40_000, runs=4, target=300_000, granularity=1000)
    assert fits_all.pack and fits_all.steps == {"beta-vae": 300_000, "factor-vae": 300_000}
    short = plan(200, one_model, packed_per_model=40_000, runs=4, target=300_000, granularity=1000)
    for model in ("beta-vae", "factor-vae"):
        assert short.steps[model] == short.fits[model] // 1000 * 1000 and 0 < short.steps[model] < 300_000
    assert sum(short.seconds.values()) <= 200
    assert not plan(200, one_model, packed_per_model=10_000, runs=4, target=300_000, granularity=1000).pack
    assert not plan(200, one_model, packed_per_model=None, runs=4, target=300_000, granularity=1000).pack
    assert plan(10, one_model, packed_per_model=None, runs=4, target=300_000, granularity=1000).steps == {
        "beta-vae": 0, "factor-vae": 0}


def test_the_beta_vaes_reach_the_full_budget_in_half_the_time_and_the_factor_vaes_take_the_rest(gpu_session):
    # a packed group of 4 at 1,000,000 images/s summed: 300,000 steps of the four β-VAEs take
    # 76.8 s; one FactorVAE at 50,000 images/s and 2.5 β-VAE steps a step: 312.5 steps/s for four
    plan = gpu_session.plan_training(200, 50_000, packed_per_model=250_000, runs=4, target=300_000,
                                     granularity=1000)
    assert plan.pack and plan.steps["beta-vae"] == 300_000
    left = 200 - 2 * gpu_session.STARTUP_S - 300_000 * (64 / 250_000)  # 93.2 s
    assert plan.fits["factor-vae"] == int(left / (4 * 64 / 50_000 * gpu_session.FACTOR_VAE_STEP_COST))
    assert plan.steps["factor-vae"] == plan.fits["factor-vae"] // 1000 * 1000 > 0
    # when the β-VAEs cannot reach it, they stop at half the time
    slow = gpu_session.plan_training(200, 50_000, packed_per_model=100_000, runs=4, target=300_000,
                                     granularity=1000)
    assert slow.fits["beta-vae"] == int((200 - 2 * gpu_session.STARTUP_S) / 2 / (64 / 100_000))


def test_the_packed_groups_measured_are_read_back_from_the_table_when_the_json_never_came(gpu_session):
    killed_after_two = ("command: python benchmarks/train_throughput.py --models 4,8,32 --packed-only\n"
                        "conv β-VAE, dSprites, batch 64, ...\n"
                        "     K    packed: summed  per model   peak MiB\n"
                        "     4            123456      30864       1500\n"
                        "     8            234567      29321       2600\n")
    assert gpu_session.packed_rows(killed_after_two) == [
        {"models": 4, "packed": 123456.0, "peak_memory_mib": {"packed": 1500.0}},
        {"models": 8, "packed": 234567.0, "peak_memory_mib": {"packed": 2600.0}},
    ]
