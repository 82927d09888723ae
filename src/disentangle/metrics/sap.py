"""Separated Attribute Predictability (Kumar et al. 2018, "Variational Inference of
Disentangled Latent Concepts from Unlabeled Observations", Sec. 3; dlib's ``sap_score.py``).

A score matrix S (codes x factors) rates how well each single code predicts each factor:

- discrete factors (dlib's default, ``continuous_factors=False``): test accuracy of
  ``LinearSVC(C=0.01, class_weight="balanced")`` trained on code i alone;
- continuous factors: the squared correlation of code i and factor j (0 where the
  code's variance is at most 1e-12).

SAP = mean over factors of the gap between the two best codes. Invariant to permuting
code dimensions; the classifier is regularised, so not to rescaling them.
"""

from __future__ import annotations

import numpy as np
from sklearn.svm import LinearSVC

from disentangle.metrics.descriptor import metric
from disentangle.metrics.sampling import sample_points


@metric("sap", headline=("SAP_score",), fast={"num_train": 5_000, "num_test": 2_000}, default=True)
def sap(
    ground_truth_data, representation_function, random_state, *, num_train=10_000, num_test=5_000, batch_size=16,
    continuous_factors=False,
) -> dict:
    """SAP: ``{"SAP_score", "settings"}``, in [0, 1].

    Settings (``preset="fast"``: 5,000 / 2,000 points):

    - ``num_train``, ``num_test``: training and test points, drawn ``batch_size`` at a time;
    - ``continuous_factors``: squared correlations instead of SVM accuracies.
    """
    (codes, factors), (codes_test, factors_test) = sample_points(
        "sap", ground_truth_data, representation_function, random_state, [num_train, num_test], batch_size,
        min_codes=2,
    )
    if continuous_factors:
        matrix = score_matrix_continuous(codes, factors)
    else:
        matrix = score_matrix_discrete(codes, factors, codes_test, factors_test)
    return {"SAP_score": avg_diff_top_two(matrix)}


def score_matrix_continuous(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Squared correlations ``(D, K)`` between codes ``(N, D)`` and factors ``(N, K)`` (ddof=1)."""
    codes_centred = codes - codes.mean(axis=0)
    factors_centred = factors - factors.mean(axis=0)
    covariance = codes_centred.T @ factors_centred / (len(codes) - 1)
    code_variance = np.var(codes, axis=0, ddof=1)
    factor_variance = np.var(factors, axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        matrix = covariance**2 / (code_variance[:, None] * factor_variance[None, :])
    return np.where(code_variance[:, None] > 1e-12, matrix, 0.0)


def score_matrix_discrete(codes, factors, codes_test, factors_test) -> np.ndarray:
    """Test accuracy ``(D, K)`` of a balanced linear SVM from each single code to each factor."""
    matrix = np.zeros((codes.shape[1], factors.shape[1]))
    for i in range(codes.shape[1]):
        for j in range(factors.shape[1]):
            classifier = LinearSVC(C=0.01, class_weight="balanced").fit(codes[:, i : i + 1], factors[:, j])
            matrix[i, j] = np.mean(classifier.predict(codes_test[:, i : i + 1]) == factors_test[:, j])
    return matrix


def avg_diff_top_two(matrix: np.ndarray) -> float:
    """Mean over columns of the largest minus the second largest entry."""
    ordered = np.sort(matrix, axis=0)
    return float(np.mean(ordered[-1] - ordered[-2]))



SAP = sap.metric
