"""InfoMEC (Hsu et al. 2023, "Disentanglement via Latent Quantization"; reference
code kylehkhsu/latent_quantization, ``disentangle/metrics/infomec.py``).

From ``num_train`` sampled points (drawn 16 at a time, as dlib's samplers do):

- the normalised mutual information NMI[k, j] = I(v_k; z_j) / H(v_k) ``(K, J)``. As in
  the reference, each code is standardised and I(v_k; z_j) estimated by scikit-learn's
  ``mutual_info_classif`` (the Kraskov-Stögbauer-Grassberger nearest-neighbour estimator,
  ``num_neighbors`` = 10), H(v_k) the discrete entropy of the sampled factor; with
  ``discrete_codes`` each distinct code value is a label and I is the plug-in discrete
  mutual information (the reference's path for quantised latents).
- active codes: range above 1/20 of the largest range (``discrete_codes``: range > 0);
  J counts them and NMI keeps their columns.
- InfoM (modularity) = (mean over active codes j of max_k NMI / sum_k NMI - 1/K) / (1 - 1/K);
- InfoC (compactness) = (mean over factors k of max_j NMI / sum_j NMI - 1/J) / (1 - 1/J);
- InfoE (explicitness) = mean over factors of (H_0 - H_1) / H_0, where H_1 is the log
  loss (nats) on the sampled points of an unpenalised multinomial logistic regression
  with balanced class weights (lbfgs, 100 iterations) from the standardised codes
  (``discrete_codes``: one-hot codes) to the factor, and H_0 that of the same model with
  no input. With balanced weights that model predicts every class equally (its weighted
  likelihood sum_c (N/C) log p_c peaks at p_c = 1/C), so H_0 = log C, C the number of
  values the factor takes in the sample; the reference fits it, we use the closed form.

Each in [0, 1] up to estimation error (1: each code carries one factor, each factor
lives in one code, a linear read-out recovers every factor). Where the reference divides
by zero we define the score: a code or factor whose NMI sums to 0 scores 0 (1/K or 1/J
share before the rescaling); with one active code InfoC counts each factor it carries as
compact (1); with no active code all three are 0. The nearest-neighbour estimator adds
scikit-learn's small noise to the codes, seeded from ``random_state``. Invariant to
permuting codes and, up to that noise, to affine maps of each with a nonzero scale (codes
are standardised) that keep every code on the same side of the activity threshold (a
relative range, so rescaling one code can switch another off).
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_selection import mutual_info_classif
from sklearn.metrics import log_loss
from sklearn.preprocessing import OneHotEncoder

from disentangle.metrics.descriptor import metric
from disentangle.metrics.estimators.logistic import fit_logistic_regression
from disentangle.metrics.estimators.mutual_information import discrete_entropy, discrete_mutual_info
from disentangle.metrics.sampling import sample_points

#: an active code's range exceeds the largest range divided by this (the reference's 20)
_ACTIVE_RANGE_DIVISOR = 20.0


@metric("infomec", headline=("infom", "infoc", "infoe"))
def infomec(
    ground_truth_data, representation_function, random_state, *, num_train=10_000, batch_size=16, num_neighbors=10,
    discrete_codes=False,
) -> dict:
    """InfoMEC: ``{"infom", "infoe", "infoc", "num_active_dims", "settings"}``, each in [0, 1].

    Settings (``preset="fast"`` changes none):

    - ``num_train``, ``batch_size``: sampled points, drawn ``batch_size`` at a time (dlib's;
      the reference scores its whole evaluation set);
    - ``num_neighbors``: neighbours of the KSG estimator (the reference's);
    - ``discrete_codes``: the codes are labels (quantised latents), as the reference's
      ``discrete_latents``.
    """
    [(codes, factors)] = sample_points(
        "infomec", ground_truth_data, representation_function, random_state, [num_train], batch_size
    )
    ranges = np.ptp(codes, axis=0)
    active = ranges > 0 if discrete_codes else ranges > ranges.max() / _ACTIVE_RANGE_DIVISOR
    if not active.any():
        return {"infom": 0.0, "infoe": 0.0, "infoc": 0.0, "num_active_dims": 0}
    nmi = normalised_mutual_info_matrix(codes[:, active], factors, discrete_codes, num_neighbors, random_state)
    return {
        "infom": concentration(nmi, axis=0),
        "infoe": float(np.mean(predictive_information(codes, factors, discrete_codes))),
        "infoc": concentration(nmi, axis=1),
        "num_active_dims": int(active.sum()),
    }


def normalised_mutual_info_matrix(
    codes, factors, discrete: bool, num_neighbors: int, random_state
) -> np.ndarray:
    """I(v_k; z_j) / H(v_k) ``(K, J)`` for codes ``(N, J)`` and integer factors ``(N, K)``;
    0 for a factor constant in the sample."""
    if discrete:
        mutual_info = discrete_mutual_info(factors, codes)
    else:
        standardised = _standardise(codes)
        mutual_info = np.stack([
            mutual_info_classif(
                standardised, factors[:, k], discrete_features=False, n_neighbors=num_neighbors,
                random_state=random_state.randint(np.iinfo(np.int32).max),
            )
            for k in range(factors.shape[1])
        ])
    entropy = discrete_entropy(factors)[:, None]
    return np.divide(mutual_info, entropy, out=np.zeros_like(mutual_info), where=entropy > 0)


def concentration(nmi: np.ndarray, axis: int) -> float:
    """Mean over the other axis of max / sum of ``nmi`` along ``axis``, rescaled so that a
    uniform spread over the n entries scores 0 and one entry scores 1 (InfoM: ``axis=0``,
    over factors per code; InfoC: ``axis=1``, over codes per factor). A slice summing to 0
    scores 0; with n = 1 a slice scores 1 if nonzero."""
    n = nmi.shape[axis]
    total, largest = nmi.sum(axis=axis), nmi.max(axis=axis)
    share = np.divide(largest, total, out=np.full(total.shape, 1.0 / n), where=total > 0)
    if n == 1:
        return float(np.mean(total > 0))
    return float((np.mean(share) - 1.0 / n) / (1.0 - 1.0 / n))


def predictive_information(codes: np.ndarray, factors: np.ndarray, discrete: bool) -> np.ndarray:
    """Per factor, (H_0 - H_1) / H_0 ``(K,)`` (see the module docstring); 0 for a factor
    constant in the sample."""
    if discrete:
        inputs = OneHotEncoder().fit_transform(codes).toarray()
    else:
        inputs = _standardise(codes)
    scores = np.zeros(factors.shape[1])
    for k in range(factors.shape[1]):
        classes = np.unique(factors[:, k])
        if len(classes) < 2:
            continue
        model = fit_logistic_regression(inputs, factors[:, k], C=np.inf, class_weight="balanced")
        conditional = log_loss(factors[:, k], model.predict_proba(inputs), labels=model.classes_)
        marginal = np.log(len(classes))
        scores[k] = (marginal - conditional) / marginal
    return scores


def _standardise(codes: np.ndarray) -> np.ndarray:
    """Each column centred and divided by its standard deviation (kept when 0)."""
    std = codes.std(axis=0)
    return (codes - codes.mean(axis=0)) / np.where(std > 0, std, 1.0)



INFOMEC = infomec.metric
