"""Datasets: images with and without ground-truth factors.

``get_dataset(name, **options)`` builds any of them by the name used at the command
line and in ``config.json``; ``dataset.describe()`` gives the options back.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable

from disentangle.data.base import DataFiles, FactorDataset, ImageDataset
from disentangle.data.cars3d import Cars3D
from disentangle.data.dsprites import DSprites
from disentangle.data.dsprites_variants import ColorDSprites, NoisyDSprites, ScreamDSprites
from disentangle.data.images import MNIST, ArrayImages, Digits, FashionMNIST, ImageFolder, InMemoryImages
from disentangle.data.mpi3d import MPI3DComplex, MPI3DReal, MPI3DRealistic, MPI3DToy
from disentangle.data.shapes3d import Shapes3D
from disentangle.data.shapes3d_procedural import Shapes3DProcedural
from disentangle.data.smallnorb import SmallNORB
from disentangle.errors import InputError, shown

#: name -> constructor taking keyword options
DATASETS: dict[str, Callable[..., ImageDataset]] = {
    "dsprites": DSprites,
    "shapes3d": Shapes3D,
    "smallnorb": SmallNORB,
    "cars3d": Cars3D,
    "mpi3d-toy": MPI3DToy,
    "mpi3d-realistic": MPI3DRealistic,
    "mpi3d-real": MPI3DReal,
    "mpi3d-complex": MPI3DComplex,
    "color-dsprites": ColorDSprites,
    "noisy-dsprites": NoisyDSprites,
    "scream-dsprites": ScreamDSprites,
    "shapes3d-procedural": Shapes3DProcedural,
    "mnist": MNIST,
    "fashion-mnist": FashionMNIST,
    "array": ArrayImages,
    "folder": ImageFolder,
    "digits": Digits,
}


def get_dataset(name: str, **options) -> ImageDataset:
    """The dataset called ``name`` (see ``DATASETS``), built with ``options``.

    Options whose value is ``None`` are dropped, so CLI defaults pass through. The
    options are checked against the constructor's signature: an unknown option or a
    missing required one raises ``InputError`` naming it and the accepted options.
    Errors raised while building the dataset (a ``TypeError`` from a bug included)
    propagate unchanged.
    """
    if name not in DATASETS:
        raise InputError(f"--data: unknown dataset '{name}' (expected one of {', '.join(sorted(DATASETS))})")
    options = {key: value for key, value in options.items() if value is not None}
    check_options(name, options)
    return DATASETS[name](**options)


def check_options(name: str, options: dict, where: str | None = None) -> None:
    """Raise ``InputError`` unless the constructor of dataset ``name`` takes ``options``
    (every one it requires, none it does not know); the message starts with ``where``
    (default ``--data NAME``)."""
    where = where or f"--data {name}"
    parameters = inspect.signature(DATASETS[name]).parameters.values()
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters):
        return
    by_keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    accepted = [parameter.name for parameter in parameters if parameter.kind in by_keyword]
    required = [
        parameter.name
        for parameter in parameters
        if parameter.kind in by_keyword and parameter.default is inspect.Parameter.empty
    ]
    takes = f"accepted: {', '.join(accepted)}" if accepted else "it takes no options"
    for problem, keys in (
        ("unknown", sorted(set(options) - set(accepted))),
        ("missing", [key for key in required if key not in options]),
    ):
        if keys:
            quoted = ", ".join(f"'{key}'" for key in keys)
            plural = "s" if len(keys) > 1 else ""
            raise InputError(f"{where}: {problem} option{plural} {quoted} ({takes})")
    for parameter in parameters:
        if parameter.name in options and options[parameter.name] is not None:
            _check_type(options[parameter.name], parameter, where)


#: the types an option's annotation may name, and the values they accept
_ANNOTATED = {"str": (str,), "Path": (str, os.PathLike), "int": (int,), "float": (int, float), "bool": (bool,)}


def _check_type(value, parameter: inspect.Parameter, where: str) -> None:
    """Raise ``InputError`` unless ``value`` is of a type the parameter's annotation names
    (``str | Path | None``: text; ``int``: an integer); annotations naming other types
    (sequences, ...) are left to the constructor."""
    names = [name.strip() for name in str(parameter.annotation).split("|")]
    if not all(name in _ANNOTATED or name == "None" for name in names):
        return
    allowed = tuple(kind for name in names if name in _ANNOTATED for kind in _ANNOTATED[name])
    if isinstance(value, bool) and bool not in allowed:
        allowed = ()
    if not isinstance(value, allowed):
        words = {"str": "text", "Path": "a path", "int": "an integer", "float": "a number", "bool": "true or false"}
        wanted = " or ".join(dict.fromkeys(words[name] for name in names if name != "None"))
        raise InputError(f"{where}: option '{parameter.name}' must be {wanted}, got {shown(value)}")
    if "Path" in names and "\x00" in os.fspath(value):
        raise InputError(f"{where}: option '{parameter.name}' is not a path (it holds a NUL character)")


__all__ = [
    "DATASETS",
    "MNIST",
    "ArrayImages",
    "Cars3D",
    "ColorDSprites",
    "DSprites",
    "DataFiles",
    "Digits",
    "FactorDataset",
    "FashionMNIST",
    "ImageDataset",
    "ImageFolder",
    "InMemoryImages",
    "MPI3DComplex",
    "MPI3DReal",
    "MPI3DRealistic",
    "MPI3DToy",
    "NoisyDSprites",
    "ScreamDSprites",
    "Shapes3D",
    "Shapes3DProcedural",
    "SmallNORB",
    "check_options",
    "get_dataset",
]
