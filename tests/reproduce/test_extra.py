"""Extra scores: computed once per checkpoint, kept beside the sweep, refused when impossible."""

import json

import pytest

from disentangle.errors import InputError
from disentangle.reproduce import extra
from disentangle.reproduce.extra import Subject
from disentangle.train import train


@pytest.fixture(scope="module")
def study_folder(tmp_path_factory):
    """A study folder holding one 2-step β-VAE run (dlib's conv nets), logging every step."""
    out = tmp_path_factory.mktemp("study")
    train(out / "runs" / "r", "beta-vae", "dsprites", steps=2, batch_size=8, log_every=1, architecture="conv-2x2",
          latent_dim=4, progress=False)
    return out


def _subject(folder, preset="fast") -> Subject:
    return Subject("r", seed=0, preset=preset, folder=folder / "runs" / "r")


@pytest.mark.slow  # the fixture renders dSprites and trains
def test_the_reconstruction_is_the_last_logged_recon(study_folder):
    lines = [json.loads(line) for line in (study_folder / "runs" / "r" / "log.jsonl").read_text().splitlines()]
    assert extra.final_reconstruction(_subject(study_folder)) == {"reconstruction.recon": lines[-1]["recon"]}


@pytest.mark.slow
def test_scores_are_kept_per_checkpoint_and_not_computed_twice(study_folder, monkeypatch):
    first = extra.scores_of(study_folder, _subject(study_folder), ["reconstruction"])
    kept = json.loads((study_folder / "extra" / "r.json").read_text())
    assert kept == {"checkpoint_step": 2, "preset": "fast", "scores": {"reconstruction": first}}

    def must_not_run(subject):
        raise AssertionError("scored twice")

    monkeypatch.setitem(extra.EXTRA_SCORES, "reconstruction", must_not_run)
    assert extra.scores_of(study_folder, _subject(study_folder), ["reconstruction"]) == first
    with pytest.raises(AssertionError, match="scored twice"):  # another preset is another score
        extra.scores_of(study_folder, _subject(study_folder, "dlib"), ["reconstruction"])


@pytest.mark.slow
def test_chens_mig_is_in_the_unit_interval(study_folder, monkeypatch):
    monkeypatch.setattr(extra, "CHEN_MIG_SETTINGS", {"estimator": "chen", "num_samples": 500, "num_components": 500})
    (value,) = extra.chen_mig(_subject(study_folder)).values()
    assert 0.0 <= value <= 1.0


def test_a_run_without_a_logged_reconstruction_is_refused(tmp_path):
    (tmp_path / "log.jsonl").write_text('{"step": 1, "loss": 3.0}\n')
    with pytest.raises(InputError, match="log.jsonl records no reconstruction term 'recon'"):
        extra.final_reconstruction(Subject("r", seed=0, folder=tmp_path))
