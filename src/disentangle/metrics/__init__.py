"""Supervised disentanglement metrics and unsupervised code statistics.

Every metric is ``fn(ground_truth_data, representation_function, random_state,
preset="dlib", **settings) -> dict``:

- ``ground_truth_data``: any object with disentanglement_lib's ``GroundTruthData``
  methods (``num_factors``, ``factors_num_values``, ``observation_shape``,
  ``sample_factors``, ``sample_observations_from_factors``), ours or anyone's;
- ``representation_function``: a batch of observations (NumPy) -> codes ``(N, D)``,
  e.g. the posterior mean of an encoder, PCA, any transform;
- ``random_state``: ``numpy.random.RandomState``, consumed as dlib consumes it.

The settings are the function's keyword-only parameters, with dlib's defaults (see
``help(mig)``); ``preset="fast"`` is a cheaper approximation, and settings given by name
override the preset's. The result holds dlib's score names and, under ``"settings"``,
every setting used. Metrics know nothing of models: they only call these functions.

``METRICS`` maps each name to its descriptor (``Metric``: settings, presets, headline
scores, needs), which ``@metric`` builds from the function (see
:mod:`disentangle.metrics.descriptor`); a descriptor is called like its function. Besides the metrics of
dlib's contract it holds the diagnostics of a Gaussian posterior (``elbo_decomposition``,
``active_units``, ``iwae_bound``), whose functions take the posterior rather than the codes.
``udr`` (and its descriptor ``UDR``) compares several representations at once, so it is
not in ``METRICS``, whose metrics score one.
"""

from __future__ import annotations

from disentangle.metrics.active_units import ACTIVE_UNITS, active_units
from disentangle.metrics.beta_vae import BETA_VAE, beta_vae_score
from disentangle.metrics.dci import DCI, dci
from disentangle.metrics.dci_es import DCI_ES, dci_es
from disentangle.metrics.dcimig import DCIMIG, dcimig
from disentangle.metrics.descriptor import CODES, LIKELIHOOD, NEEDS, POSTERIOR, PRESET_NAMES, Inputs, Metric
from disentangle.metrics.downstream_task import DOWNSTREAM_TASK, downstream_task
from disentangle.metrics.elbo_decomposition import ELBO_DECOMPOSITION, elbo_decomposition
from disentangle.metrics.factor_vae import FACTOR_VAE, factor_vae_score
from disentangle.metrics.fairness import FAIRNESS, fairness
from disentangle.metrics.infomec import INFOMEC, infomec
from disentangle.metrics.irs import IRS, irs
from disentangle.metrics.jemmig import JEMMIG, jemmig
from disentangle.metrics.likelihood_bound import IWAE_BOUND, importance_weighted_bound
from disentangle.metrics.mig import MIG, mig
from disentangle.metrics.mig_sup import MIG_SUP, mig_sup
from disentangle.metrics.modularity import MODULARITY_EXPLICITNESS, modularity_explicitness
from disentangle.metrics.reduced_downstream_task import REDUCED_DOWNSTREAM_TASK, reduced_downstream_task
from disentangle.metrics.sap import SAP, sap
from disentangle.metrics.strong_downstream_task import STRONG_DOWNSTREAM_TASK, strong_downstream_task
from disentangle.metrics.udr import UDR, udr
from disentangle.metrics.unified_scores import UNIFIED_SCORES, unified_scores
from disentangle.metrics.unsupervised_scores import UNSUPERVISED_SCORES, unsupervised_scores
from disentangle.metrics.z_max_var import Z_MAX_VAR, z_max_var

#: metric name -> descriptor, in the order tables list them: dlib's seven (``evaluate``'s
#: default), dlib's other evaluations, the metrics after dlib, the posterior's diagnostics
METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        BETA_VAE, FACTOR_VAE, MIG, DCI, SAP, MODULARITY_EXPLICITNESS, UNSUPERVISED_SCORES,
        IRS, DOWNSTREAM_TASK, REDUCED_DOWNSTREAM_TASK, STRONG_DOWNSTREAM_TASK, FAIRNESS, UNIFIED_SCORES,  # dlib's others
        DCI_ES, INFOMEC, MIG_SUP, DCIMIG, JEMMIG, Z_MAX_VAR,  # after dlib
        ELBO_DECOMPOSITION, ACTIVE_UNITS, IWAE_BOUND,  # diagnostics of a Gaussian posterior
    )
}
#: preset name -> metric -> settings (what ``fast`` changes, and what that moves: docs/metrics.md)
PRESETS: dict[str, dict[str, dict]] = {
    preset: {name: metric.preset(preset) for name, metric in METRICS.items()} for preset in PRESET_NAMES
}

__all__ = [
    "CODES",
    "LIKELIHOOD",
    "METRICS",
    "NEEDS",
    "POSTERIOR",
    "PRESETS",
    "PRESET_NAMES",
    "UDR",
    "Inputs",
    "Metric",
    "active_units",
    "beta_vae_score",
    "dci",
    "dci_es",
    "dcimig",
    "downstream_task",
    "elbo_decomposition",
    "factor_vae_score",
    "fairness",
    "importance_weighted_bound",
    "infomec",
    "irs",
    "jemmig",
    "mig",
    "mig_sup",
    "modularity_explicitness",
    "reduced_downstream_task",
    "sap",
    "strong_downstream_task",
    "udr",
    "unified_scores",
    "unsupervised_scores",
    "z_max_var",
]
