"""DCIMIG (Sepliarskaia et al. 2019, "Evaluating Disentangled Representations").

MIG's gap taken per code, then credited to factors. With I(z_j; v_k) in nats:

1. per code j, its gap G_j = I(z_j; v_a) - I(z_j; v_b) between the two factors it
   shares most information with, credited to v_a (the first on ties);
2. per factor k, D_k = the largest gap credited to it (0 if none);
3. DCIMIG = sum_k D_k / sum_k H(v_k).

So a factor is well captured only by a code that captures nothing else, and a code that
mixes two factors credits neither. Normalised by the summed entropy, not per factor, as in
the paper.

Estimated as Zaidi et al.'s reference (ubisoft-laforge-disentanglement-metrics,
``dcimig``) estimates it: each code min-max scaled and cut into ``num_bins`` = 10
equal-width bins (``mutual_information.minmax_discretize``), plug-in mutual information
and entropies (the reference's pyitlib in bits; nats here, the ratio is the same).
Factors are used as their integer values (the reference's ``continuous_factors=False``,
right for factors that take a few values); ``factor_bins`` bins them as the reference's
default does for continuous factors. The reference scores a given set of points; ours
are ``num_train`` points drawn 16 at a time as dlib's MIG draws them. Where every factor
is constant the reference divides by zero; ours gives 0. Invariant to permuting codes
and to positive affine maps of each.
"""

from __future__ import annotations

import numpy as np

from disentangle.metrics.descriptor import metric
from disentangle.metrics.estimators.mutual_information import binned_for_zaidi, discrete_entropy, discrete_mutual_info
from disentangle.metrics.sampling import sample_points


@metric("dcimig", headline=("dcimig",))
def dcimig(
    ground_truth_data, representation_function, random_state, *, num_train=10_000, batch_size=16, num_bins=10,
    factor_bins=None,
) -> dict:
    """DCIMIG: ``{"dcimig", "settings"}``, in [0, 1].

    Settings (``preset="fast"`` changes none):

    - ``num_train``, ``batch_size``: sampled points, drawn ``batch_size`` at a time (dlib's MIG);
    - ``num_bins``: equal-width bins per code (Zaidi et al.'s reference);
    - ``factor_bins``: ``None``: factors as their values; a number: bins per factor (the
      reference's ``continuous_factors``).
    """
    [(codes, factors)] = sample_points(
        "dcimig", ground_truth_data, representation_function, random_state, [num_train], batch_size, min_factors=2
    )
    codes, factors = binned_for_zaidi(codes, factors, num_bins, factor_bins, "dcimig")
    mutual_info = discrete_mutual_info(codes, factors)
    return {"dcimig": dcimig_score(mutual_info, discrete_entropy(factors))}


def dcimig_score(mutual_info: np.ndarray, factor_entropy: np.ndarray) -> float:
    """DCIMIG from mutual information ``(num_codes, num_factors)`` and factor entropies
    ``(num_factors,)``, both in nats (at least 2 factors); 0 when every factor is constant."""
    ordered = np.sort(mutual_info, axis=1)
    gaps, owners = ordered[:, -1] - ordered[:, -2], np.argmax(mutual_info, axis=1)
    best_gap = np.zeros(mutual_info.shape[1])
    np.maximum.at(best_gap, owners, gaps)
    total_entropy = float(np.sum(factor_entropy))
    return float(best_gap.sum() / total_entropy) if total_entropy > 0 else 0.0



DCIMIG = dcimig.metric
