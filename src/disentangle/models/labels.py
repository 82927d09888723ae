"""The labelled subset of the semi-supervised models (Locatello et al. 2020, "Disentangling
Factors of Variation Using Few Labels"; dlib's ``semi_supervised_utils``).

A run draws ``num_labelled`` factor vectors once, uniformly over the grid, from
``numpy.random.RandomState(label_seed)`` (dlib's ``supervised_data_seed``), and a
*labeller* turns their true factor levels into the labels the model sees, drawing any
randomness from the same stream. The labellers model how a person labels:

- ``perfect``: the true levels;
- ``bin``: factors with more than ``num_bins`` values binned into ``num_bins`` equal
  ranges of levels (level // (size / num_bins), at most num_bins − 1), as a rough labeller;
- ``noisy``: each label, with probability ``prob_random``, replaced by a uniform draw of
  its factor's levels (possibly the true one);
- ``permuted``: each factor's levels relabelled by one random permutation, which keeps
  the classes but breaks their order;
- ``partial``: only ``num_observed_factors`` factors, chosen at random, are labelled, in
  the order drawn.

The draw depends on nothing but the factor sizes and these settings, so that the set is
the same whenever the run's model is built (training, resume, evaluation); it is also
kept with the model's weights in every checkpoint. The first ``num_train_labelled`` points
drawn are trained on and the rest held out, as dlib's ``train_test_split`` splits them.

One departure: dlib draws a nuisance factor's levels (SmallNORB's instance) from this
stream too, after the factors and before the labeller; here they come from a stream of
their own (``SemiSupervised.labelled_indices``), so on such data the ``noisy``,
``permuted`` and ``partial`` labels differ from dlib's. Datasets without one (dSprites,
whose one-valued colour draws nothing) get dlib's labels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

LABELLERS = ("perfect", "bin", "noisy", "permuted", "partial")


@dataclass(frozen=True)
class LabelledSet:
    """The labelled subset.

    Attributes:
        factors: the true factor levels, int64 ``(num_labelled, num_factors)``.
        labels: what the model is told, float32 ``(num_labelled, num_labels)``, integer-valued.
        label_sizes: how many values each label column takes.
        labelled_factors: the factor each label column describes.
    """

    factors: np.ndarray
    labels: np.ndarray
    label_sizes: tuple[int, ...]
    labelled_factors: tuple[int, ...]


def _perfect(levels, sizes, random_state, options):
    return levels, sizes, list(range(len(sizes)))


def _bin(levels, sizes, random_state, options):
    num_bins = options["num_bins"]
    binned = levels.copy()
    for factor, size in enumerate(sizes):
        if size > num_bins:
            binned[:, factor] = np.minimum(levels[:, factor] // (size / num_bins), num_bins - 1)
    return binned, [min(size, num_bins) for size in sizes], list(range(len(sizes)))


def _noisy(levels, sizes, random_state, options):
    noisy = levels.copy()
    for row in range(levels.shape[0]):  # dlib's order of draws: row by row, factor by factor
        for factor, size in enumerate(sizes):
            if random_state.rand() < options["prob_random"]:
                noisy[row, factor] = random_state.randint(size)
    return noisy, sizes, list(range(len(sizes)))


def _permuted(levels, sizes, random_state, options):
    permuted = levels.copy()
    for factor, size in enumerate(sizes):
        permuted[:, factor] = random_state.permutation(size)[levels[:, factor].astype(np.int64)]
    return permuted, sizes, list(range(len(sizes)))


def _partial(levels, sizes, random_state, options):
    kept = [int(k) for k in random_state.choice(len(sizes), size=options["num_observed_factors"], replace=False)]
    return levels[:, kept], [sizes[k] for k in kept], kept


_LABELLER_FUNCTIONS: dict[str, Callable] = {
    "perfect": _perfect, "bin": _bin, "noisy": _noisy, "permuted": _permuted, "partial": _partial,
}


def draw_labelled_set(
    factors_num_values: Sequence[int],
    num_labelled: int,
    labeller: str = "perfect",
    label_seed: int = 0,
    num_bins: int = 5,
    prob_random: float = 0.1,
    num_observed_factors: int = 2,
) -> LabelledSet:
    """Draw the labelled subset (see the module docstring); the options are the labellers'
    (dlib's defaults: 5 bins, probability 0.1, 2 observed factors)."""
    sizes = [int(size) for size in factors_num_values]
    random_state = np.random.RandomState(label_seed)
    factors = np.stack([random_state.randint(size, size=num_labelled) for size in sizes], axis=1).astype(np.int64)
    options = {"num_bins": num_bins, "prob_random": prob_random, "num_observed_factors": num_observed_factors}
    labels, label_sizes, kept = _LABELLER_FUNCTIONS[labeller](factors.astype(np.float32), sizes, random_state, options)
    return LabelledSet(factors, np.asarray(labels, dtype=np.float32), tuple(int(s) for s in label_sizes), tuple(kept))


def num_train_labelled(num_labelled: int, train_percentage: float) -> int:
    """How many of the ``num_labelled`` points, the first drawn, are trained on: dlib's
    ``int(math.ceil(num_labelled * train_percentage))``, float rounding included (so
    100 × 0.07 gives 8, not 7); the other points are held out."""
    return int(math.ceil(num_labelled * train_percentage))
