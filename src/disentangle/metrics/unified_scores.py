"""Unified scores: every (code x factor) matrix under every aggregation (dlib's
``unified_scores.py``, after Locatello et al.'s observation that DCI, MIG, SAP and
modularity each pair one matrix with one aggregation).

Matrices ``(num_codes, num_factors)``, from ``num_train`` training and ``num_test``
test points drawn as the other metrics draw them:

- ``importance_gbt_matrix``: DCI's importance of each code for each factor, per factor
  a gradient-boosted classifier (:func:`disentangle.metrics.dci.importance_gbt`);
- ``mutual_information_matrix``: discrete mutual information (nats) of each code, cut
  into ``num_bins`` equal-width bins, with each factor (MIG's and modularity's);
- ``accuracy_svm_matrix``: test accuracy of ``LinearSVC(C=0.01, class_weight="balanced")``
  from one code to one factor (SAP's).

Every matrix M gets every aggregation, its scores named ``<matrix>.<score>`` as dlib
names them:

- ``dci_disentanglement``, ``dci_completeness`` (and ``dci``, dlib's copy of the
  former), with ``dci_disentanglement.code_<i>`` per code and
  ``dci_completeness.code_<j>`` per *factor* j (dlib's name, kept for comparability);
- ``mig``: mean over factors of the gap between the two largest entries of a column
  divided by the factor's sampled entropy (nats), with ``mig.factor_<j>``;
- ``sap``: mean over factors of the gap between the two largest entries, with
  ``sap.factor_<j>``;
- ``modularity``: mean over codes of 1 - delta_i (see :mod:`disentangle.metrics.modularity`),
  with ``modularity.code_<i>``;
- ``area_precision``, ``max_precision``: "precision" at a threshold t is the number of
  connected components holding at least one edge of the bipartite code-factor graph
  whose edges are the nonzero entries >= t; its area is the trapezoid rule over the
  matrix's entries as thresholds, in decreasing order, and ``max_precision`` its maximum.

The aggregations are scale-free only where their matrix is (MIG divides by the factor
entropy, so on the importance or accuracy matrices it is not a mutual-information gap).
With the same ``random_state`` the diagonal pairs equal the dedicated metrics:
``importance_gbt_matrix.dci_disentanglement`` is ``dci``'s ``disentanglement``,
``mutual_information_matrix.mig`` is ``mig``'s ``discrete_mig`` and ``.modularity``
``modularity_explicitness``'s ``modularity_score``, ``accuracy_svm_matrix.sap`` is
``sap``'s ``SAP_score``. dlib leaves ``num_train`` and ``num_test`` to its gin
configuration; the defaults here are those of its DCI and SAP (10,000 and 5,000).
"""

from __future__ import annotations


import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
import scipy.stats

from disentangle.errors import InputError
from disentangle.metrics.dci import completeness, disentanglement, importance_gbt
from disentangle.metrics.descriptor import metric
from disentangle.metrics.modularity import modularity
from disentangle.metrics.estimators.mutual_information import discrete_entropy, discrete_mutual_info, histogram_discretize
from disentangle.metrics.sampling import sample_points
from disentangle.metrics.sap import avg_diff_top_two, score_matrix_discrete


@metric(
    "unified_scores",
    headline=(
        "importance_gbt_matrix.dci_disentanglement",
        "mutual_information_matrix.mig",
        "accuracy_svm_matrix.sap",
        "mutual_information_matrix.modularity",
    ),
    fast={"num_train": 1_500, "num_test": 1_000, "num_stages": 15},
)
def unified_scores(
    ground_truth_data,
    representation_function,
    random_state,
    *,
    num_train=10_000,
    num_test=5_000,
    batch_size=16,
    matrices=("importance_gbt_matrix", "mutual_information_matrix", "accuracy_svm_matrix"),
    num_bins=20,
    classifier="gbt",
    num_stages=100,
    n_jobs=None,
) -> dict:
    """``{"<matrix>.<score>": value, ..., "settings"}`` for every matrix of ``matrices``.

    Settings (``preset="fast"``: what DCI's fast preset changes, 1,500 / 1,000 points and
    15 stages):

    - ``num_train``, ``num_test``: training and test points (the accuracy matrix, and DCI's
      fits), drawn ``batch_size`` at a time;
    - ``matrices``: the matrices to aggregate, names of ``MATRICES``;
    - ``num_bins``: equal-width bins per code for the mutual information;
    - ``classifier``, ``num_stages``, ``n_jobs``: the importance matrix's, as :func:`~disentangle.metrics.dci.dci`'s.
    """
    chosen = list(matrices) if isinstance(matrices, (list, tuple)) else None
    if not chosen or any(name not in MATRICES for name in chosen):
        raise InputError(
            f"unified_scores: matrices must be a non-empty list of {', '.join(MATRICES)}, got {matrices!r}"
        )
    (codes_train, factors_train), (codes_test, factors_test) = sample_points(
        "unified_scores", ground_truth_data, representation_function, random_state, [num_train, num_test],
        batch_size, min_codes=2, min_factors=2,
    )
    options = {"num_bins": num_bins, "classifier": classifier, "num_stages": num_stages, "n_jobs": n_jobs}
    scores = {}
    for name in chosen:
        matrix = MATRICES[name](codes_train, factors_train, codes_test, factors_test, random_state, options)
        for key, value in aggregate_matrix(matrix, factors_train).items():
            scores[f"{name}.{key}"] = value
    return {**scores, "settings": {"matrices": chosen}}


