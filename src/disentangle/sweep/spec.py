"""Sweep files: a base configuration, a grid, a list and seeds, expanded into runs.

A sweep file is YAML::

    model: {name: beta-vae, latent_dim: 10}    # the base, as in ``train --config``
    data: {name: dsprites}
    train: {batch_size: 64}
    steps: 300000                              # the same as train.steps
    grid:                                      # every combination of these values
      model.beta: [1, 2, 4]
    list:                                      # a union of small grids, crossed with the grid
      - {model.name: beta-vae}
      - {model.name: beta-tcvae, model.beta: [2, 6]}
    seeds: [0, 1, 2]                           # training seeds, one run per seed
    evaluate: {metrics: [mig, dci], seeds: [0], preset: dlib}   # or false: train only

Keys of ``grid`` and ``list`` entries are dotted, ``section.field`` (``model.beta``,
``model.name``, ``data.name``, ``data.path``, ``train.seed``); they override the base.
A list value in a ``list`` entry means one run per value, as in the grid; a value
that is itself a list is written ``[[0.5, 0.9]]`` in both.

Expansion order, which fixes every run's number: list entries in file order (one
empty entry when there is no list), within each its list-valued keys, then the grid
keys in file order, then the seeds; in every nest the last key varies fastest, as
in ``itertools.product``. So the seeds of one configuration have consecutive numbers.
A run's name is its zero-padded number, the model and the values it sets beyond the
base: ``0003-beta-vae-beta=4-seed=1``.

Every run is validated on expansion: its settings become a ``RunConfig`` (model,
hyperparameters, training settings, dataset and options), with errors naming the
file, the run and the key that set the value (``s.yaml: run 3 (model.beta=-1):
grid.model.beta[2]: must be > 0, got -1``); two runs with the same final
configuration are an error naming both.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from disentangle.data import DATASETS, FactorDataset
from disentangle.errors import InputError, shown
from disentangle.scoring.evaluate import DEFAULT_METRICS, check_metric_names
from disentangle.metrics import METRICS, POSTERIOR, PRESET_NAMES
from disentangle.models import MODELS
from disentangle.train import RunConfig
from disentangle.train.config import SECTIONS, Setting, load_yaml

TOP_LEVEL = (*SECTIONS, "steps", "seeds", "grid", "list", "evaluate")
#: names are cut to this many characters (the number keeps them unique)
MAX_NAME_LENGTH = 120
#: the most runs one sweep may expand into (checked before any run is built)
MAX_RUNS = 100_000


@dataclass(frozen=True)
class Evaluation:
    """How every run of a sweep is scored: ``disentangle.scoring.evaluate.evaluate``'s arguments."""

    metrics: tuple[str, ...] = DEFAULT_METRICS
    seeds: tuple[int, ...] = (0,)
    preset: str = "dlib"


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep.

    Attributes:
        number: its 0-based position in the expansion order (an array job's index).
        name: its folder name, ``<number>-<model>-<key=value>...``.
        config: what it trains.
        evaluation: how the trained run is scored; ``None`` trains only.
        choices: the dotted keys this run sets beyond the base, which its name shows.
    """

    number: int
    name: str
    config: RunConfig
    evaluation: Evaluation | None
    choices: dict

    @property
    def model(self) -> str:
        return self.config.model_name

    @property
    def data(self) -> dict:
        """The dataset's ``name`` and options."""
        return self.config.data.to_dict()

    @property
    def steps(self) -> int:
        return self.config.train.steps

    def to_dict(self) -> dict:
        """``sweep.json``'s entry: number, name, the configuration's sections, evaluation and choices."""
        evaluation = None if self.evaluation is None else dataclasses.asdict(self.evaluation)
        return {"number": self.number, "name": self.name, **self.config.to_dict(), "evaluation": evaluation,
                "choices": self.choices}


@dataclass(frozen=True)
class _Choice:
    """A value a run takes for ``key``, and where the sweep file says so."""

    key: str
    value: object
    origin: str


def read_sweep_file(path: str | Path) -> dict:
    """The parsed YAML of a sweep file (a mapping), with one-line errors (``load_yaml``)."""
    path = Path(path)
    content = load_yaml(path, "sweep file")
    if not isinstance(content, dict):
        raise InputError(f"{path}: expected a mapping with some of the keys {', '.join(TOP_LEVEL)}")
    return content


def expand_sweep(spec: dict | str | Path, source: str = "sweep") -> list[SweepRun]:
    """The runs of a sweep, in expansion order; ``spec`` is a sweep file or its parsed content.

    ``source`` names the sweep in error messages (the file's path when ``spec`` is one).
    """
    if not isinstance(spec, dict):
        source = str(spec)
        spec = read_sweep_file(spec)
    unknown = sorted(set(spec) - set(TOP_LEVEL))
    if unknown:
        raise InputError(
            f"{source}: unknown key(s) {', '.join(unknown)} (expected some of {', '.join(TOP_LEVEL)})"
        )
    base = _base(spec, source)
    evaluation = _evaluation(spec.get("evaluate", {}), source)
    grid = _grid(spec.get("grid", {}), source)
    entries = _entries(spec.get("list", [{}]), {axis[0].key for axis in grid}, source)
    seeds = _seeds(spec, base, grid, entries, source)
    count = sum(math.prod(len(axis) for axis in (*entry, *grid, *seeds)) for entry in entries)
    if count > MAX_RUNS:
        raise InputError(
            f"{source}: expands into {count:,} runs, more than the {MAX_RUNS:,} a sweep may hold; split it"
        )
    combinations = [
        (index, combination)
        for index, entry in enumerate(entries)
        for combination in itertools.product(*entry, *grid, *seeds)
    ]
    width = max(4, len(str(len(combinations) - 1)))
    runs, seen = [], {}  # seen: final configuration -> (number, origin) of its first run
    for number, (index, choices) in enumerate(combinations):
        origin = ("" if "list" not in spec else f"list[{index}]: ") + ", ".join(
            f"{c.key}={c.value}" for c in choices
        )
        where = f"{source}: run {number}" + (f" ({origin})" if origin else "")
        run, resolved = _run(number, width, base, choices, evaluation, where)
        if resolved in seen:
            first, first_origin = seen[resolved]
            raise InputError(
                f"{source}: runs {first} ({first_origin}) and {number} ({origin}) have the same configuration"
            )
        seen[resolved] = (number, origin)
        runs.append(run)
    return runs


def _check_key(key, where: str) -> str:
    section, _, field = str(key).partition(".")
    if section not in SECTIONS or not field:
        raise InputError(
            f"{where}: '{key}' is not a dotted key section.field with section one of {', '.join(SECTIONS)}"
        )
    return key


def _base(spec: dict, source: str) -> dict[str, _Choice]:
    """The base configuration as dotted keys: sections model, data, train, and steps."""
    base = {}
    for section in SECTIONS:
        values = spec.get(section, {})
        if not isinstance(values, dict):
            raise InputError(f"{source}: {section}: expected a mapping of settings")
        for field, value in values.items():
            base[f"{section}.{field}"] = _Choice(f"{section}.{field}", value, f"{section}.{field}")
    if "steps" in spec:
        if "train.steps" in base:
            raise InputError(f"{source}: steps: also given as train.steps (set it in one place)")
        base["train.steps"] = _Choice("train.steps", spec["steps"], "steps")
    return base


def _values(values, where: str) -> list:
    if not isinstance(values, list) or not values:
        raise InputError(f"{where}: expected a non-empty list of values")
    return values


def _axis(key: str, values: list, where: str) -> list[_Choice]:
    return [_Choice(key, value, f"{where}[{i}]") for i, value in enumerate(values)]


def _grid(grid, source: str) -> list[list[_Choice]]:
    if not isinstance(grid, dict):
        raise InputError(f"{source}: grid: expected a mapping of dotted keys to lists of values")
    return [
        _axis(_check_key(key, f"{source}: grid"), _values(values, f"{source}: grid.{key}"), f"grid.{key}")
        for key, values in grid.items()
    ]


def _entries(entries, grid_keys: set[str], source: str) -> list[list[list[_Choice]]]:
    """Each list entry as the axes of its own small grid (a scalar is a one-value axis)."""
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{source}: list: expected a non-empty list of mappings of dotted keys to values")
    expanded = []
    for index, entry in enumerate(entries):
        where = f"{source}: list[{index}]"
        if not isinstance(entry, dict):
            raise InputError(f"{where}: expected a mapping of dotted keys to values")
        axes = []
        for key, value in entry.items():
            _check_key(key, where)
            if key in grid_keys:
                raise InputError(f"{where}.{key}: also in grid (set a key in one place)")
            values = _values(value, f"{where}.{key}") if isinstance(value, list) else [value]
            axes.append(_axis(key, values, f"list[{index}].{key}"))
        expanded.append(axes)
    return expanded


def _seeds(spec: dict, base: dict, grid, entries, source: str) -> list[list[_Choice]]:
    """``seeds`` as the innermost axis over ``train.seed``, which nothing else may set."""
    if "seeds" not in spec:
        return []
    seeds = _values(spec["seeds"], f"{source}: seeds")
    if not all(isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 for seed in seeds):
        raise InputError(f"{source}: seeds: expected a list of integers ≥ 0, got {shown(seeds)}")
    elsewhere = (
        "train.seed" in base
        or any(axis[0].key == "train.seed" for axis in grid)
        or any(axis[0].key == "train.seed" for entry in entries for axis in entry)
    )
    if elsewhere:
        raise InputError(f"{source}: seeds: train.seed is also set elsewhere (set it in one place)")
    return [[_Choice("train.seed", seed, f"seeds[{i}]") for i, seed in enumerate(seeds)]]


def _evaluation(section, source: str) -> Evaluation | None:
    if section is False:
        return None
    where = f"{source}: evaluate"
    if not isinstance(section, dict) or not set(section) <= {"metrics", "seeds", "preset"}:
        raise InputError(f"{where}: expected false or a mapping with some of the keys metrics, seeds, preset")
    evaluation = Evaluation()
    if "metrics" in section:
        names = [str(name).replace("-", "_") for name in _values(section["metrics"], f"{where}.metrics")]
        try:
            check_metric_names(names)
        except InputError as error:
            raise InputError(f"{where}.metrics: {str(error).removeprefix('--metrics: ')}") from None
        evaluation = dataclasses.replace(evaluation, metrics=tuple(names))
    if "seeds" in section:
        seeds = _values(section["seeds"], f"{where}.seeds")
        if not all(isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**32 for seed in seeds):
            raise InputError(f"{where}.seeds: expected a list of integers in [0, 2^32), got {shown(seeds)}")
        evaluation = dataclasses.replace(evaluation, seeds=tuple(seeds))
    if "preset" in section:
        if section["preset"] not in PRESET_NAMES:
            raise InputError(
                f"{where}.preset: expected one of {', '.join(PRESET_NAMES)}, got {section['preset']!r}"
            )
        evaluation = dataclasses.replace(evaluation, preset=section["preset"])
    return evaluation


def _label(key: str, value) -> str:
    """``beta=4`` for ``model.beta: 4.0``, ``data=mnist`` for ``data.name``; filesystem-safe."""
    field = "data" if key == "data.name" else key.split(".", 1)[1]
    if isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, float):
        text = format(value, "g")
    elif isinstance(value, (list, tuple)):
        text = "x".join(str(v) for v in value)
    else:
        text = str(value)
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", f"{field}={text}")


