import json

import yaml

from disentangle.cli import main


def _write(path, spec) -> str:
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def test_list_prints_the_numbered_names_without_running(tmp_path, tiny, capsys):
    assert main(["sweep", _write(tmp_path / "s.yaml", tiny(seeds=[0, 1])), "--list"]) == 0
    assert capsys.readouterr().out.split() == [
        "0000-beta-vae-beta=1-seed=0",
        "0001-beta-vae-beta=1-seed=1",
        "0002-beta-vae-beta=4-seed=0",
        "0003-beta-vae-beta=4-seed=1",
    ]
    assert not (tmp_path / "runs").exists()


def test_a_bad_sweep_file_is_one_line_on_stderr_and_exit_2(tmp_path, capsys):
    path = _write(tmp_path / "s.yaml", {"grid": {"model.beta": [0]}})
    assert main(["sweep", path, "--list"]) == 2
    err = capsys.readouterr().err
    assert err == f"disentangle sweep: error: {path}: run 0 (model.beta=0): grid.model.beta[0]: must be > 0, got 0\n"
    assert main(["sweep", str(tmp_path / "none.yaml"), "--out", str(tmp_path)]) == 2
    assert "none.yaml: no such sweep file" in capsys.readouterr().err


def test_running_needs_out(tmp_path, tiny, capsys):
    assert main(["sweep", _write(tmp_path / "s.yaml", tiny())]) == 2
    assert "--out: required" in capsys.readouterr().err


def test_a_sweep_with_a_failed_run_reports_it_finishes_the_others_and_exits_1(tmp_path, tiny, capsys):
    spec = tiny(grid={}, list=[{"model.beta": 1}, {"data.path": "/nowhere/d.npz"}], evaluate=False)
    out = tmp_path / "out"
    assert main(["sweep", _write(tmp_path / "s.yaml", spec), "--out", str(out)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("done    0000-beta-vae-beta=1 (")
    assert lines[1].startswith("failed  0001-beta-vae-path=_nowhere_d.npz: /nowhere/d.npz: no such file")
    assert lines[2] == f"{out}: 1 done, 0 skipped, 1 failed (errors in {out / 'status'})"
    assert main(["sweep", str(tmp_path / "s.yaml"), "--out", str(out), "--run", "0"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "skipped 0000-beta-vae-beta=1 (finished before)",
        f"{out}: 0 done, 1 skipped, 0 failed",
    ]
    assert main(["sweep", str(tmp_path / "s.yaml"), "--out", str(out), "--run", "7"]) == 2
    assert "--run 7: the sweep has runs 0 to 1" in capsys.readouterr().err


def test_aggregate_prints_what_it_wrote_and_notes_runs_without_scores(tmp_path, capsys):
    run = tmp_path / "runs" / "a"
    run.mkdir(parents=True)
    config = {"model": {"name": "vae"}, "data": {"name": "dsprites"}, "train": {"seed": 0}}
    (run / "config.json").write_text(json.dumps(config))
    assert main(["aggregate", str(tmp_path)]) == 0
    wrote = f"wrote {tmp_path / 'results.csv'}, {tmp_path / 'results.parquet'} and 0 figure(s) in "
    assert capsys.readouterr().out.splitlines() == [
        "1 run(s); 1 without metrics.json (their scores are empty)",
        wrote + str(tmp_path / "figures"),
    ]
    assert main(["aggregate", str(tmp_path / "runs" / "a" / "missing")]) == 2
    assert main(["aggregate", str(tmp_path), "--by", "model.beta"]) == 2
    assert "--by model.beta: no such column" in capsys.readouterr().err
