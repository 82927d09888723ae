"""JEMMIG (Do & Tran 2020, "Theory and Evaluation Metrics for Learning Disentangled
Representations"): joint-entropy minus mutual-information gap.

Per factor v_k, with z* and z° the codes sharing most and second most information
with it (nats):

    JEMMIG(v_k) = H(v_k, z*) - I(v_k; z*) + I(v_k; z°)
                = H(v_k | z*) + H(z* | v_k) + I(v_k; z°),

0 when z* and v_k determine each other and no other code knows v_k; unlike MIG it
also penalises a z* that carries more than v_k. It lies in [0, H(v_k) + log B] for
codes cut into B bins (H(z*) <= log B), so the paper's normalised form is

    normalised JEMMIG = 1 - mean_k JEMMIG(v_k) / (H(v_k) + log B),

1 for a perfect code. Results: ``jemmig`` (the mean, nats, lower is better) and
``normalized_jemmig`` (higher is better; the reference's only result).

Estimated as Zaidi et al.'s reference (ubisoft-laforge-disentanglement-metrics,
``jemmig``) estimates it: each code min-max scaled and cut into ``num_bins`` = 10
equal-width bins (``mutual_information.minmax_discretize``; B = ``num_bins`` in the
normalisation), plug-in entropies and mutual information (the reference's pyitlib in
bits with log2 B; nats and log B here, the same ratio). Factors are used as their
integer values (the reference's ``continuous_factors=False``) unless ``factor_bins``
bins them. The reference scores a given set of points; ours are ``num_train`` points
drawn 16 at a time as dlib's MIG draws them. One departure, on exact ties only: of codes
with equal information the reference takes the last as z* (its ``argsort``), ours the
one of least entropy, so that the result does not depend on the codes' order.
Invariant to permuting codes and to positive affine maps of each.
"""

from __future__ import annotations

import numpy as np

from disentangle.metrics.descriptor import metric
from disentangle.metrics.estimators.mutual_information import binned_for_zaidi, discrete_entropy, discrete_mutual_info
from disentangle.metrics.sampling import sample_points


@metric("jemmig", headline=("normalized_jemmig",))
def jemmig(
    ground_truth_data, representation_function, random_state, *, num_train=10_000, batch_size=16, num_bins=10,
    factor_bins=None,
) -> dict:
    """JEMMIG: ``{"jemmig", "normalized_jemmig", "settings"}``.

    Settings (``preset="fast"`` changes none):

    - ``num_train``, ``batch_size``: sampled points, drawn ``batch_size`` at a time (dlib's MIG);
    - ``num_bins``: equal-width bins per code (Zaidi et al.'s reference); B in the
      normalisation;
    - ``factor_bins``: ``None``: factors as their values; a number: bins per factor (the
      reference's ``continuous_factors``).
    """
    [(codes, factors)] = sample_points(
        "jemmig", ground_truth_data, representation_function, random_state, [num_train], batch_size, min_codes=2
    )
    binned, factors = binned_for_zaidi(codes, factors, num_bins, factor_bins, "jemmig")
    per_factor = jemmig_per_factor(
        discrete_mutual_info(binned, factors), discrete_entropy(factors), discrete_entropy(binned)
    )
    normaliser = discrete_entropy(factors) + np.log(num_bins)
    return {
        "jemmig": float(np.mean(per_factor)),
        "normalized_jemmig": float(1.0 - np.mean(per_factor / normaliser)),
    }


def jemmig_per_factor(
    mutual_info: np.ndarray, factor_entropy: np.ndarray, code_entropy: np.ndarray
) -> np.ndarray:
    """JEMMIG(v_k) ``(num_factors,)`` in nats from I(z_j; v_k) ``(num_codes, num_factors)``,
    H(v_k) ``(num_factors,)`` and H(z_j) ``(num_codes,)`` (at least 2 codes).

    Of codes with equal information (to 1e-12 nats) z* is the one of least entropy, the
    one that adds least else, so that the result does not depend on the codes' order.
    """
    columns = np.arange(mutual_info.shape[1])
    rounded = np.round(mutual_info, 12)
    top, second = np.empty(len(columns), dtype=np.int64), np.empty(len(columns), dtype=np.int64)
    for k in columns:
        top[k], second[k] = np.lexsort((code_entropy, -rounded[:, k]))[:2]
    top_info = mutual_info[top, columns]
    joint_entropy = factor_entropy + code_entropy[top] - top_info
    return joint_entropy - top_info + mutual_info[second, columns]



JEMMIG = jemmig.metric