def importance_gbt_matrix(codes_train, factors_train, codes_test, factors_test, random_state, settings):
    """DCI's importance matrix ``(D, K)`` (consumes one seed per factor from ``random_state``)."""
    return importance_gbt(codes_train, factors_train, codes_test, factors_test, random_state, settings)[0]


def mutual_information_matrix(codes_train, factors_train, codes_test, factors_test, random_state, settings):
    """Discrete mutual information ``(D, K)`` in nats of the binned training codes and factors."""
    return discrete_mutual_info(histogram_discretize(codes_train, settings["num_bins"]), factors_train)


def accuracy_svm_matrix(codes_train, factors_train, codes_test, factors_test, random_state, settings):
    """SAP's test accuracies ``(D, K)`` of a balanced linear SVM on one code."""
    return score_matrix_discrete(codes_train, factors_train, codes_test, factors_test)


#: matrix name (dlib's) -> function of (codes_train, factors_train, codes_test, factors_test, random_state, settings)
MATRICES = {
    "importance_gbt_matrix": importance_gbt_matrix,
    "mutual_information_matrix": mutual_information_matrix,
    "accuracy_svm_matrix": accuracy_svm_matrix,
}


def aggregate_matrix(matrix: np.ndarray, factors: np.ndarray) -> dict[str, float]:
    """Every aggregation of one ``(D, K)`` matrix, under dlib's names (see the module docstring).

    ``factors`` ``(N, K)`` are the training factors, whose entropies divide MIG's gaps.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    scores = dict(precision_curve(matrix))
    per_code_disentanglement = 1.0 - scipy.stats.entropy(matrix.T + 1e-11, base=matrix.shape[1])
    per_factor_completeness = 1.0 - scipy.stats.entropy(matrix + 1e-11, base=matrix.shape[0])
    scores["dci_disentanglement"] = disentanglement(matrix)
    scores["dci_completeness"] = completeness(matrix)
    scores["dci"] = scores["dci_disentanglement"]
    scores.update({f"dci_disentanglement.code_{i}": float(v) for i, v in enumerate(per_code_disentanglement)})
    scores.update({f"dci_completeness.code_{j}": float(v) for j, v in enumerate(per_factor_completeness)})

    ordered = np.sort(matrix, axis=0)
    gaps = ordered[-1] - ordered[-2]
    with np.errstate(divide="ignore", invalid="ignore"):
        mig_per_factor = gaps / discrete_entropy(factors)
    scores["mig"] = float(np.mean(mig_per_factor))
    scores.update({f"mig.factor_{j}": float(v) for j, v in enumerate(mig_per_factor)})

    scores["sap"] = avg_diff_top_two(matrix)
    scores.update({f"sap.factor_{j}": float(v) for j, v in enumerate(gaps)})

    scores["modularity"] = modularity(matrix)
    scores.update({f"modularity.code_{i}": float(v) for i, v in enumerate(modularity_per_code(matrix))})
    return scores


def modularity_per_code(matrix: np.ndarray) -> np.ndarray:
    """1 - delta_i per code ``(D,)``; 0 for a code whose row is all zero."""
    squared = np.square(matrix)
    max_squared = squared.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (squared.sum(axis=1) - max_squared) / (max_squared * (squared.shape[1] - 1.0))
    return np.where(max_squared == 0.0, 0.0, 1.0 - delta)


def connected_groups(matrix: np.ndarray, threshold: float) -> int:
    """Connected components with at least one edge of the bipartite graph of codes (rows)
    and factors (columns) whose edges are the nonzero entries ``>= threshold``."""
    edges = scipy.sparse.csr_matrix((matrix >= threshold) & (matrix != 0))
    graph = scipy.sparse.bmat([[None, edges], [edges.T, None]])
    _, labels = scipy.sparse.csgraph.connected_components(graph, directed=False)
    with_edge = np.asarray(edges.sum(axis=1)).ravel() > 0
    return len(np.unique(labels[: matrix.shape[0]][with_edge]))


def precision_curve(matrix: np.ndarray) -> dict[str, float]:
    """``{"area_precision", "max_precision"}`` of ``connected_groups`` over the entries as thresholds."""
    thresholds = np.sort(matrix.ravel())[::-1]
    counts = np.array([connected_groups(matrix, t) for t in thresholds], dtype=np.float64)
    area = float(np.sum((counts[:-1] + counts[1:]) * (thresholds[:-1] - thresholds[1:]) * 0.5))
    return {"area_precision": area, "max_precision": float(counts.max())}



UNIFIED_SCORES = unified_scores.metric
