"""Datasets: images with and without ground-truth factors.

``get_dataset(name, **options)`` builds any of them by the name used at the command
line and in ``config.json``; ``dataset.describe()`` gives the options back.
"""

from __future__ import annotations

from collections.abc import Callable

from disentangle.data.base import FactorDataset, ImageDataset
from disentangle.data.dsprites import DSprites
from disentangle.errors import InputError

#: name -> constructor taking keyword options
DATASETS: dict[str, Callable[..., ImageDataset]] = {
    "dsprites": DSprites,
}


def get_dataset(name: str, **options) -> ImageDataset:
    """The dataset called ``name`` (see ``DATASETS``), built with ``options``.

    Options whose value is ``None`` are dropped, so CLI defaults pass through.
    """
    if name not in DATASETS:
        raise InputError(f"--data: unknown dataset '{name}' (expected one of {', '.join(sorted(DATASETS))})")
    options = {key: value for key, value in options.items() if value is not None}
    try:
        return DATASETS[name](**options)
    except TypeError as error:
        raise InputError(f"--data {name}: invalid options {sorted(options)} ({error})") from None


__all__ = ["DATASETS", "DSprites", "FactorDataset", "ImageDataset", "get_dataset"]
