"""MIG-sup (Li et al. 2020, "Progressive Learning and Disentanglement of Hierarchical
Representations"): the mutual information gap taken per code instead of per factor.

MIG asks that each factor live in one code; MIG-sup asks that each code carry one
factor. Per code j, with v_a and v_b the two factors it shares most information with,

    MIG-sup = mean over codes j of (I_n(z_j; v_a) - I_n(z_j; v_b)).

As Zaidi et al.'s reference (ubisoft-laforge-disentanglement-metrics, ``mig_sup``)
computes it, I_n(z_j; v_k) = I(z_j; v_k) / H(z_j), the share of the *code's* entropy
that is about factor k (pyitlib's ``information_mutual_normalised(factor, code,
norm_factor='Y')`` divides by the entropy of its second argument, the code):
``normalise_by="code"``. ``normalise_by="factor"`` divides by H(v_k) instead, the
share of the factor's entropy that the code carries, as MIG normalises. A constant
code (H(z_j) = 0, where the reference divides by zero) carries nothing and scores 0.
With more codes than factors, codes that carry nothing pull the mean down.

Codes are min-max scaled and cut into ``num_bins`` = 10 equal-width bins as the
reference cuts them (``mutual_information.minmax_discretize``); factors are used as
their integer values (the reference's ``continuous_factors=False``) unless
``factor_bins`` bins them. The reference scores a given set of points; ours are
``num_train`` points drawn 16 at a time as dlib's MIG draws them. Invariant to
permuting codes and to positive affine maps of each.
"""

from __future__ import annotations

import numpy as np

from disentangle.errors import InputError
from disentangle.metrics.descriptor import metric
from disentangle.metrics.estimators.mutual_information import binned_for_zaidi, discrete_entropy, discrete_mutual_info
from disentangle.metrics.sampling import sample_points

NORMALISATIONS = ("code", "factor")


@metric("mig_sup", headline=("mig_sup",))
def mig_sup(
    ground_truth_data, representation_function, random_state, *, num_train=10_000, batch_size=16, num_bins=10,
    factor_bins=None, normalise_by="code",
) -> dict:
    """MIG-sup: ``{"mig_sup", "settings"}``, in [0, 1].

    Settings (``preset="fast"`` changes none):

    - ``num_train``, ``batch_size``: sampled points, drawn ``batch_size`` at a time (dlib's MIG);
    - ``num_bins``: equal-width bins per code (Zaidi et al.'s reference);
    - ``factor_bins``: ``None``: factors as their values; a number: bins per factor (the
      reference's ``continuous_factors``);
    - ``normalise_by``: ``"code"``, I / H(z_j) (the reference's ``norm_factor='Y'``), or
      ``"factor"``, I / H(v_k).
    """
    if normalise_by not in NORMALISATIONS:
        raise InputError(
            f"mig_sup: normalise_by must be one of {', '.join(NORMALISATIONS)}, got {normalise_by!r}"
        )
    [(codes, factors)] = sample_points(
        "mig_sup", ground_truth_data, representation_function, random_state, [num_train], batch_size, min_factors=2
    )
    codes, factors = binned_for_zaidi(codes, factors, num_bins, factor_bins, "mig_sup")
    normalised = normalised_shares(discrete_mutual_info(codes, factors), codes, factors, normalise_by)
    return {"mig_sup": float(np.mean(code_gaps(normalised)))}


def normalised_shares(mutual_info: np.ndarray, codes: np.ndarray, factors: np.ndarray, normalise_by: str) -> np.ndarray:
    """I(z_j; v_k) ``(num_codes, num_factors)`` divided by H(z_j) (``"code"``) or by H(v_k)
    (``"factor"``) of the labels ``codes`` ``(N, D)`` and ``factors`` ``(N, K)``; 0 where
    that entropy is 0."""
    if normalise_by == "code":
        entropy = discrete_entropy(codes)[:, None]
    else:
        entropy = discrete_entropy(factors)[None, :]
    entropy = np.broadcast_to(entropy, mutual_info.shape)
    return np.divide(mutual_info, entropy, out=np.zeros_like(mutual_info), where=entropy > 0)


def code_gaps(normalised: np.ndarray) -> np.ndarray:
    """Per code, the largest minus the second largest entry of its row of
    ``(num_codes, num_factors)`` (at least 2 factors): ``(num_codes,)``."""
    ordered = np.sort(normalised, axis=1)
    return ordered[:, -1] - ordered[:, -2]



MIG_SUP = mig_sup.metric
