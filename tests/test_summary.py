"""``disentangle summary``: a run in a few lines."""

from __future__ import annotations

import contextlib
import io

import pytest

from disentangle.cli import main
from disentangle.scoring.evaluate import evaluate
from disentangle.train import train


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train(tmp_path_factory.mktemp("summary") / "run", "beta-vae", "dsprites", steps=4, batch_size=8,
                 log_every=2, progress=False)


def _summary(*args) -> list[str]:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["summary", *args]) == 0
    return printed.getvalue().splitlines()


def test_a_bare_run_names_itself_and_its_latents_by_factor(run):
    lines = _summary(str(run))
    assert lines[0] == f"beta-vae on dsprites, step 4: {run}"
    assert lines[1].startswith("  traversal rows, top to bottom (the factor each latent carries most of): z")
    rows = lines[1].split(": ", 1)[1].split(", ")
    names = {"shape", "scale", "orientation", "posX", "posY", "-"}
    assert len(rows) == 10 and all(row.split()[1] in names for row in rows)


def test_a_scored_and_drawn_run_lists_its_files_and_headline_scores(run):
    evaluate(run, metrics=["mig"], preset="fast")
    assert main(["traverse", str(run)]) == 0
    lines = _summary(str(run), "--seconds", "90")
    assert lines[0].endswith(f"step 4 in 1.5 min: {run}")
    assert lines[1] == "  files: traversal.png, traversal.gif, reconstructions.png, metrics.json"
    assert lines[2].startswith("  scores (preset fast, step 4): mig discrete_mig 0.")


def test_a_folder_that_is_not_a_run_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["summary", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("disentangle summary: error: ")