def _run(number: int, width: int, base: dict, choices, evaluation, where: str) -> tuple[SweepRun, str]:
    """The validated run and its final configuration as canonical JSON (for duplicates)."""
    merged = {**base, **{choice.key: choice for choice in choices}}
    try:
        config = RunConfig.from_settings(
            {key: Setting(choice.value, choice.origin) for key, choice in merged.items()}, default_origin=str
        )
        if evaluation is not None:
            _check_evaluation(config, evaluation)
    except InputError as error:
        raise InputError(f"{where}: {error}") from None
    final = {**_dotted(config.to_dict()), "data.name": config.data.name}
    parts = [f"{number:0{width}d}", config.model_name] + [
        _label(c.key, final.get(c.key, c.value)) for c in choices if c.key != "model.name"
    ]
    run = SweepRun(
        number=number,
        name="-".join(parts)[:MAX_NAME_LENGTH],
        config=config,
        evaluation=evaluation,
        choices={choice.key: final.get(choice.key, choice.value) for choice in choices},
    )
    return run, json.dumps(config.to_dict(), sort_keys=True, default=str)


def _check_evaluation(config: RunConfig, evaluation: Evaluation) -> None:
    """Refuse, before anything trains, a run whose scoring cannot work: the metrics need a
    dataset with ground-truth factors, and the diagnostics a model with a Gaussian posterior
    (and with an N(0, I) prior, for those that take it)."""
    dataset = DATASETS[config.data.name]
    if not (isinstance(dataset, type) and issubclass(dataset, FactorDataset)):
        raise InputError(
            f"evaluate: dataset '{config.data.name}' has no ground-truth factors, which the metrics need "
            "(use a factor dataset, or evaluate: false to train only)"
        )
    capabilities = MODELS[config.model_name].capabilities
    needing = [name for name in evaluation.metrics if POSTERIOR in METRICS[name].needs]
    if needing and not capabilities.gaussian_posterior:
        raise InputError(
            f"evaluate.metrics: {', '.join(needing)} cannot score {config.model_name}, which has no Gaussian posterior"
        )
    assuming = [name for name in evaluation.metrics if METRICS[name].standard_normal_prior]
    if assuming and not capabilities.standard_normal_prior:
        raise InputError(f"evaluate.metrics: {', '.join(assuming)} take the prior to be N(0, I); "
                         f"{config.model_name}'s is another")


def _dotted(sections: dict) -> dict:
    """``{"model": {"beta": 4.0}}`` → ``{"model.beta": 4.0}``."""
    return {f"{section}.{field}": value for section, values in sections.items() for field, value in values.items()}
