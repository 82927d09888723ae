"""Interventional Robustness Score (Suter et al. 2019, "Robustly Disentangled Causal
Mechanisms: Validating Deep Representations for Interventional Robustness"; dlib's ``irs.py``).

How little a code moves when a factor is held fixed and the others vary. From
``num_train`` points, each factor cut into ``num_bins`` equal-width bins (dlib's
histogram discretiser, applied to the factors) and the codes with nonzero variance:

- for code j and factor k, the mean over the values v of factor k of the
  ``diff_quantile`` quantile of |z_j - E[z_j | v_k = v]| among the points with v_k = v;
- divided by code j's largest deviation from its mean, max |z_j - E z_j|, and subtracted
  from 1: the IRS matrix (codes x factors), 1 where the factor pins the code;
- a code's score is its row's maximum, its parent the factor reaching it; IRS is the
  mean of the codes' scores weighted by their largest deviations.

``diff_quantile = 1`` is the paper's definition (the largest deviation); dlib's 0.99
ignores the top 1 %. Invariant to permuting codes and to one affine map (nonzero
scale) applied to all codes; rescaling codes separately changes the weights.
"""

from __future__ import annotations

import numpy as np

from disentangle.errors import InputError
from disentangle.metrics.descriptor import metric
from disentangle.metrics.estimators.mutual_information import histogram_discretize
from disentangle.metrics.sampling import sample_points


@metric("irs", headline=("IRS",))
def irs(
    ground_truth_data, representation_function, random_state, *, num_train=10_000, batch_size=16, num_bins=20,
    diff_quantile=0.99,
) -> dict:
    """IRS: ``{"IRS", "num_active_dims", "active_dims", "disentanglement_scores", "parents",
    "max_deviations", "settings"}``.

    ``IRS`` is at most 1 (0 when every code is constant); the lists hold one entry per
    active code, listed in ``active_dims`` (indices into the codes). Settings
    (``preset="fast"`` changes none):

    - ``num_train``, ``batch_size``: sampled points, drawn ``batch_size`` at a time;
    - ``num_bins``: equal-width bins per factor;
    - ``diff_quantile``: quantile of a code's deviations within a group (1: the paper's maximum).
    """
    if not 0.0 <= diff_quantile <= 1.0:
        raise InputError(f"irs: diff_quantile must lie in [0, 1], got {diff_quantile!r}")
    [(codes, factors)] = sample_points("irs", ground_truth_data, representation_function, random_state, [num_train],
                                       batch_size)
    active = np.flatnonzero(codes.var(axis=0) > 0.0)
    result = {"IRS": 0.0, "num_active_dims": len(active), "active_dims": active.tolist()}
    scores = {"disentanglement_scores": [], "parents": [], "max_deviations": []}
    if len(active):
        matrix, max_deviations = irs_matrix(histogram_discretize(factors, num_bins), codes[:, active], diff_quantile)
        per_code = matrix.max(axis=1)
        result["IRS"] = float(np.average(per_code, weights=max_deviations))
        scores = {
            "disentanglement_scores": per_code.tolist(),
            "parents": matrix.argmax(axis=1).tolist(),
            "max_deviations": max_deviations.tolist(),
        }
    return {**result, **scores}


def irs_matrix(
    factors: np.ndarray, codes: np.ndarray, diff_quantile: float = 0.99
) -> tuple[np.ndarray, np.ndarray]:
    """``(IRS matrix (D, K), largest deviations (D,))`` of codes ``(N, D)`` with nonzero
    variance given discrete factors ``(N, K)``; see the module docstring."""
    max_deviations = np.max(np.abs(codes - codes.mean(axis=0)), axis=0)
    spread = np.zeros((codes.shape[1], factors.shape[1]))
    for k in range(factors.shape[1]):
        values = np.unique(factors[:, k])
        for value in values:
            group = codes[factors[:, k] == value]
            spread[:, k] += np.quantile(np.abs(group - group.mean(axis=0)), diff_quantile, axis=0)
        spread[:, k] /= len(values)
    return 1.0 - spread / max_deviations[:, None], max_deviations



IRS = irs.metric
