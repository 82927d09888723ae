import itertools
import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.errors import InputError
from disentangle.sweep.spec import Evaluation, expand_sweep
from disentangle.train import RunConfig

SWEEPS = sorted((Path(__file__).parents[2] / "configs" / "sweeps").glob("*.yaml"))
SAFE_NAME = re.compile(r"^\d{4,}-[a-z0-9-]+(-[A-Za-z0-9._=+-]+)*$")


def test_runs_are_numbered_in_order_with_seeds_fastest_and_named_for_what_they_set():
    runs = expand_sweep(
        {"model": {"latent_dim": 4}, "grid": {"model.beta": [1, 4]}, "seeds": [0, 1], "steps": 9}
    )
    assert [run.number for run in runs] == [0, 1, 2, 3]
    assert [run.name for run in runs] == [
        "0000-beta-vae-beta=1-seed=0",
        "0001-beta-vae-beta=1-seed=1",
        "0002-beta-vae-beta=4-seed=0",
        "0003-beta-vae-beta=4-seed=1",
    ]
    assert runs[3].config == RunConfig.from_keywords("beta-vae", latent_dim=4, beta=4.0, seed=1, steps=9)
    assert runs[3].model == "beta-vae" and runs[3].data == {"name": "dsprites"}
    assert runs[3].choices == {"model.beta": 4, "train.seed": 1}
    assert runs[0].evaluation == Evaluation()


def test_list_entries_are_small_grids_crossed_with_the_grid():
    runs = expand_sweep(
        {
            "list": [{"model.name": "beta-vae"}, {"model.name": "beta-tcvae", "model.latent_dim": [5, 6]}],
            "grid": {"model.beta": [2, 8]},
        }
    )
    assert [run.name for run in runs] == [
        "0000-beta-vae-beta=2",
        "0001-beta-vae-beta=8",
        "0002-beta-tcvae-latent_dim=5-beta=2",
        "0003-beta-tcvae-latent_dim=5-beta=8",
        "0004-beta-tcvae-latent_dim=6-beta=2",
        "0005-beta-tcvae-latent_dim=6-beta=8",
    ]
    assert runs[5].model == "beta-tcvae" and runs[5].config.model.latent_dim == 6


def test_the_base_holds_what_no_run_changes_and_steps_is_train_steps():
    runs = expand_sweep(
        {"data": {"name": "dsprites", "path": "d.npz"}, "train": {"batch_size": 8}, "steps": 5}
    )
    assert len(runs) == 1 and runs[0].name == "0000-beta-vae"
    expected = RunConfig.from_keywords("beta-vae", "dsprites", {"path": "d.npz"}, batch_size=8, steps=5)
    assert runs[0].config == expected and runs[0].data == {"name": "dsprites", "path": "d.npz"}


def test_without_steps_a_run_trains_for_dlibs_300000():
    assert expand_sweep({})[0].steps == 300_000


def test_numbers_widen_past_ten_thousand_runs_and_names_stay_sortable():
    runs = expand_sweep({"grid": {"train.seed": list(range(10_001))}, "evaluate": False})
    assert runs[0].name == "00000-beta-vae-seed=0" and runs[-1].name == "10000-beta-vae-seed=10000"


def test_values_are_read_as_their_fields_type_including_yaml_text_like_1e_4():
    run = expand_sweep({"grid": {"train.learning_rate": ["1e-4"], "model.beta": [2], "train.steps": [10.0]}})[
        0
    ]
    assert run.config == RunConfig.from_keywords(learning_rate=1e-4, beta=2.0, steps=10)
    assert isinstance(run.config.train.steps, int) and isinstance(run.config.model.beta, float)
    assert run.name == "0000-beta-vae-learning_rate=0.0001-beta=2-steps=10"


def test_names_are_filesystem_safe_whatever_the_values():
    run = expand_sweep({"grid": {"data.path": ["/data/my file.npz"]}})[0]
    assert run.name == "0000-beta-vae-path=_data_my_file.npz"


def test_evaluation_settings_and_train_only_sweeps():
    run = expand_sweep({"evaluate": {"metrics": ["factor-vae", "mig"], "seeds": [0, 1], "preset": "fast"}})[0]
    assert run.evaluation == Evaluation(metrics=("factor_vae", "mig"), seeds=(0, 1), preset="fast")
    assert expand_sweep({"evaluate": False})[0].evaluation is None


