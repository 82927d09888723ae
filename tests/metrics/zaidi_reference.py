"""Zaidi et al.'s reference arithmetic (ubisoft-laforge-disentanglement-metrics,
``src/metrics/{dcimig,jemmig,mig_sup}.py`` and ``src/utils.py``) written out loop by loop
for the tests, with scikit-learn's ``minmax_scale`` and ``mutual_info_score`` (nats) in
place of pyitlib (bits): every score is a ratio of information in one unit, except
the unnormalised JEMMIG, which the reference does not return.

Arrays are ``(num_points, num_variables)``; factors are integer values
(``continuous_factors=False``) unless ``factor_bins`` is given.
"""

import numpy as np
from sklearn.metrics import mutual_info_score
from sklearn.preprocessing import minmax_scale


def bin_index(x, nb_bins):
    """``get_bin_index(minmax_scale(x), nb_bins)``."""
    return np.digitize(minmax_scale(x), np.linspace(0, 1, nb_bins + 1)[:-1], right=False).astype(int)


def entropy(x):
    return mutual_info_score(x, x)


def _prepare(factors, codes, nb_bins, factor_bins):
    if factor_bins is not None:
        factors = bin_index(factors, factor_bins)
    return factors, bin_index(codes, nb_bins)


def reference_dcimig(factors, codes, nb_bins=10, factor_bins=None):
    factors, codes = _prepare(factors, codes, nb_bins, factor_bins)
    mi = np.array([[mutual_info_score(factors[:, f], codes[:, c]) for c in range(codes.shape[1])]
                   for f in range(factors.shape[1])])
    for c in range(codes.shape[1]):
        column = np.sort(mi[:, c])
        owner = np.argmax(mi[:, c])
        mi[:, c] = 0.0
        mi[owner, c] = column[-1] - column[-2]
    gap_sum = sum(np.max(mi[f, :]) for f in range(factors.shape[1]))
    return gap_sum / sum(entropy(factors[:, f]) for f in range(factors.shape[1]))


def reference_mig_sup(factors, codes, nb_bins=10, factor_bins=None):
    factors, codes = _prepare(factors, codes, nb_bins, factor_bins)
    # information_mutual_normalised(factor, code, norm_factor='Y'): I / H(code)
    mi = np.array([[mutual_info_score(factors[:, f], codes[:, c]) / entropy(codes[:, c])
                    for c in range(codes.shape[1])] for f in range(factors.shape[1])])
    return sum(np.sort(mi[:, c])[-1] - np.sort(mi[:, c])[-2] for c in range(codes.shape[1])) / codes.shape[1]


def reference_jemmig(factors, codes, nb_bins=10, factor_bins=None):
    factors, codes = _prepare(factors, codes, nb_bins, factor_bins)
    total = 0.0
    for f in range(factors.shape[1]):
        mi = np.array([mutual_info_score(factors[:, f], codes[:, c]) for c in range(codes.shape[1])])
        ordered, top = np.sort(mi), np.argsort(mi)[-1]
        pairs = np.stack([factors[:, f], codes[:, top]], axis=1)
        _, counts = np.unique(pairs, axis=0, return_counts=True)
        p = counts / counts.sum()
        joint_entropy = -np.sum(p * np.log(p))
        unnormalised = joint_entropy - ordered[-1] + ordered[-2]
        total += 1 - unnormalised / (entropy(factors[:, f]) + np.log(nb_bins))
    return total / factors.shape[1]
