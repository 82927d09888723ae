"""The ready-made configurations in ``configs/``: each one is read as ``disentangle train
--config`` reads it, names a registered model and dataset, and every section validates
(without training)."""

from __future__ import annotations

from pathlib import Path

import pytest

from disentangle.cli import _read_yaml
from disentangle.data import DATASETS, _check_options
from disentangle.models import MODELS, model_config
from disentangle.train import TrainConfig

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))


def test_there_is_a_config_for_each_published_dsprites_setting():
    names = {path.stem for path in CONFIGS}
    assert {"beta-vae-dsprites", "higgins-beta-vae-dsprites", "factor-vae-dsprites"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_each_config_names_a_registered_model_and_its_sections_validate(path):
    config = _read_yaml(path)
    assert set(config) == {"model", "data", "train"}

    model = dict(config["model"])
    name = model.pop("name")
    assert name in MODELS
    assert model_config(name, **model).to_dict() == {**model_config(name).to_dict(), **model}

    data = dict(config["data"])
    dataset = data.pop("name")
    assert dataset in DATASETS
    _check_options(dataset, DATASETS[dataset], data)

    TrainConfig.from_dict(config["train"], source=str(path))
