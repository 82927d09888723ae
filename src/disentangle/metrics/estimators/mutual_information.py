"""Discrete entropy and mutual information, and the discretisers of dlib and of Zaidi et al.

Arrays are ``(num_points, num_variables)``: one row per point, one column per
variable (dlib stores the transpose). Entropies and mutual information are in nats.

The mutual information of every (code, factor) pair comes from one contingency table
built with ``np.bincount`` on combined labels; it equals
``sklearn.metrics.mutual_info_score`` (which dlib calls once per pair) to 1e-12, with
no dependence on the scikit-learn version.
"""

from __future__ import annotations

import numpy as np

from disentangle.errors import InputError


def histogram_discretize(codes: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Each column cut into ``num_bins`` equal-width bins over its own [min, max].

    dlib's ``_histogram_discretize``: ``np.digitize(x, np.histogram(x, num_bins)[1][:-1])``,
    so labels run from 1 to ``num_bins`` (the maximum lands in the last bin).
    Returns int64 ``(num_points, num_codes)``.
    """
    codes = np.asarray(codes, dtype=np.float64)
    labels = np.empty(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, j], num_bins)
        labels[:, j] = np.digitize(codes[:, j], edges[:-1])
    return labels


def minmax_discretize(values: np.ndarray, num_bins: int = 10) -> np.ndarray:
    """Each column scaled to [0, 1] over its own [min, max], then cut into ``num_bins``
    equal-width bins.

    Zaidi et al.'s ``get_bin_index(minmax_scale(x), num_bins)``: ``np.digitize`` of the
    scaled values on ``linspace(0, 1, num_bins + 1)[:-1]``, so labels run from 1 to
    ``num_bins`` (the maximum lands in the last bin) and a constant column is all 1.
    The same bins as ``histogram_discretize`` up to rounding at bin edges.
    Returns int64 ``(num_points, num_columns)``.
    """
    values = np.asarray(values, dtype=np.float64)
    low, span = values.min(axis=0), np.ptp(values, axis=0)
    scale = 1.0 / np.where(span == 0, 1.0, span)
    scaled = values * scale - low * scale  # minmax_scale's arithmetic, so bin edges round as there
    return np.digitize(scaled, np.linspace(0.0, 1.0, num_bins + 1)[:-1]).astype(np.int64)


def binned_for_zaidi(
    codes: np.ndarray, factors: np.ndarray, num_bins: int, factor_bins: int | None, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(code labels, factor labels)`` as Zaidi et al.'s reference bins them: codes by
    ``minmax_discretize`` into ``num_bins``; factors kept as their integer values (the
    reference's ``continuous_factors=False``) unless ``factor_bins`` is a number of bins
    (``continuous_factors=True``, which bins them as the codes).
    Bad bin counts raise ``InputError`` naming ``metric``."""
    if num_bins < 2:
        raise InputError(f"{metric}: num_bins must be at least 2, got {num_bins}")
    if factor_bins is not None and (
        isinstance(factor_bins, bool) or not isinstance(factor_bins, (int, np.integer)) or factor_bins < 2
    ):
        raise InputError(f"{metric}: factor_bins must be None or an integer of at least 2, got {factor_bins!r}")
    binned_factors = factors if factor_bins is None else minmax_discretize(factors, int(factor_bins))
    return minmax_discretize(codes, num_bins), binned_factors


def _dense_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels renumbered 0..n_j-1 per column, the n_j, and the flat label counts.

    Returns ``(dense (N, C) int64, sizes (C,), counts)`` where ``counts`` concatenates
    the per-column label counts, column ``j`` starting at ``sizes[:j].sum()``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise InputError(f"labels: expected a 2-D array (num_points, num_variables), got {labels.shape}")
    dense = np.empty(labels.shape, dtype=np.int64)
    sizes = np.empty(labels.shape[1], dtype=np.int64)
    counts = []
    for j in range(labels.shape[1]):
        _, dense[:, j], column_counts = np.unique(labels[:, j], return_inverse=True, return_counts=True)
        sizes[j] = len(column_counts)
        counts.append(column_counts)
    return dense, sizes, np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)


#: most combined labels built at once; wider inputs are handled in column blocks
_MAX_JOINT_LABELS = 1 << 24