def test_configuration_fills_in_every_default_as_config_json_does():
    run = expand_sweep({"model": {"beta": 4}, "steps": 3})[0]
    config = run.config.to_dict()
    assert config["model"]["name"] == "beta-vae" and config["model"]["beta"] == 4.0
    assert config["model"]["latent_dim"] == 10 and config["train"]["batch_size"] == 64
    assert config["train"]["steps"] == 3 and config["data"] == {"name": "dsprites"}


def test_duplicate_runs_are_an_error_naming_both():
    with pytest.raises(
        InputError, match=r"^s.yaml: runs 0 \(model.beta=4\) and 1 \(model.beta=4.0\) have the same"
    ):
        expand_sweep({"grid": {"model.beta": [4, 4.0]}}, source="s.yaml")
    with pytest.raises(
        InputError, match=r"runs 0 \(list\[0\]: model.beta=4\) and 1 \(list\[1\]: \) have the same"
    ):
        expand_sweep({"model": {"beta": 4}, "list": [{"model.beta": 4}, {}]}, source="s.yaml")


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"grid": {"model.beta": 4}}, "s.yaml: grid.model.beta: expected a non-empty list of values"),
        ({"grid": {"model.beta": []}}, "s.yaml: grid.model.beta: expected a non-empty list of values"),
        ({"grid": {"beta": [1]}}, "s.yaml: grid: 'beta' is not a dotted key section.field"),
        ({"grid": {"optim.lr": [1]}}, "s.yaml: grid: 'optim.lr' is not a dotted key section.field"),
        ({"grid": ["model.beta"]}, "s.yaml: grid: expected a mapping"),
        ({"list": {"model.beta": 1}}, "s.yaml: list: expected a non-empty list of mappings"),
        ({"list": [{"model.beta": 1}, 3]}, r"s.yaml: list\[1\]: expected a mapping"),
        (
            {"list": [{"model.beta": 1}], "grid": {"model.beta": [2]}},
            r"s.yaml: list\[0\].model.beta: also in grid",
        ),
        ({"seeds": [0], "grid": {"train.seed": [1]}}, "s.yaml: seeds: train.seed is also set elsewhere"),
        ({"seeds": [-1]}, "s.yaml: seeds: expected a list of integers ≥ 0"),
        ({"steps": 5, "train": {"steps": 5}}, "s.yaml: steps: also given as train.steps"),
        ({"model": [1]}, "s.yaml: model: expected a mapping"),
        ({"modle": {}}, "s.yaml: unknown key.s. modle"),
        (
            {"grid": {"model.beta": ["big"]}},
            r"s.yaml: run 0 \(model.beta=big\): grid.model.beta\[0\]: expected a number",
        ),
        (
            {"grid": {"model.beta": [-1]}},
            r"s.yaml: run 0 \(model.beta=-1\): grid.model.beta\[0\]: must be > 0, got -1$",
        ),
        (
            {"grid": {"model.gamma": [1]}},
            r"s.yaml: run 0 \(model.gamma=1\): grid.model.gamma\[0\]: not a hyperparameter of beta-vae",
        ),
        (
            {"grid": {"model.name": ["nope"]}},
            r"s.yaml: run 0 \(model.name=nope\): grid.model.name\[0\]: unknown model 'nope'",
        ),
        (
            {"grid": {"data.name": ["nope"]}},
            r"s.yaml: run 0 \(data.name=nope\): grid.data.name\[0\]: unknown dataset 'nope'",
        ),
        ({"train": {"lr": 1}}, "s.yaml: run 0: train.lr: unknown training setting"),
        ({"train": {"steps": 0}}, "s.yaml: run 0: train.steps: must be an integer ≥ 1, got 0"),
        (
            {"model": {"name": "k-sparse-ae", "latent_dim": 3}},
            r"s.yaml: run 0: model.k: must be an integer in \[1, latent_dim = 3\], got 5",
        ),
        ({"evaluate": {"metrics": ["nope"]}}, "s.yaml: evaluate.metrics: unknown metric.s. nope"),
        ({"evaluate": {"preset": "slow"}}, "s.yaml: evaluate.preset: expected one of dlib, fast"),
        ({"evaluate": {"seeds": ["a"]}}, "s.yaml: evaluate.seeds: expected a list of integers"),
        ({"evaluate": {"metric": ["mig"]}}, "s.yaml: evaluate: expected false or a mapping"),
    ],
)
def test_a_bad_sweep_is_one_line_naming_the_file_and_the_key(spec, message):
    with pytest.raises(InputError, match=f"^{message}") as caught:
        expand_sweep(spec, source="s.yaml")
    assert "\n" not in str(caught.value)


