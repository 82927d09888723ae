"""``RunConfig``: one configuration from every source, values coerced to their fields'
types, and errors that name the source and the key."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from disentangle.cli import build_parser, command_line_config
from disentangle.data import get_dataset
from disentangle.errors import InputError
from disentangle.models import MODELS
from disentangle.models.info_vae import InfoVAE, InfoVAEConfig
from disentangle.reproduce import Study, StudyBudget, StudyMethod, plan
from disentangle.sweep import expand_sweep
from disentangle.train import DataConfig, RunConfig, TrainConfig, read_run_config, train
from disentangle.train.config import coerce, read_config_file

#: one configuration, as every source writes it
SECTIONS = {
    "model": {"name": "info-vae", "alpha": -1, "lam": 100, "latent_dim": 6, "kernel": "imq"},
    "data": {"name": "digits"},
    "train": {"steps": 3, "batch_size": 4, "learning_rate": "1e-3", "seed": 2},
}


@pytest.fixture
def expected() -> RunConfig:
    return RunConfig.from_keywords(
        "info-vae", "digits", alpha=-1.0, lam=100.0, latent_dim=6, kernel="imq", steps=3, batch_size=4,
        learning_rate=1e-3, seed=2,
    )


def test_every_source_gives_the_same_configuration(expected, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps(SECTIONS))  # JSON is YAML
    assert RunConfig.from_dict(read_config_file(path), str(path)) == expected

    flags = ["train", "--config", str(path), "--lam", "100", "--steps", "3"]
    assert command_line_config(build_parser().parse_args(flags)) == expected

    dotted = {f"{section}.{key}": value for section, values in SECTIONS.items() for key, value in values.items()}
    (run,) = expand_sweep({"grid": {key: [value] for key, value in dotted.items()}, "evaluate": False})
    assert run.config == expected

    method = StudyMethod("m", "m", "info-vae", fixed={key: value for key, value in SECTIONS["model"].items()
                                                      if key != "name"}, train={"batch_size": 4, "learning_rate": 1e-3})
    budget = StudyBudget("b", seeds=(2,), steps=3, datasets=("digits",))
    study = Study("s", "a test", "?", methods=(method,), metrics=(), scores=(), base={}, budgets={"b": budget})
    (planned,) = plan(study, "b")  # a study checkpoints at least at its last step
    assert planned.config == dataclasses.replace(expected, train=dataclasses.replace(expected.train, checkpoint_every=3))

    folder = train(tmp_path / "run", expected, progress=False)
    written, config = read_run_config(folder)
    assert config == expected and RunConfig.from_dict(written, "config.json") == expected


def test_a_configuration_round_trips_through_its_dictionary(expected):
    assert RunConfig.from_dict(expected.to_dict(), "x") == expected
    assert RunConfig.from_keywords(**{"model": expected.model_name, "data": "digits"}, **expected.keywords()) == expected


@pytest.mark.parametrize(
    "sections, message",
    [
        ({"model": {"name": "beta-vae", "beta": -1}}, "c.yaml: model.beta: must be > 0, got -1"),
        ({"model": {"name": "nope"}}, "c.yaml: model.name: unknown model 'nope' (expected one of"),
        ({"model": {"gamma": 3}}, "c.yaml: model.gamma: not a hyperparameter of beta-vae (it takes latent_dim"),
        ({"model": {"beta": "big"}}, "c.yaml: model.beta: expected a number, got 'big'"),
        ({"train": {"stepz": 3}}, "c.yaml: train.stepz: unknown training setting (known: steps"),
        ({"train": {"batch_size": 6.5}}, "c.yaml: train.batch_size: expected an integer, got 6.5"),
        ({"train": {"steps": True}}, "c.yaml: train.steps: expected an integer, got True"),
        ({"data": {"name": "nope"}}, "c.yaml: data.name: unknown dataset 'nope'"),
        ({"data": {"name": "mnist", "splt": "test"}}, "c.yaml: data.name mnist: unknown option 'splt'"),
        ({"data": {"name": "array"}}, "c.yaml: data.name array: missing option 'path'"),
        # a check between fields: k is not given, so the key names where it would be
        ({"model": {"name": "k-sparse-ae", "latent_dim": 3}}, "c.yaml: model.k: must be an integer in [1, latent_dim"),
        ({"model": "beta-vae"}, "c.yaml: section 'model' must be a mapping"),
    ],
)
def test_errors_name_the_source_and_the_key(sections, message):
    with pytest.raises(InputError) as error:
        RunConfig.from_dict(sections, "c.yaml")
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_python_keywords_are_named_as_the_command_lines_flags():
    with pytest.raises(InputError, match=r"^--learning-rate: must be > 0 and finite, got -1$"):
        RunConfig.from_keywords(learning_rate=-1)
    with pytest.raises(InputError, match=r"^--data mnist: unknown option 'splt'"):
        RunConfig.from_keywords("beta-vae", "mnist", {"splt": 1})


@pytest.fixture
def integer_lam(monkeypatch):
    """A model whose ``lam`` is an integer, beside InfoVAE's float ``lam``."""

    @dataclasses.dataclass(frozen=True)
    class CountingConfig(InfoVAEConfig):
        lam: int = 3

    class Counting(InfoVAE):
        name = "counting"
        config_class = CountingConfig

    monkeypatch.setitem(MODELS, "counting", Counting)