def discrete_mutual_info(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mutual information (nats) between every column of ``a`` and every column of ``b``.

    ``a`` is ``(N, A)``, ``b`` is ``(N, B)``, both of integer labels; returns
    ``(A, B)`` float64. dlib's ``discrete_mutual_info(codes, factors)``, transposed inputs.
    Memory stays bounded for wide inputs (raw pixels as codes): ``a`` is processed in
    blocks of columns.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 2 and b.ndim == 2 and a.shape[0] * a.shape[1] * b.shape[1] > _MAX_JOINT_LABELS:
        block = max(1, _MAX_JOINT_LABELS // max(1, a.shape[0] * b.shape[1]))
        return np.concatenate([_mutual_info_block(a[:, k : k + block], b) for k in range(0, a.shape[1], block)])
    return _mutual_info_block(a, b)


def _mutual_info_block(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a_dense, a_sizes, a_counts = _dense_labels(a)
    b_dense, b_sizes, b_counts = _dense_labels(b)
    num_points = a_dense.shape[0]
    if b_dense.shape[0] != num_points:
        raise InputError(
            f"a and b: expected the same number of rows, got {num_points} and {b_dense.shape[0]}"
        )
    num_a, num_b = len(a_sizes), len(b_sizes)
    if num_points == 0 or num_a == 0 or num_b == 0:
        return np.zeros((num_a, num_b))

    # One contingency table per (i, j) pair, laid end to end in a single bincount.
    cells = (a_sizes[:, None] * b_sizes[None, :]).ravel()
    offsets = np.concatenate([[0], np.cumsum(cells)[:-1]])
    joint = a_dense[:, :, None] * b_sizes[None, None, :] + b_dense[:, None, :]
    joint += offsets.reshape(num_a, num_b)[None]
    counts = np.bincount(joint.ravel(), minlength=int(cells.sum()))

    # For each non-empty cell: its pair, its row label and its column label.
    cell = np.flatnonzero(counts)
    pair = np.searchsorted(offsets, cell, side="right") - 1
    within = cell - offsets[pair]
    i, j = np.divmod(pair, num_b)
    a_label, b_label = np.divmod(within, b_sizes[j])
    a_start = np.concatenate([[0], np.cumsum(a_sizes)[:-1]])
    b_start = np.concatenate([[0], np.cumsum(b_sizes)[:-1]])
    row = a_counts[a_start[i] + a_label].astype(np.float64)
    col = b_counts[b_start[j] + b_label].astype(np.float64)
    joint_count = counts[cell].astype(np.float64)

    terms = joint_count / num_points * (np.log(joint_count) + np.log(num_points) - np.log(row) - np.log(col))
    mutual_info = np.bincount(pair, weights=terms, minlength=num_a * num_b)
    return np.clip(mutual_info, 0.0, None).reshape(num_a, num_b)


def discrete_entropy(labels: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each column of integer labels ``(N, C)``; returns ``(C,)``.

    Equal to ``mutual_info_score(y, y)``, as dlib computes it.
    """
    dense, sizes, counts = _dense_labels(labels)
    if dense.shape[0] == 0:
        return np.zeros(len(sizes))
    p = counts / dense.shape[0]
    column = np.repeat(np.arange(len(sizes)), sizes)
    return np.bincount(column, weights=-p * np.log(p), minlength=len(sizes))


def normalised_mutual_info(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """``(num_codes, num_factors)``: I(z_j; v_k) / H(v_k), codes cut into ``num_bins`` bins.

    Each entry is the share of factor k's entropy that code j carries, in [0, 1] up to
    the plug-in estimator's bias; a factor that takes one value in the sample has zero
    entropy and gets 0. The quantity MIG takes its gaps from.
    """
    mutual_info = discrete_mutual_info(histogram_discretize(codes, num_bins), factors)
    entropy = discrete_entropy(factors)
    return np.divide(mutual_info, entropy[None, :], out=np.zeros_like(mutual_info), where=entropy[None, :] > 0)


def main_factors(normalised: np.ndarray, threshold: float = 0.2) -> list[int | None]:
    """Per code, the factor it carries most of, or ``None`` when it carries less than
    ``threshold`` of every factor's entropy (``normalised`` from ``normalised_mutual_info``)."""
    best = normalised.argmax(axis=1)
    return [int(k) if normalised[j, k] >= threshold else None for j, k in enumerate(best)]