def test_sweep_files_are_read_with_one_line_errors(tmp_path):
    path = tmp_path / "s.yaml"
    with pytest.raises(InputError, match="s.yaml: no such sweep file"):
        expand_sweep(path)
    path.write_text("grid: [unclosed\n")
    with pytest.raises(InputError, match=r"s.yaml: not valid YAML \(.*\)$"):
        expand_sweep(path)
    path.write_text("- a list\n")
    with pytest.raises(InputError, match="s.yaml: expected a mapping"):
        expand_sweep(path)
    path.write_text("grid: {model.beta: [1, 2]}\n")
    assert len(expand_sweep(path)) == 2
    path.write_text("grid: {model.beta: [0]}\n")
    with pytest.raises(InputError, match=f"^{re.escape(str(path))}: run 0"):
        expand_sweep(path)


@pytest.mark.parametrize("path", SWEEPS, ids=lambda path: path.name)
def test_each_example_sweep_expands(path):
    runs = expand_sweep(path)
    assert runs and all(SAFE_NAME.match(run.name) for run in runs)


VALUES = {
    "model.beta": st.floats(0.01, 100, allow_nan=False),
    "model.latent_dim": st.integers(1, 32),
    "train.learning_rate": st.floats(1e-6, 1e-2),
    "train.batch_size": st.integers(1, 512),
}
grids = st.dictionaries(st.sampled_from(sorted(VALUES)), st.just(None), max_size=len(VALUES)).flatmap(
    lambda keys: st.fixed_dictionaries(
        {key: st.lists(VALUES[key], min_size=1, max_size=3, unique=True) for key in keys}
    )
)
seed_lists = st.none() | st.lists(st.integers(0, 10_000), min_size=1, max_size=3, unique=True)


@settings(max_examples=40, deadline=None)
@given(grid=grids, seeds=seed_lists)
def test_expansion_is_the_product_in_order_with_unique_safe_names(grid, seeds):
    spec = {"grid": grid, **({"seeds": seeds} if seeds else {})}
    runs = expand_sweep(spec)
    axes = [[(key, value) for value in values] for key, values in grid.items()]
    axes += [[("train.seed", seed) for seed in seeds]] if seeds else []
    expected = list(itertools.product(*axes))
    assert len(runs) == math.prod(len(axis) for axis in axes)
    assert [run.number for run in runs] == list(range(len(runs)))
    assert len({run.name for run in runs}) == len(runs)
    for run, combination in zip(runs, expected):
        assert SAFE_NAME.match(run.name) and run.name.startswith(f"{run.number:04d}-beta-vae")
        assert run.choices == dict(combination)
        keywords = run.config.keywords()
        for key, value in combination:
            assert keywords[key.split(".", 1)[1]] == value
    assert expand_sweep(spec) == runs


@settings(max_examples=25, deadline=None)
@given(grid=grids.filter(bool), data=st.data())
def test_a_value_repeated_in_the_grid_is_a_duplicate(grid, data):
    key = data.draw(st.sampled_from(sorted(grid)))
    repeated = {**grid, key: grid[key] + [data.draw(st.sampled_from(grid[key]))]}
    with pytest.raises(InputError, match="have the same configuration"):
        expand_sweep({"grid": repeated})


any_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**20) | st.floats() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=10,
)
sweep_keys = st.sampled_from(["model", "data", "train", "steps", "seeds", "grid", "list", "evaluate"])
dotted_keys = st.sampled_from(["model.beta", "model.name", "train.steps", "train.seed", "data.name", "model.k", "x"])


@settings(max_examples=200, deadline=None)
@given(
    spec=st.dictionaries(sweep_keys, any_values, max_size=4)
    | st.fixed_dictionaries({"grid": st.dictionaries(dotted_keys, st.lists(any_values, max_size=3), max_size=3)})
    | st.fixed_dictionaries({"list": st.lists(st.dictionaries(dotted_keys, any_values, max_size=3), max_size=3)})
)
def test_any_sweep_file_expands_or_is_refused_in_one_line(spec):
    try:
        expand_sweep(spec, source="s.yaml")
    except InputError as error:
        assert str(error).startswith("s.yaml") and "\n" not in str(error)
