"""The ``disentangle`` command: argument parsing and printing only.

Every subcommand calls a library function a Python user can call too. Bad input
(``InputError``) and diverged training print one line on stderr and exit with code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import yaml

from disentangle import __version__
from disentangle.data import DATASETS
from disentangle.errors import InputError, TrainingDiverged
from disentangle.models import MODELS
from disentangle.train import TrainConfig



def _boolean(text: str) -> bool:
    value = yaml.safe_load(text)
    if not isinstance(value, bool):
        raise argparse.ArgumentTypeError(f"expected true or false, got '{text}'")
    return value


_TYPES = {"int": int, "float": float, "str": str, "bool": _boolean, "int | None": int, "float | None": float}
#: training settings with a shorter flag than their field name
_TRAIN_FLAG_ALIASES = {"learning_rate": ["--lr"]}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _hyperparameter_fields() -> dict[str, type]:
    """Every model hyperparameter across MODELS, with the type of its flag."""
    fields: dict[str, type] = {}
    for cls in MODELS.values():
        for field in dataclasses.fields(cls.config_class):
            fields.setdefault(field.name, _TYPES.get(str(field.type), str))
    return fields


def _data_option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text}'")
    return key.replace("-", "_"), yaml.safe_load(value)


def _add_train_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model and write a run folder",
        description="Train a model on a dataset and write a run folder (config.json, checkpoints, log.jsonl, "
        "TensorBoard events). Defaults are disentanglement_lib's.",
    )
    parser.add_argument("--config", type=Path, help="YAML file with sections model, data and train; flags override it")
    parser.add_argument("--model", help=f"one of: {', '.join(sorted(MODELS))} (default beta-vae)")
    parser.add_argument("--data", help=f"one of: {', '.join(sorted(DATASETS))} (default dsprites)")
    parser.add_argument("--data-path", help="file or folder the dataset reads (official dSprites .npz, IDX, ...)")
    parser.add_argument(
        "--data-option", action="append", type=_data_option, default=[], metavar="KEY=VALUE",
        help="further dataset option, repeatable (e.g. split=test, size=64)",
    )
    parser.add_argument("--out", type=Path, help="the run folder to create")
    parser.add_argument("--resume", type=Path, metavar="RUN", help="continue this run folder up to --steps")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    train_group = parser.add_argument_group("training (TrainConfig)")
    for field in dataclasses.fields(TrainConfig):
        train_group.add_argument(
            _flag(field.name), *_TRAIN_FLAG_ALIASES.get(field.name, []), dest=f"train.{field.name}",
            type=_TYPES.get(str(field.type), str), help=f"default {field.default}",
        )
    model_group = parser.add_argument_group("model hyperparameters (each model takes its own subset)")
    for name, kind in _hyperparameter_fields().items():
        model_group.add_argument(_flag(name), dest=f"model.{name}", type=kind)


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise InputError(f"--config {path}: no such file")
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise InputError(f"--config {path}: not valid YAML ({str(error).splitlines()[0]})") from None
    sections = {"model", "data", "train"}
    if not isinstance(content, dict) or not set(content) <= sections:
        raise InputError(f"--config {path}: expected a mapping with the sections {', '.join(sorted(sections))}")
    for section, values in content.items():
        if not isinstance(values, dict):
            raise InputError(f"--config {path}: section '{section}' must be a mapping")
    return content


def _run_train(args) -> None:
    from disentangle.train import resume, train

    given = {key: value for key, value in vars(args).items() if value is not None}
    train_settings = {k.split(".", 1)[1]: v for k, v in given.items() if k.startswith("train.")}
    hyperparameters = {k.split(".", 1)[1]: v for k, v in given.items() if k.startswith("model.")}
    if args.resume is not None:
        extra = sorted(set(train_settings) - {"steps"}) + sorted(hyperparameters)
        if extra or args.out or args.model or args.data or args.config:
            raise InputError(f"--resume: takes only --steps (the run folder holds every other setting); got {extra or 'more'}")
        path = resume(args.resume, steps=train_settings.get("steps"), progress=not args.no_progress)
        print(f"resumed {path}")
        return
    config = _read_yaml(args.config) if args.config else {}
    model_section = dict(config.get("model", {}))
    data_section = dict(config.get("data", {}))
    model = args.model or model_section.pop("name", "beta-vae")
    model_section.pop("name", None)
    data = args.data or data_section.pop("name", "dsprites")
    data_section.pop("name", None)
    data_options = {**data_section, **dict(args.data_option)}
    if args.data_path is not None:
        data_options["path"] = args.data_path
    out = args.out
    if out is None:
        raise InputError("--out: required (the run folder to create)")
    settings = {**config.get("train", {}), **train_settings, **model_section, **hyperparameters}
    path = train(out, model, data, data_options=data_options, progress=not args.no_progress, **settings)
    print(f"wrote {path}")


def _run_traverse(args) -> None:
    from disentangle.train import load_run
    from disentangle.viz import write_traversals

    run = load_run(args.run)
    for path in write_traversals(run.model, run.dataset, args.out or args.run, seed=args.seed):
        print(f"wrote {path}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="disentangle", description="Learn, measure and look at disentangled representations."
    )
    parser.add_argument("--version", action="version", version=f"disentangle {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_train_parser(subparsers)
    traverse = subparsers.add_parser(
        "traverse", help="write latent traversal and reconstruction grids of a run",
        description="Write traversal.png (rows: latents by decreasing KL; columns: values from -3 to 3) and "
        "reconstructions.png (inputs above reconstructions) into the run folder.",
    )
    traverse.add_argument("run", type=Path)
    traverse.add_argument("--out", type=Path, help="folder for the images (default: the run folder)")
    traverse.add_argument("--seed", type=int, default=0, help="which images are shown")
    return parser


COMMANDS = {"train": _run_train, "traverse": _run_traverse}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except (InputError, TrainingDiverged) as error:
        print(f"disentangle {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
