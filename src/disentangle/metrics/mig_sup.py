"""MIG-sup (Li et al. 2020, "Progressive Learning and Disentanglement of Hierarchical
Representations"): the mutual information gap taken per code instead of per factor.

MIG asks that each factor live in one code; MIG-sup asks that each code carry one
factor. With I_n(z_j; v_k) = I(z_j; v_k) / H(v_k), the share of factor k's entropy
that code j carries,

    MIG-sup = mean over codes j of (I_n(z_j; v_a) - I_n(z_j; v_b)),

v_a and v_b the two factors code j shares most information with. A code that carries
nothing scores 0 and so pulls the mean down: with more codes than factors the score
is at most K / D (the paper's representations have as many codes as factors).

Estimated as dlib's MIG is (``num_train`` points drawn 16 at a time, each code cut
into ``num_bins`` equal-width bins, plug-in discrete mutual information, H(v_k) the
entropy of the sampled factor); those settings are dlib's MIG's, Li et al. give none.
Invariant to permuting codes and to positive affine maps of each.
"""

from __future__ import annotations

import numpy as np

from disentangle.errors import InputError
from disentangle.metrics.descriptor import Metric
from disentangle.metrics.mutual_information import normalised_mutual_info
from disentangle.metrics.sampling import sample_factor_codes


def mig_sup(
    ground_truth_data, representation_function, random_state, preset: str = "dlib", **settings
) -> dict:
    """MIG-sup: ``{"mig_sup", "settings"}``, in [0, 1].

    ``settings`` override the preset's (``MIG_SUP.settings``).
    """
    settings = MIG_SUP.resolve(preset, settings)
    codes, factors = sample_factor_codes(
        ground_truth_data, representation_function, settings["num_train"], random_state,
        settings["batch_size"],
    )
    if factors.shape[1] < 2:
        raise InputError(f"mig_sup: expected at least 2 factors, got {factors.shape[1]}")
    normalised = normalised_mutual_info(codes, factors, settings["num_bins"])
    return {"mig_sup": float(np.mean(code_gaps(normalised))), "settings": settings}


def code_gaps(normalised: np.ndarray) -> np.ndarray:
    """Per code, the largest minus the second largest entry of its row of
    ``(num_codes, num_factors)`` (at least 2 factors): ``(num_codes,)``."""
    ordered = np.sort(normalised, axis=1)
    return ordered[:, -1] - ordered[:, -2]


MIG_SUP = Metric(
    name="mig_sup",
    function=mig_sup,
    settings={
        "num_train": 10_000,  # sampled points (dlib's MIG)
        "batch_size": 16,  # points drawn at a time (dlib's MIG)
        "num_bins": 20,  # equal-width bins per code (dlib's MIG)
    },
    headline=("mig_sup",),
)
