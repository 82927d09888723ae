"""Modularity and explicitness (Ridgeway & Mozer 2018, "Learning Deep Disentangled
Embeddings With the F-Statistic Loss", Sec. 3; dlib's ``modularity_explicitness.py``).

- Modularity: with m_ij the discrete mutual information of code i (``num_bins``
  equal-width bins) and factor j, code i scores 1 - delta_i where
  delta_i = (sum_j m_ij^2 - max_j m_ij^2) / (max_j m_ij^2 (K - 1)), and 0 when it
  shares no information with any factor; the score is the mean over codes.
- Explicitness: per factor, ``LogisticRegression()`` on the codes standardised with the
  training mean and standard deviation; the one-vs-rest ROC AUC of its class
  probabilities (macro average over the classifier's classes, as dlib's
  ``MultiLabelBinarizer`` + ``roc_auc_score``), averaged over factors.

Where dlib would fail we keep going: a constant code is centred but not divided by its
zero standard deviation, and classes absent from (or filling) the test labels are
left out of the test AUC average.
Modularity is invariant to permuting codes and to positive affine maps of each;
explicitness to permuting codes and to affine maps with a nonzero scale (codes are
standardised).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from disentangle.metrics.descriptor import metric
from disentangle.metrics.estimators.logistic import fit_logistic_regression
from disentangle.metrics.estimators.mutual_information import discrete_mutual_info, histogram_discretize
from disentangle.metrics.sampling import sample_points


@metric(
    "modularity_explicitness",
    headline=("modularity_score", "explicitness_score_test"),
    fast={"num_train": 5_000, "num_test": 2_000},
    default=True,
)
def modularity_explicitness(
    ground_truth_data, representation_function, random_state, *, num_train=10_000, num_test=5_000, batch_size=16,
    num_bins=20,
) -> dict:
    """``{"modularity_score", "explicitness_score_train", "explicitness_score_test", "settings"}``, in [0, 1].

    Settings (``preset="fast"``: 5,000 / 2,000 points):

    - ``num_train``, ``num_test``: training and test points, drawn ``batch_size`` at a time;
    - ``num_bins``: equal-width bins per code for the mutual information.
    """
    (codes, factors), (codes_test, factors_test) = sample_points(
        "modularity_explicitness", ground_truth_data, representation_function, random_state, [num_train, num_test],
        batch_size, min_factors=2,
    )
    mutual_info = discrete_mutual_info(histogram_discretize(codes, num_bins), factors)

    mean, std = codes.mean(axis=0), codes.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    codes, codes_test = (codes - mean) / std, (codes_test - mean) / std
    explicitness = np.array(
        [
            explicitness_per_factor(codes, factors[:, j], codes_test, factors_test[:, j])
            for j in range(factors.shape[1])
        ]
    )
    return {
        "modularity_score": modularity(mutual_info),
        "explicitness_score_train": float(np.mean(explicitness[:, 0])),
        "explicitness_score_test": float(np.mean(explicitness[:, 1])),
    }


def modularity(mutual_info: np.ndarray) -> float:
    """Mean over codes of 1 - delta_i, from mutual information ``(num_codes, num_factors)``."""
    squared = np.square(mutual_info)
    max_squared = np.max(squared, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (np.sum(squared, axis=1) - max_squared) / (max_squared * (squared.shape[1] - 1.0))
    return float(np.mean(np.where(max_squared == 0.0, 0.0, 1.0 - delta)))


def _auc(model, codes, labels) -> float:
    """Macro one-vs-rest ROC AUC over the model's classes that are neither absent nor everywhere."""
    indicator = labels[:, None] == model.classes_[None, :]
    defined = indicator.any(axis=0) & ~indicator.all(axis=0)
    return roc_auc_score(indicator[:, defined].astype(np.int64), model.predict_proba(codes)[:, defined])


def explicitness_per_factor(codes_train, factor_train, codes_test, factor_test) -> tuple[float, float]:
    """(train AUC, test AUC) of ``LogisticRegression()`` from all codes to one factor."""
    model = fit_logistic_regression(codes_train, factor_train)
    return _auc(model, codes_train, factor_train), _auc(model, codes_test, factor_test)



MODULARITY_EXPLICITNESS = modularity_explicitness.metric
