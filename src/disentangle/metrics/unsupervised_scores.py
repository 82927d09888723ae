"""Unsupervised scores of the codes' covariance and mutual information (dlib's
``unsupervised_metrics.py``, reported by Locatello et al. 2019).

From the covariance C of ``num_train`` codes (``np.cov``, ddof=1):

- gaussian_total_correlation: KL(N(0, C) || N(0, diag C)) = (sum log C_ii - log det C) / 2,
  in nats; 0 for uncorrelated codes;
- gaussian_wasserstein_correlation: 2 tr C - 2 tr sqrt(C diag(C)) (dlib's formula), and
  the same divided by tr C (``_norm``);
- mutual_info_score: mean discrete mutual information (nats, ``num_bins`` bins) over
  pairs of distinct codes.

Total correlation and mutual information are invariant to permuting codes and to
positive rescaling of each.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from disentangle.metrics.descriptor import metric
from disentangle.metrics.estimators.mutual_information import discrete_mutual_info, histogram_discretize
from disentangle.metrics.sampling import sample_points


@metric("unsupervised_scores", headline=("gaussian_total_correlation",), default=True)
def unsupervised_scores(
    ground_truth_data, representation_function, random_state, *, num_train=10_000, batch_size=16, num_bins=20
) -> dict:
    """``{"gaussian_total_correlation", "gaussian_wasserstein_correlation",
    "gaussian_wasserstein_correlation_norm", "mutual_info_score", "settings"}``.

    Settings (``preset="fast"`` changes none):

    - ``num_train``, ``batch_size``: sampled points, drawn ``batch_size`` at a time;
    - ``num_bins``: equal-width bins per code for the mutual information.
    """
    [(codes, _)] = sample_points(
        "unsupervised_scores", ground_truth_data, representation_function, random_state, [num_train], batch_size,
        min_codes=2,
    )
    num_codes = codes.shape[1]
    covariance = np.cov(codes, rowvar=False)
    wasserstein = gaussian_wasserstein_correlation(covariance)
    discrete = histogram_discretize(codes, num_bins)
    mutual_info = discrete_mutual_info(discrete, discrete)
    np.fill_diagonal(mutual_info, 0.0)
    return {
        "gaussian_total_correlation": total_correlation(covariance),
        "gaussian_wasserstein_correlation": wasserstein,
        "gaussian_wasserstein_correlation_norm": wasserstein / float(np.trace(covariance)),
        "mutual_info_score": float(mutual_info.sum() / (num_codes**2 - num_codes)),
    }


def total_correlation(covariance: np.ndarray) -> float:
    """Total correlation (nats) of a zero-mean Gaussian with this covariance."""
    return float(0.5 * (np.sum(np.log(np.diag(covariance))) - np.linalg.slogdet(covariance)[1]))


def gaussian_wasserstein_correlation(covariance: np.ndarray) -> float:
    """dlib's squared-2-Wasserstein distance to the product of the marginals."""
    root = scipy.linalg.sqrtm(covariance * np.diag(covariance)[:, None])
    return float(np.real(2 * np.trace(covariance) - 2 * np.trace(root)))



UNSUPERVISED_SCORES = unsupervised_scores.metric
