"""One run configuration: the model and its hyperparameters, the data, and how it is trained.

``RunConfig`` is what ``train``, ``resume``, the sweep executor and ``reproduce`` pass
around, and a run folder's ``config.json`` holds its ``to_dict()``. It is built in one
place, ``RunConfig.from_settings``, from settings keyed ``section.field`` (``model.name``,
``model.beta``, ``data.name``, ``data.path``, ``train.steps``), each carrying the origin
that an error about it names. Every source reduces to such settings:

- a YAML file, a sweep's base or a run folder's ``config.json``: ``RunConfig.from_dict``,
  origins ``configs/x.yaml: model.beta``;
- Python keywords: ``RunConfig.from_keywords("beta-vae", "dsprites", beta=4, steps=3000)``,
  origins named as the command line's flags (``--beta``);
- the command line: a ``--config`` file's settings with the flags over them (``cli``);
- a sweep's run: its base and its grid, list and seed choices (``sweep.spec``).

Each value is first coerced to the type of its field (``coerce``), then each
configuration dataclass validates its own fields; either failure is one line naming
the origin and what was expected: ``configs/x.yaml: model.beta: must be > 0, got -1``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from disentangle.data import DATASETS, ImageDataset, check_options, get_dataset
from disentangle.errors import InputError, SettingError, shown
from disentangle.models import MODELS, Model, ModelConfig, model_class
from disentangle.train.precision import PRECISIONS

OPTIMIZERS = ("adam", "adagrad")
SECTIONS = ("model", "data", "train")
DEFAULT_MODEL = "beta-vae"
DEFAULT_DATA = "dsprites"


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained. Defaults are disentanglement_lib's (Locatello et al. 2019).

    Attributes:
        steps: total optimisation steps of the run (a resumed run continues to this).
        batch_size: observations per step, drawn uniformly with replacement (over all
            processes together when launched by torchrun; see ``docs/distributed.md``).
        optimizer: ``adam`` (dlib) or ``adagrad`` (Higgins et al. 2017, lr 1e-2).
        learning_rate, adam_beta1, adam_beta2, adam_eps: optimizer settings.
        seed: seeds weights, batches and sampling noise; equal seeds give equal CPU runs.
        log_every: steps between lines of ``log.jsonl`` (each the mean over those steps).
        checkpoint_every: steps between checkpoints; one is always written at the end.
        keep_checkpoints: how many recent checkpoints to keep (older ones are deleted).
        device: a torch device string (``cpu``, ``cuda``, ``cuda:1``, ...).
        threads: CPU threads for PyTorch (default: all cores).
        precision: ``auto``, ``fp32``, ``tf32`` or ``bf16`` (``disentangle.train.precision``).
    """

    steps: int = 300_000
    batch_size: int = 64
    optimizer: str = "adam"
    learning_rate: float = 1e-4
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    seed: int = 0
    log_every: int = 100
    checkpoint_every: int = 10_000
    keep_checkpoints: int = 2
    device: str = "cpu"
    threads: int | None = None
    precision: str = "auto"

    def __post_init__(self):
        checks = [
            ("steps", self.steps >= 1, "an integer ≥ 1"),
            ("batch_size", self.batch_size >= 1, "an integer ≥ 1"),
            ("optimizer", self.optimizer in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
            ("learning_rate", 0 < self.learning_rate < math.inf, "> 0 and finite"),
            ("adam_beta1", 0 <= self.adam_beta1 < 1, "in [0, 1)"),
            ("adam_beta2", 0 <= self.adam_beta2 < 1, "in [0, 1)"),
            ("adam_eps", 0 < self.adam_eps < math.inf, "> 0 and finite"),
            ("seed", 0 <= self.seed < 2**64, "an integer in [0, 2^64)"),
            ("device", _is_device(self.device), "a torch device (cpu, cuda or cuda:N)"),
            ("log_every", self.log_every >= 1, "an integer ≥ 1"),
            ("checkpoint_every", self.checkpoint_every >= 1, "an integer ≥ 1"),
            ("keep_checkpoints", self.keep_checkpoints >= 1, "an integer ≥ 1"),
            ("threads", self.threads is None or self.threads >= 1, "an integer ≥ 1"),
            ("precision", self.precision in PRECISIONS, f"one of {', '.join(PRECISIONS)}"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise SettingError(name, expected, getattr(self, name))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping, source: str = "train settings") -> TrainConfig:
        """The settings of a mapping such as ``config.json``'s ``train`` section, coerced and
        checked; errors name ``source`` and the key (``RUN/config.json: train.steps: ...``)."""
        settings = {f"train.{key}": Setting(value, f"{source}: train.{key}") for key, value in values.items()}
        return _build(cls, "train", settings, lambda key: f"{source}: {key}", UNKNOWN_TRAINING_SETTING)


@dataclass(frozen=True)
class DataConfig:
    """A dataset by name (``disentangle.data.DATASETS``) and the options it is built with."""

    name: str = DEFAULT_DATA
    options: Mapping = dataclasses.field(default_factory=dict)

    def build(self) -> ImageDataset:
        return get_dataset(self.name, **self.options)

    def to_dict(self) -> dict:
        return {"name": self.name, **self.options}


@dataclass(frozen=True)
class Setting:
    """A setting's value and where it was given, as an error names it (``--beta``,
    ``configs/x.yaml: model.beta``, ``grid.model.beta[2]``)."""

    value: object
    origin: str


def flag(field: str) -> str:
    """The command-line flag of a setting: ``learning_rate`` → ``--learning-rate``."""
    return "--" + field.replace("_", "-")


def flag_origin(key: str) -> str:
    """The command line's name for the dotted key ``key``: a flag, as users give it."""
    section, _, field = key.partition(".")
    if key == "data.path":
        return "--data-path"
    if section == "data":
        return "--data" if field == "name" else f"--data-option {field}"
    return "--model" if key == "model.name" else flag(field)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run: ``model_name`` with its hyperparameters ``model``,
    the ``data`` and the training settings ``train``."""

    model_name: str
    model: ModelConfig
    data: DataConfig
    train: TrainConfig

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Setting], default_origin: Callable[[str], str] = flag_origin
    ) -> RunConfig:
        """The configuration from dotted ``settings`` (see the module docstring); a key that is
        absent takes its default, and an error about it is named by ``default_origin(key)``.

        Raises ``InputError`` for an unknown model, dataset, section, hyperparameter,
        training setting or dataset option, a value of the wrong type, or one its
        configuration class refuses.
        """
        for key, setting in settings.items():
            section, dot, field = key.partition(".")
            if section not in SECTIONS or not dot or not field:
                raise InputError(f"{setting.origin}: not a setting (expected model.*, data.* or train.*)")
        name = _value(settings, "model.name", DEFAULT_MODEL)
        if not isinstance(name, str) or name not in MODELS:
            origin = _origin(settings, "model.name", default_origin)
            raise InputError(f"{origin}: unknown model {shown(name)} (expected one of {', '.join(sorted(MODELS))})")
        unknown_hyperparameter = (f"not a hyperparameter of {name}", "it takes")
        model = _build(MODELS[name].config_class, "model", settings, default_origin, unknown_hyperparameter)
        train = _build(TrainConfig, "train", settings, default_origin, UNKNOWN_TRAINING_SETTING)
        return cls(name, model, _data(settings, default_origin), train)

    @classmethod
    def from_dict(cls, sections: Mapping, source: str) -> RunConfig:
        """The configuration of ``model``, ``data`` and ``train`` sections, as a YAML file or
        ``config.json`` holds them (other top-level keys, such as ``environment``, are not
        settings and are ignored); errors name ``source`` and the key."""
        return cls.from_settings(sections_to_settings(sections, source), lambda key: f"{source}: {key}")

    @classmethod
    def from_keywords(
        cls, model: str = DEFAULT_MODEL, data: str = DEFAULT_DATA, data_options: Mapping | None = None, **settings
    ) -> RunConfig:
        """The configuration of Python keywords: ``settings`` are the model's hyperparameters
        and the fields of ``TrainConfig`` (``beta=4``, ``steps=3000``), told apart by name."""
        values = {"model.name": Setting(model, "--model"), "data.name": Setting(data, "--data")}
        for key, value in (data_options or {}).items():
            values[f"data.{key}"] = Setting(value, flag_origin(f"data.{key}"))
        for key, value in settings.items():
            values[f"{'train' if key in TRAIN_FIELDS else 'model'}.{key}"] = Setting(value, flag(key))
        return cls.from_settings(values)

    def to_dict(self) -> dict:
        """The sections ``model``, ``data`` and ``train`` as ``config.json`` holds them."""
        return {
            "model": {"name": self.model_name, **self.model.to_dict()},
            "data": self.data.to_dict(),
            "train": self.train.to_dict(),
        }

    def keywords(self) -> dict:
        """Every hyperparameter and training setting as one mapping of ``from_keywords``'s keywords."""
        return {**dataclasses.asdict(self.model), **self.train.to_dict()}

    def with_train(self, **changes) -> RunConfig:
        """This configuration with some training settings changed (``steps=6000``), coerced
        and checked like any other source (errors name them as flags)."""
        values = {f"train.{key}": Setting(value, flag(key)) for key, value in self.train.to_dict().items()}
        values.update({f"train.{key}": Setting(value, flag(key)) for key, value in changes.items()})
        train = _build(TrainConfig, "train", values, flag_origin, UNKNOWN_TRAINING_SETTING)
        return dataclasses.replace(self, train=train)

    def for_dataset(self, dataset: ImageDataset) -> RunConfig:
        """This configuration as a run on ``dataset`` records it: the data as the dataset
        describes itself (absolute paths) and the hyperparameters taken from the data
        filled in (``ModelConfig.DATA_DERIVED``)."""
        description = dataset.describe()
        data = DataConfig(description["name"], {k: v for k, v in description.items() if k != "name"})
        return dataclasses.replace(self, model=self.model.for_dataset(dataset), data=data)

    def build_model(self, observation_shape: tuple[int, int, int]) -> Model:
        """The model, freshly initialised from torch's global random stream."""
        return model_class(self.model_name)(self.model, observation_shape)


TRAIN_FIELDS = frozenset(field.name for field in dataclasses.fields(TrainConfig))


def _is_device(text: str) -> bool:
    try:
        torch.device(text)
    except (RuntimeError, TypeError):
        return False
    return True


#: the most values a YAML file of settings may hold, an alias counted each time it is used
MAX_YAML_VALUES = 100_000


def load_yaml(path: str | Path, kind: str):
    """The content of the YAML file ``path`` (a ``kind`` such as "configuration file"),
    with one-line errors naming it. Aliases are refused when the values they expand to
    exceed ``MAX_YAML_VALUES`` or refer to themselves, so that a file of a few hundred
    bytes cannot grow into gigabytes wherever its content is printed or copied."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such {kind}")
    loader = None
    try:
        loader = yaml.SafeLoader(path.read_text())
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, path)
        return loader.construct_document(node)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_expansion(root: yaml.Node, path: Path) -> None:
    """Count the values under ``root`` as if every alias were copied, without copying."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, finished = stack.pop()
        children = [] if isinstance(node, yaml.ScalarNode) else (
            node.value if isinstance(node, yaml.SequenceNode) else [part for pair in node.value for part in pair]
        )
        if finished:
            sizes[id(node)] = min(1 + sum(sizes[id(child)] for child in children), MAX_YAML_VALUES + 1)
            open_nodes.discard(id(node))
            if sizes[id(node)] > MAX_YAML_VALUES:
                line = node.start_mark.line + 1
                raise InputError(f"{path}: its aliases expand to more than {MAX_YAML_VALUES:,} values (line {line})")
        elif id(node) in open_nodes:
            raise InputError(f"{path}: an alias refers to itself (line {node.start_mark.line + 1})")
        elif id(node) not in sizes:
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children)


def read_config_file(path: str | Path) -> dict:
    """The sections of a YAML configuration file (``train --config``): a mapping whose keys
    are some of ``model``, ``data`` and ``train``, each a mapping; one-line errors naming it."""
    path = Path(path)
    content = load_yaml(path, "configuration file") or {}
    if not isinstance(content, dict) or not set(content) <= set(SECTIONS):
        raise InputError(f"{path}: expected a mapping with the sections {', '.join(SECTIONS)}")
    sections_to_settings(content, str(path))
    return content


def sections_to_settings(sections: Mapping, source: str) -> dict[str, Setting]:
    """``{"model": {"beta": 4}}`` → ``{"model.beta": Setting(4, "SOURCE: model.beta")}``;
    each of the sections ``model``, ``data`` and ``train`` present must be a mapping."""
    if not isinstance(sections, Mapping):
        raise InputError(f"{source}: expected a mapping with the sections {', '.join(SECTIONS)}")
    settings = {}
    for section in SECTIONS:
        values = sections.get(section, {})
        if not isinstance(values, Mapping):
            raise InputError(f"{source}: section '{section}' must be a mapping")
        for field, value in values.items():
            settings[f"{section}.{field}"] = Setting(value, f"{source}: {section}.{field}")
    return settings


#: how an unknown training setting is named, and how the known ones are introduced
UNKNOWN_TRAINING_SETTING = ("unknown training setting", "known:")
_EXPECTED = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}


