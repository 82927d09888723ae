"""disentanglement_lib's arithmetic for MIG, DCI, SAP and modularity/explicitness
(google-research/disentanglement_lib, ``evaluation/metrics/{utils,mig,dci,sap_score,
modularity_explicitness}.py``), written out step by step for the tests with NumPy, SciPy
and the scikit-learn calls dlib makes, independently of ``disentangle.metrics``.

Arrays are ``(num_points, num_variables)`` (dlib holds the transpose); ``data`` is a
``GroundTruthData`` (``sample_factors``, ``sample_observations_from_factors``) and
``representation`` maps observations to codes.
"""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import mutual_info_score, roc_auc_score
from sklearn.preprocessing import MultiLabelBinarizer
from sklearn.svm import LinearSVC


def sample(data, representation, num_points, random_state, batch_size=16):
    """``generate_batch_factor_code``: batches of ``batch_size`` points (the last one shorter),
    each drawn as ``data.sample``: factors, then their observations, then their codes.
    Returns ``(codes (N, D), factors (N, K))``."""
    codes, factors = [], []
    while sum(map(len, factors)) < num_points:
        size = min(batch_size, num_points - sum(map(len, factors)))
        drawn = data.sample_factors(size, random_state)
        codes.append(representation(data.sample_observations_from_factors(drawn, random_state)))
        factors.append(drawn)
    return np.vstack(codes), np.vstack(factors)


def histogram_discretize(codes, num_bins=20):
    """``_histogram_discretize``: each code's values digitised on the left edges of
    ``np.histogram``'s ``num_bins`` equal-width bins (labels 1 … num_bins), kept as floats
    (dlib fills ``np.zeros_like`` of the codes)."""
    discrete = np.zeros_like(codes)
    for j in range(codes.shape[1]):
        _, edges = np.histogram(codes[:, j], num_bins)
        discrete[:, j] = np.digitize(codes[:, j], edges[:-1])
    return discrete


def mutual_info(discrete_codes, factors):
    """``discrete_mutual_info``: ``(D, K)``, one ``mutual_info_score(factor, code)`` per pair (nats)."""
    return np.array([[mutual_info_score(factors[:, k], discrete_codes[:, j]) for k in range(factors.shape[1])]
                     for j in range(discrete_codes.shape[1])])


def entropy(factors):
    """``discrete_entropy``: each factor's ``mutual_info_score`` with itself (nats)."""
    return np.array([mutual_info_score(factors[:, k], factors[:, k]) for k in range(factors.shape[1])])


def mig(codes, factors, num_bins=20):
    """``_compute_mig``: per factor, the largest minus the second largest mutual information
    with a code over the factor's entropy, averaged over factors."""
    information = mutual_info(histogram_discretize(codes, num_bins), factors)
    largest_first = -np.sort(-information, axis=0)
    return np.mean((largest_first[0] - largest_first[1]) / entropy(factors))


def _weighted_one_minus_entropy(importance, axis):
    """``1 - H`` (base: the length along ``axis``) of each slice of ``importance + 1e-11``
    along ``axis``, weighted by the slices' shares of the total (equal shares when it is 0)."""
    distributions = importance + 1e-11
    base = importance.shape[axis]
    normalised = distributions / distributions.sum(axis=axis, keepdims=True)
    one_minus = 1.0 - (-(normalised * np.log(normalised)).sum(axis=axis) / np.log(base))
    weights = importance if importance.sum() != 0.0 else np.ones_like(importance)
    share = weights.sum(axis=axis) / weights.sum()
    return float(np.sum(one_minus * share))


def disentanglement(importance):
    """``disentanglement``: over codes (rows of ``importance`` ``(D, K)``), base K."""
    return _weighted_one_minus_entropy(importance, axis=1)


def completeness(importance):
    """``completeness``: over factors (columns), base D."""
    return _weighted_one_minus_entropy(importance, axis=0)


def dci(codes, factors, codes_test, factors_test, fit):
    """``_compute_dci`` with ``compute_importance_gbt``: ``fit(x, y, k)`` is factor k's fitted
    classifier (dlib: ``GradientBoostingClassifier()``), giving ``predict`` and importances
    ``feature_importances_``. Returns the four scores."""
    importance = np.zeros((codes.shape[1], factors.shape[1]))
    train_accuracy, test_accuracy = [], []
    for k in range(factors.shape[1]):
        model = fit(codes, factors[:, k], k)
        importance[:, k] = np.abs(model.feature_importances_)
        train_accuracy.append(np.mean(model.predict(codes) == factors[:, k]))
        test_accuracy.append(np.mean(model.predict(codes_test) == factors_test[:, k]))
    return {"informativeness_train": np.mean(train_accuracy), "informativeness_test": np.mean(test_accuracy),
            "disentanglement": disentanglement(importance), "completeness": completeness(importance)}


def sap(codes, factors, codes_test, factors_test, continuous_factors):
    """``_compute_sap``: a score per (code, factor), then the mean over factors of the gap
    between the two best codes. Continuous factors: cov(code, factor)² / (var code · var
    factor), sample covariances (``np.cov``), 0 for a code of variance ≤ 1e-12. Discrete
    factors: test accuracy of ``LinearSVC(C=0.01, class_weight="balanced")`` on the code alone."""
    scores = np.zeros((codes.shape[1], factors.shape[1]))
    for j in range(codes.shape[1]):
        for k in range(factors.shape[1]):
            if continuous_factors:
                covariance = np.cov(codes[:, j], factors[:, k])
                if covariance[0, 0] > 1e-12:
                    scores[j, k] = covariance[0, 1] ** 2 / (covariance[0, 0] * covariance[1, 1])
            else:
                svm = LinearSVC(C=0.01, class_weight="balanced").fit(codes[:, [j]], factors[:, k])
                scores[j, k] = np.mean(svm.predict(codes_test[:, [j]]) == factors_test[:, k])
    ordered = np.sort(scores, axis=0)
    return np.mean(ordered[-1] - ordered[-2])


def modularity(information):
    """``modularity``: per code, 1 − (Σ m² − max m²) / (max m² · (K − 1)), 0 for a code of no
    information with any factor; averaged over codes."""
    squared = information**2
    largest = squared.max(axis=1)
    scores = np.zeros(len(squared))
    informative = largest > 0
    rest = squared[informative].sum(axis=1) - largest[informative]
    scores[informative] = 1.0 - rest / (largest[informative] * (squared.shape[1] - 1.0))
    return np.mean(scores)


def modularity_explicitness(codes, factors, codes_test, factors_test, num_bins=20):
    """``compute_modularity_explicitness`` after sampling: modularity of the binned training
    codes' mutual information; explicitness, per factor, the macro ROC AUC of
    ``LogisticRegression()``'s class probabilities against the one-hot labels
    (``MultiLabelBinarizer``) on codes standardised by the training mean and standard deviation."""
    scores = {"modularity_score": modularity(mutual_info(histogram_discretize(codes, num_bins), factors))}
    mean, std = codes.mean(axis=0), codes.std(axis=0)
    train, test = (codes - mean) / std, (codes_test - mean) / std
    aucs = []
    for k in range(factors.shape[1]):
        classifier = LogisticRegression().fit(train, factors[:, k])
        aucs.append([
            roc_auc_score(MultiLabelBinarizer().fit_transform(labels[:, None]),
                          classifier.predict_proba(points))
            for points, labels in ((train, factors[:, k]), (test, factors_test[:, k]))
        ])
    scores["explicitness_score_train"], scores["explicitness_score_test"] = np.mean(aucs, axis=0)
    return scores
