"""The settings of every metric under each preset, read from the metrics' descriptors.

``"dlib"`` (the default) is disentanglement_lib's evaluation configuration, as used
by Locatello et al. 2019 (its ``*.gin`` metric configs and function defaults); each
metric's ``Metric.settings`` holds it and ``Metric.fast`` what the fast preset changes.
``"fast"`` uses fewer points, and fewer boosting stages for DCI, for quick looks; its
values are not those of published tables. Any setting can also be passed by name and
overrides the preset: ``dci(data, rep, rs, preset="fast", num_train=5000)``; the
settings used are returned with every result under ``"settings"``.

What ``"fast"`` changes, and why:

- BetaVAE and FactorVAE: 2,000 training and 1,000 evaluation points (votes), 5,000
  points for FactorVAE's variances; the accuracies move by sampling noise.
- DCI: 1,500 training and 1,000 test points with 15 boosting stages instead of 100.
  Fewer points alone lower disentanglement (2,000 points and 100 stages: about -0.1 on the
  ``linear`` codes below), because 100 stages overfit a small sample and spread the
  importance over the codes; cutting the stages with the points keeps D and C within
  0.02. Informativeness falls with the training set (-0.04 on ``linear``).
  scikit-learn's ``HistGradientBoostingClassifier`` was not used: it has no impurity
  importances, and with 40 classes it is slower than :mod:`disentangle.metrics.estimators.gbt`.
- SAP: 5,000 / 2,000 points (the regularised SVM depends on the sample size; 2,000
  points moved SAP by -0.027 on ``linear``).
- Modularity and explicitness: 5,000 / 2,000 points (the plug-in mutual information
  is biased up by about (bins - 1)(values - 1) / 2N, which lowers modularity).
- Unified scores: what DCI's fast preset changes (its importance matrix is DCI's); not
  measured separately.
- The task-based evaluations: the downstream task drops the 10,000-label task and uses
  2,000 test points; the reduced task trains on 500 points instead of 1,000 (its keys
  then start ``500:``), the strong task makes 3 shifts per factor instead of 10, both
  with 2,000 test points; fairness trains on 2,000 points. Measured once on ``linear``
  (seed 0; the downstream task with ``predictor="boosted_trees"``): fast minus dlib
  -0.005 on ``1000:mean_test_accuracy`` (0.462), +0.008 on fairness's
  ``mean_fairness:mean_pred:mean_sens`` (0.133), -0.003 on the strong task's
  ``1000:strong_generalization_gap`` (0.063), and the reduced task's 500-point means
  -0.016 and -0.018 below its 1,000-point ones (0.272 on the factor of interest, 0.455
  on the others).
- DCI with the original paper's regressors (``predictor="lasso"``, ``"random_forest"``)
  uses the same points (``--dci-predictor``): on ``linear`` the lasso's D and C move by
  -0.007 and -0.008, the forests' ``nrmse_test`` by +0.015; on ``noise`` the lasso's D and
  C jump from 0 (no weight survives with 10,000 points) to 1 (one does with 1,500), see
  ``docs/metrics.md``.
- DCI-ES: 20 trees instead of 100 and depths 1, 2, 3, 4, 8, 16, 32 instead of twelve,
  on all the points (9.3 s against 88.3 s on ``linear``, alone on the machine:
  ``benchmarks/metrics_suite.py --metrics dci_es [--preset fast]``, 2026-12-07). D and C stay
  within 0.01 except on ``noise``, where the best depth is 1 and a few stumps decide the
  importances: +0.09 and +0.08 (dlib's settings give 0.18 and 0.17 there).
- Z-max-var: 400 / 400 votes and 5,000 points for the variances instead of the
  reference's 800 / 800 and 10,000; the accuracies move by sampling noise.
- MIG, IRS, MIG-sup, DCIMIG, JEMMIG and the unsupervised scores: unchanged (they take
  well under a second). InfoMEC: unchanged, as with 3,000 points InfoM moved by +0.11 on the
  ``factors`` and ``noise`` codes (max/sum ratios of the estimator's noise on codes that
  carry nothing) for a 2x saving.
- The diagnostics (ELBO decomposition, active units, importance-weighted bound):
  unchanged; their settings are sized for a CPU already (``docs/metrics.md``).

Measured with ``benchmarks/metrics_suite.py --compare`` (seed 0, dSprites' factor
sizes, the script's three representations): fast minus dlib, dlib's value in brackets.
The Z-max-var and DCI-ES rows were measured again on 2026-12-07 at their references'
settings (``--compare --metrics dci_es z_max_var mig_sup dcimig jemmig
--representation R``); Z-max-var's row is its headline, the accuracy above chance.

============================  ===============  ===============  ===============
score                         linear           factors          noise
============================  ===============  ===============  ===============
beta_vae eval_accuracy        +0.000 (1.000)   +0.000 (1.000)   +0.009 (0.200)
factor_vae eval_accuracy      +0.000 (1.000)   +0.000 (1.000)   -0.010 (0.200)
dci disentanglement           +0.003 (0.581)   -0.000 (1.000)   +0.012 (0.002)
dci completeness              -0.003 (0.533)   -0.002 (1.000)   +0.011 (0.002)
dci informativeness_test      -0.041 (0.494)   +0.000 (1.000)   -0.001 (0.121)
SAP_score                     -0.011 (0.125)   -0.007 (0.178)   +0.001 (0.002)
modularity_score              -0.018 (0.953)   +0.004 (0.832)   -0.012 (0.681)
explicitness_score_test       -0.006 (0.958)   -0.012 (0.982)   -0.002 (0.498)
z_max_var above chance        -0.013 (0.944)   +0.009 (0.103)   +0.036 (-0.008)
dci_es explicitness           -0.000 (0.983)   +0.000 (0.990)   +0.001 (0.998)
dci_es disentanglement        -0.001 (0.870)   -0.001 (0.993)   +0.088 (0.178)
dci_es completeness           -0.008 (0.806)   -0.003 (0.983)   +0.079 (0.167)
dci_es informativeness_test   -0.001 (0.978)   +0.000 (1.000)   -0.001 (0.067)
discrete_mig, unsupervised    0 (same settings)
mig_sup, dcimig, jemmig       0 (same settings)
infomec                       0 (same settings)
============================  ===============  ===============  ===============

Training-set scores move more where there is nothing to learn (noise codes: BetaVAE
and FactorVAE train accuracy +0.02, DCI informativeness_train +0.03, explicitness
train +0.02), as fewer points are easier to overfit.
"""

from __future__ import annotations

from disentangle.metrics import METRICS, PRESETS

#: metric -> disentanglement_lib's settings
DLIB = PRESETS["dlib"]
#: metric -> the fast settings (see above)
FAST = PRESETS["fast"]


def resolve_settings(metric: str, preset: str, overrides: dict) -> dict:
    """``METRICS[metric].resolve(preset, overrides)``: the preset's settings with ``overrides``
    applied and checked, plus ``preset``."""
    return METRICS[metric].resolve(preset, overrides)