def coerce(value, kind: str, origin: str):
    """``value`` as the type ``kind`` of its field (``"float"``, ``"int | None"``, ...).

    Accepted: integers for floats; integral floats (``3.0``) for integers; text that
    reads as the type (``"1e-4"``, ``"4"``, ``"true"``, ``"none"`` for an optional
    field: a flag's text, or YAML 1.1's reading of ``1e-4``); for mapping fields, text
    that YAML reads as a mapping. Fields of other types pass through unchanged, for
    their configuration class to check. Raises ``InputError`` naming ``origin``.
    """
    optional = kind.endswith(" | None")
    base = kind.removesuffix(" | None")
    if value is None and optional:
        return None
    if isinstance(value, str) and optional and value.strip().lower() in ("none", "null"):
        return None
    if base.startswith("dict"):
        return _mapping_from_text(value) if isinstance(value, str) else value
    if base not in _EXPECTED:
        return value
    text = value.strip() if isinstance(value, str) else None
    if base == "bool":
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in ("true", "false"):
            return text.lower() == "true"
    elif isinstance(value, bool):
        pass  # true and false are not numbers or names
    elif base == "str":
        if isinstance(value, str):
            return value
    elif base == "float":
        number = None
        if isinstance(value, (int, float)):
            number = float(value)
        elif text is not None:
            try:
                number = float(text)
            except ValueError:
                pass
        if number is not None and math.isfinite(number):
            return number
        if number is not None:
            raise InputError(f"{origin}: expected a finite number, got {shown(value)}")
    elif isinstance(value, int):
        return value
    elif isinstance(value, float) and value.is_integer():
        return int(value)
    elif text is not None:
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is not None and number.is_integer():
            return int(number)
    raise InputError(f"{origin}: expected {_EXPECTED[base]}, got {shown(value)}")


