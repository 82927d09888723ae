"""Every registered model trains on dSprites through ``train``: its run folder loads
back and draws traversals, and a short run lowers its loss.

Parametrized over ``MODELS``, so a model added to the registry is covered without
editing this file. Each model is trained once per test process, with ``SETTINGS``.
"""

from __future__ import annotations

import pytest

from disentangle.scoring.evaluate import evaluate
from disentangle.models import MODELS
from disentangle.train import load_run, train
from disentangle.run_folder import read_log
from disentangle.viz import write_traversals

#: short and cheap on a 2-core CPU; the first logged interval is the untrained model's
SETTINGS = dict(steps=16, batch_size=8, learning_rate=3e-3, log_every=4, progress=False)
#: model name -> the logged term that must improve in a short run, and its direction.
#: Default: ``loss`` falls. InfoGAN's loss is the generator's side of a GAN game, which
#: need not fall; its mutual-information lower bound must rise.
PROGRESS = {"infogan": ("mi", "rises")}
#: model name -> settings replacing ``SETTINGS`` (InfoGAN's bound needs more, larger batches;
#: VQ-VAE's loss falls by a fifth only after about 20 steps of 8 dSprites images; the AAE's
#: Gaussian encoder, with no KL to hold its variance, jumps at 3e-3; the IWAE family's bounds
#: with fewer samples than their defaults' 50 per image, which cost the most time here)
OVERRIDES = {"infogan": dict(steps=120, batch_size=32), "vq-vae": dict(steps=32), "aae": dict(learning_rate=1e-3),
             "miwae": dict(num_estimates=2, num_samples=3), "piwae": dict(num_estimates=2, num_samples=3),
             "ciwae": dict(num_samples=3)}


def _settings(name: str) -> dict:
    return {**SETTINGS, **OVERRIDES.get(name, {})}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """``trained_run(name)``: the run folder of model ``name``, trained on first use."""
    runs = {}

    def run_of(name: str):
        if name not in runs:
            runs[name] = train(tmp_path_factory.mktemp(name) / "run", name, "dsprites", **_settings(name))
        return runs[name]

    return run_of


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_run_folder_of_a_short_run_loads_back_and_draws_traversals(name, trained_run, tmp_path):
    loaded = load_run(trained_run(name))
    assert loaded.step == _settings(name)["steps"] and loaded.config["model"]["name"] == name
    paths = write_traversals(loaded.model, loaded.dataset, tmp_path)
    assert [path.name for path in paths] == ["traversal.png", "traversal.gif", "reconstructions.png"]
    assert all(path.stat().st_size > 0 for path in paths)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_run_folder_of_a_short_run_is_scored_by_evaluate(name, trained_run):
    content = evaluate(trained_run(name), metrics=["mig"], preset="fast")
    assert 0.0 <= content["results"]["mig"][0]["discrete_mig"] <= 1.0
    assert (trained_run(name) / "metrics.json").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_short_run_improves_its_objective(name, trained_run):
    term, direction = PROGRESS.get(name, ("loss", "falls"))
    values = [line[term] for line in read_log(trained_run(name))]
    assert len(values) == _settings(name)["steps"] // SETTINGS["log_every"]
    if direction == "falls":
        assert values[-1] < values[0] - 0.2 * abs(values[0]), values
    else:
        assert sum(values[-3:]) / 3 > sum(values[:3]) / 3, values


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_term_a_run_logs_is_described_for_the_report(name, trained_run):
    from disentangle.viz.figures import logged_terms

    loaded = load_run(trained_run(name))
    terms = logged_terms(read_log(loaded.path))
    described = loaded.model.term_descriptions()
    assert "loss" in terms and [term for term in terms if not described.get(term)] == []