@pytest.mark.usefixtures("integer_lam")
def test_a_flag_several_models_share_is_read_with_the_chosen_models_type():
    def config(*flags):
        return command_line_config(build_parser().parse_args(["train", *flags]))

    assert config("--model", "counting", "--lam", "7").model.lam == 7
    assert isinstance(config("--model", "counting", "--lam", "7").model.lam, int)
    assert config("--model", "info-vae", "--lam", "7").model.lam == 7.0
    assert isinstance(config("--model", "info-vae", "--lam", "7").model.lam, float)
    with pytest.raises(InputError, match=r"^--lam: expected an integer, got '2.5'$"):
        config("--model", "counting", "--lam", "2.5")


def test_flags_override_the_files_settings_and_name_themselves(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: {name: beta-vae, beta: 4}\ntrain: {steps: 10}\n")
    parser = build_parser()
    config = command_line_config(parser.parse_args(["train", "--config", str(path), "--beta", "2", "--lr", "3e-4"]))
    assert config.model.beta == 2.0 and config.train.learning_rate == 3e-4 and config.train.steps == 10
    with pytest.raises(InputError, match=r"^--beta: must be > 0, got -2$"):
        command_line_config(parser.parse_args(["train", "--config", str(path), "--beta", "-2"]))
    with pytest.raises(InputError, match=rf"^{path}: model.beta: must be > 0, got 0$"):
        path.write_text("model: {beta: 0}\n")
        command_line_config(parser.parse_args(["train", "--config", str(path)]))


def test_with_train_coerces_and_checks_the_changes(expected):
    assert expected.with_train(steps="12").train.steps == 12
    with pytest.raises(InputError, match=r"^--steps: must be an integer ≥ 1, got 0$"):
        expected.with_train(steps=0)
    with pytest.raises(InputError, match=r"^--stepz: unknown training setting"):
        expected.with_train(stepz=3)


def test_settings_taken_from_the_data_are_filled_in_for_the_dataset():
    config = RunConfig.from_keywords("beta-tcvae", "digits")
    assert config.model.dataset_size is None
    resolved = config.for_dataset(get_dataset("digits"))
    assert resolved.model.dataset_size == 1797 and resolved.data == DataConfig("digits", {})
    given = RunConfig.from_keywords("beta-tcvae", "digits", dataset_size=10).for_dataset(get_dataset("digits"))
    assert given.model.dataset_size == 10


def test_train_config_from_a_mapping_names_its_source():
    assert TrainConfig.from_dict({"steps": 5.0}).steps == 5
    with pytest.raises(InputError, match=r"^RUN/config.json: train.seed: must be an integer in \[0, 2\^64\), got -1$"):
        TrainConfig.from_dict({"seed": -1}, source="RUN/config.json")


# --------------------------------------------------------------------------- coercion

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(value=st.integers(-(10**12), 10**12) | finite)
def test_a_number_or_its_text_reads_as_a_float(value):
    assert coerce(value, "float", "x") == float(value)
    assert coerce(repr(float(value)), "float", "x") == float(value)


@given(value=st.integers(-(10**15), 10**15))
def test_an_integer_its_integral_float_or_its_text_reads_as_an_integer(value):
    for given_value in (value, float(value), str(value), f" {value} "):
        result = coerce(given_value, "int", "x")
        assert result == value and isinstance(result, int)


@given(value=finite.filter(lambda v: not v.is_integer()))
def test_a_fraction_is_no_integer(value):
    with pytest.raises(InputError, match="^--x: expected an integer"):
        coerce(value, "int", "--x")


@given(text=st.text() | st.sampled_from(["inf", "-Infinity", "nan", "1e400", "1e-4", " 2 "]))
def test_text_is_a_number_only_when_it_reads_as_a_finite_one(text):
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is None:
        with pytest.raises(InputError, match="expected a number"):
            coerce(text, "float", "x")
    elif not math.isfinite(number):
        with pytest.raises(InputError, match="expected a finite number"):
            coerce(text, "float", "x")
    else:
        assert coerce(text, "float", "x") == number


def test_booleans_optional_fields_and_other_types():
    assert coerce("true", "bool", "x") is True and coerce(False, "bool", "x") is False
    for kind in ("int", "float"):
        with pytest.raises(InputError, match="expected"):
            coerce(True, kind, "x")
    with pytest.raises(InputError, match="expected true or false, got 1"):
        coerce(1, "bool", "x")
    assert coerce(None, "int | None", "x") is None and coerce("none", "int | None", "x") is None
    assert coerce("4", "int | None", "x") == 4
    with pytest.raises(InputError, match="expected a string, got 3"):
        coerce(3, "str", "x")
    assert coerce("{width: 8}", "dict", "x") == {"width": 8}
    assert coerce("shape=2,scale=1", "dict[str, int] | None", "x") == "shape=2,scale=1"  # the class reads it
