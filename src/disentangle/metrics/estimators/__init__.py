"""The estimators the metrics are built from, none of them a metric: scikit-learn's
gradient boosting compiled with numba (``gbt``), logistic regression with and without
cross-validation (``logistic``, ``logistic_cv``), the per-factor predictors and their
settings (``predictors``), DCI's regressors (``dci_regression``) and discrete mutual
information and entropy (``mutual_information``)."""