def _mapping_from_text(text: str):
    """A mapping written in YAML (``{width: 64}``), else the text itself."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return loaded if isinstance(loaded, dict) else text


def _value(settings: Mapping[str, Setting], key: str, default):
    return settings[key].value if key in settings else default


def _origin(settings: Mapping[str, Setting], key: str, default_origin: Callable[[str], str]) -> str:
    return settings[key].origin if key in settings else default_origin(key)


def _build(
    config_class: type, section: str, settings: Mapping[str, Setting], default_origin, unknown: tuple[str, str]
):
    """``config_class`` from the settings of ``section``, coerced to its fields' types.

    A key that is no field is refused with ``unknown`` (what it is not, and the words
    before the list of fields); a ``SettingError`` is re-worded to name the setting's
    origin and the value as it was given."""
    kinds = {field.name: str(field.type) for field in dataclasses.fields(config_class)}
    values = {}
    for key, setting in settings.items():
        where, _, field = key.partition(".")
        if where != section or key == "model.name":
            continue
        if field not in kinds:
            raise InputError(f"{setting.origin}: {unknown[0]} ({unknown[1]} {', '.join(kinds)})")
        values[field] = coerce(setting.value, kinds[field], setting.origin)
    try:
        return config_class(**values)
    except SettingError as error:
        key = f"{section}.{error.setting}"
        value = shown(settings[key].value if key in settings else error.value, quote=False)
        raise InputError(f"{_origin(settings, key, default_origin)}: must be {error.expected}, got {value}") from None


def _data(settings: Mapping[str, Setting], default_origin: Callable[[str], str]) -> DataConfig:
    name = _value(settings, "data.name", DEFAULT_DATA)
    origin = _origin(settings, "data.name", default_origin)
    if not isinstance(name, str) or name not in DATASETS:
        raise InputError(f"{origin}: unknown dataset {shown(name)} (expected one of {', '.join(sorted(DATASETS))})")
    options = {
        key.partition(".")[2]: setting.value for key, setting in settings.items()
        if key.startswith("data.") and key != "data.name"
    }
    check_options(name, {key: value for key, value in options.items() if value is not None}, where=f"{origin} {name}")
    return DataConfig(name, options)
