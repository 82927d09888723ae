"""The ready-made configurations in ``configs/``: each one is read as ``disentangle train
--config`` reads it, names a registered model and dataset, and every section validates
(without training)."""

from __future__ import annotations

from pathlib import Path

import pytest

from disentangle.models import MODELS, model_config
from disentangle.train import RunConfig
from disentangle.train.config import read_config_file

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))


def test_there_is_a_config_for_each_published_dsprites_setting():
    names = {path.stem for path in CONFIGS}
    assert {"beta-vae-dsprites", "higgins-beta-vae-dsprites", "factor-vae-dsprites"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_each_config_names_a_registered_model_and_its_sections_validate(path):
    sections = read_config_file(path)
    assert set(sections) == {"model", "data", "train"}
    config = RunConfig.from_dict(sections, source=str(path))

    model = dict(sections["model"])
    name = model.pop("name")
    assert name in MODELS and config.model_name == name
    assert config.model == model_config(name, **model)
    assert config.data.to_dict() == sections["data"]
    assert {key: config.train.to_dict()[key] for key in sections["train"]} == sections["train"]


SWEEPS = sorted((Path(__file__).parents[1] / "configs" / "sweeps").glob("*.yaml"))


@pytest.mark.parametrize("path", SWEEPS, ids=lambda path: path.name)
def test_each_sweep_file_expands_into_valid_distinct_runs(path):
    from disentangle.sweep.spec import expand_sweep

    runs = expand_sweep(path)
    assert runs and len({run.name for run in runs}) == len(runs)


def test_the_quickstart_recipe_study_keeps_a_checkpoint_at_half_of_every_run():
    """``benchmarks/recipe_budgets.py`` scores the half-way checkpoint as the shorter budget."""
    from disentangle.sweep.spec import expand_sweep

    for run in expand_sweep(Path(__file__).parents[1] / "configs" / "sweeps" / "quickstart-recipes.yaml"):
        train = run.config.train
        assert 2 * train.checkpoint_every == train.steps and train.keep_checkpoints >= 2, run.name
